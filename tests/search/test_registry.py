from __future__ import annotations

import optuna
import pytest

from genoml_search.errors import UserError
from genoml_search.search.registry import (
    CategoricalParam, FloatParam, ModelFamily, families_for, family_names, get_family, register, replace_range,
)

ALL = {"logistic", "elastic_net", "ridge_h2", "sgd", "lda", "qda", "knn", "svm", "mlp", "random_forest", "extra_trees",
       "adaboost", "bagging", "gradient_boosting", "hist_gradient_boosting", "xgboost", "catboost", "lightgbm", "lasso_path",
       "ridge_path"}


def test_every_family_is_registered() -> None:
    assert ALL <= set(family_names())


def test_tasks_per_family() -> None:
    classification_only = {"logistic", "lda", "qda"}
    assert {f.name for f in families_for("regression")} == ALL - classification_only
    assert {f.name for f in families_for("binary")} == ALL - {"elastic_net", "ridge_h2"}
    assert {f.name for f in families_for("multiclass")} == ALL - {"elastic_net", "ridge_h2", "ridge_path"}


def test_unknown_family_and_task_are_user_errors() -> None:
    with pytest.raises(UserError, match="unknown model family 'xgb'.*known families: adaboost, bagging"):
        get_family("xgb")
    with pytest.raises(UserError, match="unknown task 'survival'"):
        families_for("survival")


def test_suggest_uses_prefixed_names_and_conditions() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    svm = get_family("svm").with_overrides(
        {"kernel": CategoricalParam("kernel", ("linear",), allowed=("rbf", "linear", "poly"))})
    trial = study.ask()
    params = svm.suggest(trial, "binary")
    assert set(params) == {"kernel", "C"}  # gamma and degree are conditional on rbf/poly
    assert set(trial.params) == {"svm__kernel", "svm__C"}


def test_with_overrides_leaves_the_original_alone() -> None:
    forest = get_family("random_forest")
    narrow = forest.with_overrides({"n_estimators": replace_range(forest.space("binary")[0], low=10, high=20)})
    assert next(p for p in narrow.params("binary") if p.name == "n_estimators").high == 20
    assert next(p for p in forest.params("binary") if p.name == "n_estimators").high == 500
    assert narrow.describe("binary")["params"][0]["high"] == 20


def test_describe() -> None:
    record = get_family("svm").describe("regression")
    assert record["name"] == "svm" and record["tasks"] == ["binary", "regression", "multiclass"]
    assert record["needs_scaling"] is True and record["handles_missing"] is False
    assert {"name": "gamma", "type": "float", "low": 1e-6, "high": 0.1, "log": True,
            "when": {"kernel": ["rbf", "poly"]}} in record["params"]
    assert any(p["name"] == "epsilon" for p in record["params"])
    assert not any(p["name"] == "epsilon" for p in get_family("svm").describe("binary")["params"])


class _Dummy(ModelFamily):
    tasks = frozenset({"binary"})

    def space(self, task):
        return [FloatParam("c", 0.1, 1.0)]

    def build(self, params, task, random_state=0, n_jobs=1):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=params["c"])


@pytest.mark.parametrize(("name", "tasks", "message"), [
    ("Bad-Name", {"binary"}, "must be lowercase"),
    ("family", {"binary"}, "must be lowercase"),
    ("a__b", {"binary"}, "single underscores"),
    ("dummy", {"survival"}, "non-empty subset"),
    ("dummy", set(), "non-empty subset"),
])
def test_register_validates(clean_registry, name: str, tasks: set, message: str) -> None:
    cls = type("Custom", (_Dummy,), {"name": name, "tasks": tasks})
    with pytest.raises(UserError, match=message):
        register(cls)


def test_register_rejects_non_families() -> None:
    with pytest.raises(TypeError):
        register(int)  # type: ignore[arg-type]


def test_register_replaces_builtin(clean_registry) -> None:
    cls = register(type("MyLogistic", (_Dummy,), {"name": "logistic", "tasks": {"binary"}}))
    assert type(get_family("logistic")) is cls
    assert "logistic" not in {f.name for f in families_for("multiclass")}
