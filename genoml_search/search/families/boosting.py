"""Gradient boosting: XGBoost."""
from __future__ import annotations

from typing import Any

from genoml_search.search.registry import TASKS, FloatParam, IntParam, ModelFamily, Param, register


@register
class XGBoost(ModelFamily):
    """XGBoost with the histogram tree method."""

    name = "xgboost"
    tasks = frozenset(TASKS)
    handles_missing = True

    def space(self, task: str) -> list[Param]:
        return [
            IntParam("n_estimators", 50, 1000, log=True),
            FloatParam("learning_rate", 0.005, 0.3, log=True),
            IntParam("max_depth", 1, 10),
            FloatParam("subsample", 0.5, 1.0),
            FloatParam("colsample_bytree", 0.1, 1.0),
            FloatParam("min_child_weight", 0.1, 20.0, log=True),
            FloatParam("reg_lambda", 1e-3, 10.0, log=True),
            FloatParam("reg_alpha", 1e-3, 10.0, log=True),
        ]

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        import xgboost

        cls = xgboost.XGBRegressor if task == "regression" else xgboost.XGBClassifier
        return cls(**params, tree_method="hist", random_state=random_state, n_jobs=n_jobs, verbosity=0)


@register
class HistGradientBoosting(ModelFamily):
    """scikit-learn's histogram gradient boosting (native missing-value support)."""

    name = "hist_gradient_boosting"
    tasks = frozenset(TASKS)
    handles_missing = True

    def space(self, task: str) -> list[Param]:
        return [
            FloatParam("learning_rate", 0.01, 0.3, log=True),
            IntParam("max_iter", 50, 500, log=True),
            IntParam("max_leaf_nodes", 4, 64, log=True),
            IntParam("min_samples_leaf", 5, 100, log=True),
            FloatParam("l2_regularization", 1e-4, 10.0, log=True),
        ]

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
        return cls(**params, early_stopping=False, random_state=random_state)
