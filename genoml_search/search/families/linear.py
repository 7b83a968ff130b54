"""Penalized linear models: elastic-net logistic regression, elastic net, ridge with a cross-validated
heritability (BLUP), stochastic gradient descent."""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from genoml_search.search.registry import (
    CLASSIFICATION, TASKS, CategoricalParam, FloatParam, ModelFamily, Param, Task, register,
)

UNIT = (0.0, 1.0)
# ``covariate_weight`` of the penalized linear families (see pipeline.CovariateWeight): covariates become
# practically unpenalized fixed effects. Coordinate descent is insensitive to column scale, so the elastic
# net takes 100 (L2 penalty / 10,000, L1 / 100); saga's step size shrinks with the largest row norm, so
# logistic regression takes 30 (L2 penalty / 900, L1 / 30): at 100 its tol-1e-3 stop left the covariate
# coefficients 12 % short of the converged ones on a 2,000 x 6,000 cohort, at 30 within 1 %.
UNPENALIZED_COVARIATES_CD = 100.0
UNPENALIZED_COVARIATES_SAGA = 30.0


def standardized_target(regressor: Any) -> Any:
    """Wrap a regressor so it is fitted on a standardized target (its ranges then hold for any trait scale)."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import StandardScaler

    return TransformedTargetRegressor(regressor=regressor, transformer=StandardScaler())


@register
class Logistic(ModelFamily):
    """Elastic-net penalized logistic regression; multinomial for multiclass.

    Pure L2 (``l1_ratio`` 0, the ridge-like starting points) is fitted by L-BFGS, any L1 share by saga, the
    only solver with elastic-net penalties: on 8,000 x 8,900 genotypes L-BFGS took 5-7 s where saga took
    30 s, for the same validation AUC (to 1e-4). Covariates are practically unpenalized
    (``covariate_weight``); the penalty acts on the SNPs.
    """

    name = "logistic"
    tasks = CLASSIFICATION
    needs_scaling = True
    covariate_weight = UNPENALIZED_COVARIATES_SAGA

    def space(self, task: str) -> list[Param]:
        return [
            # down to 1e-6: ridge-like C for ~100,000 SNPs (warm_start.starting_points; 1 / C ~ M (1 - h2) / 2h2)
            FloatParam("C", 1e-6, 10.0, log=True, limits=(0.0, None)),
            FloatParam("l1_ratio", 0.0, 1.0, limits=UNIT),
        ]

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.linear_model import LogisticRegression

        if params["l1_ratio"] == 0.0:
            return LogisticRegression(C=params["C"], l1_ratio=0.0, solver="lbfgs", max_iter=500, tol=1e-4)
        # max_iter bounds a trial: one saga epoch on 10,000 x 100,000 is ~1e9 multiply-adds
        return LogisticRegression(
            C=params["C"], l1_ratio=params["l1_ratio"], solver="saga",
            max_iter=500, tol=1e-3, random_state=random_state,
        )


@register
class ElasticNet(ModelFamily):
    """Elastic-net linear regression (coordinate descent).

    Covariates are practically unpenalized (``covariate_weight``); the penalty acts on the SNPs.
    """

    name = "elastic_net"
    tasks = frozenset({Task.REGRESSION})
    needs_scaling = True
    covariate_weight = UNPENALIZED_COVARIATES_CD

    def space(self, task: str) -> list[Param]:
        return [
            # up to 1,000: ridge-like alpha M (1 - h2) / (h2 n) for 100,000 SNPs, 2,000 samples, h2 0.1 is 560
            FloatParam("alpha", 1e-4, 1000.0, log=True, limits=(0.0, None)),
            FloatParam("l1_ratio", 0.0, 1.0, limits=UNIT),
        ]

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.linear_model import ElasticNet as SkElasticNet

        return SkElasticNet(
            alpha=params["alpha"], l1_ratio=params["l1_ratio"], max_iter=2000, tol=1e-3,
            random_state=random_state, selection="random",
        )


H2_GRID: tuple[float, ...] = (0.03, 0.07, 0.15, 0.25, 0.35, 0.5, 0.7)
"""Heritabilities whose ridge penalties :class:`HeritabilityRidge` compares: penalties 1.6-2.3x apart."""
INNER_SAMPLES = 4_000
"""At most this many samples (a random subset) choose h2 in :class:`HeritabilityRidge`'s inner CV: with all
8,000 of a 10,000-sample cohort's fold, a ``ridge_h2`` trial took 137 s, nearly a whole 150 s budget; with
4,000, 90-103 s."""


class HeritabilityRidge(RegressorMixin, BaseEstimator):
    """Ridge regression with penalty lambda = M (1 - h2) / h2 for the M columns it sees (the BLUP of an
    additive trait with SNP heritability h2), h2 chosen from ``h2_grid`` by an inner K-fold CV on the data
    it is fitted on (so inside each outer CV fold: nested, honest), on at most ``max_inner_samples`` of them.

    Solved by LSQR: at genomic penalties the system is well conditioned, a fit on 8,000 x 8,900 genotypes
    took 7-33 iterations (0.6-1.9 s on one core), where a direct solve of the 8,900 x 8,900 normal equations
    takes minutes; tol 1e-6 matches the Cholesky solution to 1e-4 of the largest coefficient.
    """

    def __init__(self, h2_grid: tuple[float, ...] = H2_GRID, inner_folds: int = 3, tol: float = 1e-6,
                 max_inner_samples: int = INNER_SAMPLES, random_state: int = 0) -> None:
        self.h2_grid = h2_grid
        self.inner_folds = inner_folds
        self.tol = tol
        self.max_inner_samples = max_inner_samples
        self.random_state = random_state

    def _ridge(self, h2: float, n_columns: int) -> Any:
        from sklearn.linear_model import Ridge

        return Ridge(alpha=n_columns * (1.0 - h2) / h2, solver="lsqr", tol=self.tol)

    def fit(self, X: np.ndarray, y: np.ndarray) -> HeritabilityRidge:
        """Choose h2 by inner CV (summed squared error over the folds), then refit on all of ``X``."""
        from sklearn.model_selection import KFold

        y = np.asarray(y, dtype=np.float64)
        n_columns = X.shape[1]
        # lambda = M (1 - h2) / h2 does not depend on the number of samples, so h2 can be chosen on a subsample
        inner = np.arange(len(y))
        if len(inner) > self.max_inner_samples:
            inner = np.sort(np.random.default_rng(self.random_state).choice(inner, self.max_inner_samples,
                                                                            replace=False))
        errors = np.zeros(len(self.h2_grid))
        folds = KFold(self.inner_folds, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(inner):
            x_train, x_test = X[inner[train]], X[inner[test]]
            y_train, y_test = y[inner[train]], y[inner[test]]
            for i, h2 in enumerate(self.h2_grid):
                predicted = self._ridge(h2, n_columns).fit(x_train, y_train).predict(x_test)
                errors[i] += float(np.sum((y_test - predicted) ** 2))
        self.h2_ = float(self.h2_grid[int(np.argmin(errors))])
        self.inner_errors_, self.n_inner_samples_ = errors, len(inner)
        self.model_ = self._ridge(self.h2_, n_columns).fit(X, y)
        self.alpha_, self.coef_, self.intercept_ = self.model_.alpha, self.model_.coef_, self.model_.intercept_
        self.n_features_in_ = n_columns
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Linear predictions (the genetic value plus covariate effects), in the features' own precision."""
        return self.model_.predict(X)


