"""In-fold preprocessing of datasets with feature tables (``munge --table``): categorical encoding, the
association filter over SNPs and numeric table columns, and imputation.

Feature matrix layout (:mod:`genoml_search.core.features`): ``[SNPs | table columns | covariates]``. Table
columns are numeric (booleans as 0/1) or categorical (integer codes 0..L-1 of the levels recorded in the
manifest, NaN for missing). :class:`TabularPreprocessor` outputs ``[categorical block | kept SNPs and numeric
table columns | covariates]``, so covariates stay last (what :class:`~genoml_search.search.pipeline.CovariateWeight`
expects) and the categorical columns sit at known positions 0..k-1 for the native encoders.

Everything is fitted on the fold's training part: which levels are kept (the ``max_levels`` most frequent with
at least ``min_level_count`` training samples; the others, and levels absent from the fold's training part,
are pooled in one ``other`` level), the association filter and the imputation means. The filter tests SNPs
linearly (:func:`~genoml_search.core.association.association_pvalues`) and numeric table columns with a test
that also sees non-linear effects (:func:`~genoml_search.core.association.table_association_pvalues`).

Encodings (chosen per family by :func:`encoding_for`):

- ``onehot``: linear, kernel, neighbour, neural and the other families: one column per kept level plus one
  for ``other``; a missing value gives all zeros.
- ``native``: CatBoost, LightGBM and HistGB get one column per categorical with pandas ``category`` dtype
  (codes 0..L-1 kept levels, L ``other``, L+1 missing), which they treat as categories natively.

Families that handle missing values (``handles_missing``) get numeric NaN raw; the others get the training
mean of the fold.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from genoml_search.core.association import association_pvalues, table_association_pvalues
from genoml_search.core.tabular import TabularLayout, covariate_start, table_block  # noqa: F401 (re-exported)
from genoml_search.errors import UserError

NATIVE_FAMILIES = ("catboost", "lightgbm", "hist_gradient_boosting")
MAX_ONEHOT_LEVELS = 20  # one-hot columns per categorical (most frequent levels), the rest pooled
MAX_NATIVE_LEVELS = 250  # HistGB accepts at most 255 categories (max_bins); two codes go to other/missing
MIN_LEVEL_COUNT = 5  # a level seen in fewer training samples of the fold is pooled into "other"


def encoding_for(family_name: str) -> str:
    """``native`` for CatBoost, LightGBM and HistGB, ``onehot`` for every other family."""
    return "native" if family_name in NATIVE_FAMILIES else "onehot"


def _level_maps(codes: np.ndarray, n_levels: tuple[int, ...], max_levels: int, min_count: int) -> list[np.ndarray]:
    """Per categorical column: an int array mapping each manifest code to its fitted code.

    Fitted codes are 0..K-1 for the K kept levels (in manifest order) and K (``other``) for the rest; the
    array has one more entry than the manifest has levels, holding K, so ``mapping[-1]`` is the other code.
    """
    maps = []
    for j, levels in enumerate(n_levels):
        column = codes[:, j]
        present = column[~np.isnan(column)].astype(np.int64)
        counts = np.bincount(present[(present >= 0) & (present < levels)], minlength=levels)
        order = np.argsort(-counts, kind="stable")
        kept = np.sort([code for code in order[:max_levels] if counts[code] >= min_count]).astype(np.int64)
        mapping = np.full(levels + 1, len(kept), dtype=np.int64)
        mapping[kept] = np.arange(len(kept))
        maps.append(mapping)
    return maps


def _apply_map(column: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    """Fitted codes of a column: 0..K-1 kept levels, K other (also codes outside the manifest), -1 missing."""
    out = np.full(len(column), -1, dtype=np.int64)
    present = ~np.isnan(column)
    codes = column[present].astype(np.int64)
    codes = np.where((codes >= 0) & (codes < len(mapping) - 1), codes, len(mapping) - 1)
    out[present] = mapping[codes]
    return out


class TabularPreprocessor(TransformerMixin, BaseEstimator):
    """The first step of a pipeline on a dataset with feature tables (see the module docstring)."""

    def __init__(self, n_snps: int = 0, kinds: tuple[str, ...] = (), n_levels: tuple[int, ...] = (),
                 task: str = "binary", snp_p_threshold: float = 1.0, encoding: str = "onehot",
                 impute: bool = True, max_levels: int = MAX_ONEHOT_LEVELS, min_level_count: int = MIN_LEVEL_COUNT):
        self.n_snps = n_snps
        self.kinds = kinds
        self.n_levels = n_levels
        self.task = task
        self.snp_p_threshold = snp_p_threshold
        self.encoding = encoding
        self.impute = impute
        self.max_levels = max_levels
        self.min_level_count = min_level_count

    def _layout(self, n_features: int) -> TabularLayout:
        return TabularLayout(self.n_snps, tuple(self.kinds), tuple(self.n_levels),
                             n_features - self.n_snps - len(self.kinds))

    def fit(self, x: np.ndarray, y: np.ndarray | None = None) -> TabularPreprocessor:
        x = np.asarray(x, dtype=np.float32)
        layout = self._layout(x.shape[1])
        self.categorical_ = layout.categorical_columns()
        filterable = layout.filterable_columns()
        categorical_levels = tuple(n for n, kind in zip(self.n_levels, self.kinds) if kind == "categorical")
        cap = min(self.max_levels, MAX_NATIVE_LEVELS) if self.encoding == "native" else self.max_levels
        self.level_maps_ = _level_maps(x[:, self.categorical_], categorical_levels, cap, self.min_level_count)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column in this fold: filled with 0
            means = np.nanmean(x, axis=0)
        self.fill_values_ = np.nan_to_num(means, nan=0.0).astype(np.float32)
        keep = np.ones(len(filterable), dtype=bool)
        if self.snp_p_threshold < 1.0 and y is not None and len(filterable):
            block = x[:, filterable]
            block = np.where(np.isnan(block), self.fill_values_[filterable], block)
            pvalues = _screen_pvalues(block, np.asarray(y, dtype=float), self.task, self.n_snps)
            keep = pvalues <= self.snp_p_threshold
            if not keep.any():  # never a model without any filterable column: keep the most associated one
                keep[int(np.argmin(pvalues))] = True
        covariates = np.arange(x.shape[1] - layout.n_covariates, x.shape[1])
        self.numeric_keep_ = np.concatenate([filterable[keep], covariates]).astype(np.int64)
        self.n_features_in_ = x.shape[1]
        return self

    @property
    def n_categorical_outputs(self) -> int:
        """Columns of the categorical block: one per categorical (native) or per kept level + other (one-hot)."""
        if self.encoding == "native":
            return len(self.level_maps_)
        return sum(int(m[-1]) + 1 for m in self.level_maps_)

    def _codes(self, x: np.ndarray) -> list[np.ndarray]:
        return [_apply_map(x[:, column], mapping) for column, mapping in zip(self.categorical_, self.level_maps_)]

    def transform(self, x: np.ndarray) -> Any:
        x = np.asarray(x, dtype=np.float32)
        numeric = x[:, self.numeric_keep_]
        if self.impute:
            missing = np.isnan(numeric)
            if missing.any():
                numeric = np.where(missing, self.fill_values_[self.numeric_keep_], numeric)
        codes = self._codes(x)
        if self.encoding == "native":
            return self._native_frame(codes, numeric)
        blocks = []
        for column_codes, mapping in zip(codes, self.level_maps_):
            width = int(mapping[-1]) + 1  # kept levels + other
            onehot = np.zeros((len(column_codes), width), dtype=np.float32)
            present = column_codes >= 0
            onehot[np.flatnonzero(present), column_codes[present]] = 1.0
            blocks.append(onehot)
        return np.hstack([*blocks, numeric]) if blocks else numeric

    def _native_frame(self, codes: list[np.ndarray], numeric: np.ndarray) -> Any:
        """Categoricals as pandas categories (L = other, L+1 = missing) before the numeric columns."""
        if not codes:
            return numeric
        columns: dict[str, Any] = {}
        for j, (column_codes, mapping) in enumerate(zip(codes, self.level_maps_)):
            n_kept = int(mapping[-1])
            values = np.where(column_codes < 0, n_kept + 1, column_codes)
            columns[f"c{j}"] = pd.Categorical.from_codes(values, categories=list(range(n_kept + 2)))
        frame = pd.DataFrame(columns)
        numeric_frame = pd.DataFrame(numeric, columns=[f"x{i}" for i in range(numeric.shape[1])])
        return pd.concat([frame, numeric_frame], axis=1)


def _screen_pvalues(block: np.ndarray, y: np.ndarray, task: str, n_snps: int) -> np.ndarray:
    """In-fold p-values of the filterable columns ``[SNPs | numeric table columns]``: the linear test for SNPs
    (additive dosages), the linear-or-binned test for table columns, whose effects may be non-linear (measured:
    the linear test dropped Friedman #1's purely quadratic column, docs/tabular.md)."""
    snps = association_pvalues(block[:, :n_snps], y, task) if n_snps else np.empty(0)
    table = table_association_pvalues(block[:, n_snps:], y, task) if block.shape[1] > n_snps else np.empty(0)
    return np.concatenate([snps, table])


def native_categorical_model(model: Any, family_name: str, n_categorical: int) -> Any:
    """Tell a native-categorical family's estimator that the first ``n_categorical`` columns are categories."""
    if not n_categorical or family_name not in NATIVE_FAMILIES:
        return model
    if family_name == "catboost":
        return model.set_params(cat_features=list(range(n_categorical)))
    if family_name == "hist_gradient_boosting":
        return model.set_params(categorical_features="from_dtype")
    return model  # LightGBM reads the pandas category dtype itself (categorical_feature="auto")


def tabular_preprocessor(family: Any, task: str, layout: TabularLayout,
                         snp_p_threshold: float) -> tuple[TabularPreprocessor, int]:
    """The preprocessing step of ``family`` on a dataset with feature tables (encoding chosen by family) and
    the number of categorical columns its estimator must be told about (native encoding; 0 otherwise)."""
    if family.fits_path:
        raise UserError(f"family {family.name} works on genotypes only; leave it out for datasets with feature "
                        "tables (munge --table)")
    encoding = encoding_for(family.name)
    step = TabularPreprocessor(
        n_snps=layout.n_snps, kinds=layout.kinds, n_levels=layout.n_levels, task=str(task),
        snp_p_threshold=snp_p_threshold, encoding=encoding, impute=not family.handles_missing,
        max_levels=MAX_NATIVE_LEVELS if encoding == "native" else MAX_ONEHOT_LEVELS)
    n_categorical = sum(kind == "categorical" for kind in layout.kinds) if encoding == "native" else 0
    return step, n_categorical


def families_for_tables(families: list[Any], dataset: Any, explicit: bool) -> list[Any]:
    """Leave out the genotype-only (path) families for a dataset with feature tables; naming one is an error."""
    from genoml_search.data.table_munge import table_columns

    path_families = [f.name for f in families if f.fits_path]
    if not path_families or not table_columns(dataset.manifest):
        return families
    if explicit:
        raise UserError(f"--family {', '.join(path_families)} works on genotypes only; this dataset has feature "
                        "tables (munge --table): choose other families", dataset.path)
    return [f for f in families if not f.fits_path]


def feature_width(dataset: Any, n_pcs: int = 0) -> int:
    """Columns of the feature matrix a trial sees before in-fold filtering: SNPs (of the default LD mask),
    covariates, ``n_pcs`` principal components and feature-table columns (a categorical column counts once)."""
    from genoml_search.data.table_munge import table_columns

    columns = dataset.snp_columns(dataset.default_ld_mask())
    n_snps = dataset.genotypes.shape[1] if columns is None else len(columns)
    return int(n_snps + len(dataset.covariate_names) + n_pcs + len(table_columns(dataset.manifest)))


def tables_only(dataset: Any) -> bool:
    """Whether ``dataset`` holds feature tables and no genotypes (``munge --table`` alone)."""
    from genoml_search.data.table_munge import table_columns

    return dataset.genotypes.shape[1] == 0 and bool(table_columns(dataset.manifest))
