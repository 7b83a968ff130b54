"""The munge pipeline: PLINK genotypes + phenotype + covariates (+ GWAS p-values) -> a Dataset directory.

Order of operations (a training cohort): sample selection (phenotype present, --keep/--remove, covariates
present), variant selection (--extract/--exclude, --gwas/--gwas-p), sample and variant QC (PLINK 2 order),
LD pruning (--indep-pairwise), then the Dataset is written atomically with every count in its manifest. By
default the Dataset holds the QC'd variants with one LD-pruning mask per threshold (``MungeOptions.ld_masks``;
searched by ``run``); an explicit prune alone (``ld_masks=()``) writes the pruned set only.

With ``like`` (a training Dataset) the cohort is harmonized to it instead: same SNPs in the same order and the
same counted alleles, no QC or pruning (see :mod:`genoml_search.data.harmonize`).

Sample structure (:mod:`genoml_search.data.cohort_structure`): a training cohort gets its related pairs (KING)
and genetic PCs; a harmonized cohort its relatedness to the training samples and PCs projected onto the
training loadings.
"""
from __future__ import annotations

import logging
import threading
import warnings
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from genoml_search.data import qc as qc_module
from genoml_search.data.cohort_structure import harmonized_structure, training_structure
from genoml_search.data.dataset import GENOTYPES, Dataset, mask_column, mask_name, write_dataset
from genoml_search.data.harmonize import apply_harmonization, match_variants
from genoml_search.data.ld import indep_pairwise
from genoml_search.data.plink import MISSING, PlinkFileSet, check_bed, read_bed_matrix, read_bim, read_fam
from genoml_search.data.tables import (align_to_training_covariates, read_covariates, read_gwas, read_id_list,
                                      read_phenotype, show)
from genoml_search.errors import InputFileError, UserError
from genoml_search.fileio import file_sha256
from genoml_search.outputs import check_output_directory
from genoml_search.tasks import Task

log = logging.getLogger(__name__)


DEFAULT_LD_MASKS: tuple[float, ...] = (0.9, 0.5)
"""The r2 thresholds munge stores as LD masks by default (besides ``none``, every QC'd variant): chosen from
``benchmarks/ld_masks.py`` (docs/munge-qc.md)."""


@dataclass(frozen=True)
class PruneParams:
    """``--indep-pairwise WINDOW STEP R2``; ``window_kb`` when the window was given with a ``kb`` suffix."""

    window: int = 50
    step: int = 5
    r2: float = 0.9  # near-duplicates only: keeps 96-99% of the SNPs' accuracy, 0.5 keeps 73-87% (docs/munge-qc.md)
    window_kb: bool = False

    @classmethod
    def parse(cls, window: str, step: str | int, r2: str | float) -> PruneParams:
        """Parse PLINK's three arguments, e.g. ``("500kb", "1", "0.2")``."""
        text = str(window).strip().lower()
        window_kb = text.endswith("kb")
        try:
            value = int(float(text[:-2] if window_kb else text))
            params = cls(value, int(step), float(r2), window_kb)
        except ValueError:
            raise UserError(f"--indep-pairwise {window} {step} {r2}: expected WINDOW[kb] STEP R2, e.g. 50 5 0.9") from None
        if params.window < 2 or params.step < 1 or not 0.0 < params.r2 < 1.0:
            raise UserError("--indep-pairwise: window must be >= 2, step >= 1 and 0 < r2 < 1")
        return params


@dataclass
class MungeOptions:
    """Everything `genoml-search munge` can be asked to do."""

    out: Path
    bfile: str | None = None
    pfile: str | None = None
    pheno: str | None = None
    pheno_name: str | None = None
    task: str = "auto"
    covar: str | None = None
    max_covar_levels: int = 10
    gwas: str | None = None
    gwas_p: float | None = None
    extract: str | None = None
    exclude: str | None = None
    keep: str | None = None
    remove: str | None = None
    qc: qc_module.QCParams = field(default_factory=qc_module.QCParams)
    prune: PruneParams | None = field(default_factory=PruneParams)
    # LD masks: with pruning, store the QC'd variants plus one mask per threshold (and prune.r2, the default
    # mask) instead of the pruned set; () stores prune's kept set only (an explicit --indep-pairwise)
    ld_masks: tuple[float, ...] = DEFAULT_LD_MASKS
    like: str | None = None
    fill_missing: bool = False
    kinship: bool = True  # KING kinship of a training cohort (related_pairs.tsv)
    kinship_max_samples: int = 10_000
    king_table: str | None = None  # --king-table: kinship from a plink2 --make-king-table file instead
    pcs: int | None = None  # genetic PCs of a training cohort (None: the default, skipped if too small)
    relatedness_reference: str | None = None  # with like: training Dataset to compare with (default: like)
    tables: list[str] = field(default_factory=list)  # --table: feature tables (genoml_search.data.table_munge)
    id_column: str | None = None  # --id-column of the feature tables
    categorical: list[str] = field(default_factory=list)  # --categorical COL,...: table columns taken as categories


