"""Discriminant analysis: linear (optionally shrunk) and quadratic (regularized)."""
from __future__ import annotations

from typing import Any

from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from genoml_search.search.registry import CLASSIFICATION, CategoricalParam, FloatParam, ModelFamily, Param, register

MAX_SHRINKAGE_FEATURES = 20_000
"""Shrinkage LDA ('lsqr') holds a features x features covariance: 20,000 features are 3.2 GB."""


class BoundedLDA(LinearDiscriminantAnalysis):
    """LinearDiscriminantAnalysis that refuses the 'lsqr' solver on too many features instead of exhausting memory."""

    def fit(self, X: Any, y: Any) -> BoundedLDA:
        if self.solver == "lsqr" and getattr(X, "shape", (0, 0))[1] > MAX_SHRINKAGE_FEATURES:
            raise ValueError(
                f"lda with solver 'lsqr' needs a {X.shape[1]} x {X.shape[1]} covariance matrix; above "
                f"{MAX_SHRINKAGE_FEATURES} features restrict it with families.lda.solver = {{choices = [\"svd\"]}}"
            )
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
    """Quadratic discriminant analysis with covariance regularization (reg_param)."""

    name = "qda"
    tasks = CLASSIFICATION
    needs_scaling = True

    def space(self, task: str) -> list[Param]:
        return [FloatParam("reg_param", 0.0, 1.0, limits=(0.0, 1.0))]

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

        return QuadraticDiscriminantAnalysis(**params)
