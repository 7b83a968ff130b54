"""Readers for the small text inputs: phenotype, covariate, GWAS summary statistics and ID lists.

Accepted layouts: comma-, tab- or whitespace-separated (found from the header line), UTF-8 with or without a
byte-order mark, UTF-16 with a byte-order mark (Excel's "Unicode text"), Windows or Unix line ends, and sample
IDs in an ``ID`` (or ``IID``) column, optionally with PLINK's ``FID`` (``#FID``) in front. Every problem is an
:class:`~genoml_search.errors.InputFileError` naming the file, the row (1-based line number in the file) or
column, and what to do.
"""
from __future__ import annotations

import re

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from genoml_search.errors import InputFileError
from genoml_search.fileio import read_text_file
from genoml_search.tasks import Task

MISSING_CODES = ("-9", "NA", "NaN", "nan", "NAN", "na", "N/A", "", ".")
ID_COLUMNS = ("ID", "IID", "id", "iid", "sample", "SAMPLE", "sample_id", "Sample", "SampleID")
GWAS_ID_COLUMNS = ("SNP", "ID", "rsid", "RSID", "snp", "MarkerName", "variant_id", "Variant", "rsID", "SNPID")
GWAS_P_COLUMNS = ("P", "p", "PVAL", "pval", "P_VALUE", "p_value", "Pvalue", "pvalue", "P-value", "P_BOLT_LMM",
                  "p.value", "P.value", "PVALUE")
SUSPICIOUS_DELIMITERS = (";", "|")


def show(values, limit: int = 3) -> str:
    """A short, quoted list of examples for a message: ``'a', 'b', 'c' (and 7 more)``."""
    values = list(values)
    shown = ", ".join(repr(str(v)) for v in values[:limit])
    return shown + (f" (and {len(values) - limit} more)" if len(values) > limit else "")


def _split_lines(text: str, path: Path, what: str) -> tuple[list[list[str]], list[int]]:
    """Split text into rows of fields with one delimiter chosen from the header; returns rows and line numbers."""
    numbered = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip()]
    if not numbered:
        raise InputFileError(f"{what} file is empty; expected a header line then one row per sample", path)
    header = numbered[0][1]
    if "," in header:
        delimiter, name = ",", "commas"
    elif "\t" in header:
        delimiter, name = "\t", "tabs"
    else:
        delimiter, name = None, "spaces"
        for odd in SUSPICIOUS_DELIMITERS:
            if odd in header:
                raise InputFileError(
                    f"the header {header.strip()[:60]!r} is separated by {odd!r}; use commas, tabs or spaces "
                    "between columns", path)
    if delimiter is None:
        rows = [line.split() for _, line in numbered]
    else:
        try:
            rows = list(csv.reader([line for _, line in numbered], delimiter=delimiter, strict=True))
        except csv.Error as error:
            raise InputFileError(f"cannot parse {what} file ({error}); check its quotes", path) from None
    width = len(rows[0])
    for (number, _), row in zip(numbered, rows):
        if len(row) != width:
            raise InputFileError(
                f"row {number} has {len(row)} fields but the header has {width} (columns separated by {name}); "
                "use one delimiter throughout and one value per column", path)
    return rows, [number for number, _ in numbered]


def read_table(path: str | Path, what: str) -> pd.DataFrame:
    """Read a delimited text table with a header; every cell a stripped string."""
    return _table_and_lines(path, what)[0]


