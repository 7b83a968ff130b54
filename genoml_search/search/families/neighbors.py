"""k-nearest neighbours."""
from __future__ import annotations

from typing import Any

from genoml_search.search.registry import TASKS, CategoricalParam, IntParam, ModelFamily, Param, Task, register


@register
class KNN(ModelFamily):
    """k-nearest neighbours (brute force: trees do not help in thousands of dimensions)."""

    name = "knn"
    tasks = frozenset(TASKS)
    needs_scaling = True

    def space(self, task: str) -> list[Param]:
        return [
            IntParam("n_neighbors", 1, 100, log=True, limits=(1, None)),
            CategoricalParam("weights", ("uniform", "distance")),
            CategoricalParam("metric", ("euclidean", "manhattan", "cosine")),
        ]

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        cls = KNeighborsRegressor if task == Task.REGRESSION else KNeighborsClassifier
        return cls(**params, algorithm="brute", n_jobs=n_jobs)
