"""Sample structure of a munged cohort: related pairs, relatedness to training, genetic PCs.

The glue between the structure maths (:mod:`genoml_search.data.structure`: KING kinship, PCA; pure functions
on int8 matrices) and the Dataset directory (whose file names :mod:`genoml_search.data.dataset` owns):

- a training cohort gets ``related_pairs.tsv`` (pairs of third degree or closer, from KING-robust kinship on its
  autosomal SNPs), ``pca.npz`` (the PCA model of its SNPs, pruned further to r^2 <= 0.2 as is usual for PCA)
  and ``pcs.tsv`` (its PC scores), with summaries in the manifest under ``relatedness`` and ``pca``;
- a cohort harmonized to a training dataset (``munge --like``, the validation cohort of ``run``, ``predict``)
  gets ``related_to_training.tsv`` (its samples that duplicate or are related to a training sample) with a
  summary under ``related_to_training``, and ``pcs.tsv`` projected onto the training loadings (never refitted).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genoml_search.data.structure import (
    KING_DUPLICATE,
    KING_SECOND,
    KING_THIRD,
    MIN_KING_SNPS,
    MIN_PCA_SNPS,
    PCAModel,
    cross_cohort_relatedness,
    fit_pca,
    king_degree,
    king_kinship,
    king_variant_mask,
    related_pairs,
    relatedness_groups,
)
from genoml_search.data.kinship_noise import kinship_noise
from genoml_search.data.dataset import GENOTYPES, Dataset
# Re-exported: the Dataset owns its file names; munge/run/model_io know them from here too.
from genoml_search.data.dataset import (
    PCA_FILE as PCA_FILE,
    PCS_FILE as PCS_FILE,
    RELATED_PAIRS as RELATED_PAIRS,
    RELATED_TO_TRAINING as RELATED_TO_TRAINING,
    pc_names as pc_names,
)
from genoml_search.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_PCS = 10
DEFAULT_KINSHIP_MAX_SAMPLES = 10_000
RELATED_THRESHOLD = KING_SECOND  # "related": second degree or closer (kinship > 2^-3.5), as plink2 --king-cutoff
STORED_THRESHOLD = KING_THIRD  # pairs stored in related_pairs.tsv: third degree or closer
DEGREES = ("duplicate/MZ twin", "1st", "2nd", "3rd")
PCA_PRUNE = (50, 5, 0.2)
"""``--indep-pairwise`` of the SNPs the PCs are fitted on: the dataset's SNPs are pruned for prediction (r^2 0.9
by default), while PCs fitted on SNPs in strong LD pick up LD blocks instead of ancestry."""

Writers = dict[str, Callable[[Path], object]]


def _pcs_frame(ids: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(np.round(scores, 8), columns=pc_names(scores.shape[1]))
    frame.insert(0, "ID", ids)
    return frame


def _write_table(frame: pd.DataFrame) -> Callable[[Path], None]:
    return lambda path: frame.to_csv(path, sep="\t", index=False, na_rep="NA")


def training_structure(
    genotypes: np.ndarray,
    variants: pd.DataFrame,
    ids: np.ndarray,
    *,
    kinship: bool = True,
    kinship_max_samples: int = DEFAULT_KINSHIP_MAX_SAMPLES,
    n_pcs: int | None = None,
    seed: int = 0,
    king_table: str | None = None,
    fids: np.ndarray | None = None,
) -> tuple[dict[str, Any], Writers]:
    """Kinship and PCA of a training cohort's final matrix: manifest entries and the files to write.

    ``n_pcs`` None means the default (:data:`DEFAULT_PCS`, skipped with a note when the cohort is too small);
    an explicit K that cannot be computed is a :class:`UserError`. Kinship is skipped (with the reason in the
    manifest) when disabled, above ``kinship_max_samples`` or with too few autosomal SNPs; with ``king_table``
    (a ``plink2 --make-king-table`` file; ``fids`` the samples' .fam family IDs) it is read from there instead,
    at any number of samples.
    """
    manifest: dict[str, Any] = {}
    files: Writers = {}
    if king_table is not None:
        manifest["relatedness"] = kinship_from_table(king_table, ids, fids, files)
    else:
        manifest["relatedness"] = _training_kinship(genotypes, variants, ids, kinship, kinship_max_samples, files)
    manifest["pca"] = _training_pca(genotypes, variants, ids, n_pcs, seed, files)
    return manifest, files


def _training_kinship(genotypes: np.ndarray, variants: pd.DataFrame, ids: np.ndarray, kinship: bool,
                      kinship_max_samples: int, files: Writers) -> dict[str, Any]:
    """The ``relatedness`` manifest entry (and ``related_pairs.tsv`` into ``files``), or why it was skipped."""
    n, m = genotypes.shape
    autosomal = king_variant_mask(variants["chrom"].to_numpy())
    n_auto = int(autosomal.sum())
    base = {"threshold": RELATED_THRESHOLD, "stored_threshold": STORED_THRESHOLD, "n_snps": n_auto}
    reason = None
    if not kinship:
        reason = "skipped (--no-kinship)"
    elif n > kinship_max_samples:
        reason = f"skipped: {n} samples is above --kinship-max-samples {kinship_max_samples}"
    elif n < 2:
        reason = f"skipped: kinship needs at least 2 samples; got {n}"
    elif n_auto < MIN_KING_SNPS:
        reason = f"skipped: KING kinship needs at least {MIN_KING_SNPS} autosomal SNPs; the dataset has {n_auto}"
    if reason is not None:
        return {"computed": False, "reason": reason, **base}
    started = time.perf_counter()
    g = genotypes if n_auto == m else genotypes[:, autosomal]
    matrix = king_kinship(g)
    noise = kinship_noise(matrix, n_auto, KING_SECOND, KING_THIRD)  # are second/third-degree calls more than chance?
    pairs = related_pairs(matrix, STORED_THRESHOLD, ids_a=np.asarray(ids))
    groups = relatedness_groups(matrix, RELATED_THRESHOLD)
    del matrix
    related = pairs[pairs["kinship"] > RELATED_THRESHOLD]
    files[RELATED_PAIRS] = _write_table(pairs.assign(kinship=pairs["kinship"].round(6)))
    log.info("kinship of %d samples on %d SNPs: %d related pairs", n, n_auto, len(related))
    return {
        "computed": True, **base,
        "n_related_pairs": int(len(related)),
        "n_duplicate_pairs": int((related["kinship"] > KING_DUPLICATE).sum()),
        "n_pairs_by_degree": {d: int((pairs["degree"] == d).sum()) for d in DEGREES},
        "n_related_samples": int(len(set(related["id1"]) | set(related["id2"]))),
        "n_groups": int(len(np.unique(groups))),
        "noise": noise,
        "source": {"kind": "computed", "estimator": "KING-robust (genoml-search, as plink2 --make-king)"},
        "seconds": round(time.perf_counter() - started, 2),
    }


def kinship_from_table(path: str, ids: np.ndarray, fids: np.ndarray | None, files: Writers) -> dict[str, Any]:
    """The ``relatedness`` manifest entry (and ``related_pairs.tsv`` into ``files``) from a plink2
    ``--make-king-table`` file: its pairs of dataset samples, the others ignored and counted."""
    from genoml_search.data.king_table import read_king_table
    from genoml_search.fileio import file_sha256

    started = time.perf_counter()
    pairs, summary = read_king_table(path, np.asarray(ids), fids, STORED_THRESHOLD)
    groups = groups_from_pairs(np.asarray(ids), pairs, RELATED_THRESHOLD)
    related = pairs[pairs["kinship"] > RELATED_THRESHOLD]
    files[RELATED_PAIRS] = _write_table(pairs.assign(kinship=pairs["kinship"].round(6)))
    log.info("kinship from %s: %d related pairs of dataset samples", path, len(related))
    return {
        "computed": True, "threshold": RELATED_THRESHOLD, "stored_threshold": STORED_THRESHOLD,
        "n_snps": summary["median_nsnp"],
        "n_related_pairs": int(len(related)),
        "n_duplicate_pairs": int((related["kinship"] > KING_DUPLICATE).sum()),
        "n_pairs_by_degree": {d: int((pairs["degree"] == d).sum()) for d in DEGREES},
        "n_related_samples": int(len(set(related["id1"]) | set(related["id2"]))),
        "n_groups": int(len(np.unique(groups))),
        "noise": None,  # needs the whole matrix; a table holds (usually filtered) pairs
        "source": {"kind": "king-table", "path": str(Path(path).resolve()), "sha256": file_sha256(Path(path)),
                   **summary},
        "seconds": round(time.perf_counter() - started, 2),
    }


def _training_pca(genotypes: np.ndarray, variants: pd.DataFrame, ids: np.ndarray, n_pcs: int | None, seed: int,
                  files: Writers) -> dict[str, Any]:
    """The ``pca`` manifest entry (and ``pca.npz``, ``pcs.tsv`` into ``files``), or why it was skipped."""
    n, m = genotypes.shape
    explicit = n_pcs is not None
    k = DEFAULT_PCS if n_pcs is None else n_pcs
    if k < 0:
        raise UserError(f"--pcs {k} must be 0 or more")
    pca_columns, selection = np.arange(m), "all"
    if k > 0 and n >= 2 and m >= MIN_PCA_SNPS:
        pca_columns, selection = pca_snp_columns(genotypes, variants)
        m = len(pca_columns)
    k_max = min(n, m) - 1
    if k == 0:
        return {"computed": False, "reason": "--pcs 0"}
    if not explicit and (m < MIN_PCA_SNPS or k_max < 1):
        return {"computed": False, "reason": f"skipped: PCA needs at least {MIN_PCA_SNPS} SNPs and 2 samples; the "
                                             f"dataset has {m} SNPs and {n} samples"}
    if explicit and m < MIN_PCA_SNPS:
        raise UserError(f"--pcs {k}: PCA needs at least {MIN_PCA_SNPS} SNPs; the dataset has {m} after QC and "
                        "pruning (use --pcs 0, or relax QC/pruning)")
    if explicit and n < 2:
        raise UserError(f"--pcs {k}: PCA needs at least 2 samples; the cohort has {n}")
    if explicit and k > k_max:
        raise UserError(f"--pcs {k} is too many for {n} samples x {m} SNPs used for PCA; choose at most "
                        f"{max(k_max, 0)}")
    k = min(k, k_max)
    started = time.perf_counter()
    subset = genotypes if m == genotypes.shape[1] else genotypes[:, pca_columns]
    model = fit_pca(subset, k, seed=seed, variant_ids=list(variants["id"].astype(str).to_numpy()[pca_columns]))
    files[PCA_FILE] = lambda path: model.save(path)
    assert model.train_scores is not None  # a freshly fitted model keeps its training scores
    files[PCS_FILE] = _write_table(_pcs_frame(np.asarray(ids), model.train_scores))
    log.info("%d genetic PCs of %d samples x %d SNPs", k, n, m)
    return {"computed": True, "n_components": k, "n_snps": m, "snp_selection": selection, "seed": seed,
            "eigenvalues": [round(float(v), 6) for v in model.eigenvalues],
            "explained_variance_ratio": [round(float(v), 6) for v in model.explained_variance_ratio],
            "seconds": round(time.perf_counter() - started, 2)}


def pca_snp_columns(genotypes: np.ndarray, variants: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Indices of the dataset's SNPs the PCs are fitted on (pruned with :data:`PCA_PRUNE`), and how chosen.

    All SNPs when fewer than :data:`MIN_PCA_SNPS` would be left (tiny panels, where every SNP counts).
    """
    from genoml_search.data.ld import indep_pairwise

    window, step, r2 = PCA_PRUNE
    keep = indep_pairwise(genotypes, variants["chrom"].to_numpy(), variants["pos"].to_numpy(), window, step, r2)
    if keep.sum() < MIN_PCA_SNPS:
        return np.arange(genotypes.shape[1]), f"all (pruning at r2 {r2} would leave fewer than {MIN_PCA_SNPS})"
    return np.flatnonzero(keep), f"indep-pairwise {window} {step} {r2} of the dataset's SNPs"


def harmonized_structure(
    like_path: Path,
    like_manifest: dict[str, Any],
    genotypes: np.ndarray,
    ids: np.ndarray,
    reference: str | Path | None,
    variant_ids: np.ndarray | None = None,
) -> tuple[dict[str, Any], Writers]:
    """Relatedness to the training cohort and projected PCs of a cohort harmonized to ``like_path``.

    ``reference`` is the training Dataset whose genotypes the cohort is compared with (``None``: not
    available, recorded as not checked). ``variant_ids`` name the columns of ``genotypes`` (the training
    dataset's SNPs), so that the PCs are projected from the SNPs the PCA model was fitted on.
    """
    manifest: dict[str, Any] = {}
    files: Writers = {}
    summary: dict[str, Any] = {"checked": False, "n_samples": int(len(ids)), "threshold": RELATED_THRESHOLD}
    if reference is None or not (Path(reference) / GENOTYPES).is_file():
        summary["reason"] = (f"the training dataset {reference} is not available" if reference else
                             "the training genotypes are not available")
    else:
        train = Dataset.open(reference)
        if train.content_hash != like_manifest.get("content_hash"):
            summary["reason"] = f"the training dataset {reference} changed since (content hash differs)"
        else:
            mask = king_variant_mask(train.variants["chrom"].to_numpy())
            if int(mask.sum()) < MIN_KING_SNPS:
                summary["reason"] = (f"KING kinship needs at least {MIN_KING_SNPS} autosomal SNPs; the training "
                                     f"dataset has {int(mask.sum())}")
            else:
                summary, detail = relatedness_to_training(train, genotypes, ids, mask)
                summary["reference"] = str(Path(reference).resolve())
                files[RELATED_TO_TRAINING] = _write_table(detail)
    manifest["related_to_training"] = summary

    pca_path = Path(like_path) / PCA_FILE
    if pca_path.is_file():
        model = PCAModel.load(pca_path)
        if model.n_snps != genotypes.shape[1] and model.variant_ids is not None and variant_ids is not None:
            position = pd.Index(np.asarray(variant_ids).astype(str))
            columns = position.get_indexer(pd.Index(model.variant_ids))
            if (columns >= 0).all():
                genotypes = genotypes[:, columns]
        if model.n_snps != genotypes.shape[1]:
            raise UserError(f"the training PCA model has {model.n_snps} SNPs but the training dataset "
                            f"{genotypes.shape[1]}; re-munge the training cohort", pca_path)
        manifest["pca"] = {"computed": True, "projected": True, "n_components": model.n_components}
        files[PCS_FILE] = _write_table(_pcs_frame(np.asarray(ids), model.transform(genotypes)))
    return manifest, files


def relatedness_to_training(
    train: Any, genotypes: np.ndarray, ids: np.ndarray, mask: np.ndarray
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Compare a harmonized cohort with the training Dataset ``train`` on the SNPs of ``mask``.

    Returns the JSON summary (counts and the IDs of related samples) and one row per related sample: ID,
    closest training sample, kinship, degree.
    """
    started = time.perf_counter()
    columns = None if mask.all() else np.flatnonzero(mask)  # the training map is read in row blocks, not copied
    result = cross_cohort_relatedness(train.genotypes, genotypes if columns is None else genotypes[:, columns],
                                      RELATED_THRESHOLD, columns=columns)
    best = np.array([-np.inf if v is None else v for v in result["max_kinship"]], dtype=float)
    related = np.flatnonzero(best > RELATED_THRESHOLD)
    train_ids = train.samples["ID"].astype(str).to_numpy()
    closest = [train_ids[result["closest_train_index"][i]] for i in related]
    ids = np.asarray(ids).astype(str)
    detail = pd.DataFrame({"ID": ids[related], "closest_training_ID": closest,
                           "kinship": np.round(best[related], 6), "degree": king_degree(best[related]).astype(str)})
    summary = {
        "checked": True,
        **{k: result[k] for k in ("n_samples", "n_duplicates", "n_related", "threshold", "duplicate_threshold",
                                  "n_by_degree")},
        "n_snps": int(mask.sum()),
        "noise": result.get("noise"),
        "related_ids": list(ids[related]),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return summary, detail


def groups_from_pairs(ids: np.ndarray, pairs: pd.DataFrame, threshold: float = RELATED_THRESHOLD) -> np.ndarray:
    """Integer CV groups: connected components of the pairs with kinship above ``threshold``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    index = pd.Index(np.asarray(ids).astype(str))
    pairs = pairs[pairs["kinship"] > threshold]
    a = index.get_indexer(pairs["id1"].astype(str))
    b = index.get_indexer(pairs["id2"].astype(str))
    keep = (a >= 0) & (b >= 0)
    n = len(index)
    graph = coo_matrix((np.ones(int(keep.sum())), (a[keep], b[keep])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def warning_text(summary: dict[str, Any] | None, what: str,
                 consequence: str = "metrics on them measure memorization, not generalization") -> str | None:
    """The one-line warning for a cohort related to training (None when nothing to warn about)."""
    if not summary:
        return None
    if not summary.get("checked", True):
        return f"relatedness of the {what} to the training samples could not be checked: {summary.get('reason')}"
    if summary.get("n_related", 0) == 0:
        return None
    text = (f"{summary['n_related']} of {summary['n_samples']} {what} samples are related to a training sample "
            f"(kinship > {summary['threshold']:.4f}), {summary.get('n_duplicates', 0)} of them duplicates; "
            f"{consequence}")
    noise = summary.get("noise") or {}
    if noise.get("reliable_second_degree") is False and summary["n_related"] > summary.get("n_duplicates", 0):
        # chance alone crosses the second-degree cut-off: the non-duplicate calls may be noise
        text += (f" (but kinship from {noise['n_snps']:,} SNPs is too noisy for second-degree calls: about "
                 f"{noise['snps_needed_second_degree']:,} independent SNPs are needed; the non-duplicates may be chance)")
    return text