@dataclass
class CohortFiles:
    """The genotype metadata of the input cohort, before any genotype is read."""

    samples: pd.DataFrame
    variants: pd.DataFrame
    bed: Path | None
    pfile: str | None
    hashing: dict[str, str] | Future
    bim: Path | None = None

    @property
    def hashes(self) -> dict[str, str]:
        """SHA-256 of the input files (computed on a thread while the genotypes are read and checked)."""
        return self.hashing.result() if isinstance(self.hashing, Future) else self.hashing


def _open_cohort(options: MungeOptions) -> CohortFiles:
    if bool(options.bfile) == bool(options.pfile):
        raise UserError("give exactly one of --bfile PREFIX or --pfile PREFIX")
    if options.bfile:
        files = PlinkFileSet.from_prefix(options.bfile)
        samples, variants = read_fam(files.fam), read_bim(files.bim)
        check_bed(files.bed, len(samples), len(variants))
        return CohortFiles(samples, variants, files.bed, None, _hash_in_background((files.bed, files.bim, files.fam)),
                           files.bim)
    from genoml_search.data.pgen import read_pfile  # optional extra: pgenlib

    assert options.pfile  # exactly one of the two, checked above
    data = read_pfile(options.pfile, read_genotypes=False)
    return CohortFiles(data.samples, data.variants, None, options.pfile, {}, Path(f"{options.pfile}.pvar"))


def _hash_in_background(paths: tuple[Path, ...]) -> Future:
    """Hash the files on a thread of its own (hashlib releases the GIL); the result is needed only at the end.

    A daemon thread, not an executor's: Python joins every executor thread at exit, so a munge (or a `run`
    munging its validation cohort) refused after this point printed its one-line error and then went on hashing
    the whole .bed before the process ended (90 s after the error with a 30 s hash per file).
    """
    future: Future = Future()

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result({str(p): file_sha256(p) for p in paths})
        except BaseException as error:  # handed to whoever reads the hashes
            future.set_exception(error)

    threading.Thread(target=work, name="hash-inputs", daemon=True).start()
    return future


def _read_genotypes(
    cohort: CohortFiles, sample_index: np.ndarray, variant_index: np.ndarray, order: Literal["C", "F"] = "C"
) -> np.ndarray:
    if cohort.bed is not None:
        return read_bed_matrix(cohort.bed, len(cohort.samples), len(cohort.variants), variant_index, sample_index,
                               order=order)
    from genoml_search.data.pgen import read_pfile

    assert cohort.pfile is not None  # a cohort has a .bed or a .pgen
    genotypes = read_pfile(cohort.pfile).genotypes
    return np.asarray(genotypes[np.ix_(sample_index, variant_index)], order=order)


def _step(steps: list[dict], name: str, unit: str, removed: int, remaining: int, reason: str) -> None:
    steps.append({"step": name, "unit": unit, "removed": int(removed), "remaining": int(remaining), "reason": reason})


