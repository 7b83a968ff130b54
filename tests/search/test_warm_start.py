"""Starting points: ridge-like first trials for the penalized linear families of a new study."""
from __future__ import annotations

import optuna
import pytest

from genoml_search.search.registry import CategoricalParam, FloatParam, get_family
from genoml_search.search.space import suggest_pipeline
from genoml_search.search.warm_start import RIDGE_H2, enqueue_starting_points, ridge_penalty, starting_points


def test_new_study_gets_ridge_like_first_trials():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize")
    families = [get_family("logistic"), get_family("random_forest")]
    assert enqueue_starting_points(study, families, "binary", snp_filter=True, n_snps=6000, n_train=1600) == 3
    seen = []
    for _ in range(3):
        trial = study.ask()
        family, params = suggest_pipeline(trial, families, "binary")
        assert family.name == "logistic" and params["l1_ratio"] == 0.0
        assert trial.suggest_float("snp_p_threshold", 1e-6, 1.0, log=True) == 1.0
        seen.append(params["C"])
    # the strong penalty LogisticRegressionCV and the in-pipeline CV pick on 2,000 x ~6,000 (C ~1e-4..3e-4)
    assert seen == sorted(seen, reverse=True) and 1e-4 <= seen[0] <= 1e-3 and seen[2] < 1e-4
    assert seen[0] / seen[1] == pytest.approx(3, rel=0.05) and seen[1] / seen[2] == pytest.approx(3, rel=0.05)


def test_penalties_follow_the_data_like_ridge_regression():
    """alpha = M (1 - h2) / (h2 n): RidgeCV picked ~5,600 / 2,000 samples at h2 0.5 on ~5,900 SNPs."""
    assert ridge_penalty(5900, 0.5) == pytest.approx(5900)
    points = starting_points("elastic_net", n_snps=5900, n_train=2000)
    assert [p["alpha"] for p in points] == pytest.approx([5900 * (1 - h2) / h2 / 2000 for h2 in RIDGE_H2], rel=0.02)
    assert points[0]["alpha"] == pytest.approx(2.95, rel=0.02)
    more_snps = starting_points("elastic_net", n_snps=59000, n_train=2000)
    assert more_snps[0]["alpha"] == pytest.approx(10 * points[0]["alpha"], rel=0.02)
    assert starting_points("random_forest", 5900, 2000) == []


@pytest.mark.parametrize("task,name", [("regression", "elastic_net"), ("binary", "logistic")])
def test_default_ranges_hold_the_points_up_to_100000_snps(task, name):
    family = get_family(name)
    ranges = {p.name: p for p in family.params(task)}
    for n_snps, n_train in ((500, 10_000), (6000, 1600), (100_000, 1600)):
        for point in starting_points(name, n_snps, n_train):
            for key, value in point.items():
                if key != "l1_ratio":
                    assert ranges[key].low <= value <= ranges[key].high, (n_snps, n_train, point)


def test_points_outside_narrowed_ranges_and_started_studies_are_left_alone():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    narrowed = get_family("elastic_net").with_overrides({"alpha": FloatParam("alpha", 10.0, 50.0, log=True)})
    study = optuna.create_study(direction="maximize")
    # alpha 2.2 (h2 0.5) lies outside 10..50 and is left out; alpha 20 (h2 0.1) is queued
    assert enqueue_starting_points(study, [narrowed], "regression", snp_filter=False, n_snps=4000, n_train=1600) == 1
    study.add_trial(optuna.trial.create_trial(value=0.5, params={}, distributions={}))
    assert enqueue_starting_points(study, [get_family("elastic_net")], "regression", snp_filter=False,
                                   n_snps=4000, n_train=1600) == 0


def test_ridge_h2_is_queued_once_on_all_snps():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize")
    families = [get_family("ridge_h2"), get_family("random_forest")]
    assert enqueue_starting_points(study, families, "regression", snp_filter=True, n_snps=6000, n_train=1600) == 1
    trial = study.ask()
    family, params = suggest_pipeline(trial, families, "regression")
    assert family.name == "ridge_h2" and params == {}
    assert trial.suggest_float("snp_p_threshold", 1e-6, 1.0, log=True) == 1.0


