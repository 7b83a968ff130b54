"""Gradient boosting: scikit-learn (exact and histogram), XGBoost, LightGBM, CatBoost.

Tree counts are bounded and, for scikit-learn's exact gradient boosting, early stopping on 10 % of the
training part ends a trial when it stops improving. Feature fractions (``max_features``, ``colsample_bytree``,
``rsm``) are fitted to the data width (:func:`~genoml_search.search.registry.fit_fraction_to_width`), and each
family names its library's defaults (:meth:`~genoml_search.search.registry.ModelFamily.library_defaults`).
"""
from __future__ import annotations

from typing import Any

from genoml_search.search.registry import TASKS, FloatParam, IntParam, ModelFamily, Param, Task, register

FRACTION = (0.0, 1.0)
POSITIVE = (0.0, None)
POSITIVE_INT = (1, None)


@register
class GradientBoosting(ModelFamily):
    """scikit-learn's exact gradient boosting, with early stopping."""

    name = "gradient_boosting"
    tasks = frozenset(TASKS)
    feature_fractions = ("max_features",)

    def space(self, task: str) -> list[Param]:
        return [
            IntParam("n_estimators", 50, 500, log=True, limits=POSITIVE_INT),
            FloatParam("learning_rate", 0.01, 0.3, log=True, limits=POSITIVE),
            IntParam("max_depth", 1, 6, limits=POSITIVE_INT),
            FloatParam("subsample", 0.5, 1.0, limits=FRACTION),
            FloatParam("max_features", 0.01, 1.0, log=True, limits=FRACTION),
            IntParam("min_samples_leaf", 1, 50, log=True, limits=POSITIVE_INT),
        ]

    def library_defaults(self, task: str) -> dict[str, Any]:
        return {"n_estimators": 100, "learning_rate": 0.1, "max_depth": 3, "subsample": 1.0, "max_features": 1.0,
                "min_samples_leaf": 1}

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

        cls = GradientBoostingRegressor if task == Task.REGRESSION else GradientBoostingClassifier
        return cls(**params, n_iter_no_change=10, validation_fraction=0.1, random_state=random_state)


@register
class HistGradientBoosting(ModelFamily):
    """scikit-learn's histogram gradient boosting (native missing-value support)."""

    name = "hist_gradient_boosting"
    tasks = frozenset(TASKS)
    handles_missing = True
    feature_fractions = ("max_features",)

    def space(self, task: str) -> list[Param]:
        return [
            FloatParam("learning_rate", 0.01, 0.3, log=True, limits=POSITIVE),
            IntParam("max_iter", 50, 500, log=True, limits=POSITIVE_INT),
            IntParam("max_leaf_nodes", 4, 64, log=True, limits=(2, None)),
            IntParam("min_samples_leaf", 5, 100, log=True, limits=POSITIVE_INT),
            FloatParam("l2_regularization", 1e-4, 10.0, log=True, limits=(0.0, None)),
            FloatParam("max_features", 0.05, 1.0, log=True, limits=FRACTION),
        ]

    def library_defaults(self, task: str) -> dict[str, Any]:
        return {"learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 31, "min_samples_leaf": 20,
                "l2_regularization": 0.0, "max_features": 1.0}

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingRegressor if task == Task.REGRESSION else HistGradientBoostingClassifier
        return cls(**params, early_stopping=False, random_state=random_state)