def _match_samples(
    cohort: pd.DataFrame, table_ids: pd.Index, fid: pd.Series | None, path: str, what: str
) -> tuple[pd.Index, str]:
    """IDs of a sample table that match the .fam (by IID, and by FID too when the table has one).

    Zero overlap is an error showing examples of both sides; otherwise returns the matched IDs and a sentence
    for the manifest saying how many matched and giving examples of those that did not.
    """
    fam_ids = pd.Index(cohort["iid"])
    overlap = table_ids.intersection(fam_ids, sort=False)
    fid_mismatch = pd.Index([])
    if fid is not None and len(overlap):
        fam_fid = pd.Series(cohort["fid"].to_numpy(), index=fam_ids)
        differs = fam_fid.reindex(overlap).to_numpy() != fid.reindex(overlap).to_numpy()
        fid_mismatch = overlap[differs]
        overlap = overlap[~differs]
    if len(overlap) == 0:
        extra = (f"; {len(fid_mismatch)} IIDs match but their FID differs (e.g. {show(fid_mismatch)})"
                 if len(fid_mismatch) else "")
        raise InputFileError(
            f"0 of the {len(table_ids)} {what} IDs match the {len(fam_ids)} .fam sample IDs (e.g. {what} "
            f"{show(table_ids)} vs .fam {show(fam_ids)}){extra}; the ID (or IID) column must hold the .fam IID "
            "(column 2)",
            path,
        )
    absent = table_ids.difference(fam_ids, sort=False)
    sentence = f"{len(overlap)} of {len(table_ids)} {what} IDs match the .fam"
    if len(absent):
        sentence += f"; {len(absent)} not in the .fam (e.g. {show(absent)})"
    if len(fid_mismatch):
        sentence += f"; {len(fid_mismatch)} with another FID than the .fam's, ignored (e.g. {show(fid_mismatch)})"
    return overlap, sentence


def _require_left(count: int, unit: str, cause: str, path: str | None = None) -> None:
    if count == 0:
        where = ".fam IIDs" if unit == "samples" else ".bim variant IDs"
        raise UserError(f"no {unit} left after {cause}; check that the IDs match the {where}", path)


def _input_paths(options: MungeOptions) -> list[tuple[str, str | None]]:
    """Every file or directory munge reads, with its flag (an output may not be or contain one of them)."""
    files = [(flag, f"{prefix}{suffix}") for flag, prefix, suffixes in (
        ("--bfile", options.bfile, (".bed", ".bim", ".fam")), ("--pfile", options.pfile, (".pgen", ".pvar", ".psam")))
        if prefix for suffix in suffixes]
    return [*files, ("--pheno", options.pheno), ("--covar", options.covar), ("--gwas", options.gwas),
            ("--extract", options.extract), ("--exclude", options.exclude), ("--keep", options.keep),
            ("--remove", options.remove), ("--king-table", options.king_table), ("--like", options.like), ("--like", options.relatedness_reference),
            *(("--table", table) for table in options.tables)]


def munge(options: MungeOptions) -> dict[str, Any]:
    """Run the munge pipeline and write the Dataset directory; return its manifest."""
    check_output_directory(options.out, inputs=_input_paths(options))
    if options.like and Path(options.like).absolute() == Path(options.out).absolute():
        raise UserError("--out must differ from --like (the training dataset would be replaced)", options.out)
    if options.tables and not (options.bfile or options.pfile):
        from genoml_search.data.table_munge import munge_tables_only

        return munge_tables_only(options)
    cohort = _open_cohort(options)
    if options.king_table:  # a malformed header fails now, not after QC
        from genoml_search.data.king_table import read_header

        read_header(options.king_table)
    like = Dataset.open(options.like, variants_only=True) if options.like else None
    steps: list[dict] = []
    notes: list[str] = []
    fam_ids = pd.Index(cohort.samples["iid"])
    keep = pd.Series(True, index=fam_ids)
    _step(steps, "input", "samples", 0, len(fam_ids), "samples in the .fam")
    _step(steps, "input", "variants", 0, len(cohort.variants), "variants in the .bim")

    phenotype, pheno_info, task = _select_by_phenotype(options, cohort, like, keep, steps)
    _select_by_sample_lists(options, fam_ids, keep, steps)
    covariates, covar_info = _select_by_covariates(options, cohort, like, keep, steps, notes)
    table, table_sentence = _select_by_feature_tables(options, like, fam_ids, keep, steps)
    if keep.sum() == 0:
        raise UserError("no samples left after matching phenotype, covariates and sample lists")

    genotypes, variants, sample_index, manifest_extra = _cohort_genotypes(options, cohort, like, keep, phenotype,
                                                                          task, steps)
    variants = _variant_table(variants, genotypes)
    for name, mask in manifest_extra.pop("_ld_mask_arrays", {}).items():  # LD masks over the QC'd variants
        variants[mask_column(name)] = mask
    ids = fam_ids[sample_index]
    samples = pd.concat(
        [pd.DataFrame({"ID": ids, "phenotype": phenotype.reindex(ids).to_numpy()}),
         covariates.reindex(ids).reset_index(drop=True)],
        axis=1,
    )
    manifest = {
        "kind": "harmonized" if like else "training",
        "inputs": {"hashes": cohort.hashes, "bfile": options.bfile, "pfile": options.pfile,
                   "pheno": options.pheno, "covar": options.covar, "gwas": options.gwas},
        "parameters": _parameters(options),
        "phenotype": {**pheno_info, "task": task},
        "covariates": covar_info,
        "counted_allele": "first allele of the .bim (column 5; plink2 ALT), as bed-reader and plink2 --export A count",
        "missing_sentinel": MISSING,
        "steps": steps,
        "notes": notes,
        **manifest_extra,
    }
    structure, files = _sample_structure(options, like, genotypes, variants, np.asarray(ids).astype(str),
                                         cohort.samples["fid"].to_numpy()[sample_index])
    manifest.update(structure)
    if table is not None:
        from genoml_search.data.table_munge import finish_table

        manifest["feature_table"], table_files, table_notes = finish_table(
            table, pd.Index(ids), phenotype.reindex(ids), task, like, table_sentence)
        files = {**files, **table_files}
        manifest["notes"] = notes + table_notes
        manifest["inputs"]["tables"] = list(options.tables)
    log.info("writing the dataset to %s", options.out)
    write_dataset(options.out, genotypes, samples, variants, manifest, extra_files=files)
    return Dataset.open(options.out).manifest


