"""Which complete trial the final model refits: the best by CV, unless a reference model is as good within noise.

The reference models are the path families' queued starting points: the lasso path and the ridge path
(GBLUP) on every QC'd SNP, each CV-tuned inside its trial: what a geneticist gets from cv.glmnet or
bigstatsr. The best trial replaces the best reference only when its per-fold CV scores beat the reference's
on the same folds by more than one standard error of the paired differences (the 1-SE rule: choosing the
maximum of many near-equal noisy CV scores costs accuracy on new samples, the winner's curse). Measured
(benchmarks/results/genomewide.json, 3,000 x 60,000 polygenic continuous trait): the search's best trial was
the ridge path on the 0.9 LD mask, 0.0006 R2 above the ridge path on all SNPs in CV (SE 0.0007), and 0.0026 R2
below it on the validation cohort.

Studies without reference trials (no path family searched, a resumed study from an earlier version, a table-only
dataset) and ``rule="best"`` keep the best trial by CV.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from genoml_search.search.study_summary import best_trial

REFERENCE_ATTR = "reference_model"
"""User attribute of the queued trials that are reference models (see the module docstring)."""
RULES = ("reference", "best")


@dataclass(frozen=True)
class FinalChoice:
    """The trial to refit, the best trial by CV, and, when they differ, why."""

    trial: optuna.trial.FrozenTrial
    best: optuna.trial.FrozenTrial
    rule: str
    gain: float | None = None  # the best trial's mean per-fold gain over the reference
    se: float | None = None

    @property
    def reason(self) -> str:
        """One sentence for ``metrics.json`` and the log."""
        if self.trial.number == self.best.number:
            if self.gain is None:
                return "the best trial by CV"
            return (f"the best trial by CV: its per-fold gain over the best reference model beats one standard "
                    f"error ({self.gain:.4f} > {self.se:.4f})")
        return (f"reference model trial {self.trial.number} (CV {self.trial.value:.4f}): the best trial "
                f"{self.best.number} (CV {self.best.value:.4f}) beats it by {self.gain:.4f} per fold, within one "
                f"standard error ({self.se:.4f})")

    def record(self) -> dict[str, Any]:
        """``metrics.json``'s ``cv.selection``."""
        return {"rule": self.rule, "trial": self.trial.number, "best_cv_trial": self.best.number,
                "best_cv_value": self.best.value, "gain": self.gain, "se": self.se, "reason": self.reason}


def choose_final_trial(study: optuna.Study, rule: str = "reference") -> FinalChoice:
    """The trial the final model refits (see the module docstring); ValueError without a complete trial."""
    if rule not in RULES:
        raise ValueError(f"unknown final-trial rule {rule!r}; choose one of {', '.join(RULES)}")
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    best = best_trial(complete, maximize)  # finite values only; the lowest number among equals
    if best is None:
        raise ValueError("no complete trial")
    reference = best_trial([t for t in complete if t.user_attrs.get(REFERENCE_ATTR)], maximize)
    if rule == "best" or reference is None or reference.number == best.number:
        return FinalChoice(best, best, rule)
    gain, se = paired_gain(best.user_attrs.get("fold_scores") or [], reference.user_attrs.get("fold_scores") or [],
                           1.0 if maximize else -1.0)
    if gain <= se:
        return FinalChoice(reference, best, rule, gain, se)
    return FinalChoice(best, best, rule, gain, se)


def paired_gain(better: Sequence[float], other: Sequence[float], sign: float) -> tuple[float, float]:
    """The mean per-fold improvement of ``better`` over ``other`` (``sign``: +1 when higher is better) and its
    standard error; without matching folds, the difference of the means and 0 (no pairing, no noise estimate)."""
    a, b = np.asarray(better, dtype=float), np.asarray(other, dtype=float)
    if a.shape != b.shape or a.size < 2:
        return (sign * (float(np.mean(a)) - float(np.mean(b))) if a.size and b.size else float("inf")), 0.0
    differences = sign * (a - b)
    return float(np.mean(differences)), float(np.std(differences, ddof=1) / np.sqrt(len(differences)))
