"""The munge pipeline: PLINK genotypes + phenotype + covariates (+ GWAS p-values) -> a Dataset directory.

Order of operations (a training cohort): sample selection (phenotype present, --keep/--remove, covariates
present), variant selection (--extract/--exclude, --gwas/--gwas-p), sample and variant QC (PLINK 2 order),
LD pruning (--indep-pairwise), then the Dataset is written atomically with every count in its manifest.

With ``like`` (a training Dataset) the cohort is harmonized to it instead: same SNPs in the same order and the
same counted alleles, no QC or pruning (see :mod:`genoml_search.data.harmonize`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genoml_search.data import qc as qc_module
from genoml_search.data.dataset import Dataset, write_dataset
from genoml_search.data.harmonize import apply_harmonization, match_variants
from genoml_search.data.ld import indep_pairwise
from genoml_search.data.plink import MISSING, PlinkFileSet, check_bed, read_bed_matrix, read_bim, read_fam
from genoml_search.data.tables import read_covariates, read_gwas, read_id_list, read_phenotype
from genoml_search.errors import InputFileError, UserError
from genoml_search.fileio import file_sha256


@dataclass(frozen=True)
class PruneParams:
    """``--indep-pairwise WINDOW STEP R2``; ``window_kb`` when the window was given with a ``kb`` suffix."""

    window: int = 50
    step: int = 5
    r2: float = 0.5
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
            raise UserError(f"--indep-pairwise {window} {step} {r2}: expected WINDOW[kb] STEP R2, e.g. 50 5 0.5") from None
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
    like: str | None = None
    fill_missing: bool = False


@dataclass
class CohortFiles:
    """The genotype metadata of the input cohort, before any genotype is read."""

    samples: pd.DataFrame
    variants: pd.DataFrame
    bed: Path | None
    pfile: str | None
    hashes: dict[str, str]


def _open_cohort(options: MungeOptions) -> CohortFiles:
    if bool(options.bfile) == bool(options.pfile):
        raise UserError("give exactly one of --bfile PREFIX or --pfile PREFIX")
    if options.bfile:
        files = PlinkFileSet.from_prefix(options.bfile)
        samples, variants = read_fam(files.fam), read_bim(files.bim)
        check_bed(files.bed, len(samples), len(variants))
        hashes = {str(p): file_sha256(p) for p in (files.bed, files.bim, files.fam)}
        return CohortFiles(samples, variants, files.bed, None, hashes)
    from genoml_search.data.pgen import read_pfile  # optional extra: pgenlib

    data = read_pfile(options.pfile, read_genotypes=False)
    return CohortFiles(data.samples, data.variants, None, options.pfile, {})


def _read_genotypes(cohort: CohortFiles, sample_index: np.ndarray, variant_index: np.ndarray) -> np.ndarray:
    if cohort.bed is not None:
        return read_bed_matrix(cohort.bed, len(cohort.samples), len(cohort.variants), variant_index, sample_index)
    from genoml_search.data.pgen import read_pfile

    genotypes = read_pfile(cohort.pfile).genotypes
    return np.ascontiguousarray(genotypes[np.ix_(sample_index, variant_index)])


def _step(steps: list[dict], name: str, unit: str, removed: int, remaining: int, reason: str) -> None:
    steps.append({"step": name, "unit": unit, "removed": int(removed), "remaining": int(remaining), "reason": reason})


def _match_samples(fam_ids: pd.Index, table_ids: pd.Index, path: str, what: str) -> None:
    """Refuse zero overlap between the .fam and a sample table, with examples of both sides."""
    overlap = fam_ids.intersection(table_ids)
    if len(overlap) == 0:
        raise InputFileError(
            f"none of the {len(table_ids)} {what} IDs match the {len(fam_ids)} .fam sample IDs (e.g. {what} "
            f"{list(table_ids[:3])} vs .fam {list(fam_ids[:3])}); the ID column must hold the .fam IID",
            path,
        )


def munge(options: MungeOptions) -> dict[str, Any]:
    """Run the munge pipeline and write the Dataset directory; return its manifest."""
    cohort = _open_cohort(options)
    like = Dataset.open(options.like) if options.like else None
    steps: list[dict] = []
    fam_ids = pd.Index(cohort.samples["iid"])
    keep = pd.Series(True, index=fam_ids)
    _step(steps, "input", "samples", 0, len(fam_ids), "samples in the .fam")
    _step(steps, "input", "variants", 0, len(cohort.variants), "variants in the .bim")

    task = options.task if like is None else like.task
    phenotype = pd.Series(np.nan, index=fam_ids, name="phenotype")
    pheno_info: dict[str, Any] = {"task": task, "file": None}
    if options.pheno:
        values, pheno_info = read_phenotype(options.pheno, options.pheno_name, task)
        _match_samples(fam_ids, values.index, options.pheno, "phenotype")
        phenotype = values.reindex(fam_ids)
        task = pheno_info["task"]
        absent = keep & phenotype.isna()
        keep &= phenotype.notna()
        _step(steps, "phenotype", "samples", absent.sum(), keep.sum(),
              f"no phenotype ({pheno_info['missing_dropped']} missing codes; "
              f"{len(values.index.difference(fam_ids))} phenotype IDs not in the .fam)")
    elif like is None:
        raise UserError("--pheno is required to munge a training cohort (it is optional only with --like)")

    for path, drop_listed, flag in ((options.keep, False, "--keep"), (options.remove, True, "--remove")):
        if path:
            listed = fam_ids.isin(read_id_list(path, "sample list"))
            before = keep.sum()
            keep &= ~listed if drop_listed else listed
            _step(steps, flag.lstrip("-"), "samples", before - keep.sum(), keep.sum(), f"{flag} {path}")

    covariates = pd.DataFrame(index=fam_ids)
    covar_info: dict[str, Any] = {"columns": []}
    if options.covar:
        known = like.manifest.get("covariates", {}).get("one_hot") if like else None
        covariates, covar_info = read_covariates(options.covar, options.max_covar_levels, known)
        _match_samples(fam_ids, covariates.index, options.covar, "covariate")
        if like is not None:
            missing_columns = [c for c in like.covariate_names if c not in covariates.columns]
            if missing_columns:
                raise InputFileError(f"covariates {missing_columns} of the training dataset are missing", options.covar)
            covariates = covariates[like.covariate_names]
            covar_info["columns"] = like.covariate_names
        before = keep.sum()
        keep &= fam_ids.isin(covariates.index)
        _step(steps, "covariates", "samples", before - keep.sum(), keep.sum(), "no row in the covariate file")
        covariates = covariates.reindex(fam_ids)
    elif like is not None and like.covariate_names:
        raise UserError(f"the training dataset has covariates {like.covariate_names}: give --covar")
    if keep.sum() == 0:
        raise UserError("no samples left after matching phenotype, covariates and sample lists")

    if like is None:
        manifest_extra, sample_keep, variant_index = _select_training_variants(
            options, cohort, keep.to_numpy(), phenotype.to_numpy(), task, steps
        )
        sample_index = np.flatnonzero(keep.to_numpy())[sample_keep]
        genotypes = _read_genotypes(cohort, sample_index, variant_index)
        variants = cohort.variants.iloc[variant_index].reset_index(drop=True)
    else:
        sample_index = np.flatnonzero(keep.to_numpy())
        genotypes, variants, manifest_extra = _harmonize_to(like, cohort, sample_index, options.fill_missing, steps)

    freq = qc_module.allele_frequency(genotypes)
    variants = pd.DataFrame({
        "id": variants["id"].to_numpy(), "chrom": variants["chrom"].to_numpy(), "pos": variants["pos"].to_numpy(),
        "counted_allele": variants["counted_allele"].to_numpy(), "other_allele": variants["other_allele"].to_numpy(),
        "freq": np.round(freq, 6),
    })
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
        **manifest_extra,
    }
    write_dataset(options.out, genotypes, samples, variants, manifest)
    return Dataset.open(options.out).manifest


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
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Variant lists, GWAS filter, QC and pruning; returns (manifest extras, kept samples, kept variant columns)."""
    variant_ids = cohort.variants["id"]
    selected = np.ones(len(variant_ids), dtype=bool)
    extra: dict[str, Any] = {}
    for path, drop_listed, flag in ((options.extract, False, "--extract"), (options.exclude, True, "--exclude")):
        if path:
            listed = variant_ids.isin(read_id_list(path, "variant list")).to_numpy()
            before = selected.sum()
            selected &= ~listed if drop_listed else listed
            _step(steps, flag.lstrip("-"), "variants", before - selected.sum(), selected.sum(), f"{flag} {path}")
    if options.gwas:
        if options.gwas_p is None:
            raise UserError("--gwas needs --gwas-p P (keep SNPs with p <= P)")
        pvalues = read_gwas(options.gwas)
        matched = variant_ids.isin(pvalues.index).to_numpy()
        if not matched.any():
            raise InputFileError(
                f"none of the {len(pvalues)} GWAS SNP IDs match the .bim IDs (e.g. {list(pvalues.index[:3])})",
                options.gwas,
            )
        passing = (pvalues.reindex(variant_ids).to_numpy() <= options.gwas_p) & matched
        before = selected.sum()
        selected &= passing
        extra["gwas"] = {"file": options.gwas, "p_threshold": options.gwas_p, "snps_in_file": len(pvalues),
                         "matched": int(matched.sum())}
        _step(steps, "gwas", "variants", before - selected.sum(), selected.sum(),
              f"p > {options.gwas_p} or absent from the GWAS file ({int(matched.sum())} of {len(variant_ids)} matched)")
    if not selected.any():
        raise UserError("no variants left after --extract/--exclude/--gwas")

    variant_index = np.flatnonzero(selected)
    sample_index = np.flatnonzero(sample_keep)
    genotypes = _read_genotypes(cohort, sample_index, variant_index)
    samples = cohort.samples.iloc[sample_index]
    founders = ((samples["father"] == "0") & (samples["mother"] == "0")).to_numpy()
    controls = (phenotype[sample_index] == 0) if task == "binary" else None
    chrom = cohort.variants["chrom"].to_numpy()[variant_index]
    result = qc_module.run_qc(genotypes, options.qc, founders=founders, controls=controls, chrom=chrom)
    remaining = {"samples": len(sample_index), "variants": len(variant_index)}
    for qc_step in result.steps:  # QC steps remove from what the previous step left
        remaining[qc_step["unit"]] -= qc_step["removed"]
        steps.append({**qc_step, "remaining": int(remaining[qc_step["unit"]])})
    if not result.sample_keep.any():
        raise UserError("no samples left after sample QC (--mind); relax it or check the genotype file")
    if not result.variant_keep.any():
        raise UserError("no variants left after QC (--geno/--hwe/--maf); relax the thresholds or use --no-qc")
    variant_keep = result.variant_keep.copy()
    if options.prune is not None:
        columns = np.flatnonzero(variant_keep)
        kept_variants = cohort.variants.iloc[variant_index[columns]]
        # Non-founders take no part in pruning, so the --mind filter folds into the founder mask; columns
        # select the QC-passing variants without copying the matrix.
        pruned = indep_pairwise(
            genotypes, kept_variants["chrom"].to_numpy(), kept_variants["pos"].to_numpy(),
            options.prune.window, options.prune.step, options.prune.r2, window_kb=options.prune.window_kb,
            founders=founders & result.sample_keep, columns=columns,
        )
        variant_keep[columns[~pruned]] = False
        _step(steps, "indep-pairwise", "variants", (~pruned).sum(), variant_keep.sum(),
              f"r2 > {options.prune.r2} in windows of {options.prune.window}"
              f"{'kb' if options.prune.window_kb else ''} (step {options.prune.step})")
    _step(steps, "final", "variants", 0, variant_keep.sum(), "variants in the dataset")
    _step(steps, "final", "samples", 0, result.sample_keep.sum(), "samples in the dataset")
    return extra, result.sample_keep, variant_index[variant_keep]


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
            "alleles); check that both cohorts use the same variant IDs"
        )
    if harmonization.n_missing and not fill_missing:
        raise UserError(
            f"{harmonization.n_missing} of {len(training)} training SNPs are missing or have other alleles in this "
            "cohort; add --fill-missing to impute them from training allele frequencies"
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
