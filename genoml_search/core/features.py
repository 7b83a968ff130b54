"""Per-process cache of feature matrices, so a Dask worker opens each dataset once, not once per trial.

It lives in an importable module (not ``__main__``) so that it survives between tasks on a worker.
"""
from __future__ import annotations

import threading

import numpy as np

from genoml_search.core.tabular import TabularLayout, table_block
from genoml_search.data.dataset import Dataset, pc_names
from genoml_search.data.plink import MISSING
from genoml_search.errors import UserError


class FeatureMatrix:
    """Features (SNP dosages as float32 with NaN for missing, then covariates), target, and layout.

    Built from a dataset it keeps the int8 genotypes (the memory map) and the float32 covariates, and makes
    the float32 copy ``x`` (4 bytes per genotype) only when a family first asks for it: path families
    (:mod:`genoml_search.search.paths`) read the int8 genotypes directly, so a worker running only those never
    holds a float copy. Given ``x`` directly, ``genotypes`` is None.

    ``snp_columns`` (an LD mask's variants, indices into the genotype matrix) restricts the SNP columns: the
    genotypes stay the whole memory map, ``n_snps`` counts the selected columns, and the float copy holds
    only those.
    """

    def __init__(self, x: np.ndarray | None, y: np.ndarray, n_snps: int, feature_names: list[str],
                 sample_ids: np.ndarray, genotypes: np.ndarray | None = None,
                 covariates: np.ndarray | None = None, snp_columns: np.ndarray | None = None) -> None:
        if x is None and (genotypes is None or covariates is None):
            raise ValueError("a FeatureMatrix needs x, or the genotypes and the covariates")
        self._x = x
        self.y = y
        self.n_snps = n_snps
        self.feature_names = feature_names
        self.sample_ids = sample_ids
        self.genotypes = genotypes
        self.covariates = covariates
        self.snp_columns = snp_columns
        self.tabular: TabularLayout | None = None  # set when the dataset has feature tables (munge --table)
        # the dataset's LD masks (name -> SNP columns, None = all) and default mask, on a full-width matrix:
        # refits of trials that used a mask select its columns (genoml_search.search.ld_choice)
        self.ld_masks: dict[str, np.ndarray | None] = {}
        self.ld_default: str | None = None
        self._lock = threading.Lock()

    @property
    def x(self) -> np.ndarray:
        """The float32 feature matrix (built on first use, blocked: the int8 map is never copied as float64)."""
        with self._lock:
            if self._x is None:
                assert self.genotypes is not None and self.covariates is not None  # the constructor's rule
                self._x = float_features(self.genotypes, self.covariates, self.snp_columns)
            return self._x

    @property
    def has_float_copy(self) -> bool:
        """Whether the float32 copy exists (it is made on first use of ``x``)."""
        return self._x is not None

    @property
    def n_covariates(self) -> int:
        """Columns after the SNPs: covariates and genetic PCs."""
        if self._x is not None:
            return self._x.shape[1] - self.n_snps
        assert self.covariates is not None  # the constructor's rule: without x, genotypes and covariates
        return self.covariates.shape[1]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


def float_features(genotypes: np.ndarray, covariates: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
    """SNP dosages as float32 (NaN for missing calls) followed by the covariates, built 2,048 rows at a time;
    ``columns``: only these SNP columns (an LD mask), so the copy is no wider than they need."""
    n = genotypes.shape[0]
    m = genotypes.shape[1] if columns is None else len(columns)
    x = np.empty((n, m + covariates.shape[1]), dtype=np.float32)
    for start in range(0, n, 2048):
        block = np.asarray(genotypes[start : start + 2048])
        if columns is not None:
            block = block[:, columns]
        x[start : start + 2048, :m] = np.where(block == MISSING, np.nan, block)
    x[:, m:] = covariates
    return x


_CACHE: dict[tuple[str, str, int, str | None], FeatureMatrix] = {}
_LOCK = threading.Lock()


def features_from_dataset(dataset: Dataset, n_pcs: int = 0, snp_columns: np.ndarray | None = None) -> FeatureMatrix:
    """The feature matrix of a dataset: its int8 genotypes and float32 covariates (the float32 copy comes lazily).

    Columns: SNP dosages (only ``snp_columns`` when given: an LD mask), covariates, then the first ``n_pcs``
    genetic PCs stored by munge (PC1..PCK).
    """
    genotypes = dataset.genotypes
    covariates = dataset.covariates().astype(np.float32)
    variant_ids = dataset.variants["id"].astype(str).to_numpy()
    if snp_columns is not None:
        snp_columns = np.asarray(snp_columns, dtype=np.intp)
        variant_ids = variant_ids[snp_columns]
    n_snps = len(variant_ids)
    names = list(variant_ids) + dataset.covariate_names

    table, table_names, tabular = table_block(dataset, n_snps, covariates.shape[1] + n_pcs)
    if table is not None:
        covariates = np.hstack([table, covariates])
        names = names[:n_snps] + table_names + names[n_snps:]
    if n_pcs:
        clash = sorted(set(pc_names(n_pcs)) & set(dataset.covariate_names))
        if clash:
            raise UserError(f"covariates {clash} clash with the genetic PC names; rename them or drop --pcs",
                            dataset.path)
        covariates = np.hstack([covariates, dataset.pcs(n_pcs).astype(np.float32)])
        names += pc_names(n_pcs)
    features = FeatureMatrix(None, dataset.phenotype, n_snps, names, dataset.samples["ID"].astype(str).to_numpy(),
                             genotypes=genotypes, covariates=covariates, snp_columns=snp_columns)
    features.tabular = tabular
    if snp_columns is None:
        features.ld_masks = {name: dataset.snp_columns(name) for name in dataset.ld_choices()}
        features.ld_default = dataset.default_ld_mask()
    return features


def load_features(path: str, content_hash: str, n_pcs: int = 0, ld_mask: str | None = None) -> FeatureMatrix:
    """The cached feature matrix of the dataset at ``path`` restricted to the LD mask ``ld_mask`` (None: the
    dataset's default mask), reloaded if its content hash changed. One matrix per dataset is kept: a trial
    with another mask replaces it, so a worker never holds two float copies of one dataset."""
    key = (str(path), content_hash, int(n_pcs), ld_mask)
    with _LOCK:
        if key not in _CACHE:
            for old in [k for k in _CACHE if k[0] == key[0]]:
                del _CACHE[old]
            dataset = Dataset.open(path)
            mask = dataset.default_ld_mask() if ld_mask is None else ld_mask
            _CACHE[key] = features_from_dataset(dataset, n_pcs, dataset.snp_columns(mask))
        return _CACHE[key]
