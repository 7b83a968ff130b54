"""Readers for the small text inputs: phenotype, covariate, GWAS summary statistics and ID lists.

Accepted layouts: comma-, tab- or whitespace-separated, an optional UTF-8 byte-order mark, and sample IDs in an
``ID`` (or ``IID``) column, optionally with PLINK's ``FID`` (``#FID``) in front.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from genoml_search.errors import InputFileError

MISSING_CODES = ("-9", "NA", "NaN", "nan", "", ".")
ID_COLUMNS = ("ID", "IID", "id", "iid", "sample", "SAMPLE", "sample_id")
GWAS_ID_COLUMNS = ("SNP", "ID", "rsid", "RSID", "snp", "MarkerName", "variant_id", "Variant")
GWAS_P_COLUMNS = ("P", "p", "PVAL", "pval", "P_VALUE", "p_value", "Pvalue", "pvalue", "P-value")


def read_table(path: str | Path, what: str) -> pd.DataFrame:
    """Read a delimited text table with a header; every cell as a string."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{what} file not found", path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f"{what} file is not UTF-8 text", path) from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputFileError(f"{what} file is empty; expected a header line then one row per sample", path)
    header = lines[0]
    if "," in header:
        sep: str = ","
    elif "\t" in header:
        sep = "\t"
    else:
        sep = r"\s+"
    try:
        table = pd.read_csv(
            io.StringIO("\n".join(lines)), sep=sep, dtype=str, keep_default_na=False,
            engine="python" if sep == r"\s+" else "c", quoting=csv.QUOTE_MINIMAL,
        )
    except (pd.errors.ParserError, ValueError) as error:
        raise InputFileError(f"cannot parse {what} file ({str(error).strip().splitlines()[0]})", path) from None
    table.columns = [str(c).strip().lstrip("#") for c in table.columns]
    if len(set(table.columns)) != len(table.columns):
        raise InputFileError(f"duplicate column names in the header: {list(table.columns)}", path)
    return table


def _id_column(table: pd.DataFrame, path: Path, what: str) -> str:
    for name in ID_COLUMNS:
        if name in table.columns:
            return name
    raise InputFileError(
        f"no sample ID column in the {what} header {list(table.columns)[:6]}; name it ID (or FID IID as PLINK)",
        path,
    )


def read_sample_table(path: str | Path, what: str) -> pd.DataFrame:
    """A table indexed by sample ID (the ``ID``/``IID`` column), other columns kept as strings."""
    path = Path(path)
    table = read_table(path, what)
    id_col = _id_column(table, path, what)
    ids = table[id_col].str.strip()
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise InputFileError(f"duplicate sample ID {duplicated.iloc[0]!r} in column {id_col}", path)
    drop = [id_col] + [c for c in ("FID",) if c in table.columns]
    table = table.drop(columns=drop)
    table.index = pd.Index(ids, name="ID")
    return table


def to_numeric_column(values: pd.Series, path: Path, column: str) -> pd.Series:
    """Convert strings to floats; missing codes become NaN; any other text or inf is an error naming the row."""
    cleaned = values.str.strip()
    cleaned = cleaned.where(~cleaned.isin(MISSING_CODES), None)
    numbers = pd.to_numeric(cleaned, errors="coerce")
    bad = numbers.isna() & cleaned.notna()
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputFileError(
            f"column {column}, row {position + 2} (sample {values.index[position]!r}): {values.iloc[position]!r} "
            "is not a number; use a number or a missing code (-9, NA, empty)",
            path,
        )
    infinite = np.isinf(numbers.to_numpy(dtype=float))
    if infinite.any():
        position = int(np.flatnonzero(infinite)[0])
        raise InputFileError(f"column {column}, row {position + 2}: infinite value; use a finite number", path)
    return numbers.astype(float)