def _table_and_lines(path: str | Path, what: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The table and the 1-based file line number of each of its rows."""
    path = Path(path)
    rows, numbers = _split_lines(read_text_file(path, what), path, what)
    columns = [c.strip().lstrip("#").strip() for c in rows[0]]
    if any(not c for c in columns):
        raise InputFileError(f"empty column name in the header {columns[:8]}; name every column", path)
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise InputFileError(f"duplicate column names {duplicated} in the header; rename them", path)
    table = pd.DataFrame([[cell.strip() for cell in row] for row in rows[1:]], columns=columns, dtype=object)
    table = table.astype(str) if len(table) else pd.DataFrame({c: pd.Series(dtype=str) for c in columns})
    return table, np.asarray(numbers[1:], dtype=np.int64)


def _id_column(table: pd.DataFrame, path: Path, what: str) -> str:
    for name in ID_COLUMNS:
        if name in table.columns:
            return name
    raise InputFileError(
        f"no sample ID column in the {what} header {list(table.columns)[:6]}; the first line must be a header "
        "naming the ID column (ID or IID, optionally FID IID as PLINK)",
        path,
    )


def _sample_table(path: str | Path, what: str) -> tuple[pd.DataFrame, np.ndarray, pd.Series | None]:
    """(table indexed by ID, file line of each row, the FID column indexed by ID or None)."""
    path = Path(path)
    table, lines = _table_and_lines(path, what)
    id_col = _id_column(table, path, what)
    ids = table[id_col]
    if len(ids) == 0:
        raise InputFileError(f"{what} file has a header but no rows", path)
    empty = np.flatnonzero((ids == "").to_numpy())
    if len(empty):
        raise InputFileError(f"row {lines[empty[0]]}: empty sample ID in column {id_col}", path)
    duplicated = np.flatnonzero(ids.duplicated().to_numpy())
    if len(duplicated):
        row = duplicated[0]
        raise InputFileError(
            f"row {lines[row]}: duplicate sample ID {ids.iloc[row]!r} in column {id_col} "
            f"({len(duplicated)} duplicates); keep one row per sample", path)
    fid = table["FID"] if "FID" in table.columns and id_col != "FID" else None
    table = table.drop(columns=[id_col] + (["FID"] if fid is not None else []))
    index = pd.Index(ids.to_numpy(), name="ID")
    table.index = index
    return table, lines, None if fid is None else pd.Series(fid.to_numpy(), index=index)


def to_numeric_column(values: pd.Series, path: Path, column: str, lines: np.ndarray | None = None) -> pd.Series:
    """Convert strings to floats; missing codes become NaN; any other text or inf is an error naming the row."""
    cleaned = values.astype(str).str.strip()
    cleaned = cleaned.where(~cleaned.isin(MISSING_CODES), None)
    numbers = pd.to_numeric(cleaned, errors="coerce")
    bad = (numbers.isna() & cleaned.notna()).to_numpy()

    def row_of(position: int) -> int:
        return int(lines[position]) if lines is not None else position + 2

    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise InputFileError(
            f"column {column}, row {row_of(position)} (sample {str(values.index[position])!r}): "
            f"{values.iloc[position]!r} is not a number; use a number or a missing code (-9, NA, empty)",
            path,
        )
    numbers = numbers.astype(float)
    infinite = np.isinf(numbers.to_numpy())
    if infinite.any():
        position = int(np.flatnonzero(infinite)[0])
        raise InputFileError(
            f"column {column}, row {row_of(position)} (sample {str(values.index[position])!r}): "
            f"{values.iloc[position]!r} is infinite or too large; use a finite number or a missing code", path)
    return numbers


def _non_numeric(values: pd.Series) -> pd.Series:
    present = values[~values.isin(MISSING_CODES)]
    return present[pd.to_numeric(present, errors="coerce").isna()]


def read_phenotype(path: str | Path, name: str | None, task: str) -> tuple[pd.Series, dict]:
    """Read one phenotype column; return (values indexed by ID without missing, info for the manifest).

    ``task`` is ``binary`` (0/1, or PLINK's 1/2 with 1 = control, 2 = case), ``regression``, ``multiclass``
    (integer class codes), or ``auto`` (binary when the values are exactly 0/1 or 1/2, otherwise regression;
    0/1/2 together is ambiguous and an error). Missing codes: -9, NA, NaN, empty and ``.``. A constant
    phenotype is an error. ``info['fid']`` carries the file's FID column when it has one.
    """
    path = Path(path)
    table, lines, fid = _sample_table(path, "phenotype")
    if name is None:
        if table.shape[1] == 0:
            raise InputFileError("no phenotype column besides the ID; add one (e.g. PHENO)", path)
        name = "PHENO" if "PHENO" in table.columns else table.columns[0]
    if name not in table.columns:
        raise InputFileError(f"no column {name!r} (found {list(table.columns)}); fix --pheno-name", path)
    values, info = phenotype_from_column(table[name], lines, path, name, task)
    if fid is not None:
        info["fid"] = fid
    return values, info


def phenotype_from_column(
    column: pd.Series, lines: np.ndarray | None, path: Path, name: str, task: str
) -> tuple[pd.Series, dict]:
    """The phenotype checks and coding of :func:`read_phenotype` for one column of strings indexed by ID
    (also used for a ``--pheno-name`` column of a feature table); ``lines`` are the rows' file lines."""
    table = pd.DataFrame({name: column})
    text = _non_numeric(table[name])
    if len(text) and len(text) == (~table[name].isin(MISSING_CODES)).sum():
        levels = sorted(text.unique())
        raise InputFileError(
            f"column {name}: the phenotype is text ({show(levels)}); code it as numbers: 0/1 (or PLINK's 1/2) "
            "for case/control, class codes 0..K-1 for --task multiclass", path)
    values = to_numeric_column(table[name], path, name, lines)
    n_missing = int(values.isna().sum())
    values = values.dropna()
    if len(values) == 0:
        raise InputFileError(f"column {name}: no non-missing phenotype values (all are -9, NA or empty)", path)
    distinct = np.unique(values.to_numpy())
    if len(distinct) < 2:
        raise InputFileError(
            f"column {name}: every sample has the same phenotype ({_show(distinct)}); need at least two classes "
            "or values", path)
    if task == "auto":
        if set(distinct) == {0.0, 1.0, 2.0}:
            raise InputFileError(
                f"column {name}: values 0, 1 and 2 are ambiguous (PLINK case/control with 0 = missing, three "
                "classes, or a count); recode missing as -9 for case/control, or give --task multiclass or "
                "--task regression", path)
        task = Task.BINARY if len(distinct) == 2 and set(distinct) <= {0.0, 1.0, 2.0} else Task.REGRESSION
    info = {"file": str(path), "column": name, "task": task, "missing_dropped": n_missing}
    if task == Task.BINARY:
        if set(distinct) <= {0.0, 1.0}:
            coding = "0/1"
        elif set(distinct) <= {1.0, 2.0}:
            coding = "1/2 (PLINK: 1 control, 2 case)"
            values = values - 1.0
        else:
            hint = " (PLINK's 0 means missing in 1/2 coding: recode it as -9)" if set(distinct) <= {0.0, 1.0, 2.0} \
                else ""
            raise InputFileError(
                f"column {name}: a binary phenotype must be coded 0/1 or 1/2, found values {_show(distinct)}{hint}; "
                "recode it, or use --task regression/multiclass", path)
        info["coding"] = coding
        info["counts"] = {"controls": int((values == 0).sum()), "cases": int((values == 1).sum())}
    elif task == Task.MULTICLASS:
        if not np.all(distinct == np.round(distinct)):
            raise InputFileError(f"column {name}: multiclass labels must be integers, found {_show(distinct)}", path)
        info["classes"] = [int(v) for v in distinct]
    elif task != Task.REGRESSION:
        raise InputFileError(f"unknown task {task!r}; use binary, regression, multiclass or auto", path)
    return values.rename("phenotype"), info


def _show(values: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:limit])
    return shown + (f", ... ({len(values)} distinct)" if len(values) > limit else "")


RESERVED_COVARIATES = {"id", "fid", "iid", "phenotype", "sample", "sample_id", "sampleid"}
PC_COVARIATE_SUFFIX = "_covariate"  # a covariate named like a genetic PC (PC1, ...) is renamed PC1_covariate


def is_reserved_covariate(name: str) -> bool:
    """Whether a covariate name would shadow the dataset's own sample ID or phenotype column."""
    return name.strip().lower() in RESERVED_COVARIATES


def read_covariates(
    path: str | Path, max_levels: int = 10, known_levels: dict[str, list[str]] | None = None
) -> tuple[pd.DataFrame, dict]:
    """Read covariates: numeric columns as floats; text columns one-hot encoded up to ``max_levels`` levels.

    A column is text when most of its non-missing cells are not numbers (a few stray words in a numeric column
    are an error naming the row). A text column with levels L1 < L2 < ... becomes dummies ``COL=L2``, ...
    (``L1``, the first in sorted order, is the reference); ``info['notes']`` says so. ``known_levels`` (from a
    training manifest) fixes the levels so a new cohort gets the training cohort's dummy columns; levels unseen
    in training get all-zero dummies and a note. ``info['fid']`` carries the file's FID column if any.
    """
    known_levels = known_levels or {}
    path = Path(path)
    table, lines, fid = _sample_table(path, "covariate")
    if table.shape[1] == 0:
        raise InputFileError("no covariate columns besides the ID; add some or drop --covar", path)
    reserved = [str(c) for c in table.columns if is_reserved_covariate(str(c))]
    if reserved:
        raise InputFileError(f"covariate column(s) {reserved} use a reserved name (the sample ID and phenotype "
                             "columns of the dataset itself: a covariate named so would shadow the label); rename "
                             "them", path)
    columns: dict[str, pd.Series] = {}
    encoded: dict[str, list[str]] = {}
    notes: list[str] = []
    renamed = {c: f"{c}{PC_COVARIATE_SUFFIX}" for c in table.columns if re.fullmatch(r"PC\d+", str(c).strip(),
                                                                                   flags=re.IGNORECASE)}
    if renamed:
        table = table.rename(columns=renamed)
        notes.append(f"covariate(s) {', '.join(renamed)} renamed {', '.join(renamed.values())}: PC1, PC2, ... name "
                     "the genetic PCs munge computes (--pcs)")
    for column in table.columns:
        raw = table[column]
        present = raw.where(~raw.isin(MISSING_CODES), None)
        n_present = int(present.notna().sum())
        text = _non_numeric(raw)
        if column not in known_levels and (len(text) == 0 or len(text) * 2 < n_present):
            columns[column] = to_numeric_column(raw, path, column, lines)
            if n_present == 0:
                notes.append(f"covariate {column} is missing for every sample")
            continue
        levels = list(known_levels.get(column) or sorted(present.dropna().unique()))
        if len(levels) > max_levels:
            raise InputFileError(
                f"column {column} is text with {len(levels)} levels (more than --max-covar-levels "
                f"{max_levels}; e.g. {show(levels)}); encode it numerically, raise --max-covar-levels or drop it",
                path,
            )
        encoded[column] = levels
        unseen = sorted(set(present.dropna().unique()) - set(levels))
        note = f"covariate {column} one-hot encoded: levels {show(levels, 10)}, reference {levels[0]!r}" \
            if levels else f"covariate {column} is missing for every sample"
        if unseen:
            note += f"; levels not in the training data (all-zero dummies): {show(unseen)}"
        notes.append(note)
        for level in levels[1:]:  # first level is the reference
            dummy = (present == level).astype(float)
            dummy[present.isna()] = np.nan
            columns[f"{column}={level}"] = dummy
    frame = pd.DataFrame(columns, index=table.index)
    info = {"file": str(path), "columns": list(frame.columns), "one_hot": encoded, "notes": notes}
    if fid is not None:
        info["fid"] = fid
    return frame, info


def read_gwas(path: str | Path) -> pd.Series:
    """Read GWAS summary statistics; return p-values indexed by SNP ID (flexible header names).

    Rows with a missing p-value are dropped; a SNP listed twice keeps its first row.
    """
    path = Path(path)
    table, lines = _table_and_lines(path, "GWAS summary statistics")
    id_col = next((c for c in GWAS_ID_COLUMNS if c in table.columns), None)
    p_col = next((c for c in GWAS_P_COLUMNS if c in table.columns), None)
    if id_col is None:
        raise InputFileError(f"no SNP ID column (one of {', '.join(GWAS_ID_COLUMNS[:6])}) in the header "
                             f"{list(table.columns)[:8]}; name it SNP", path)
    if p_col is None:
        raise InputFileError(f"no p-value column (one of {', '.join(GWAS_P_COLUMNS[:6])}) in the header "
                             f"{list(table.columns)[:8]}; name it P", path)
    table.index = pd.Index(table[id_col].to_numpy(), name="id")
    p = to_numeric_column(table[p_col], path, p_col, lines)
    outside = np.flatnonzero(((p < 0) | (p > 1)).to_numpy())
    if len(outside):
        raise InputFileError(f"column {p_col}, row {lines[outside[0]]}: p-value {p.iloc[outside[0]]:g} is not in "
                             "[0, 1]; is this the right column?", path)
    return p[~p.index.duplicated()].dropna()


def read_id_list(path: str | Path, what: str) -> list[str]:
    """IDs from a list file: one per line, or PLINK's ``FID IID`` (the last column is used for samples).

    For variant lists the first column is used. A header line (``FID IID``, ``IID``, ``ID``, ``SNP``) is skipped.
    """
    path = Path(path)
    ids = []
    for line in read_text_file(path, what).splitlines():
        fields = [f.strip() for f in line.replace(",", " ").split()]
        if not fields or fields[-1].lstrip("#") in ("IID", "ID", "SNP") or fields[0].lstrip("#") in ("SNP", "ID"):
            continue
        ids.append(fields[-1] if what.startswith("sample") else fields[0])
    return ids


def align_to_training_covariates(covariates: pd.DataFrame, info: dict, training_columns: list[str],
                                 path: str | Path) -> pd.DataFrame:
    """A new cohort's covariates in the training dataset's columns and order (``munge --like``, ``predict``);
    a training column missing here is an error naming ``path``. Records the columns in ``info``."""
    missing = [c for c in training_columns if c not in covariates.columns]
    if missing:
        raise InputFileError(f"covariates {missing} of the training dataset are missing; give the same covariate "
                             "columns as for training", path)
    info["columns"] = list(training_columns)
    return covariates[list(training_columns)]
