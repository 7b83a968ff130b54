"""An ensemble's CV gain projected to the refit on all samples from its members' multi-fidelity learning curves."""
from __future__ import annotations

import math

import numpy as np
import optuna
import pytest

from genoml_search.core.metrics import get_metric
from genoml_search.ensemble.build import Candidates, _decide, choose_ensemble
from genoml_search.ensemble.nested import CVEstimate
from genoml_search.ensemble.refit_size import project_refit, refit_gain, rung_curve

RUNGS = [1111, 3333, 10000]


def _trial(number: int, rung_scores: list[float], per_rung: int = 5, last_rung: int = 2) -> optuna.trial.FrozenTrial:
    """A complete trial with the CV score ``rung_scores[r]`` at the last step of rung r (the trial's value is the
    last one), like a multi-fidelity trial promoted to all samples."""
    steps = {}
    for rung, score in enumerate(rung_scores):
        for fold in range(per_rung):
            steps[rung * per_rung + fold] = score - 0.01 * (per_rung - 1 - fold)  # running means end at the score
    trial = optuna.trial.create_trial(value=rung_scores[-1], params={}, distributions={}, intermediate_values=steps,
                                      user_attrs={"family": "f", "fidelity": {"rung": last_rung, "n_samples": RUNGS[-1],
                                                                            "rungs": RUNGS}})
    trial.number = number
    return trial


def test_the_rung_curve_reads_each_rungs_cv_score():
    trial = _trial(0, [0.014, 0.047, 0.1855])
    assert rung_curve(trial, 5) == [(1111, 0.014), (3333, 0.047), (10000, 0.1855)]
    plain = optuna.trial.create_trial(value=0.2, params={}, distributions={})
    assert rung_curve(plain, 5) == []
    pruned_below = _trial(1, [0.01, 0.02], last_rung=1)  # not promoted to all samples: no curve to the refit
    assert rung_curve(pruned_below, 5) == []


def _parabola_step(sizes: list[int], scores: list[float], step: float) -> float:
    """Lagrange interpolation through three points, evaluated ``step`` past the last one, minus the last."""
    x = [math.log(n) for n in sizes]
    at = x[-1] + step
    value = sum(scores[i] * math.prod((at - x[j]) / (x[i] - x[j]) for j in range(3) if j != i) for i in range(3))
    return value - scores[-1]


def test_the_refit_gain_follows_the_parabola_through_the_rungs_over_the_step_to_all_samples():
    scores = [0.014, 0.047, 0.1855]
    trial = _trial(0, scores)
    expected = _parabola_step(RUNGS, scores, math.log(5 / 4))
    assert refit_gain(trial, 5, 1, 1.0) == pytest.approx(expected)
    assert expected > (0.1855 - 0.047) / math.log(10000 / 3333) * math.log(5 / 4) + 0.01  # convex: above the line
    ten_folds = _trial(0, scores, per_rung=10)
    assert refit_gain(ten_folds, 10, 1, 1.0) == pytest.approx(_parabola_step(RUNGS, scores, math.log(10 / 9)))
    assert refit_gain(trial, 5, 1, -1.0) == pytest.approx(-expected)  # lower is better: a rising score is a loss
    two_rungs = _trial(0, [0.047, 0.1855])
    two_rungs.user_attrs["fidelity"] = {"rung": 1, "n_samples": 10000, "rungs": [3333, 10000]}
    assert refit_gain(two_rungs, 5, 1, 1.0) == pytest.approx(
        (0.1855 - 0.047) / math.log(10000 / 3333) * math.log(5 / 4))  # a line through two rungs
    assert refit_gain(optuna.trial.create_trial(value=0.2, params={}, distributions={}), 5, 1, 1.0) is None


def test_a_slow_learning_member_makes_the_ensembles_gain_drift_away():
    """The measured curves of the 10,000-sample polygenic cohort: the lasso is projected to gain ~0.041 R2 from
    the refit, the ridge ~0.013, so an ensemble with 0.18 on the ridge loses ~0.005 of its advantage."""
    lasso, ridge = _trial(0, [0.014, 0.047, 0.1855]), _trial(1, [0.035, 0.068, 0.1204])
    projection = project_refit([lasso, ridge], [0.82, 0.18], lasso, 5, 1, 1.0)
    gains = projection.member_gains
    assert projection.drift == pytest.approx(0.18 * (gains[0] - gains[1]))
    assert 0.038 < gains[0] < 0.044 and 0.011 < gains[1] < 0.015 and projection.drift > 0.0045
    assert project_refit([ridge, lasso], [0.6, 0.4], ridge, 5, 1, 1.0).drift < 0  # the faster learner is not the best
    plain = optuna.trial.create_trial(value=0.1, params={}, distributions={})
    plain.number = 7
    unknown = project_refit([lasso, plain], [0.8, 0.2], lasso, 5, 1, 1.0)
    assert unknown.drift is None and "7" in unknown.note
    assert project_refit([lasso, ridge], None, lasso, 5, 1, 1.0).drift is None  # stacking: no weights


def test_the_rule_takes_a_positive_drift_from_the_gain_and_ignores_a_negative_one():
    r2 = get_metric("r2", "regression")
    single = [0.180, 0.185, 0.190, 0.183, 0.189]
    ensemble = CVEstimate([s + 0.0032 + 0.0004 * (-1) ** i for i, s in enumerate(single)])
    chosen, reason = _decide(ensemble, float(np.mean(single)), single, r2, 2, "greedy")
    assert chosen
    chosen, reason = _decide(ensemble, float(np.mean(single)), single, r2, 2, "greedy", drift=0.0031)
    assert not chosen and "refit on all samples" in reason and "0.0031" in reason
    assert _decide(ensemble, float(np.mean(single)), single, r2, 2, "greedy", drift=-0.01)[0]
    assert _decide(ensemble, float(np.mean(single)), single, r2, 2, "greedy", rule="always", drift=0.01)[0]


def test_choose_ensemble_projects_the_members_curves_and_records_them():
    """Two members whose OOF blend beats the best one on CV, but the best one learns much faster: the choice
    keeps the single trial and says why; the same OOF predictions without rungs keep the ensemble."""
    rng = np.random.default_rng(0)
    n = 600
    signal_a, signal_b = rng.normal(size=n), rng.normal(size=n)
    y = signal_a + signal_b + rng.normal(size=n)
    oof = np.stack([signal_a + 0.6 * signal_b, 0.6 * signal_a + signal_b])[:, None, :]  # each misses a part
    folds = (np.arange(n) % 5)[None].astype(np.int8)
    r2 = get_metric("r2", "regression")
    values = [float(r2.compute(y, oof[i, 0])) for i in range(2)]

    def choice(with_rungs: bool):
        if with_rungs:
            fast, slow = _trial(0, [0.05, 0.2, values[0]]), _trial(1, [values[1] - 0.01] * 2 + [values[1]])
        else:
            fast = optuna.trial.create_trial(value=values[0], params={}, distributions={})
            slow = optuna.trial.create_trial(value=values[1], params={}, distributions={})
            fast.number, slow.number = 0, 1
        order = np.argsort(values)[::-1]
        trials = [[fast, slow][i] for i in order]
        return choose_ensemble(Candidates(trials, oof[order], folds), y, "regression", r2, "greedy")

    plain = choice(False)
    assert plain.chosen and plain.refit.drift is None
    projected = choice(True)
    record = projected.record("r2")
    assert record["refit_projection"]["drift"] > 0 and len(record["refit_projection"]["members"]) == 2
    assert not projected.chosen and "refit on all samples" in projected.reason
