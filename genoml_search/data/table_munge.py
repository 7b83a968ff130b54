"""``munge --table``: feature tables in a Dataset, alone or beside genotypes.

The Dataset gains ``features.npy`` (float32, samples x table columns, NaN for missing, categoricals as integer
codes) and a ``feature_table`` manifest entry (columns with their types and levels, files, notes, the encoding
rules). A table-only Dataset has an empty genotype matrix (samples x 0) and an empty variant table, so every
reader of Datasets keeps working. ``--like`` (and ``predict --table``) harmonizes a new table to the training
columns (:func:`genoml_search.data.feature_table.harmonize_table`).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from genoml_search.data.dataset import VARIANT_COLUMNS, Dataset, write_dataset
from genoml_search.data.feature_table import (
    FeatureTable, check_columns, combine_tables, harmonize_table, read_feature_table, read_raw_table, table_hash,
)
from genoml_search.data.tables import (align_to_training_covariates, phenotype_from_column, read_covariates,
                                      read_id_list, read_phenotype, show)
from genoml_search.errors import InputFileError, UserError
from genoml_search.tasks import Task

log = logging.getLogger(__name__)
FEATURES = "features.npy"
ENCODING = ("categorical columns are stored as codes 0..L-1 of their sorted levels; inside each CV fold the "
            "levels seen in at least 5 training samples (at most 20 for one-hot, 250 for native) are kept and the "
            "rest pooled as 'other'; one-hot for most families, native categories for catboost, lightgbm and "
            "hist_gradient_boosting; a level unseen in training is treated as missing at predict time")


def table_columns(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The feature-table columns recorded in a Dataset (or model) manifest; empty without tables."""
    return list((manifest.get("feature_table") or {}).get("columns", []))


def dataset_table(dataset: Dataset) -> np.ndarray | None:
    """The Dataset's float32 feature-table matrix, memory-mapped, or None for a genotype-only Dataset."""
    if not table_columns(dataset.manifest):
        return None
    path = dataset.path / FEATURES
    if not path.is_file():
        raise InputFileError(f"incomplete dataset: {FEATURES} missing; re-run `genoml-search munge`", dataset.path)
    return np.load(path, mmap_mode="r", allow_pickle=False)


def _categorical_names(options: Any) -> set[str]:
    return {name.strip() for item in (options.categorical or []) for name in item.split(",") if name.strip()}


def read_tables(options: Any, like: Dataset | None, pheno_column: str | None) -> FeatureTable:
    """Read every ``--table`` (typed as in training when ``like``), side by side."""
    training = table_columns(like.manifest) if like is not None else None
    if like is not None and not training:
        raise UserError(f"the training dataset {like.path} has no feature tables; leave out --table")
    categorical = {c["name"] for c in training if c["type"] == "categorical"} if training else _categorical_names(options)
    exclude = {pheno_column} if pheno_column else set()
    tables = [read_feature_table(path, options.id_column, categorical, exclude) for path in options.tables]
    return combine_tables(tables)


def phenotype_from_table(options: Any, task: str | None = None) -> tuple[pd.Series, dict[str, Any]]:
    """The ``--pheno-name`` column of the first table that has it (no ``--pheno`` file)."""
    if not options.pheno_name:
        raise UserError("give --pheno FILE, or --pheno-name COLUMN naming the phenotype column of a --table")
    for path in options.tables:
        raw, _ = read_raw_table(path, options.id_column)
        if options.pheno_name in raw.columns:
            column = raw[options.pheno_name].astype("string").fillna("").astype(str).str.strip()
            lines = np.arange(2, len(column) + 2)
            values, info = phenotype_from_column(column, lines, Path(path), options.pheno_name,
                                                 task or options.task)
            info["file"] = str(path)
            return values, info
    raise UserError(f"no column {options.pheno_name!r} (--pheno-name) in the tables {', '.join(options.tables)}")


def join_sentence(table_ids: pd.Index, sample_ids: pd.Index, what: str) -> str:
    """How many table IDs match the samples (``what``: the other side), with examples of those that do not."""
    matched = table_ids.intersection(sample_ids)
    absent = table_ids.difference(sample_ids)
    sentence = f"{len(matched)} of {len(table_ids)} table IDs match the {what}"
    if len(absent):
        sentence += f"; {len(absent)} not (e.g. {show(absent)})"
    return sentence


