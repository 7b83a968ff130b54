"""The final model's trial: the best by CV unless a reference model (lasso / ridge path on all SNPs) is within
one standard error of it per fold."""
from __future__ import annotations

import numpy as np
import optuna
import pytest

from genoml_search.search.final_choice import REFERENCE_ATTR, choose_final_trial, paired_gain


def _study(trials: list[tuple[list[float], bool]], direction: str = "maximize") -> optuna.Study:
    """One complete trial per (fold scores, is a reference model), numbered in order."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction=direction)
    for folds, reference in trials:
        study.add_trial(optuna.trial.create_trial(
            value=float(np.mean(folds)), params={}, distributions={},
            user_attrs={"fold_scores": folds, **({REFERENCE_ATTR: True} if reference else {})}))
    return study


REFERENCE = [0.0460, 0.0540, 0.0400, 0.0550, 0.0450]


def test_a_best_trial_within_one_standard_error_of_the_reference_gives_way_to_it():
    noisy = [r + d for r, d in zip(REFERENCE, [0.004, -0.003, 0.003, -0.002, 0.0012])]  # 0.0006 above, +-0.003
    study = _study([(REFERENCE, True), (noisy, False)])
    choice = choose_final_trial(study)
    assert study.best_trial.number == 1 and choice.trial.number == 0 and choice.best.number == 1
    assert 0 < choice.gain <= choice.se and "within one standard error" in choice.reason
    record = choice.record()
    assert record["trial"] == 0 and record["best_cv_trial"] == 1 and record["rule"] == "reference"
    assert choose_final_trial(study, "best").trial.number == 1  # the plain maximum on request


def test_a_best_trial_better_on_every_fold_is_kept():
    steady = [s + 0.002 for s in REFERENCE]
    choice = choose_final_trial(_study([(REFERENCE, True), (steady, False)]))
    assert choice.trial.number == 1 and choice.gain == pytest.approx(0.002) and choice.se == pytest.approx(0, abs=1e-12)
    assert "beats one standard error" in choice.reason


def test_without_reference_trials_or_when_a_reference_is_best_nothing_changes():
    assert choose_final_trial(_study([(REFERENCE, False), ([0.05] * 5, False)])).trial.number == 1
    choice = choose_final_trial(_study([([0.05] * 5, True), (REFERENCE, False)]))
    assert choice.trial.number == 0 and choice.gain is None and choice.reason == "the best trial by CV"


def test_the_best_of_several_references_and_lower_is_better_metrics():
    rmse = [1.00, 1.10, 0.90, 1.05, 0.95]
    study = _study([([r + 0.2 for r in rmse], True), (rmse, True), ([r - 0.004 + 0.01 * (-1) ** i for i, r in
                                                                     enumerate(rmse)], False)], "minimize")
    choice = choose_final_trial(study)
    assert choice.best.number == 2 and choice.trial.number == 1  # the better reference; trial 2 within noise
    assert paired_gain([1.0, 2.0], [1.5, 2.5], sign=-1.0) == (0.5, 0.0)


def test_a_study_without_complete_trials_is_an_error():
    with pytest.raises(ValueError, match="no complete trial"):
        choose_final_trial(optuna.create_study())
