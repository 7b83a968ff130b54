"""What an ensemble's CV gain is worth at the refit on all search samples, from the members' learning curves.

The ensemble's weights are chosen on out-of-fold predictions of fold models trained on (K-1)/K of the search
samples, but its members are refitted on all of them. Members that learn at different rates do not gain the
same from that last fold: on polygenic continuous traits of 10,000 samples a lasso path trial gained 0.045 R2
and a ridge trial 0.013 from 8,000 to 10,000 samples, so weights that were best at 4/5 of the samples put too much on the ridge, and a
lasso+ridge ensemble that won nested CV by 0.003 lost to the lasso on the validation cohort
(benchmarks/results/ensemble_refit.json).

With multi-fidelity (:mod:`genoml_search.search.fidelity`) every promoted trial has CV scores on nested
subsamples (rungs of 1/9, 1/3 and all search samples): its learning curve. A member's gain from the refit is
the change of the curve through its rungs (a parabola in log training samples through three rungs, a line
through two) over the step from (K-1)/K to all samples. The parabola is the measured choice: on that cohort
the fold models (8,000 samples) and the refits (10,000) scored on the validation cohort gained 0.045 (lasso)
and 0.013 (ridge); the parabola through the rungs' CV scores predicted 0.041 and 0.013, the line through the
last two 0.028 and 0.011 (the lasso's curve is convex there). For weights w (summing to 1) on members m, with
the best single trial b, the ensemble's advantage over b is expected to shrink at the refit by

    drift = sum_m w_m (gain_b - gain_m)

(to first order: the ensemble's error moves by the weighted average of its members' moves). The ensemble rule
(:func:`genoml_search.ensemble.build._decide`) subtracts a positive drift from the nested per-fold gain; a
negative one (the other members learn faster) is not added: the rule leans toward the single trial.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna

from genoml_search.search.fidelity import Fidelity


@dataclass(frozen=True)
class RefitProjection:
    """The expected change of the ensemble's advantage at the refit (``drift``, in the metric's "better"
    direction; None when a member has no learning curve) and each member's projected refit gain."""

    drift: float | None
    member_gains: dict[int, float | None] = field(default_factory=dict)
    note: str = ""

    def record(self) -> dict[str, Any]:
        """``metrics.json``'s ``cv.ensemble.refit_projection``."""
        return {"drift": self.drift, "note": self.note,
                "members": [{"trial": number, "refit_gain": gain} for number, gain in self.member_gains.items()]}


def rung_curve(trial: optuna.trial.FrozenTrial, per_rung: int) -> list[tuple[int, float]]:
    """The trial's ``(search samples, CV score)`` at every rung it completed, smallest first (the last one is
    its value); empty without multi-fidelity rungs."""
    fidelity = trial.user_attrs.get("fidelity") or {}
    sizes = fidelity.get("rungs") or []
    if len(sizes) < 2 or trial.value is None or fidelity.get("rung") != len(sizes) - 1:
        return []
    rungs = Fidelity(tuple(sizes))
    curve = []
    for rung, size in enumerate(sizes[:-1]):
        score = trial.intermediate_values.get(rungs.rung_step(rung, per_rung))
        if score is not None and math.isfinite(score):
            curve.append((int(size), float(score)))
    return curve + [(int(sizes[-1]), float(trial.value))]


def refit_gain(trial: optuna.trial.FrozenTrial, n_folds: int, n_repeats: int, sign: float) -> float | None:
    """The trial's expected CV-score gain (``sign``: +1 when higher is better) from fold models on
    (K-1)/K of the search samples to the refit on all of them: the change over log(K / (K-1)) of the
    polynomial in log samples through its last three rungs (a parabola; a line with two); None without two
    rungs."""
    curve = rung_curve(trial, n_folds * n_repeats)[-3:]
    if len(curve) < 2 or n_folds < 2:
        return None
    x = np.log([size for size, _ in curve])
    if np.any(np.diff(x) <= 0):
        return None
    polynomial = np.polynomial.Polynomial.fit(x, [sign * score for _, score in curve], deg=len(curve) - 1)
    return float(polynomial(x[-1] + math.log(n_folds / (n_folds - 1))) - polynomial(x[-1]))


def project_refit(trials: Sequence[optuna.trial.FrozenTrial], weights: Sequence[float] | None,
                  best: optuna.trial.FrozenTrial, n_folds: int, n_repeats: int, sign: float) -> RefitProjection:
    """The drift of a weighted ensemble's advantage over ``best`` at the refit (see the module docstring)."""
    if weights is None:
        return RefitProjection(None, note="a stacked ensemble has no member weights to project")
    gains = {t.number: refit_gain(t, n_folds, n_repeats, sign) for t in [best, *trials]}
    missing = [number for number, gain in gains.items() if gain is None]
    if missing:
        return RefitProjection(None, gains, note=f"no learning curve (multi-fidelity rungs) for trial(s) "
                                                 f"{', '.join(map(str, missing))}: not projected")
    known = {number: gain for number, gain in gains.items() if gain is not None}
    drift = sum(float(w) * (known[best.number] - known[t.number]) for t, w in zip(trials, weights))
    return RefitProjection(float(drift), gains, note="from each member's multi-fidelity rungs")
