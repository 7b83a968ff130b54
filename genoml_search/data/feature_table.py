"""Feature tables (``munge --table``): clinical, omics or any tabular data, read, typed, checked and encoded.

A table is CSV, TSV (the delimiter is taken from the header line) or Parquet (needs the ``parquet`` extra,
pyarrow), with one row per sample and an ID column (``--id-column``, default the first of ID/IID/... found).

Column types:

- ``numeric``: every non-missing cell is a number;
- ``boolean``: text true/false, yes/no or t/f (any case), stored as 1/0;
- ``categorical``: other text, or any column named in ``--categorical``; stored as integer codes 0..L-1 of
  its sorted levels (the level list goes into the manifest), NaN for missing;
- dates (ISO ``2020-01-31``, ``31/01/2020`` or a Parquet date/time column) are refused: turn them into numbers
  (an age, days since an event) first.

Missing cells (``NA``, ``NaN``, ``NULL``, ``N/A``, ``.``, empty) stay missing (NaN) in the Dataset; imputation
happens inside each CV fold. ``-9`` is a number here (unlike PLINK phenotype files).

Checks (:func:`check_columns`): all-missing and constant columns are dropped with a note; duplicate IDs are
refused; a column equal to the phenotype (or, for a categorical, in one-to-one correspondence with its
classes) is refused as a label leak; a text column with nearly one level per sample is warned about (it looks
like an identifier, not a feature).

New cohorts (:func:`harmonize_table`) must have every training column (extra ones are ignored with a note);
numeric columns must still be numbers; a categorical level not seen in training becomes missing (the rule:
the model then treats it as it treats a missing value) and is counted.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genoml_search.errors import InputFileError, UserError
from genoml_search.data.tables import ID_COLUMNS, show

TABLE_MISSING = ("", "NA", "NaN", "nan", "NAN", "na", "N/A", "n/a", "NULL", "null", "None", ".")
BOOLEAN_WORDS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "t": 1.0, "f": 0.0}
DATE_PATTERN = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2})?)?$|^\d{1,2}/\d{1,2}/\d{4}$")
ID_LIKE_FRACTION = 0.5  # a text column with more distinct levels than this share of samples looks like an ID
ID_LIKE_MIN_LEVELS = 50


@dataclass
class TableColumn:
    """One feature column: name, type (numeric, boolean, categorical), source file and categorical levels."""

    name: str
    type: str
    source: str
    levels: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """The manifest entry of the column."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "source": self.source}
        if self.type == "categorical":
            out["levels"] = self.levels
        return out


@dataclass
class FeatureTable:
    """Typed feature columns of one or more tables, indexed by sample ID: float32 values (codes for categoricals)."""

    values: pd.DataFrame
    columns: list[TableColumn]
    notes: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)


