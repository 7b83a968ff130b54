"""Discriminant analysis: linear (optionally shrunk) and quadratic (shrunk covariances).

Shrinkage needs a features x features covariance (and its decomposition, cubic in the features), so the
solvers that use it refuse more than :data:`MAX_COVARIANCE_FEATURES` features instead of running for hours.
QDA always shrinks: with more SNPs than samples in a class its covariance is singular (scikit-learn >= 1.9
refuses the unshrunk case).
"""
from __future__ import annotations

from typing import Any

from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis

from genoml_search.search.registry import CLASSIFICATION, CategoricalParam, FloatParam, ModelFamily, Param, register

MAX_COVARIANCE_FEATURES = 5_000
"""5,000 features: a 200 MB covariance and ~1e11 flops to decompose it, per class for QDA."""


def _check_width(X: Any, what: str, advice: str) -> None:
    n_features = getattr(X, "shape", (0, 0))[1]
    if n_features > MAX_COVARIANCE_FEATURES:
        raise ValueError(
            f"{what} needs a {n_features} x {n_features} covariance matrix; above {MAX_COVARIANCE_FEATURES} "
            f"features {advice}"
        )


class BoundedLDA(LinearDiscriminantAnalysis):
    """LinearDiscriminantAnalysis that refuses the 'lsqr' solver on too many features."""

    def fit(self, X: Any, y: Any) -> BoundedLDA:
        if self.solver == "lsqr":
            _check_width(X, "lda with solver 'lsqr'", 'restrict it with families.lda.solver = {choices = ["svd"]}')
        return super().fit(X, y)


class BoundedQDA(QuadraticDiscriminantAnalysis):
    """QuadraticDiscriminantAnalysis that refuses too many features."""

    def fit(self, X: Any, y: Any) -> BoundedQDA:
        _check_width(X, "qda", "leave qda out of [study] families (or select fewer SNPs)")
        return super().fit(X, y)


@register
class LDA(ModelFamily):
    """Linear discriminant analysis: SVD solver, or least squares with shrinkage of the covariance."""

    name = "lda"
    tasks = CLASSIFICATION
    needs_scaling = True

    def space(self, task: str) -> list[Param]:
        return [
            CategoricalParam("solver", ("svd", "lsqr")),
            FloatParam("shrinkage", 0.0, 1.0, when=("solver", ("lsqr",)), limits=(0.0, 1.0)),
        ]

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        return BoundedLDA(**params)


@register
class QDA(ModelFamily):
    """Quadratic discriminant analysis with shrunk per-class covariances (eigen solver)."""

    name = "qda"
    tasks = CLASSIFICATION
    needs_scaling = True

    def space(self, task: str) -> list[Param]:
        return [FloatParam("shrinkage", 0.01, 1.0, log=True, limits=(0.0, 1.0))]

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        return BoundedQDA(solver="eigen", **params)
