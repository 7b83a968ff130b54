"""Leaderboard, trial table and parameter importances from a study with known trials."""
from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from genoml_search.search.study_summary import leaderboard, parameter_importances, trials_frame

FAMILY = CategoricalDistribution(["a", "b"])
P = FloatDistribution(1e-6, 1.0, log=True)
X = FloatDistribution(0.0, 1.0)


def _study(direction="maximize", n=24, seed=0):
    rng = np.random.default_rng(seed)
    study = optuna.create_study(direction=direction)
    for i in range(n):
        family = "a" if i % 3 else "b"
        x = float(rng.random())
        params = {"family": family, "snp_p_threshold": float(10 ** -rng.uniform(0, 6)), f"{family}__x": x}
        dists = {"family": FAMILY, "snp_p_threshold": P, f"{family}__x": X}
        state = TrialState.PRUNED if i == 5 else TrialState.FAIL if i == 7 else TrialState.COMPLETE
        value = (0.5 + 0.4 * x if family == "a" else 0.6) if state == TrialState.COMPLETE else None
        folds = [value - 0.01, value + 0.01] if value is not None else []
        study.add_trial(create_trial(state=state, value=value, params=params, distributions=dists,
                                     user_attrs={"fold_scores": folds, "seconds": 2.0}))
    return study


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_leaderboard_best_per_family_counts_and_time(direction):
    study = _study(direction)
    board = leaderboard(study)
    values = [t.value for t in study.trials if t.state == TrialState.COMPLETE and t.params["family"] == "a"]
    best_a = max(values) if direction == "maximize" else min(values)
    row = board.set_index("family").loc["a"]
    assert row["cv_mean"] == pytest.approx(best_a)
    assert row["cv_std"] == pytest.approx(0.01)
    assert row["n_pruned"] == 1 and row["n_fail"] == 1 and row["n_complete"] == 14
    assert row["seconds"] == pytest.approx(2.0 * 16)
    order = board["cv_mean"].tolist()
    assert order == sorted(order, reverse=direction == "maximize")
    assert len(trials_frame(study)) == 24


def test_parameter_importances_over_all_trials_and_within_the_best_family():
    study = _study()
    imp = parameter_importances(study, "a")
    scopes = dict(tuple(g) for g in imp.groupby("scope")["parameter"].apply(list).items())
    assert set(scopes["all trials"]) == {"family", "snp_p_threshold"}
    assert set(scopes["a trials"]) == {"a__x", "snp_p_threshold"}
    within = imp[imp["scope"] == "a trials"].set_index("parameter")["importance"]
    assert within["a__x"] > within["snp_p_threshold"]  # the value depends on a__x only


def test_importances_empty_for_too_few_trials():
    assert parameter_importances(_study(n=2), "a").empty


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_status_summary_agrees_with_the_leaderboard(direction):
    from genoml_search.search.study import best_per_family

    study = _study(direction)
    study.add_trial(create_trial(state=TrialState.FAIL, params={"family": "a"}, distributions={"family": FAMILY},
                                 user_attrs={"surplus": True}))
    rows = best_per_family(study)
    board = leaderboard(study).set_index("family")
    assert [r["family"] for r in rows] == list(board.index)
    for row in rows:
        assert row["trial"] == board.loc[row["family"], "best_trial"]
        assert row["value"] == pytest.approx(board.loc[row["family"], "cv_mean"])
        assert row["n_complete"] == board.loc[row["family"], "n_complete"]
    assert board.loc["a", "n_fail"] == 1  # the surplus trial (FAIL) is not counted