@register
class XGBoost(ModelFamily):
    """XGBoost with the histogram tree method."""

    name = "xgboost"
    tasks = frozenset(TASKS)
    handles_missing = True
    feature_fractions = ("colsample_bytree",)

    def space(self, task: str) -> list[Param]:
        return [
            IntParam("n_estimators", 50, 1000, log=True, limits=POSITIVE_INT),
            FloatParam("learning_rate", 0.005, 0.3, log=True, limits=POSITIVE),
            IntParam("max_depth", 1, 10, limits=POSITIVE_INT),
            FloatParam("subsample", 0.5, 1.0, limits=FRACTION),
            FloatParam("colsample_bytree", 0.1, 1.0, limits=FRACTION),
            FloatParam("min_child_weight", 0.1, 20.0, log=True, limits=(0.0, None)),
            FloatParam("reg_lambda", 1e-3, 10.0, log=True, limits=(0.0, None)),
            FloatParam("reg_alpha", 1e-3, 10.0, log=True, limits=(0.0, None)),
        ]

    def library_defaults(self, task: str) -> dict[str, Any]:
        return {"n_estimators": 100, "learning_rate": 0.3, "max_depth": 6, "subsample": 1.0, "colsample_bytree": 1.0,
                "min_child_weight": 1.0, "reg_lambda": 1.0, "reg_alpha": 0.0}

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        import xgboost

        cls = xgboost.XGBRegressor if task == Task.REGRESSION else xgboost.XGBClassifier
        return cls(**params, tree_method="hist", random_state=random_state, n_jobs=n_jobs, verbosity=0)


@register
class LightGBM(ModelFamily):
    """LightGBM (leaf-wise trees), column-wise histograms and deterministic mode."""

    name = "lightgbm"
    tasks = frozenset(TASKS)
    handles_missing = True
    feature_fractions = ("colsample_bytree",)

    def space(self, task: str) -> list[Param]:
        return [
            IntParam("n_estimators", 50, 1000, log=True, limits=POSITIVE_INT),
            FloatParam("learning_rate", 0.005, 0.3, log=True, limits=POSITIVE),
            IntParam("num_leaves", 4, 128, log=True, limits=(2, None)),
            IntParam("min_child_samples", 5, 100, log=True, limits=POSITIVE_INT),
            FloatParam("subsample", 0.5, 1.0, limits=FRACTION),
            FloatParam("colsample_bytree", 0.05, 1.0, log=True, limits=FRACTION),
            FloatParam("reg_lambda", 1e-3, 10.0, log=True, limits=(0.0, None)),
            FloatParam("reg_alpha", 1e-3, 10.0, log=True, limits=(0.0, None)),
        ]

    def library_defaults(self, task: str) -> dict[str, Any]:
        return {"n_estimators": 100, "learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20,
                "subsample": 1.0, "colsample_bytree": 1.0, "reg_lambda": 0.0, "reg_alpha": 0.0}

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        import lightgbm

        cls = lightgbm.LGBMRegressor if task == Task.REGRESSION else lightgbm.LGBMClassifier
        return cls(
            **params, subsample_freq=1, random_state=random_state, n_jobs=n_jobs, verbose=-1,
            deterministic=True, force_col_wise=True,
        )


@register
class CatBoost(ModelFamily):
    """CatBoost (symmetric trees); writes no files, prints nothing."""

    name = "catboost"
    tasks = frozenset(TASKS)
    handles_missing = True
    feature_fractions = ("rsm",)

    def space(self, task: str) -> list[Param]:
        return [
            IntParam("iterations", 50, 1000, log=True, limits=POSITIVE_INT),
            FloatParam("learning_rate", 0.01, 0.3, log=True, limits=POSITIVE),
            IntParam("depth", 2, 8, limits=(1, 16)),
            FloatParam("l2_leaf_reg", 1.0, 30.0, log=True, limits=(0.0, None)),
            FloatParam("rsm", 0.05, 1.0, log=True, limits=FRACTION),
            FloatParam("random_strength", 0.1, 10.0, log=True, limits=(0.0, None)),
        ]

    def library_defaults(self, task: str) -> dict[str, Any]:
        # CatBoost picks its learning rate from the data size (~0.03 for 1,000 iterations on thousands of rows)
        return {"iterations": 1000, "learning_rate": 0.03, "depth": 6, "l2_leaf_reg": 3.0, "rsm": 1.0,
                "random_strength": 1.0}

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        import catboost

        options = dict(params, random_seed=random_state, thread_count=n_jobs, allow_writing_files=False, verbose=0)
        if task == Task.REGRESSION:
            return catboost.CatBoostRegressor(**options)
        loss = "MultiClass" if task == Task.MULTICLASS else "Logloss"
        return catboost.CatBoostClassifier(**options, loss_function=loss)
