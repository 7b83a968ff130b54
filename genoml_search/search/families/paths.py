"""Path families: a whole regularization path per CV fold, the penalty chosen inside the trial.

``lasso_path`` fits, per fold, the path from lambda_max down with warm starts and screening rules (adelie,
straight from the int8 genotypes; :mod:`genoml_search.search.paths`), stops a fold's path when its held-out
score stops improving, and chooses the penalty with the best mean CV score
(:mod:`genoml_search.search.path_cv`); the trial's value is the CV score there. The final model is the path
refitted on all training samples down to that penalty. Covariates are unpenalized.

``ridge_path`` does the same for ridge regression over all SNPs (GBLUP) through the samples' Gram matrix
(:mod:`genoml_search.search.kernel_ridge`): the family polygenic traits need, where the lasso keeps no SNP.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from genoml_search.search.path_cv import PathCV
from genoml_search.search.paths import MIN_RATIO, PATH_SIZE, Design, fit_path, raw_scale
from genoml_search.search.registry import TASKS, FloatParam, ModelFamily, Param, register
from genoml_search.tasks import Task

INTERNAL_FOLDS = 5
"""Folds that choose the penalty when the model is fitted without one (outside a study's trial)."""


def design_from_input(x: Any, n_covariates: int) -> Design:
    """A :class:`Design` from what ``fit`` receives: a Design (int8 route) or a float matrix whose first
    columns are genotype dosages (0/1/2, NaN missing) and whose last ``n_covariates`` are covariates."""
    if isinstance(x, Design):
        return x
    x = np.asarray(x)
    n_snps = x.shape[1] - n_covariates
    dosages = x[:, :n_snps]
    called = ~np.isnan(dosages)
    if not np.isin(dosages[called], (0.0, 1.0, 2.0)).all():
        raise ValueError("lasso_path expects genotype dosages 0, 1, 2 (or missing) in the SNP columns")
    genotypes = np.where(called, dosages, -127).astype(np.int8)
    return Design(genotypes, np.asarray(x[:, n_snps:], dtype=np.float32), np.arange(x.shape[0]))


class PenalizedPathModel(BaseEstimator):
    """Elastic-net GLM (squared error, binomial or multinomial) at a penalty of its path; unpenalized covariates.

    ``lambda_index``: the penalty's position on the path (0 = lambda_max: covariates only); a study's trial
    chooses it by CV and the refit uses it. Without it, ``fit`` chooses it by its own ``INTERNAL_FOLDS``-fold
    CV (the same code as a trial). Accepts a float matrix (dosages, then the last ``n_covariates`` columns as
    covariates) or a :class:`~genoml_search.search.paths.Design` over int8 genotypes. Missing values are
    imputed with the training means; ``coef_`` is on the standardized scale (importance), prediction uses the
    raw-scale ``raw_coef_``.
    """

    def __init__(self, task: str = "binary", l1_ratio: float = 1.0, lambda_index: int | None = None,
                 n_covariates: int = 0, min_ratio: float = MIN_RATIO, path_size: int = PATH_SIZE,
                 random_state: int = 0, n_jobs: int = 1) -> None:
        self.task = task
        self.l1_ratio = l1_ratio
        self.lambda_index = lambda_index
        self.n_covariates = n_covariates
        self.min_ratio = min_ratio
        self.path_size = path_size
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _choose_index(self, design: Design, y: np.ndarray) -> int:
        from genoml_search.core.metrics import DEFAULT_METRIC, get_metric
        from genoml_search.search.objective import CVSpec, make_folds
        from genoml_search.search.path_cv import cross_validate_path

        metric = get_metric(DEFAULT_METRIC[self.task], self.task)
        folds = make_folds(y, self.task, CVSpec(INTERNAL_FOLDS, 1, self.random_state))
        result = cross_validate_path(design, y, folds, self.task, metric.compute, metric.greater_is_better,
                                     self.l1_ratio, n_threads=self.n_jobs)
        return result.lambda_index

    def fit(self, X: Any, y: np.ndarray) -> PenalizedPathModel:
        """Fit the path on all of ``X`` down to the chosen penalty and keep the model there."""
        design = design_from_input(X, self.n_covariates)
        y = np.asarray(y)
        self.classes_ = np.unique(y) if self.task != Task.REGRESSION else None
        index = self._choose_index(design, y) if self.lambda_index is None else int(self.lambda_index)
        fit = fit_path(design, y, self.task, self.l1_ratio, self.classes_, max_index=index,
                       min_ratio=self.min_ratio, path_size=self.path_size, n_threads=self.n_jobs)
        self.lambda_index_ = min(index, len(fit.lambdas) - 1)  # the solver may end a path early
        self.lambda_ = float(fit.lambdas[self.lambda_index_])
        self.lambda_ratio_ = float(fit.lambdas[self.lambda_index_] / fit.lambdas[0])
        beta, _ = fit.coefficients(self.lambda_index_)
        self.raw_coef_, self.intercept_, self.fill_values_ = raw_scale(fit, self.lambda_index_)
        self.coef_ = beta.T  # outputs x features, standardized scale
        self.n_features_in_ = design.n_snps + design.n_covariates
        self.n_snps_ = design.n_snps
        return self

    def _eta(self, X: Any) -> np.ndarray:
        active = np.flatnonzero(np.any(self.raw_coef_ != 0, axis=1))
        if isinstance(X, Design):
            from genoml_search.search.paths import Standardization, standardized_columns

            unit = Standardization(self.fill_values_, np.ones_like(self.fill_values_))
            values = standardized_columns(X, X.rows, active, unit) + self.fill_values_[active]
            n = len(X.rows)
        else:
            values = np.asarray(X)[:, active].astype(np.float64)
            values = np.where(np.isnan(values), self.fill_values_[active], values)
            n = np.shape(X)[0]
        return np.tile(self.intercept_, (n, 1)) + values @ self.raw_coef_[active]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (binary: sigmoid, multiclass: softmax of the linear predictor)."""
        if self.task == Task.REGRESSION:
            raise AttributeError("predict_proba is for classification")
        from genoml_search.search.paths import scores_from_eta

        scores = scores_from_eta(self._eta(X), self.task)
        return np.column_stack([1.0 - scores, scores]) if self.task == Task.BINARY else scores

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values (regression) or the most probable class."""
        if self.task == Task.REGRESSION:
            return self._eta(X)[:, 0]
        assert self.classes_ is not None  # fitted on a class label
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class _PathFamily(ModelFamily):
    """What path families share: int8 input, their own imputation and standardization, the penalty chosen by
    the trial's CV and taken by the refit."""

    handles_missing = True  # imputes with the training means itself
    fits_path = True

    def final_params(self, params: dict[str, Any], trial_attrs: dict[str, Any]) -> dict[str, Any]:
        """The refit takes the penalty position the trial chose by CV."""
        index = (trial_attrs.get("path") or {}).get("lambda_index")
        return params if index is None else {**params, "lambda_index": int(index)}


@register
class LassoPath(_PathFamily):
    """Whole elastic-net path per CV fold from the int8 genotypes (adelie), penalty chosen by CV inside the
    trial; ``l1_ratio`` 1 is the lasso. Covariates unpenalized; the first point of every path is the
    covariates-only model.
    """

    name = "lasso_path"
    tasks = frozenset(TASKS)

    def space(self, task: str) -> list[Param]:
        # below ~0.05 the path from lambda_max (which grows as 1 / l1_ratio) stays far from the ridge optimum
        return [FloatParam("l1_ratio", 0.05, 1.0, limits=(0.01, 1.0))]

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        return PenalizedPathModel(task=task, l1_ratio=params["l1_ratio"], lambda_index=params.get("lambda_index"),
                                  random_state=random_state, n_jobs=n_jobs)

    def missing_dependency(self) -> str | None:
        from importlib.util import find_spec

        if find_spec("adelie") is None:
            return ("needs the adelie package, which declares numpy<2 and so is not installed with genoml-search; "
                    "install it with `pip install --no-deps adelie==1.1.52 'ipython<9'` (`make` does)")
        return None

    def cross_validate_path(self, design: Design, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                            task: str, metric: Any, params: dict[str, Any], n_threads: int = 1,
                            should_prune: Any = None, report_per_fold: bool = False) -> PathCV:
        """One early-stopped elastic-net path per fold (:func:`~genoml_search.search.path_cv.cross_validate_path`)."""
        from genoml_search.search.path_cv import cross_validate_path

        return cross_validate_path(design, y, folds, task, metric.compute, metric.greater_is_better,
                                   params["l1_ratio"], n_threads=n_threads, should_prune=should_prune,
                                   report_per_fold=report_per_fold)


class KernelRidgeModel(BaseEstimator):
    """Ridge regression on all SNPs with unpenalized covariates (GBLUP), fitted through the Gram matrix
    (:mod:`genoml_search.search.kernel_ridge`); binary traits by L2 logistic regression in the same basis.

    ``lambda_index``: the penalty's position in :data:`~genoml_search.search.kernel_ridge.RIDGE_GRID` (a
    trial chooses it by CV, the refit uses it); without it ``fit`` chooses it by its own ``INTERNAL_FOLDS``-fold
    CV. Accepts what :class:`PenalizedPathModel` accepts. ``coef_`` is on the standardized scale (importance);
    prediction uses ``raw_coef_`` and reads the int8 genotypes block by block.
    """

    def __init__(self, task: str = "binary", lambda_index: int | None = None, n_covariates: int = 0,
                 random_state: int = 0, n_jobs: int = 1) -> None:
        self.task = task
        self.lambda_index = lambda_index
        self.n_covariates = n_covariates
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _choose_index(self, design: Design, y: np.ndarray) -> int:
        from genoml_search.core.metrics import DEFAULT_METRIC, get_metric
        from genoml_search.search.objective import CVSpec, make_folds
        from genoml_search.search.ridge_cv import cross_validate_ridge

        metric = get_metric(DEFAULT_METRIC[self.task], self.task)
        folds = make_folds(y, self.task, CVSpec(INTERNAL_FOLDS, 1, self.random_state))
        return cross_validate_ridge(design, y, folds, self.task, metric.compute, metric.greater_is_better).lambda_index

    def fit(self, X: Any, y: np.ndarray) -> KernelRidgeModel:
        """Fit the ridge at the chosen penalty on all of ``X``."""
        from genoml_search.search import kernel_ridge as kr
        from genoml_search.search.ridge_cv import fold_paths

        if self.task not in (Task.BINARY, Task.REGRESSION):
            raise ValueError(f"ridge_path fits binary and continuous traits, not {self.task}")
        design = design_from_input(X, self.n_covariates)
        y = np.asarray(y)
        self.classes_ = np.unique(y) if self.task != Task.REGRESSION else None
        index = self._choose_index(design, y) if self.lambda_index is None else int(self.lambda_index)
        self.lambda_index_ = min(max(index, 0), len(kr.RIDGE_GRID) - 1)
        penalty = float(kr.penalties(design.n_snps)[self.lambda_index_])
        everything = np.arange(len(design.rows))
        target = kr.target(y, self.task)
        path, kernel = next(fold_paths(design, target, [(everything, everything[:0])], self.task,
                                          np.array([penalty])))
        a, gamma = (kr.LogisticRidgePath(path) if self.task == Task.BINARY else path).solve(penalty)
        self.platt_ = (0.0, 1.0)  # models saved before the logistic fit carry a calibration of the 0/1 scale
        beta = np.concatenate([kr.snp_coefficients(design, a, kernel.standardization), gamma[1:]])
        scales, centers = kernel.standardization.scales, kernel.standardization.centers
        self.coef_ = beta[None, :]  # outputs x features, standardized scale
        self.raw_coef_ = beta / scales
        self.intercept_ = float(gamma[0] - centers @ self.raw_coef_)
        self.fill_values_ = centers
        self.lambda_ = penalty
        self.n_features_in_ = design.n_snps + design.n_covariates
        self.n_snps_ = design.n_snps
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """The linear predictor (the log-odds for binary traits)."""
        from genoml_search.search.kernel_ridge import GRAM_BLOCK

        if not isinstance(X, Design):
            values = np.asarray(X, dtype=np.float64)
            values = np.where(np.isnan(values), self.fill_values_, values)
            return self.intercept_ + values @ self.raw_coef_
        design = X
        eta = np.full(len(design.rows), self.intercept_)
        for start in range(0, design.n_snps, GRAM_BLOCK):
            block = design.read(design.rows, slice(start, start + GRAM_BLOCK))
            columns = slice(start, start + block.shape[1])
            eta += np.where(block < 0, self.fill_values_[columns], block) @ self.raw_coef_[columns]
        covariates = design.covariates[design.rows].astype(np.float64)
        fill = self.fill_values_[design.n_snps:]
        return eta + np.where(np.isnan(covariates), fill, covariates) @ self.raw_coef_[design.n_snps:]

    def predict_proba(self, X: Any) -> np.ndarray:
        """P(class) from the calibrated linear predictor (binary traits)."""
        if self.task == Task.REGRESSION:
            raise AttributeError("predict_proba is for classification")
        from genoml_search.search.kernel_ridge import sigmoid

        alpha, beta = self.platt_
        p = sigmoid(alpha + beta * self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values (regression) or the more probable class."""
        if self.task == Task.REGRESSION:
            return self.decision_function(X)
        assert self.classes_ is not None  # fitted on a class label
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]


@register
class RidgePathFamily(_PathFamily):
    """Ridge over all SNPs (GBLUP) through the samples' Gram matrix from the int8 genotypes, the penalty chosen
    by CV inside the trial over heritabilities 0.0001-0.99; covariates unpenalized. Binary and continuous traits;
    search samples up to ~10,000 (memory n^2).
    """

    name = "ridge_path"
    tasks = frozenset({Task.BINARY, Task.REGRESSION})

    def space(self, task: str) -> list[Param]:
        return []

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        return KernelRidgeModel(task=task, lambda_index=params.get("lambda_index"), random_state=random_state,
                                n_jobs=n_jobs)

    def cross_validate_path(self, design: Design, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                            task: str, metric: Any, params: dict[str, Any], n_threads: int = 1,
                            should_prune: Any = None, report_per_fold: bool = False) -> PathCV:
        """The ridge path per fold (:func:`~genoml_search.search.ridge_cv.cross_validate_ridge`)."""
        from genoml_search.search.ridge_cv import cross_validate_ridge

        return cross_validate_ridge(design, y, folds, task, metric.compute, metric.greater_is_better,
                                    should_prune=should_prune, report_per_fold=report_per_fold)
