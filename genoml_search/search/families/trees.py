"""Tree ensembles from scikit-learn: random forest, extra trees, AdaBoost and bagging of trees.

Depth, tree count and features per split are bounded so that one trial stays affordable on 10,000 samples x
100,000 SNPs (``max_features`` is a fraction of the features; sqrt(100,000) is 0.003 of them). On narrower
data the ``max_features`` range is fitted to the width (:func:`~genoml_search.search.registry.fit_fraction_to_width`).
"""
from __future__ import annotations

import math
from typing import Any

from genoml_search.search.registry import (
    TASKS, CategoricalParam, FloatParam, IntParam, ModelFamily, Param, Task, register,
)

FRACTION = (0.0, 1.0)
POSITIVE_INT = (1, None)


def _sqrt_fraction(n_features: int | None) -> float:
    """scikit-learn's ``max_features="sqrt"`` as a fraction of ``n_features`` columns (1.0 when unknown)."""
    return 1.0 if not n_features else min(1.0, 1.0 / math.sqrt(n_features))


def _forest_defaults(task: str, n_features: int | None, bootstrap: bool) -> dict[str, Any]:
    """scikit-learn's forest defaults; ``max_depth=None`` is the deepest searched depth there."""
    max_features = 1.0 if task == Task.REGRESSION else _sqrt_fraction(n_features)
    return {"n_estimators": 100, "max_depth": None, "max_features": max_features, "min_samples_leaf": 1,
            "bootstrap": bootstrap}


def _forest_space() -> list[Param]:
    return [
        IntParam("n_estimators", 50, 500, log=True, limits=POSITIVE_INT),
        IntParam("max_depth", 2, 30, log=True, limits=POSITIVE_INT),
        FloatParam("max_features", 0.001, 0.5, log=True, limits=FRACTION),
        IntParam("min_samples_leaf", 1, 50, log=True, limits=POSITIVE_INT),
        CategoricalParam("bootstrap", (True, False)),
    ]


@register
class RandomForest(ModelFamily):
    """Random forest (bootstrap optional); NaN-aware splits."""

    name = "random_forest"
    tasks = frozenset(TASKS)
    handles_missing = True
    feature_fractions = ("max_features",)

    def space(self, task: str) -> list[Param]:
        return _forest_space()

    def library_defaults(self, task: str) -> dict[str, Any]:
        return _forest_defaults(task, self.n_features, bootstrap=True)

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        cls = RandomForestRegressor if task == Task.REGRESSION else RandomForestClassifier
        return cls(**params, random_state=random_state, n_jobs=n_jobs)


@register
class ExtraTrees(ModelFamily):
    """Extremely randomized trees (random split thresholds); NaN-aware splits."""

    name = "extra_trees"
    tasks = frozenset(TASKS)
    handles_missing = True
    feature_fractions = ("max_features",)

    def space(self, task: str) -> list[Param]:
        return _forest_space()

    def library_defaults(self, task: str) -> dict[str, Any]:
        return _forest_defaults(task, self.n_features, bootstrap=False)

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        cls = ExtraTreesRegressor if task == Task.REGRESSION else ExtraTreesClassifier
        return cls(**params, random_state=random_state, n_jobs=n_jobs)


@register
class AdaBoost(ModelFamily):
    """AdaBoost of shallow decision trees (AdaBoost.R2 with a searched loss for regression)."""

    name = "adaboost"
    tasks = frozenset(TASKS)

    def space(self, task: str) -> list[Param]:
        space: list[Param] = [
            IntParam("n_estimators", 25, 500, log=True, limits=POSITIVE_INT),
            FloatParam("learning_rate", 0.01, 2.0, log=True, limits=(0.0, None)),
            IntParam("max_depth", 1, 5, limits=POSITIVE_INT),
        ]
        if task == Task.REGRESSION:
            space.append(CategoricalParam("loss", ("linear", "square", "exponential")))
        return space

    def library_defaults(self, task: str) -> dict[str, Any]:
        if task == Task.REGRESSION:  # AdaBoostRegressor's trees are 3 deep, the classifier's are stumps
            return {"n_estimators": 50, "learning_rate": 1.0, "max_depth": 3, "loss": "linear"}
        return {"n_estimators": 50, "learning_rate": 1.0, "max_depth": 1}

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.ensemble import AdaBoostClassifier, AdaBoostRegressor
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        params = dict(params)
        max_depth = params.pop("max_depth")
        if task == Task.REGRESSION:
            return AdaBoostRegressor(DecisionTreeRegressor(max_depth=max_depth), **params, random_state=random_state)
        return AdaBoostClassifier(DecisionTreeClassifier(max_depth=max_depth), **params, random_state=random_state)


@register
class Bagging(ModelFamily):
    """Bagging of decision trees, each on a random subset of samples and of features; NaN-aware splits."""

    name = "bagging"
    tasks = frozenset(TASKS)
    handles_missing = True
    feature_fractions = ("max_features",)

    def space(self, task: str) -> list[Param]:
        return [
            IntParam("n_estimators", 10, 200, log=True, limits=POSITIVE_INT),
            FloatParam("max_samples", 0.2, 1.0, limits=FRACTION),
            FloatParam("max_features", 0.01, 0.5, log=True, limits=FRACTION),
            IntParam("max_depth", 2, 30, log=True, limits=POSITIVE_INT),
            CategoricalParam("bootstrap", (True, False)),
        ]

    def library_defaults(self, task: str) -> dict[str, Any]:
        return {"n_estimators": 10, "max_samples": 1.0, "max_features": 1.0, "max_depth": None, "bootstrap": True}

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.ensemble import BaggingClassifier, BaggingRegressor
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        params = dict(params)
        max_depth = params.pop("max_depth")
        if task == Task.REGRESSION:
            return BaggingRegressor(DecisionTreeRegressor(max_depth=max_depth), **params,
                                    random_state=random_state, n_jobs=n_jobs)
        return BaggingClassifier(DecisionTreeClassifier(max_depth=max_depth), **params,
                                 random_state=random_state, n_jobs=n_jobs)