def read_phenotype(path: str | Path, name: str | None, task: str) -> tuple[pd.Series, dict]:
    """Read one phenotype column; return (values indexed by ID without missing, info for the manifest).

    ``task`` is ``binary`` (0/1 or PLINK's 1/2 coding), ``regression``, ``multiclass`` (integer class codes),
    or ``auto`` (binary when the values are two of 0/1/2, otherwise regression).
    """
    path = Path(path)
    table = read_sample_table(path, "phenotype")
    if name is None:
        if table.shape[1] == 0:
            raise InputFileError("no phenotype column besides the ID; add one (e.g. PHENO)", path)
        name = "PHENO" if "PHENO" in table.columns else table.columns[0]
    if name not in table.columns:
        raise InputFileError(f"no column {name!r} (found {list(table.columns)}); fix --pheno-name", path)
    values = to_numeric_column(table[name], path, name)
    n_missing = int(values.isna().sum())
    values = values.dropna()
    distinct = np.unique(values.to_numpy())
    if task == "auto":
        task = "binary" if len(distinct) == 2 and set(distinct) <= {0.0, 1.0, 2.0} else "regression"
    info = {"file": str(path), "column": name, "task": task, "missing_dropped": n_missing}
    if task == "binary":
        if set(distinct) <= {0.0, 1.0}:
            coding = "0/1"
        elif set(distinct) <= {1.0, 2.0}:
            coding = "1/2 (PLINK: 1 control, 2 case)"
            values = values - 1.0
        else:
            raise InputFileError(
                f"column {name}: binary phenotype must be coded 0/1 or 1/2, found values {_show(distinct)}", path
            )
        info["coding"] = coding
    elif task == "multiclass":
        if not np.all(distinct == np.round(distinct)):
            raise InputFileError(f"column {name}: multiclass labels must be integers, found {_show(distinct)}", path)
        info["classes"] = [int(v) for v in distinct]
    elif task != "regression":
        raise InputFileError(f"unknown task {task!r}; use binary, regression or multiclass", path)
    if task != "regression" and len(np.unique(values.to_numpy())) < 2:
        raise InputFileError(f"column {name}: only one class present ({_show(distinct)}); need at least two", path)
    if len(values) == 0:
        raise InputFileError(f"column {name}: no non-missing phenotype values", path)
    return values.rename("phenotype"), info


def _show(values: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:limit])
    return shown + (f", ... ({len(values)} distinct)" if len(values) > limit else "")


def read_covariates(
    path: str | Path, max_levels: int = 10, known_levels: dict[str, list[str]] | None = None
) -> tuple[pd.DataFrame, dict]:
    """Read covariates: numeric columns as floats; text columns one-hot encoded up to ``max_levels`` levels.

    ``known_levels`` (from a training manifest) fixes the levels of text columns so a new cohort gets the same
    dummy columns as the training cohort.
    """
    known_levels = known_levels or {}
    path = Path(path)
    table = read_sample_table(path, "covariate")
    if table.shape[1] == 0:
        raise InputFileError("no covariate columns besides the ID", path)
    columns: dict[str, pd.Series] = {}
    encoded: dict[str, list[str]] = {}
    for column in table.columns:
        raw = table[column].str.strip()
        present = raw.where(~raw.isin(MISSING_CODES), None)
        numeric = pd.to_numeric(present, errors="coerce")
        if (numeric.notna() == present.notna()).all():
            columns[column] = to_numeric_column(table[column], path, column)
            continue
        levels = known_levels.get(column) or sorted(present.dropna().unique())
        if len(levels) > max_levels:
            raise InputFileError(
                f"column {column} is text with {len(levels)} levels (more than --max-covar-levels "
                f"{max_levels}); encode it numerically or drop it",
                path,
            )
        encoded[column] = levels
        for level in levels[1:]:  # first level is the reference
            dummy = (present == level).astype(float)
            dummy[present.isna()] = np.nan
            columns[f"{column}={level}"] = dummy
    frame = pd.DataFrame(columns, index=table.index)
    return frame, {"file": str(path), "columns": list(frame.columns), "one_hot": encoded}


def read_gwas(path: str | Path) -> pd.Series:
    """Read GWAS summary statistics; return p-values indexed by SNP ID (flexible header names)."""
    path = Path(path)
    table = read_table(path, "GWAS summary statistics")
    id_col = next((c for c in GWAS_ID_COLUMNS if c in table.columns), None)
    p_col = next((c for c in GWAS_P_COLUMNS if c in table.columns), None)
    if id_col is None:
        raise InputFileError(f"no SNP ID column (one of {', '.join(GWAS_ID_COLUMNS)}) in {list(table.columns)}", path)
    if p_col is None:
        raise InputFileError(f"no p-value column (one of {', '.join(GWAS_P_COLUMNS)}) in {list(table.columns)}", path)
    table.index = pd.Index(table[id_col].str.strip(), name="id")
    p = to_numeric_column(table[p_col], path, p_col)
    if ((p < 0) | (p > 1)).any():
        raise InputFileError(f"column {p_col}: p-values must lie in [0, 1]", path)
    return p[~p.index.duplicated()].dropna()


def read_id_list(path: str | Path, what: str) -> list[str]:
    """IDs from a list file: one per line, or PLINK's ``FID IID`` (the last column is used)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{what} file not found", path)
    ids = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        fields = line.split()
        if fields and fields[-1] not in ("IID", "ID", "SNP"):
            ids.append(fields[-1] if what.startswith("sample") else fields[0])
    return ids