@register
class RidgeHeritability(ModelFamily):
    """Ridge regression (BLUP) whose penalty M (1 - h2) / h2 is chosen by an inner 3-fold CV over a grid of
    heritabilities (:class:`HeritabilityRidge`); nothing to tune, so its trials differ only in the SNP
    p-value filter.

    Added for polygenic traits: the searched elastic net compares a few ridge penalties by one noisy CV each
    (the starting points) and the sampler rarely refines them; on three simulated cohorts (h2 0.3, 1,000
    causal SNPs, 2,000 samples) this family's validation R2 was within 0.3 % of the best of 8 fixed penalties
    (docs/families.md).
    Covariates are practically unpenalized (``covariate_weight``).
    """

    name = "ridge_h2"
    tasks = frozenset({Task.REGRESSION})
    needs_scaling = True
    covariate_weight = UNPENALIZED_COVARIATES_CD

    def space(self, task: str) -> list[Param]:
        return []

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        return HeritabilityRidge(random_state=random_state)


@register
class SGD(ModelFamily):
    """Linear model by stochastic gradient descent: logistic or modified-Huber loss (classification),
    squared or Huber loss on a standardized target (regression).

    Covariates are penalized like SNPs (``covariate_weight`` 1): stochastic gradient steps diverge on
    up-weighted columns.
    """

    name = "sgd"
    tasks = frozenset(TASKS)
    needs_scaling = True

    def space(self, task: str) -> list[Param]:
        losses = ("squared_error", "huber") if task == Task.REGRESSION else ("log_loss", "modified_huber")
        return [
            CategoricalParam("loss", losses),
            CategoricalParam("penalty", ("l2", "l1", "elasticnet")),
            FloatParam("alpha", 1e-6, 1.0, log=True, limits=(0.0, None)),
            FloatParam("l1_ratio", 0.0, 1.0, when=("penalty", ("elasticnet",)), limits=UNIT),
        ]

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.linear_model import SGDClassifier, SGDRegressor

        options = dict(params, max_iter=200, tol=1e-3, random_state=random_state)
        if task == Task.REGRESSION:
            return standardized_target(SGDRegressor(**options))
        return SGDClassifier(**options, n_jobs=n_jobs)