def test_elastic_net_points_give_way_to_ridge_h2():
    """With ridge_h2 searched, the elastic net's three ridge penalties are not queued to compete with it."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    both = [get_family("ridge_h2"), get_family("elastic_net")]
    study = optuna.create_study(direction="maximize")
    assert enqueue_starting_points(study, both, "regression", snp_filter=True, n_snps=6000, n_train=1600) == 1
    assert [t.system_attrs["fixed_params"]["family"] for t in study.trials] == ["ridge_h2"]
    alone = optuna.create_study(direction="maximize")
    assert enqueue_starting_points(alone, both[1:], "regression", snp_filter=True, n_snps=6000, n_train=1600) == 3


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_the_lasso_path_trial_comes_first_without_an_snp_filter(task):
    """One lasso path (l1_ratio 1) is queued before any other starting point; it has no snp_p_threshold."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize")
    linear = get_family("logistic" if task != "regression" else "elastic_net")
    families = [linear, get_family("lasso_path")]
    assert enqueue_starting_points(study, families, task, snp_filter=True, n_snps=6000, n_train=1600) == 4
    trial = study.ask()
    family, params = suggest_pipeline(trial, families, task)
    assert family.name == "lasso_path" and params == {"l1_ratio": 1.0}
    assert "snp_p_threshold" not in study.get_trials(deepcopy=False)[0].system_attrs.get("fixed_params", {})


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_the_ridge_path_replaces_the_float_ridge_points(task):
    """With ridge_path searched, lasso_path then ridge_path are queued and no float-copy ridge point competes."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    names = ["lasso_path", "ridge_path", "logistic" if task == "binary" else "elastic_net", "random_forest"]
    if task == "regression":
        names.append("ridge_h2")
    families = [get_family(name) for name in names]
    study = optuna.create_study(direction="maximize")
    assert enqueue_starting_points(study, families, task, snp_filter=True, n_snps=6000, n_train=1600) == 2
    assert [t.system_attrs["fixed_params"]["family"] for t in study.trials] == ["lasso_path", "ridge_path"]
    without = optuna.create_study(direction="maximize")
    assert enqueue_starting_points(without, [f for f in families if f.name != "ridge_path"], task,
                                   snp_filter=True, n_snps=6000, n_train=1600) > 1


# --- library defaults first on datasets of feature tables alone (#20) --------------------------------------

def _queued(study: optuna.Study) -> list[dict]:
    return [t.system_attrs["fixed_params"] for t in study.get_trials(deepcopy=False)
            if t.state == optuna.trial.TrialState.WAITING]


def test_table_only_datasets_get_the_tree_families_library_defaults_first():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    families = [get_family(name).with_width(10) for name in ("logistic", "random_forest", "xgboost")]
    study = optuna.create_study(direction="maximize")
    queued = enqueue_starting_points(study, families, "binary", snp_filter=True, n_snps=0, n_train=800,
                                     tables_only=True)
    points = _queued(study)
    assert queued == len(points) == 2 + len(RIDGE_H2)
    assert [p["family"] for p in points[:2]] == ["random_forest", "xgboost"]
    forest, xgb = points[0], points[1]
    assert forest["random_forest__n_estimators"] == 100 and forest["random_forest__bootstrap"] is True
    assert forest["random_forest__max_depth"] == 30  # None (unlimited): the deepest searched
    assert forest["random_forest__max_features"] == pytest.approx(10 ** -0.5)  # "sqrt" for classification
    assert xgb["xgboost__learning_rate"] == 0.3 and xgb["xgboost__max_depth"] == 6
    assert xgb["xgboost__colsample_bytree"] == 1.0 and xgb["xgboost__reg_alpha"] == 1e-3  # 0 moved into range
    assert all(p["snp_p_threshold"] == 1.0 for p in points)
    trial = study.ask()  # the queued point is what the sampler hands out, inside the fitted ranges
    family, params = suggest_pipeline(trial, families, "binary")
    assert family.name == "random_forest" and params["max_features"] == pytest.approx(10 ** -0.5)


def test_regression_forests_start_from_all_features():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize")
    forest = get_family("random_forest").with_width(20)
    enqueue_starting_points(study, [forest], "regression", snp_filter=False, n_snps=0, n_train=800, tables_only=True)
    (point,) = _queued(study)
    assert point["random_forest__max_features"] == 1.0 and "snp_p_threshold" not in point


def test_genotype_datasets_get_no_library_defaults():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    families = [get_family(name) for name in ("logistic", "random_forest", "xgboost")]
    study = optuna.create_study(direction="maximize")
    assert enqueue_starting_points(study, families, "binary", snp_filter=True, n_snps=6000, n_train=1600) == 3
    assert {p["family"] for p in _queued(study)} == {"logistic"}


def test_defaults_are_moved_into_a_narrowed_range():
    from genoml_search.search.registry import IntParam
    from genoml_search.search.warm_start import default_points

    narrowed = get_family("random_forest").with_width(10).with_overrides(
        {"n_estimators": IntParam("n_estimators", 200, 300), "bootstrap": CategoricalParam("bootstrap", (False,))})
    assert default_points([narrowed], "regression") == []  # bootstrap=True is no choice any more
    kept = get_family("lightgbm").with_overrides({"n_estimators": IntParam("n_estimators", 200, 300)})
    ((family, point),) = default_points([kept, get_family("logistic")], "binary")
    assert family.name == "lightgbm" and point["n_estimators"] == 200 and point["num_leaves"] == 31


def test_path_families_start_on_every_snp_and_the_others_on_the_default_mask():
    """A penalized path handles LD itself: its first trial uses all QC'd SNPs (``ld_r2`` none)."""
    from genoml_search.search.warm_start import PATH_START_MASK

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    families = [get_family(name) for name in ("elastic_net", "lasso_path", "ridge_path")]
    study = optuna.create_study(direction="maximize")
    queued = enqueue_starting_points(study, families, "regression", snp_filter=True, n_snps=6000, n_train=1600,
                                     extra={"ld_r2": "0.9"}, path_extra={"ld_r2": PATH_START_MASK})
    masks = {p["family"]: p["ld_r2"] for p in _queued(study)}
    assert queued == 2 and masks == {"lasso_path": "none", "ridge_path": "none"}
    alone = optuna.create_study(direction="maximize")  # without ridge_path the elastic net's points come back
    enqueue_starting_points(alone, families[:2], "regression", snp_filter=True, n_snps=6000, n_train=1600,
                            extra={"ld_r2": "0.9"}, path_extra={"ld_r2": PATH_START_MASK})
    masks_by_family = [(p["family"], p["ld_r2"]) for p in _queued(alone)]
    assert masks_by_family[0] == ("lasso_path", "none")
    assert {mask for family, mask in masks_by_family[1:]} == {"0.9"} and len(masks_by_family) == 1 + len(RIDGE_H2)
