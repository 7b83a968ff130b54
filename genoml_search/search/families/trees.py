"""Tree ensembles from scikit-learn: random forest."""
from __future__ import annotations

from typing import Any

from genoml_search.search.registry import TASKS, CategoricalParam, FloatParam, IntParam, ModelFamily, Param, register


@register
class RandomForest(ModelFamily):
    """Random forest; depth and tree count bounded so one trial cannot run away on many SNPs."""

    name = "random_forest"
    tasks = frozenset(TASKS)
    handles_missing = True

    def space(self, task: str) -> list[Param]:
        return [
            IntParam("n_estimators", 50, 500, log=True),
            IntParam("max_depth", 2, 30, log=True),
            FloatParam("max_features", 0.01, 1.0, log=True),
            IntParam("min_samples_leaf", 1, 50, log=True),
            CategoricalParam("bootstrap", (True, False)),
        ]

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        cls = RandomForestRegressor if task == "regression" else RandomForestClassifier
        return cls(**params, random_state=random_state, n_jobs=n_jobs)
