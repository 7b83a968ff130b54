"""The run's leaderboard: best trial per family, per-fold scores, partial scores, validation of the top K."""
from __future__ import annotations

import json

import optuna
import pytest

from genoml_search.search.study_summary import leaderboard


def test_metrics_leaderboard_records(binary_run):
    metrics = json.loads((binary_run / "metrics.json").read_text())
    board = metrics["leaderboard"]
    assert len(board) == 1
    top = board[0]
    assert top["family"] == "logistic" and top["trial"] == metrics["cv"]["best_trial"]
    assert top["value"] == pytest.approx(metrics["cv"]["roc_auc"])
    assert len(top["fold_scores"]) == 3 and top["n_pruned"] == 1 and top["n_complete"] >= 1
    assert top["validation"] == pytest.approx(metrics["validation"]["roc_auc"])  # the final model's own score
    assert top["partial"] is False and top["seconds"] > 0


def test_family_with_only_pruned_trials_shows_its_best_partial_score():
    study = optuna.create_study(direction="maximize")
    for value, folds in ((0.7, [0.7, 0.7, 0.7]), (0.8, [0.8, 0.8, 0.8])):
        study.add_trial(optuna.trial.create_trial(params={"family": "logistic"}, value=value,
                                                  distributions={"family": optuna.distributions.CategoricalDistribution(["logistic", "xgboost"])},
                                                  user_attrs={"fold_scores": folds, "seconds": 1.0}))
    for folds in ([0.55], [0.6, 0.64]):
        study.add_trial(optuna.trial.create_trial(
            params={"family": "xgboost"}, state=optuna.trial.TrialState.PRUNED,
            distributions={"family": optuna.distributions.CategoricalDistribution(["logistic", "xgboost"])},
            user_attrs={"fold_scores": folds, "seconds": 2.0}))
    study.enqueue_trial({"family": "xgboost"})  # queued, not finished: not a leaderboard row
    board = leaderboard(study)
    assert list(board["family"]) == ["logistic", "xgboost"]
    xgb = board.iloc[1]
    assert bool(xgb["partial"]) and xgb["cv_mean"] == pytest.approx(0.62) and xgb["n_folds"] == 2
    assert xgb["n_pruned"] == 2 and xgb["n_complete"] == 0 and xgb["seconds"] == pytest.approx(4.0)
    assert board.iloc[0]["cv_mean"] == pytest.approx(0.8) and board.iloc[0]["fold_scores"] == [0.8, 0.8, 0.8]