def match_table_samples(table: FeatureTable, sample_ids: pd.Index, keep: pd.Series, steps: list[dict],
                        what: str) -> str:
    """Keep only samples with a row in every table (``keep`` is updated); zero matches is an error."""
    rows = table.values.index
    if len(rows.intersection(sample_ids)) == 0:
        raise InputFileError(f"0 of the {len(rows)} table IDs match the {len(sample_ids)} {what} IDs (e.g. table "
                             f"{show(rows)} vs {what} {show(sample_ids)}); use the same sample IDs",
                             table.files[0]["file"])
    complete = table.values.index[_in_every_table(table)]
    sentence = join_sentence(rows, sample_ids, what)
    before = int(keep.sum())
    keep &= sample_ids.isin(complete)
    steps.append({"step": "table", "unit": "samples", "removed": before - int(keep.sum()),
                  "remaining": int(keep.sum()), "reason": f"no row in every feature table ({sentence})"})
    if not keep.any():
        raise UserError("no samples left after matching the feature tables; check the ID columns")
    return sentence


def _in_every_table(table: FeatureTable) -> np.ndarray:
    """Rows present in every source table (the outer join leaves a sample missing from one table all-NaN there)."""
    present = np.ones(len(table.values), dtype=bool)
    for info in table.files:
        present &= table.values.index.isin(info["ids"])
    return present


def finish_table(table: FeatureTable, ids: pd.Index, phenotype: pd.Series, task: str, like: Dataset | None,
                 sentence: str) -> tuple[dict[str, Any], dict[str, Callable[[Path], object]], list[str]]:
    """Checks (training) or harmonization (``like``) of the table on the final samples; returns the manifest
    entry, the extra file writer and the notes to print."""
    table.values = table.values.reindex(ids)
    if like is None:
        table = check_columns(table, phenotype.reindex(ids), task)
        values = table.values.to_numpy(dtype=np.float32)
        columns = [c.record() for c in table.columns]
        harmonized: dict[str, Any] = {}
    else:
        frame, harmonized = harmonize_table(table, table_columns(like.manifest))
        values = frame.to_numpy(dtype=np.float32)
        columns = table_columns(like.manifest)
        if harmonized["extra_columns_ignored"]:
            table.notes.append(f"note: {len(harmonized['extra_columns_ignored'])} column(s) not used by the "
                               f"training data ignored: {show(harmonized['extra_columns_ignored'])}")
        if harmonized["unseen_levels"]:
            total = sum(harmonized["unseen_levels"].values())
            table.notes.append(f"warning: {total} categorical value(s) with levels not seen in training, treated as "
                               f"missing: {harmonized['unseen_levels']}")
    files = [{k: v for k, v in f.items() if k != "ids"} for f in table.files]
    entry = {"columns": columns, "files": files, "matching": sentence, "notes": table.notes, "encoding": ENCODING,
             "n_columns": len(columns), "types": {t: sum(c["type"] == t for c in columns)
                                                  for t in ("numeric", "boolean", "categorical")},
             "sha256": table_hash(values), **({"harmonized": harmonized} if like is not None else {})}

    def write(path: Path) -> None:
        np.save(path, np.ascontiguousarray(values, dtype=np.float32), allow_pickle=False)

    return entry, {FEATURES: write}, table.notes


