"""The model pipeline of one trial: in-fold preprocessing, optional scaling, the estimator.

Everything fitted on data lives in the pipeline, so cross-validation fits it on each fold's training part
only: genotype/covariate imputation, the association filter (SNPs kept when their per-SNP test p-value on the
fold's training samples is <= ``snp_p_threshold``: clumping-and-thresholding style), scaling, and for
penalized linear families the up-weighting of the standardized covariates that leaves them practically
unpenalized (:class:`CovariateWeight`).
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from genoml_search.core.association import association_pvalues  # noqa: F401 (also imported from here)
from genoml_search.search.registry import ModelFamily
from genoml_search.tasks import Task


class GenotypePreprocessor(TransformerMixin, BaseEstimator):
    """Mean-impute every column; keep the first ``n_snps`` columns (SNPs) whose association p <= threshold.

    Columns after ``n_snps`` are covariates: always kept. At least ``min_snps`` SNPs (the most associated)
    are kept so a strict threshold never leaves a model with no genotype.
    """

    def __init__(self, n_snps: int, task: str = "binary", snp_p_threshold: float = 1.0, min_snps: int = 1):
        self.n_snps = n_snps
        self.task = task
        self.snp_p_threshold = snp_p_threshold
        self.min_snps = min_snps

    def fit(self, x: np.ndarray, y: np.ndarray | None = None) -> GenotypePreprocessor:
        x = np.asarray(x, dtype=np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-missing column: filled with 0 below
            means = np.nanmean(x, axis=0)
        self.fill_values_ = np.nan_to_num(means, nan=0.0).astype(np.float32)
        keep = np.ones(x.shape[1], dtype=bool)
        if self.snp_p_threshold < 1.0 and y is not None and self.n_snps > 0:
            pvalues = association_pvalues(self._impute(x[:, : self.n_snps], self.fill_values_[: self.n_snps]),
                                          np.asarray(y, dtype=float), self.task)
            snp_keep = pvalues <= self.snp_p_threshold
            if snp_keep.sum() < self.min_snps:
                snp_keep[np.argsort(pvalues, kind="stable")[: self.min_snps]] = True
            keep[: self.n_snps] = snp_keep
        self.keep_ = keep
        self.n_features_in_ = x.shape[1]
        return self

    @staticmethod
    def _impute(x: np.ndarray, fill: np.ndarray) -> np.ndarray:
        missing = np.isnan(x)
        if missing.any():
            x = np.where(missing, fill, x)
        return x

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)[:, self.keep_]
        return self._impute(x, self.fill_values_[self.keep_])


class CovariateWeight(TransformerMixin, BaseEstimator):
    """Multiply the last ``n_covariates`` columns (the standardized covariates) by ``weight``.

    Why: a penalized linear model shrinks every coefficient, so with the strong penalty a polygenic genotype
    model needs, known covariate effects (age, sex, PCs) were shrunk away too; statistical genetics fits
    covariates as unpenalized fixed effects. Multiplying a standardized column by ``w`` divides the
    coefficient the model needs for the same effect by ``w``, so its L2 penalty shrinks by ``w**2`` and its
    L1 penalty by ``w``, while the SNP penalty is unchanged. With ``w = 100`` the ridge shrinkage factor of
    a standardized covariate, n / (n + alpha_ridge), becomes n / (n + alpha_ridge / 10,000).

    Chosen over a two-stage fit (an unpenalized covariate model, then a penalized genotype model on its
    residual or offset) because it is one code path for every task and estimator: scikit-learn's logistic
    regression takes no offset, and residualizing is exact only for squared loss. The cost is conditioning:
    saga's step size follows the largest row norm, so logistic regression takes ``w = 30``, while coordinate
    descent (elastic net) is insensitive to column scale and takes ``w = 100``; each family sets its own
    ``covariate_weight``.

    No leakage: the step has no fitted statistics of its own; it multiplies columns that the preceding
    StandardScaler standardized with the fold's training part, and new samples get the same factors.
    ``factors_`` holds the factor of every column (1 for SNPs), so reports can put coefficients back on the
    standardized scale.
    """

    def __init__(self, n_covariates: int = 0, weight: float = 1.0):
        self.n_covariates = n_covariates
        self.weight = weight

    def fit(self, x: np.ndarray, y: np.ndarray | None = None) -> CovariateWeight:
        n_features = np.shape(x)[1]
        if not 0 <= self.n_covariates <= n_features:
            raise ValueError(f"{self.n_covariates} covariates but only {n_features} columns")
        factors = np.ones(n_features, dtype=np.float32)
        factors[n_features - self.n_covariates :] = self.weight
        self.factors_ = factors
        self.n_features_in_ = n_features
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if not self.n_covariates or self.weight == 1.0:
            return x
        out = np.array(x, dtype=np.result_type(x.dtype, np.float32), copy=True)
        out[:, -self.n_covariates :] *= self.weight  # only the covariate columns: SNPs keep their scale
        return out


class SnpColumns(TransformerMixin, BaseEstimator):
    """Keep an LD mask's SNP columns (``columns``, indices among the first ``n_snps``) and every column after
    the SNPs (feature tables, covariates, PCs); the first step of a final model trained on a mask.

    Stateless (nothing is fitted on data: the mask was computed by munge without the phenotype), so the saved
    model takes the dataset's full column space, which is what ``predict``, the validation cohort and the
    ensemble of trials with different masks give it. An int8 :class:`~genoml_search.search.paths.Design`
    (path families) is passed on with the mask as its columns, so no genotype is copied.
    """

    def __init__(self, n_snps: int = 0, columns: Any = None):
        self.n_snps = n_snps
        self.columns = columns

    def fit(self, x: Any, y: np.ndarray | None = None) -> SnpColumns:
        self.n_features_in_ = self._width(x)
        return self

    def _width(self, x: Any) -> int:
        from genoml_search.search.paths import Design

        if isinstance(x, Design):
            return int(x.genotypes.shape[1] + x.n_covariates)
        return int(np.shape(x)[1])

    def transform(self, x: Any) -> Any:
        from genoml_search.search.paths import Design

        columns = np.asarray(self.columns, dtype=np.intp)
        if isinstance(x, Design):
            if x.columns is not None or x.genotypes.shape[1] != self.n_snps:
                raise ValueError(f"expected the {self.n_snps} SNP columns the model was trained on")
            return Design(x.genotypes, x.covariates, x.rows, columns)
        width = np.shape(x)[1]
        return np.asarray(x)[:, np.concatenate([columns, np.arange(self.n_snps, width)])]

    def selected(self, n_features: int) -> np.ndarray:
        """Input columns kept, in output order, for an input of ``n_features`` columns."""
        return np.concatenate([np.asarray(self.columns, dtype=np.intp), np.arange(self.n_snps, n_features)])


def build_pipeline(
    family: ModelFamily,
    params: dict[str, Any],
    task: str,
    n_snps: int,
    snp_p_threshold: float = 1.0,
    random_state: int = 0,
    n_jobs: int = 1,
    n_covariates: int = 0,
    tabular: Any = None,
    snp_columns: np.ndarray | None = None,
) -> Pipeline:
    """The full pipeline of a trial: preprocessing fitted in-fold, scaling if the family needs it, the model.

    ``n_covariates``: how many columns after the ``n_snps`` SNP columns are covariates (covariates and
    genetic PCs). Families with ``covariate_weight`` > 1 (the penalized linear ones) get their standardized
    covariates multiplied by it (:class:`CovariateWeight`), which leaves them practically unpenalized.
    Path families (``fits_path``) get no preprocessing steps and ignore ``snp_p_threshold``. ``tabular`` (a
    :class:`~genoml_search.search.tabular.TabularLayout`) switches to the feature-table preprocessing.
    ``snp_columns`` (an LD mask over the ``n_snps`` SNPs of the input) puts :class:`SnpColumns` first and
    builds the rest for the mask's columns (a trial, fed the masked columns directly, does not pass it).
    """
    if snp_columns is not None:
        columns = np.asarray(snp_columns, dtype=np.intp)
        layout = None if tabular is None else dataclasses.replace(tabular, n_snps=len(columns))
        inner = build_pipeline(family, params, task, len(columns), snp_p_threshold, random_state, n_jobs,
                               n_covariates, layout)
        return Pipeline([("ld_mask", SnpColumns(n_snps, columns)), *inner.steps])
    if tabular is not None:  # feature tables (munge --table): categorical encoding in-fold, search/tabular.py
        from genoml_search.search.tabular import native_categorical_model, tabular_preprocessor

        preprocess, n_categorical = tabular_preprocessor(family, task, tabular, snp_p_threshold)
        table_steps: list[tuple[str, Any]] = [("preprocess", preprocess)]
        if family.needs_scaling:
            table_steps.append(("scale", StandardScaler()))
            if tabular.n_covariates and family.covariate_weight != 1.0:
                table_steps.append(("covariates", CovariateWeight(tabular.n_covariates, family.covariate_weight)))
        model = family.build(params, task, random_state=random_state, n_jobs=n_jobs)
        return Pipeline([*table_steps, ("model", native_categorical_model(model, family.name, n_categorical))])
    if family.fits_path:  # imputes and standardizes itself, in-fold; selects SNPs by its penalty
        model = family.build(params, task, random_state=random_state, n_jobs=n_jobs)
        return Pipeline([("model", model.set_params(n_covariates=n_covariates))])
    steps: list[tuple[str, Any]] = [
        # str(task): the saved model holds a plain string (skops trusts it without our enum type)
        ("preprocess", GenotypePreprocessor(n_snps=n_snps, task=str(task), snp_p_threshold=snp_p_threshold)),
    ]
    if family.needs_scaling:
        steps.append(("scale", StandardScaler()))
        if n_covariates and family.covariate_weight != 1.0:
            steps.append(("covariates", CovariateWeight(n_covariates, family.covariate_weight)))
    steps.append(("model", family.build(params, task, random_state=random_state, n_jobs=n_jobs)))
    return Pipeline(steps)
