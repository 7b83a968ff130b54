"""Starting points: ridge-like first trials for the penalized linear families of a new study."""
from __future__ import annotations

import optuna

from genoml_search.search.registry import FloatParam, get_family
from genoml_search.search.space import suggest_pipeline
from genoml_search.search.warm_start import enqueue_starting_points


def test_new_study_gets_ridge_like_first_trials():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize")
    families = [get_family("logistic"), get_family("random_forest")]
    assert enqueue_starting_points(study, families, "binary", snp_filter=True) == 1
    trial = study.ask()
    family, params = suggest_pipeline(trial, families, "binary")
    assert family.name == "logistic" and params == {"C": 0.02, "l1_ratio": 0.0}
    assert trial.suggest_float("snp_p_threshold", 1e-6, 1.0, log=True) == 1.0


def test_points_outside_narrowed_ranges_and_started_studies_are_left_alone():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    narrowed = get_family("elastic_net").with_overrides({"alpha": FloatParam("alpha", 10.0, 50.0, log=True)})
    study = optuna.create_study(direction="maximize")
    assert enqueue_starting_points(study, [narrowed], "regression", snp_filter=False) == 0
    study.add_trial(optuna.trial.create_trial(value=0.5, params={}, distributions={}))
    assert enqueue_starting_points(study, [get_family("elastic_net")], "regression", snp_filter=False) == 0
