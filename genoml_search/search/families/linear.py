"""Penalized linear models: elastic-net logistic regression (classification), elastic net (regression)."""
from __future__ import annotations

from typing import Any

from genoml_search.search.registry import CLASSIFICATION, FloatParam, ModelFamily, Param, register


@register
class Logistic(ModelFamily):
    """Elastic-net penalized logistic regression (saga solver); multinomial for multiclass."""

    name = "logistic"
    tasks = CLASSIFICATION
    needs_scaling = True

    def space(self, task: str) -> list[Param]:
        return [FloatParam("C", 1e-4, 10.0, log=True), FloatParam("l1_ratio", 0.0, 1.0)]

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=params["C"], l1_ratio=params["l1_ratio"], solver="saga",
            max_iter=2000, tol=1e-3, random_state=random_state,
        )


@register
class ElasticNet(ModelFamily):
    """Elastic-net linear regression."""

    name = "elastic_net"
    tasks = frozenset({"regression"})
    needs_scaling = True

    def space(self, task: str) -> list[Param]:
        return [FloatParam("alpha", 1e-4, 10.0, log=True), FloatParam("l1_ratio", 0.0, 1.0)]

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.linear_model import ElasticNet as SkElasticNet

        return SkElasticNet(
            alpha=params["alpha"], l1_ratio=params["l1_ratio"], max_iter=5000, tol=1e-3,
            random_state=random_state, selection="random",
        )