def _select_by_phenotype(
    options: MungeOptions, cohort: CohortFiles, like: Dataset | None, keep: pd.Series, steps: list[dict]
) -> tuple[pd.Series, dict[str, Any], str]:
    """The phenotype per .fam sample, its manifest entry and the task; ``keep`` loses samples without one."""
    fam_ids = keep.index
    task = options.task if like is None else like.task
    phenotype = pd.Series(np.nan, index=fam_ids, name="phenotype")
    pheno_info: dict[str, Any] = {"task": task, "file": None}
    pheno_source = options.pheno or (options.tables[0] if options.tables and options.pheno_name else None)
    if pheno_source:
        values, pheno_info = _read_phenotype(options, task)
        matched, sentence = _match_samples(cohort.samples, values.index, pheno_info.pop("fid", None),
                                           pheno_source, "phenotype")
        phenotype = values.reindex(matched).reindex(fam_ids)
        task = pheno_info["task"]
        pheno_info["matching"] = sentence
        absent = keep & phenotype.isna()
        keep &= phenotype.notna()
        _step(steps, "phenotype", "samples", absent.sum(), keep.sum(),
              f"no phenotype ({pheno_info['missing_dropped']} missing codes; {sentence})")
        _require_left(int(keep.sum()), "samples", "matching the phenotype file", pheno_source)
        if Task(task).is_classification and phenotype[keep].nunique() < 2:
            raise InputFileError(f"only one phenotype class among the {int(keep.sum())} samples also in the .fam; "
                                 "need at least two", pheno_source)
    elif like is None:
        raise UserError("--pheno is required to munge a training cohort (it is optional only with --like; with "
                        "--table, --pheno-name can name a table column instead)")
    return phenotype, pheno_info, task


def _select_by_sample_lists(options: MungeOptions, fam_ids: pd.Index, keep: pd.Series, steps: list[dict]) -> None:
    """``--keep`` and ``--remove``: update ``keep`` in place."""
    for path, drop_listed, flag in ((options.keep, False, "--keep"), (options.remove, True, "--remove")):
        if path:
            listed = fam_ids.isin(read_id_list(path, "sample list"))
            before = keep.sum()
            keep &= ~listed if drop_listed else listed
            _step(steps, flag.lstrip("-"), "samples", before - keep.sum(), keep.sum(),
                  f"{flag} {path} ({int(listed.sum())} of its IDs in the .fam)")
            _require_left(int(keep.sum()), "samples", flag, path)