def munge_tables_only(options: Any) -> dict[str, Any]:
    """A Dataset from feature tables alone (no genotypes): phenotype, tables, covariates, sample lists.

    Called by :func:`genoml_search.data.munge.munge`, which has checked the output directory."""
    like = Dataset.open(options.like, variants_only=True) if options.like else None
    task = options.task if like is None else str(like.task)
    steps: list[dict] = []
    if options.pheno:
        phenotype, pheno_info = read_phenotype(options.pheno, options.pheno_name, task)
        pheno_info.pop("fid", None)
        pheno_column = None
    elif like is None or options.pheno_name:
        phenotype, pheno_info = phenotype_from_table(options, task)
        pheno_column = options.pheno_name
    else:
        phenotype, pheno_info, pheno_column = None, {"task": task, "file": None}, None
    table = read_tables(options, like, pheno_column)
    ids = table.values.index
    steps.append({"step": "input", "unit": "samples", "removed": 0, "remaining": len(ids),
                  "reason": "samples in the feature table(s)"})
    keep = pd.Series(True, index=ids)
    if phenotype is not None:
        present = ids.isin(phenotype.index)
        pheno_info["matching"] = join_sentence(ids, phenotype.index, "phenotype")
        _drop(steps, keep, present, "phenotype", f"no phenotype ({pheno_info['matching']})")
        if not keep.any():
            raise InputFileError(f"0 of the {len(ids)} table IDs have a phenotype (e.g. table {show(ids)} vs "
                                 f"phenotype {show(phenotype.index)}); use the same sample IDs", options.pheno)
    covariates, covar_info = _covariates(options, like, ids, keep, steps)
    for path, drop_listed, flag in ((options.keep, False, "--keep"), (options.remove, True, "--remove")):
        if path:
            listed = ids.isin(read_id_list(path, "sample list"))
            _drop(steps, keep, ~listed if drop_listed else listed, flag.lstrip("-"), f"{flag} {path}")
    final = ids[keep.to_numpy()]
    if len(final) == 0:
        raise UserError("no samples left after matching phenotype, tables, covariates and sample lists")
    y = phenotype.reindex(final) if phenotype is not None else pd.Series(np.nan, index=final)
    task = pheno_info.get("task", task)
    if like is None and Task(task).is_classification and y.nunique() < 2:
        raise UserError("only one phenotype class among the samples with a table row; need at least two")
    entry, files, notes = finish_table(table, final, y, task, like, join_sentence(ids, final, "dataset samples"))
    steps.append({"step": "final", "unit": "samples", "removed": 0, "remaining": len(final),
                  "reason": "samples in the dataset"})
    samples = pd.concat([pd.DataFrame({"ID": np.asarray(final).astype(str), "phenotype": y.to_numpy()}),
                         covariates.reindex(final).reset_index(drop=True)], axis=1)
    manifest = {
        "kind": "harmonized" if like else "training",
        "inputs": {"tables": list(options.tables), "pheno": options.pheno, "covar": options.covar},
        "parameters": {"tables": list(options.tables), "id_column": options.id_column,
                       "categorical": sorted(_categorical_names(options)), "pheno_name": options.pheno_name,
                       "task": options.task, "out": str(options.out)},
        "phenotype": {**pheno_info, "task": task},
        "covariates": covar_info,
        "feature_table": entry,
        "steps": steps,
        "notes": notes + covar_info.get("notes", []),
        "relatedness": {"computed": False, "reason": "no genotypes"},
        "pca": {"computed": False, "reason": "no genotypes"},
        **({"like": {"dataset": str(like.path), "content_hash": like.content_hash},
            "related_to_training": {"checked": False, "reason": "no genotypes (feature tables only)"}} if like else {}),
    }
    genotypes = np.zeros((len(final), 0), dtype=np.int8)
    write_dataset(options.out, genotypes, samples, pd.DataFrame(columns=VARIANT_COLUMNS), manifest,
                  extra_files=files)
    return Dataset.open(options.out).manifest


def _drop(steps: list[dict], keep: pd.Series, passing: np.ndarray, name: str, reason: str) -> None:
    before = int(keep.sum())
    keep &= passing
    steps.append({"step": name, "unit": "samples", "removed": before - int(keep.sum()), "remaining": int(keep.sum()),
                  "reason": reason})


def _covariates(options: Any, like: Dataset | None, ids: pd.Index, keep: pd.Series,
                steps: list[dict]) -> tuple[pd.DataFrame, dict[str, Any]]:
    if not options.covar:
        if like is not None and like.covariate_names:
            raise UserError(f"the training dataset has covariates {like.covariate_names}: give --covar")
        return pd.DataFrame(index=ids), {"columns": []}
    known = like.manifest.get("covariates", {}).get("one_hot") if like else None
    covariates, info = read_covariates(options.covar, options.max_covar_levels, known)
    info.pop("fid", None)
    if like is not None:
        covariates = align_to_training_covariates(covariates, info, like.covariate_names, options.covar)
    info["matching"] = join_sentence(ids, covariates.index, "covariate file")
    _drop(steps, keep, ids.isin(covariates.index), "covariates", f"no row in the covariate file ({info['matching']})")
    return covariates, info


def table_lines(manifest: dict[str, Any]) -> list[str]:
    """What munge prints about the feature tables: column counts by type, the join, notes and warnings."""
    entry = manifest["feature_table"]
    types = ", ".join(f"{n} {t}" for t, n in entry["types"].items() if n)
    return [f"feature table: {entry['n_columns']} columns ({types}); {entry['matching']}", *entry.get("notes", [])]


def check_predict_inputs(model_dir: Path, options: Any) -> None:
    """``predict``: genotypes for a genotype model, ``--table`` for a model trained with feature tables."""
    manifest = Dataset.open(model_dir, variants_only=True).manifest
    has_tables = bool(table_columns(manifest))
    has_genotypes = int(manifest.get("n_variants", 0)) > 0
    if has_tables and not options.tables:
        names = [c["name"] for c in table_columns(manifest)]
        raise UserError(f"the model was trained with feature tables ({len(names)} columns, e.g. {show(names)}); "
                        "give them with --table FILE", model_dir)
    if options.tables and not has_tables:
        raise UserError("the model was trained without feature tables; leave out --table", model_dir)
    if has_genotypes and bool(options.bfile) == bool(options.pfile):
        raise UserError("give exactly one of --bfile PREFIX or --pfile PREFIX")
    if not has_genotypes and (options.bfile or options.pfile):
        raise UserError("the model was trained on feature tables only; leave out --bfile/--pfile", model_dir)
