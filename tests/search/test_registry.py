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


# --- feature fractions fitted to the data width (#20) -------------------------------------------------------

FRACTION_FAMILIES = {"random_forest": "max_features", "extra_trees": "max_features", "bagging": "max_features",
                     "gradient_boosting": "max_features", "hist_gradient_boosting": "max_features",
                     "xgboost": "colsample_bytree", "lightgbm": "colsample_bytree", "catboost": "rsm"}


def _range(family: ModelFamily, name: str, task: str = "regression") -> tuple[float, float]:
    param = next(p for p in family.params(task) if p.name == name)
    return param.low, param.high


def test_tree_families_declare_their_feature_fractions() -> None:
    for name in family_names():
        family = get_family(name)
        declared = {p.name: p for t in family.tasks for p in family.space(t)}
        assert all(isinstance(declared.get(f), FloatParam) for f in family.feature_fractions), name
    assert {name: get_family(name).feature_fractions for name in FRACTION_FAMILIES} == {
        name: (param,) for name, param in FRACTION_FAMILIES.items()}


@pytest.mark.parametrize("width", [1, 10, 20, 300, 500])
@pytest.mark.parametrize("name", sorted(FRACTION_FAMILIES))
def test_narrow_tables_reach_one_feature_and_all_features(name: str, width: int) -> None:
    low, high = _range(get_family(name).with_width(width), FRACTION_FAMILIES[name])
    assert high == 1.0  # every feature per split (or tree) can be searched
    assert low * width >= 1.0 - 1e-9  # and never less than one feature
    assert low <= high


@pytest.mark.parametrize("width", [1000, 6000, 100_000])
@pytest.mark.parametrize("name", sorted(FRACTION_FAMILIES))
def test_wide_matrices_keep_the_declared_ranges(name: str, width: int) -> None:
    family = get_family(name)
    for task in sorted(family.tasks):
        assert family.with_width(width).params(task) == family.params(task)


def test_random_forest_ranges_by_width() -> None:
    forest = get_family("random_forest")
    assert _range(forest, "max_features") == (0.001, 0.5)  # declared (listings: no width)
    assert _range(forest.with_width(10), "max_features") == pytest.approx((0.1, 1.0))
    assert _range(forest.with_width(2000), "max_features") == pytest.approx((0.001, 0.5))
    assert _range(forest.with_width(100_000), "max_features") == (0.001, 0.5)
    # other parameters are not fractions of the features and keep their ranges
    assert _range(forest.with_width(10), "n_estimators") == (50, 500)


def test_a_study_files_range_is_used_as_given_and_the_width_survives_overrides() -> None:
    forest = get_family("random_forest")
    given = FloatParam("max_features", 0.2, 0.3)
    assert _range(forest.with_overrides({"max_features": given}).with_width(10), "max_features") == (0.2, 0.3)
    assert _range(forest.with_width(10).with_overrides({"max_features": given}), "max_features") == (0.2, 0.3)
    narrowed = forest.with_width(10).with_overrides({"n_estimators": replace_range(forest.space("binary")[0],
                                                                                   low=10, high=20)})
    assert _range(narrowed, "max_features") == pytest.approx((0.1, 1.0))
    assert forest.n_features is None  # with_width copies


def test_sampled_fractions_stay_in_the_fitted_range() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    family = get_family("xgboost").with_width(4)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    values = [family.suggest(study.ask(), "binary")["colsample_bytree"] for _ in range(50)]
    assert min(values) >= 0.25 and max(values) <= 1.0 and max(values) > 0.5