def _select_by_covariates(
    options: MungeOptions, cohort: CohortFiles, like: Dataset | None, keep: pd.Series, steps: list[dict],
    notes: list[str],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The covariates per .fam sample and their manifest entry; ``keep`` loses samples without a row."""
    fam_ids = keep.index
    covariates = pd.DataFrame(index=fam_ids)
    covar_info: dict[str, Any] = {"columns": []}
    if options.covar:
        known = like.manifest.get("covariates", {}).get("one_hot") if like else None
        covariates, covar_info = read_covariates(options.covar, options.max_covar_levels, known)
        matched, sentence = _match_samples(cohort.samples, covariates.index, covar_info.pop("fid", None),
                                           options.covar, "covariate")
        covariates = covariates.loc[matched]
        covar_info["matching"] = sentence
        notes.extend(covar_info.get("notes", []))
        if like is not None:
            covariates = align_to_training_covariates(covariates, covar_info, like.covariate_names, options.covar)
        before = keep.sum()
        keep &= fam_ids.isin(covariates.index)
        _step(steps, "covariates", "samples", before - keep.sum(), keep.sum(), f"no row in the covariate file ({sentence})")
        _require_left(int(keep.sum()), "samples", "matching the covariate file", options.covar)
        covariates = covariates.reindex(fam_ids)
    elif like is not None and like.covariate_names:
        raise UserError(f"the training dataset has covariates {like.covariate_names}: give --covar")
    return covariates, covar_info


def _select_by_feature_tables(
    options: MungeOptions, like: Dataset | None, fam_ids: pd.Index, keep: pd.Series, steps: list[dict]
) -> tuple[Any, str]:
    """``--table`` feature tables beside the genotypes (:mod:`genoml_search.data.table_munge`) and the sentence
    of their sample matching; ``keep`` loses samples without a row in every table."""
    if like is not None and not options.tables and like.manifest.get("feature_table"):
        raise UserError(f"the training dataset {like.path} has feature tables: give the new cohort's with --table")
    if not options.tables:
        return None, ""
    from genoml_search.data.table_munge import match_table_samples, read_tables

    table = read_tables(options, like, options.pheno_name if not options.pheno else None)
    return table, match_table_samples(table, fam_ids, keep, steps, ".fam")


def _cohort_genotypes(
    options: MungeOptions, cohort: CohortFiles, like: Dataset | None, keep: pd.Series, phenotype: pd.Series,
    task: str, steps: list[dict],
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray, dict[str, Any]]:
    """The dataset's genotypes, variants, sample rows of the .fam and manifest extras: QC'd and pruned for a
    training cohort, harmonized to ``like`` otherwise."""
    if like is None:
        manifest_extra, sample_keep, variant_index, genotypes = _select_training_variants(
            options, cohort, keep.to_numpy(), phenotype.to_numpy(), task, steps
        )
        sample_index = np.flatnonzero(keep.to_numpy())[sample_keep]
        variants = cohort.variants.iloc[variant_index].reset_index(drop=True)
        if Task(task).is_classification and np.unique(phenotype.to_numpy()[sample_index]).size < 2:
            raise UserError("only one phenotype class left after sample QC (--mind); relax it or check the inputs")
    else:
        sample_index = np.flatnonzero(keep.to_numpy())
        genotypes, variants, manifest_extra = _harmonize_to(like, cohort, sample_index, options.fill_missing, steps)
    return genotypes, variants, sample_index, manifest_extra


def _variant_table(variants: pd.DataFrame, genotypes: np.ndarray) -> pd.DataFrame:
    """The dataset's variant table: IDs, positions, alleles and the counted allele's frequency."""
    freq = qc_module.allele_frequency(genotypes)
    return pd.DataFrame({
        "id": variants["id"].to_numpy(), "chrom": variants["chrom"].to_numpy(), "pos": variants["pos"].to_numpy(),
        "counted_allele": variants["counted_allele"].to_numpy(), "other_allele": variants["other_allele"].to_numpy(),
        "freq": np.round(freq, 6),
    })


def _sample_structure(
    options: MungeOptions, like: Dataset | None, genotypes: np.ndarray, variants: pd.DataFrame, ids: np.ndarray,
    fids: np.ndarray | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Manifest entries and files of the sample structure: related pairs and PCs of a training cohort, or
    relatedness to the training samples and projected PCs of a harmonized one."""
    if like is None:
        return training_structure(genotypes, variants, ids, kinship=options.kinship,
                                  kinship_max_samples=options.kinship_max_samples, n_pcs=options.pcs,
                                  king_table=options.king_table, fids=fids)
    reference = options.relatedness_reference or (str(like.path) if (like.path / GENOTYPES).is_file() else None)
    return harmonized_structure(like.path, like.manifest, genotypes, ids, reference,
                                variants["id"].astype(str).to_numpy())


def _read_phenotype(options: MungeOptions, task: str) -> tuple[pd.Series, dict[str, Any]]:
    """The phenotype from ``--pheno``, or from the ``--pheno-name`` column of a ``--table``."""
    if options.pheno:
        return read_phenotype(options.pheno, options.pheno_name, task)
    from genoml_search.data.table_munge import phenotype_from_table

    return phenotype_from_table(options, task)


def _parameters(options: MungeOptions) -> dict[str, Any]:
    params = asdict(options)
    params["out"] = str(options.out)
    return params


def _select_training_variants(
    options: MungeOptions,
    cohort: CohortFiles,
    sample_keep: np.ndarray,
    phenotype: np.ndarray,
    task: str,
    steps: list[dict],
) -> tuple[dict[str, Any], np.ndarray, np.ndarray, np.ndarray]:
    """Variant lists, GWAS filter, QC and pruning.

    Returns the manifest extras, the kept samples (mask), the kept variant columns of the .bed and the kept
    genotypes, taken from the matrix already in memory rather than read from the .bed a second time.
    """
    selected, extra = _listed_and_gwas_variants(options, cohort.variants["id"], steps)
    variant_index = np.flatnonzero(selected)
    sample_index = np.flatnonzero(sample_keep)
    log.info("reading %d x %d genotypes for QC", len(sample_index), len(variant_index))
    # Column-major: QC and pruning work variant by variant; _take below writes the kept part row-major.
    genotypes = _read_genotypes(cohort, sample_index, variant_index, order="F")
    samples = cohort.samples.iloc[sample_index]
    founders = ((samples["father"] == "0") & (samples["mother"] == "0")).to_numpy()
    controls = (phenotype[sample_index] == 0) if task == Task.BINARY else None
    log.info("QC of %d x %d genotypes", len(sample_index), len(variant_index))
    with warnings.catch_warnings():  # empty slices when --mind removes everyone: reported below
        warnings.simplefilter("ignore", RuntimeWarning)
        chrom = cohort.variants["chrom"].to_numpy()[variant_index]
        result = qc_module.run_qc(genotypes, options.qc, founders=founders, controls=controls, chrom=chrom,
                                  sex=samples["sex"].to_numpy())
    remaining_variants = len(variant_index)
    for qc_step in result.steps:
        if qc_step["unit"] == "samples":
            remaining = int(result.sample_keep.sum())
        else:
            remaining_variants -= int(qc_step["removed"])
            remaining = remaining_variants
        steps.append({**qc_step, "remaining": remaining})
    if not result.sample_keep.any():
        raise UserError(f"no samples left after sample QC (--mind {options.qc.mind}): all {len(sample_index)} "
                        "have more missing calls; relax --mind or check the genotype file", str(cohort.bed or ""))
    variant_keep = result.variant_keep.copy()
    counts = result.counts or qc_module.genotype_counts(genotypes, result.sample_keep)
    all_missing = (counts.observed == 0) & variant_keep
    if all_missing.any():
        variant_keep &= ~all_missing
        _step(steps, "all-missing", "variants", all_missing.sum(), variant_keep.sum(),
              "every call missing (dropped even with --no-qc)")
    if not variant_keep.any():
        filters = ", ".join(f"--{name} {value}" for name, value in
                            (("geno", options.qc.geno), ("maf", options.qc.maf), ("hwe", options.qc.hwe))
                            if value is not None)
        raise UserError(f"no variants left after QC of {len(variant_index)} variants ({filters or '--no-qc'}; "
                        f"{int(all_missing.sum())} with every call missing); relax the thresholds or check the "
                        "genotype file", str(cohort.bed or ""))
    masks: dict[str, np.ndarray] = {}
    if options.prune is not None:
        masks = _prune(options, genotypes, cohort.variants.iloc[variant_index], variant_keep,
                       founders & result.sample_keep, samples["sex"].to_numpy(), result.founder_counts, steps)
        if options.ld_masks:  # the QC'd set is stored, each threshold's kept set as a mask over it
            kept = np.flatnonzero(variant_keep)
            extra["_ld_mask_arrays"] = {name: mask[kept] for name, mask in masks.items()}
            extra["ld_masks"] = _masks_manifest(options, {name: int(mask.sum()) for name, mask in masks.items()})
        else:
            variant_keep &= masks[mask_name(options.prune.r2)]
    _step(steps, "final", "variants", 0, variant_keep.sum(), "variants in the dataset")
    _step(steps, "final", "samples", 0, result.sample_keep.sum(), "samples in the dataset")
    return extra, result.sample_keep, variant_index[variant_keep], _take(genotypes, result.sample_keep, variant_keep)


def _prune(options: MungeOptions, genotypes: np.ndarray, variants: pd.DataFrame, variant_keep: np.ndarray,
           founders: np.ndarray, sex: np.ndarray, founder_counts: Any, steps: list[dict]) -> dict[str, np.ndarray]:
    """``--indep-pairwise`` at ``options.prune.r2`` and at every ``options.ld_masks`` threshold, on the
    QC-passing columns of ``genotypes``; returns each threshold's kept variants (mask over all columns).

    Non-founders take no part in pruning, so the --mind filter folds into ``founders``; ``columns`` select
    the QC-passing variants without copying the matrix. Pruning uses no phenotype, so masks computed on all
    training samples leak nothing into the CV folds.
    """
    assert options.prune is not None  # only called when pruning
    prune = options.prune
    columns = np.flatnonzero(variant_keep)
    kept_variants = variants.iloc[columns]
    counts = None if founder_counts is None else founder_counts.take(columns)
    masks: dict[str, np.ndarray] = {}
    for r2 in sorted({prune.r2, *options.ld_masks}, reverse=True):
        pruned = indep_pairwise(genotypes, kept_variants["chrom"].to_numpy(), kept_variants["pos"].to_numpy(),
                                prune.window, prune.step, r2, window_kb=prune.window_kb, founders=founders,
                                columns=columns, sex=sex, counts=counts)
        mask = variant_keep.copy()
        mask[columns[~pruned]] = False
        masks[mask_name(r2)] = mask
        stored = " (a mask over the QC'd variants)" if options.ld_masks else ""
        _step(steps, "indep-pairwise", "variants", (~pruned).sum(), mask.sum(),
              f"r2 > {r2:g} in windows of {prune.window}{'kb' if prune.window_kb else ''} (step {prune.step})"
              f"{stored}")
    return masks


def _masks_manifest(options: MungeOptions, kept: dict[str, int]) -> dict[str, Any]:
    """The manifest's ``ld_masks`` entry: thresholds (names), window, the default mask and the kept counts."""
    assert options.prune is not None  # masks are made only when pruning
    prune = options.prune
    return {"masks": list(kept), "window": prune.window, "step": prune.step, "window_kb": prune.window_kb,
            "default": mask_name(prune.r2), "n_kept": kept,
            "columns": {name: mask_column(name) for name in kept},
            "note": "variants.tsv holds the QC'd variants; each mask column marks those --indep-pairwise keeps"}


def _listed_and_gwas_variants(
    options: MungeOptions, variant_ids: pd.Series, steps: list[dict]
) -> tuple[np.ndarray, dict[str, Any]]:
    """The variants (mask) left by --extract/--exclude and the --gwas/--gwas-p filter, and the manifest extras."""
    selected = np.ones(len(variant_ids), dtype=bool)
    extra: dict[str, Any] = {}
    for path, drop_listed, flag in ((options.extract, False, "--extract"), (options.exclude, True, "--exclude")):
        if path:
            listed = variant_ids.isin(read_id_list(path, "variant list")).to_numpy()
            before = selected.sum()
            selected &= ~listed if drop_listed else listed
            _step(steps, flag.lstrip("-"), "variants", before - selected.sum(), selected.sum(),
                  f"{flag} {path} ({int(listed.sum())} of its IDs in the .bim)")
            _require_left(int(selected.sum()), "variants", flag, path)
    if options.gwas:
        if options.gwas_p is None:
            raise UserError("--gwas needs --gwas-p P (keep SNPs with p <= P)")
        pvalues = read_gwas(options.gwas)
        matched = variant_ids.isin(pvalues.index).to_numpy()
        if not matched.any():
            raise InputFileError(
                f"0 of the {len(pvalues)} GWAS SNP IDs match the .bim variant IDs (e.g. GWAS {show(pvalues.index)} "
                f"vs .bim {show(variant_ids)}); use the same variant IDs", options.gwas)
        passing = (pvalues.reindex(variant_ids).to_numpy() <= options.gwas_p) & matched
        before = selected.sum()
        selected &= passing
        extra["gwas"] = {"file": options.gwas, "p_threshold": options.gwas_p, "snps_in_file": len(pvalues),
                         "matched": int(matched.sum())}
        _step(steps, "gwas", "variants", before - selected.sum(), selected.sum(),
              f"p > {options.gwas_p} or absent from the GWAS file ({int(matched.sum())} of {len(variant_ids)} matched)")
        _require_left(int(selected.sum()), "variants", f"--gwas-p {options.gwas_p}", options.gwas)
    return selected, extra


def _take(genotypes: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``genotypes[rows][:, columns]``: of a column-major matrix (munge reads one), compacted over its own buffer,
    which the caller no longer needs, so munge's peak stays at one matrix (#22: <= 2x the int8 dataset at
    50,000 x 100,000); of any other, gathered in column blocks so no full-size intermediate is made.
    """
    if genotypes.flags.f_contiguous and genotypes.flags.writeable and genotypes.ndim == 2:
        return _compact_column_major(genotypes, np.flatnonzero(rows), np.flatnonzero(columns))
    row_index, column_index = np.flatnonzero(rows), np.flatnonzero(columns)
    out = np.empty((len(row_index), len(column_index)), dtype=np.int8)
    for start in range(0, len(column_index), 8192):
        cols = column_index[start : start + 8192]
        out[:, start : start + len(cols)] = genotypes[np.ix_(row_index, cols)]
    return out


def _compact_column_major(genotypes: np.ndarray, row_index: np.ndarray, column_index: np.ndarray) -> np.ndarray:
    """The kept rows and columns of a column-major matrix, written to the front of its own buffer (a view of it,
    column-major, is returned; the rest of the buffer is garbage).

    Kept column k comes from column ``column_index[k] >= k`` and lands at ``[k * n_kept, (k + 1) * n_kept)`` of
    the flat buffer, which ends before any later source column starts; each block is gathered into a small
    temporary before it is written, so no column is overwritten before it is read.
    """
    flat = genotypes.reshape(-1, order="F")  # a view: the matrix is column-major
    n_kept, m_kept = len(row_index), len(column_index)
    by_variant = genotypes.T  # row-major view: one variant per row
    for start in range(0, m_kept, 512):
        cols = column_index[start : start + 512]
        block = np.take(np.take(by_variant, cols, axis=0), row_index, axis=1)  # (variants, samples), a copy
        flat[start * n_kept : (start + len(cols)) * n_kept] = block.reshape(-1)
    return flat[: n_kept * m_kept].reshape((n_kept, m_kept), order="F")


def _harmonize_to(
    like: Dataset, cohort: CohortFiles, sample_index: np.ndarray, fill_missing: bool, steps: list[dict]
) -> tuple[np.ndarray, pd.DataFrame, dict[str, Any]]:
    """Read the cohort's genotypes in the training dataset's SNP order and counted alleles."""
    training = like.variants
    harmonization = match_variants(training, cohort.variants)
    counts = harmonization.counts
    if counts["matched"] == 0:
        raise UserError(
            f"no SNPs in common with the training dataset {like.path} (0 of {len(training)} matched by ID and "
            f"alleles; e.g. training {show(training['id'])} vs this cohort {show(cohort.variants['id'])}); check "
            "that both cohorts use the same variant IDs (plink2 --set-all-var-ids)",
            cohort.bim,
        )
    if harmonization.n_missing and not fill_missing:
        lost = training["id"].to_numpy()[harmonization.source_index < 0]
        raise UserError(
            f"{harmonization.n_missing} of {len(training)} training SNPs are missing here ({counts['absent']} absent, "
            f"{counts['allele_mismatch']} with other alleles; e.g. {show(lost)}); add --fill-missing to fill them "
            "from training allele frequencies",
            cohort.bim,
        )
    usable = harmonization.source_index >= 0
    genotypes = np.full((len(sample_index), len(training)), MISSING, dtype=np.int8)
    genotypes[:, usable] = _read_genotypes(cohort, sample_index, harmonization.source_index[usable])
    genotypes = apply_harmonization(genotypes, harmonization)
    _step(steps, "harmonize", "variants", harmonization.n_missing, counts["matched"],
          "training SNPs missing here (filled from training frequencies)" if harmonization.n_missing else
          "all training SNPs found")
    extra = {"like": {"dataset": str(like.path), "content_hash": like.content_hash, **counts,
                      "filled_from_training": harmonization.n_missing}}
    return genotypes, training, extra
