"""CSV outputs people open in a spreadsheet: integers as integers, floats to 6 significant digits, and
predictions that keep the cohort's FID and IID."""
from __future__ import annotations

import re
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

FLOAT_FORMAT = "%.6g"
# columns that hold counts or numbers (trial, position, decile...): written as integers even with gaps
INTEGER_NAMES = re.compile(r"(^n_|^n$|trial|^pos$|position|decile|^rank$|folds|^tp$|^fp$|^tn$|^fn$|^count)")


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Integer-valued float columns with count-like names become nullable integers (no ``12.0``)."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if not INTEGER_NAMES.search(str(column)) or values.dtype.kind not in "fO":
            continue
        numeric = pd.to_numeric(values, errors="coerce")
        present = numeric.dropna()
        if len(present) and values.notna().sum() == len(present) and np.all(np.equal(np.mod(present, 1), 0)):
            frame[column] = numeric.astype("Int64")
    return frame


def write_csv(frame: pd.DataFrame, target: str | Path | IO[str], full_precision: bool = False) -> None:
    """Write ``frame`` as CSV: :func:`tidy` integers; floats to 6 significant digits unless ``full_precision``
    (predictions keep every digit, so metrics recomputed from them match the run's exactly)."""
    tidy(frame).to_csv(target, index=False, float_format=None if full_precision else FLOAT_FORMAT)


def family_ids(bfile: str | None, pfile: str | None) -> pd.DataFrame | None:
    """``IID`` -> ``FID`` of the cohort's sample file when it has both (a .fam always does; a .psam with a
    ``#FID`` column), else None."""
    if bfile:
        from genoml_search.data.plink import read_fam

        table = read_fam(Path(f"{bfile}.fam"))
    elif pfile:
        path = Path(f"{pfile}.psam")
        with open(path) as handle:
            if not handle.readline().upper().startswith("#FID"):
                return None
        from genoml_search.data.pgen import read_psam

        table = read_psam(path)
    else:
        return None
    return pd.DataFrame({"FID": table["fid"].astype(str).to_numpy(), "IID": table["iid"].astype(str).to_numpy()})


def with_family_ids(frame: pd.DataFrame, ids: pd.DataFrame | None) -> pd.DataFrame:
    """``frame`` (``ID`` = IID first) with ``FID`` and ``IID`` columns after ``ID`` when ``ids`` is given."""
    if ids is None:
        return frame
    fid = ids.drop_duplicates("IID").set_index("IID")["FID"]
    out = frame.copy()
    out.insert(1, "FID", out["ID"].astype(str).map(fid).to_numpy())
    out.insert(2, "IID", out["ID"].astype(str).to_numpy())
    return out