def read_raw_table(path: str | Path, id_column: str | None) -> tuple[pd.DataFrame, str]:
    """The table as strings (Parquet keeps its types), indexed by sample ID; duplicate or empty IDs refused."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError("feature table not found; check the path", path)
    if path.suffix.lower() in (".parquet", ".pq"):
        table = _read_parquet(path)
    else:
        table = _read_delimited(path)
    if id_column is None:
        id_column = next((c for c in ID_COLUMNS if c in table.columns), None)
        if id_column is None:
            raise InputFileError(f"no sample ID column in the header {list(table.columns)[:6]}; name it ID or give "
                                 "--id-column NAME", path)
    elif id_column not in table.columns:
        raise InputFileError(f"no column {id_column!r} (--id-column) in the header {list(table.columns)[:6]}", path)
    ids = table[id_column].astype(str).str.strip()
    empty = np.flatnonzero((ids == "").to_numpy() | table[id_column].isna().to_numpy())
    if len(empty):
        raise InputFileError(f"row {empty[0] + 2}: empty sample ID in column {id_column}", path)
    duplicated = np.flatnonzero(ids.duplicated().to_numpy())
    if len(duplicated):
        row = duplicated[0]
        raise InputFileError(f"row {row + 2}: duplicate sample ID {ids.iloc[row]!r} in column {id_column} "
                             f"({len(duplicated)} duplicates); keep one row per sample", path)
    table = table.drop(columns=[id_column] + (["FID"] if "FID" in table.columns and id_column != "FID" else []))
    table.index = pd.Index(ids.to_numpy(), name="ID")
    return table, id_column


def _read_delimited(path: Path) -> pd.DataFrame:
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    if not header.strip():
        raise InputFileError("feature table is empty; expected a header line then one row per sample", path)
    separator = "\t" if "\t" in header else ","
    try:
        table = pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        first = str(error).splitlines()[0][:160]
        raise InputFileError(f"cannot parse the feature table ({first}); use one delimiter (comma or tab) and one "
                             "value per column", path) from None
    table.columns = [str(c).strip() for c in table.columns]
    duplicated = sorted({c for c in table.columns if list(table.columns).count(c) > 1 or re.search(r"\.\d+$", c)
                         and c.rsplit(".", 1)[0] in table.columns})
    if duplicated:
        raise InputFileError(f"duplicate column names {duplicated[:5]} in the header; rename them", path)
    if len(table) == 0:
        raise InputFileError("feature table has a header but no rows", path)
    return table


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        import pyarrow  # noqa: F401  (the parquet extra)
    except ImportError:
        raise UserError("reading Parquet needs pyarrow: pip install 'genoml-search[parquet]' (or give a CSV/TSV)",
                        path) from None
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises many types for a damaged file
        raise InputFileError(f"cannot read the Parquet file ({str(error).splitlines()[0][:160]})", path) from None


def _text_missing(values: pd.Series) -> pd.Series:
    """Strings with the missing codes as None."""
    text = values.astype("string").str.strip()
    return text.where(~text.isin(TABLE_MISSING) & text.notna(), None).astype(object)


def type_column(values: pd.Series, name: str, declared_categorical: bool, path: Path) -> tuple[str, pd.Series, list[str]]:
    """(type, float values with NaN for missing (codes for categoricals), sorted levels) of one column."""
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values):
        raise InputFileError(f"column {name} holds dates/times; convert it to a number (e.g. age or days since an "
                             "event) or drop it", path)
    if not declared_categorical and pd.api.types.is_bool_dtype(values):
        return "boolean", values.astype(float), []
    if not declared_categorical and pd.api.types.is_numeric_dtype(values):
        numbers = values.astype(float)
        return "numeric", numbers.where(np.isfinite(numbers)), []
    text = _text_missing(values)
    present = text.dropna()
    if not declared_categorical:
        numbers = pd.to_numeric(present, errors="coerce")
        if len(present) == 0 or numbers.notna().all():
            out = pd.to_numeric(text, errors="coerce").astype(float)
            infinite = np.isinf(out.to_numpy())
            if infinite.any():
                position = int(np.flatnonzero(infinite)[0])
                raise InputFileError(f"column {name}, sample {str(values.index[position])!r}: {values.iloc[position]!r} "
                                     "is infinite; use a finite number or a missing code", path)
            return "numeric", out, []
        lowered = present.str.lower()
        if lowered.isin(list(BOOLEAN_WORDS)).all():
            return "boolean", text.str.lower().map(BOOLEAN_WORDS).astype(float), []
        dates = present.str.match(DATE_PATTERN)
        if dates.mean() > 0.5:
            example = present[dates].iloc[0]
            raise InputFileError(f"column {name} holds dates (e.g. {example!r}); convert it to a number (e.g. age "
                                 "or days since an event) or drop it", path)
    levels = sorted(present.astype(str).unique())
    codes = text.map({level: float(i) for i, level in enumerate(levels)}).astype(float)
    return "categorical", codes, levels


def read_feature_table(path: str | Path, id_column: str | None, categorical: set[str],
                       exclude: frozenset[str] | set[str] = frozenset()) -> FeatureTable:
    """Read and type one table (``exclude``: columns that are not features, e.g. the phenotype column)."""
    path = Path(path)
    raw, id_name = read_raw_table(path, id_column)
    unknown = sorted(categorical - set(raw.columns) - exclude)
    columns: list[TableColumn] = []
    values: dict[str, pd.Series] = {}
    for name in raw.columns:
        if name in exclude:
            continue
        kind, numbers, levels = type_column(raw[name], name, name in categorical, path)
        columns.append(TableColumn(name, kind, str(path), levels))
        values[name] = numbers.astype(np.float32)
    if not columns:
        raise InputFileError("no feature columns besides the ID (and the phenotype)", path)
    frame = pd.DataFrame(values, index=raw.index)
    info = {"file": str(path), "id_column": id_name, "n_rows": len(raw), "n_columns": len(columns),
            "sha256": _file_hash(path), "ids": raw.index}
    table = FeatureTable(frame, columns, files=[info])
    if unknown:
        table.notes.append(f"--categorical {', '.join(unknown)}: not columns of {path.name}")
    return table


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def combine_tables(tables: list[FeatureTable]) -> FeatureTable:
    """Tables side by side, joined on sample ID (outer: a sample absent from a table gets missing values there)."""
    names: dict[str, str] = {}
    for table in tables:
        for column in table.columns:
            if column.name in names:
                raise UserError(f"column {column.name!r} is in both {names[column.name]} and {column.source}; "
                                "rename one of them")
            names[column.name] = column.source
    values = pd.concat([t.values for t in tables], axis=1, join="outer")
    return FeatureTable(values, [c for t in tables for c in t.columns], [n for t in tables for n in t.notes],
                        [f for t in tables for f in t.files])


def check_columns(table: FeatureTable, phenotype: pd.Series, task: str) -> FeatureTable:
    """Drop all-missing and constant columns (noted), refuse label leaks, warn about ID-like text columns.

    ``phenotype`` is indexed by the samples of the dataset (``table.values`` rows in the same order).
    """
    kept: list[TableColumn] = []
    notes = list(table.notes)
    y = phenotype.to_numpy(dtype=float)
    n = len(table.values)
    for column in table.columns:
        values = table.values[column.name].to_numpy(dtype=np.float64)
        present = ~np.isnan(values)
        distinct = np.unique(values[present])
        if not present.any():
            notes.append(f"column {column.name} ({column.source}) dropped: missing for every sample")
            continue
        if len(distinct) == 1:
            notes.append(f"column {column.name} ({column.source}) dropped: constant ({_level(column, distinct[0])})")
            continue
        _refuse_leak(column, values, y, task)
        if column.type == "categorical" and len(distinct) >= max(ID_LIKE_MIN_LEVELS, ID_LIKE_FRACTION * n):
            notes.append(f"warning: column {column.name} ({column.source}) has {len(distinct)} levels for {n} samples: "
                         "it looks like an identifier, not a feature; drop it unless it means something")
        kept.append(column)
    if not kept:
        raise UserError("no feature columns left after dropping constant and all-missing ones")
    return FeatureTable(table.values[[c.name for c in kept]], kept, notes, table.files)


def _level(column: TableColumn, value: float) -> str:
    return repr(column.levels[int(value)]) if column.type == "categorical" else f"{value:g}"


def _refuse_leak(column: TableColumn, values: np.ndarray, y: np.ndarray, task: str) -> None:
    """A column equal to the phenotype (numeric), or one-to-one with its classes (categorical), is a leak."""
    both = ~np.isnan(values) & ~np.isnan(y)
    if both.sum() < 2:
        return
    v, t = values[both], y[both]
    leak = np.array_equal(v, t)
    if not leak and column.type != "categorical" and np.std(v) > 0 and np.std(t) > 0:
        leak = abs(np.corrcoef(v, t)[0, 1]) > 0.99999
    if not leak and (column.type != "numeric" or task != "regression"):
        pairs = pd.DataFrame({"v": v, "t": t}).drop_duplicates()
        leak = len(pairs) == pairs["v"].nunique() == pairs["t"].nunique() and len(pairs) < len(v)
    if leak:
        raise InputFileError(f"column {column.name} equals the phenotype (a label leak: the model would read the "
                             "answer); drop it from the table", column.source)


def harmonize_table(table: FeatureTable, training: list[dict[str, Any]]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A new cohort's table in the training columns, types and codes.

    Returns the float32 values (training column order) and a summary: extra columns ignored, unseen categorical
    levels counted (they become missing), columns whose type changed refused.
    """
    names = [c["name"] for c in training]
    have = {c.name: c for c in table.columns}
    absent = [name for name in names if name not in have]
    if absent:
        raise UserError(f"the table lacks {len(absent)} column(s) the model was trained on: {show(absent)}; give "
                        "a table with the training columns", table.files[0]["file"] if table.files else None)
    extra = sorted(set(have) - set(names))
    out: dict[str, np.ndarray] = {}
    unseen: dict[str, int] = {}
    for spec in training:
        column = have[spec["name"]]
        values = table.values[spec["name"]]
        if spec["type"] == "categorical":
            old_levels = column.levels if column.type == "categorical" else None
            codes = _recode(values, old_levels, spec["levels"])
            lost = int((np.isnan(codes) & values.notna().to_numpy()).sum())
            if lost:
                unseen[spec["name"]] = lost
            out[spec["name"]] = codes
        else:
            if column.type == "categorical":
                raise InputFileError(f"column {spec['name']} was {spec['type']} in training but holds text here "
                                     f"(e.g. {show(column.levels)}); give the same kind of values", column.source)
            out[spec["name"]] = values.to_numpy(dtype=np.float32)
    frame = pd.DataFrame(out, index=table.values.index)
    summary = {"extra_columns_ignored": extra, "unseen_levels": unseen,
               "unseen_rule": "a categorical level not seen in training is treated as missing"}
    return frame, summary


def _recode(values: pd.Series, levels: list[str] | None, training_levels: list[str]) -> np.ndarray:
    """Codes of the new table's values in the training level list (NaN for missing or unseen levels)."""
    numbers = values.to_numpy(dtype=np.float64)
    present = ~np.isnan(numbers)
    raw = np.full(len(numbers), None, dtype=object)
    if levels is None:  # numeric in this table: compare as text with the training levels
        raw[present] = pd.Series(numbers[present]).map("{:g}".format).to_numpy()
    else:
        raw[present] = np.asarray(levels, dtype=object)[numbers[present].astype(np.int64)]
    lookup = {level: float(i) for i, level in enumerate(training_levels)}
    return pd.Series(raw, dtype=object).map(lookup).to_numpy(dtype=np.float32)


def table_hash(values: np.ndarray) -> str:
    """A short hash of the feature matrix (part of the Dataset's content hash)."""
    return hashlib.sha256(np.ascontiguousarray(values, dtype=np.float32).tobytes()).hexdigest()[:16]
