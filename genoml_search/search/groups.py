"""Sample groups for grouped cross-validation: relatives (or any cluster) never straddle CV folds.

Groups come from a file (``--groups FILE``): a table with a sample ID column (``ID``/``IID``, optionally
``FID IID``) and a group column (``--group-col``, default ``GROUP``, else ``FID``), or a PLINK ``.fam`` file
(group = family ID). Samples of the dataset absent from the file are their own, singleton groups. Without a
file, ``--group-col COL`` names a column of the dataset's samples.tsv. Any caller may instead pass a groups
array aligned with the dataset's samples (e.g. relatedness clusters).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from genoml_search.errors import InputFileError, UserError

DEFAULT_GROUP_COLUMNS = ("GROUP", "group", "FID")


def read_groups_file(path: str | Path, column: str | None = None) -> pd.Series:
    """Group labels (strings) indexed by sample ID, from a table with a header or a PLINK .fam file."""
    from genoml_search.data.tables import ID_COLUMNS, read_table

    path = Path(path)
    if path.suffix == ".fam":
        if not path.is_file():
            raise InputFileError("groups file not found", path)
        fam = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, usecols=[0, 1])
        return pd.Series(fam[0].to_numpy(), index=pd.Index(fam[1].to_numpy(), name="ID"), name="FID")
    table = read_table(path, "groups")
    id_col = next((c for c in ID_COLUMNS if c in table.columns), None)
    if id_col is None:
        raise InputFileError(f"no sample ID column in the groups header {list(table.columns)[:6]}; name it ID", path)
    if column is None:
        others = [c for c in table.columns if c != id_col]
        column = next((c for c in DEFAULT_GROUP_COLUMNS if c in others), others[0] if len(others) == 1 else None)
    if column is None or column not in table.columns or column == id_col:
        raise InputFileError(f"no group column {column or 'GROUP'!r} in the header {list(table.columns)[:6]}; "
                             "name it with --group-col", path)
    ids = table[id_col].str.strip()
    if ids.duplicated().any():
        raise InputFileError(f"duplicate sample ID {ids[ids.duplicated()].iloc[0]!r} in column {id_col}", path)
    values = pd.Series(table[column].str.strip().to_numpy(), index=pd.Index(ids, name="ID"), name=column)
    if (values == "").any():
        raise InputFileError(f"empty group in column {column} for sample {values.index[values == ''][0]!r}", path)
    return values


def groups_for_samples(sample_ids: np.ndarray, groups: pd.Series) -> np.ndarray:
    """Integer group codes aligned with ``sample_ids``; samples without a group get their own group."""
    ids = np.asarray(sample_ids).astype(str).astype(object)
    labels = groups.reindex(pd.Index(ids)).to_numpy(dtype=object)
    labels = np.where(pd.isna(labels), "\0alone:" + ids, labels)  # no group: a group of its own
    codes, _ = pd.factorize(labels.astype(str))
    return codes.astype(np.int64)


def groups_from_column(samples: pd.DataFrame, column: str, where: str | Path) -> np.ndarray:
    """Integer group codes from a column of the dataset's sample table."""
    if column not in samples.columns:
        raise UserError(f"--group-col {column!r} is not a column of samples.tsv (columns: "
                        f"{list(samples.columns)}); give a --groups FILE instead", where)
    values = samples[column].astype(str).to_numpy()
    codes, _ = pd.factorize(values)
    return codes.astype(np.int64)


def groups_hash(groups: np.ndarray | None) -> str | None:
    """A short hash of a grouping up to relabelling (recorded so a study cannot resume with other groups)."""
    if groups is None:
        return None
    codes, _ = pd.factorize(np.asarray(groups))  # first-appearance order: labels do not matter
    return hashlib.sha256(codes.astype(np.int64).tobytes()).hexdigest()[:16]
