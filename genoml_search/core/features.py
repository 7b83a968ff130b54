"""Per-process cache of feature matrices, so a Dask worker opens each dataset once, not once per trial.

It lives in an importable module (not ``__main__``) so that it survives between tasks on a worker.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from genoml_search.data.dataset import Dataset, pc_names
from genoml_search.data.plink import MISSING
from genoml_search.errors import UserError


@dataclass
class FeatureMatrix:
    """Features (SNP dosages as float32 with NaN for missing, then covariates), target, and layout."""

    x: np.ndarray
    y: np.ndarray
    n_snps: int
    feature_names: list[str]
    sample_ids: np.ndarray

    @property
    def n_covariates(self) -> int:
        """Columns after the SNPs: covariates and genetic PCs."""
        return self.x.shape[1] - self.n_snps


_CACHE: dict[tuple[str, str, int], FeatureMatrix] = {}
_LOCK = threading.Lock()


def features_from_dataset(dataset: Dataset, n_pcs: int = 0) -> FeatureMatrix:
    """Build the float32 feature matrix of a dataset (blocked, so the int8 map is never copied as float64).

    Columns: SNP dosages, covariates, then the first ``n_pcs`` genetic PCs stored by munge (PC1..PCK).
    """
    genotypes = dataset.genotypes
    covariates = dataset.covariates().astype(np.float32)
    names = list(dataset.variants["id"].astype(str)) + dataset.covariate_names
    if n_pcs:
        clash = sorted(set(pc_names(n_pcs)) & set(dataset.covariate_names))
        if clash:
            raise UserError(f"covariates {clash} clash with the genetic PC names; rename them or drop --pcs",
                            dataset.path)
        covariates = np.hstack([covariates, dataset.pcs(n_pcs).astype(np.float32)])
        names += pc_names(n_pcs)
    n, m = genotypes.shape
    x = np.empty((n, m + covariates.shape[1]), dtype=np.float32)
    for start in range(0, n, 2048):
        block = np.asarray(genotypes[start : start + 2048])
        x[start : start + 2048, :m] = np.where(block == MISSING, np.nan, block)
    x[:, m:] = covariates
    return FeatureMatrix(x, dataset.phenotype, m, names, dataset.samples["ID"].astype(str).to_numpy())


def load_features(path: str, content_hash: str, n_pcs: int = 0) -> FeatureMatrix:
    """The cached feature matrix of the dataset at ``path`` (reloaded if its content hash changed)."""
    key = (str(path), content_hash, int(n_pcs))
    with _LOCK:
        if key not in _CACHE:
            for old in [k for k in _CACHE if k[0] == key[0]]:
                del _CACHE[old]
            dataset = Dataset.open(path)
            _CACHE[key] = features_from_dataset(dataset, n_pcs)
        return _CACHE[key]
