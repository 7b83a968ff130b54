"""The CV score of an ensemble, optimistic and nested.

Member scores here are out-of-fold (OOF) predictions laid out ``(members, repeats, samples[, classes])`` with
``folds`` ``(repeats, samples)`` giving each sample's CV fold in each repeat (the folds of the search).

- *Optimistic*: the combiner is chosen on all OOF predictions, then scored fold by fold on the same ones.
- *Nested*: for every repeat and fold, the combiner is chosen on the other folds' OOF predictions only and
  scored on the held-out fold, so the choice never sees the samples that score it.

Both are the mean of per-fold scores, like a trial's value, so they compare with the best trial's CV score.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

ScoreFn = Callable[[np.ndarray, np.ndarray], float]


class Combiner(Protocol):
    """Anything that turns ``(members, samples[, classes])`` member scores into ensemble scores."""

    def combine(self, member_scores: np.ndarray) -> np.ndarray: ...


FitCombiner = Callable[[np.ndarray, np.ndarray], Combiner]
"""Chooses a combiner from ``(members, repeats, samples[, classes])`` OOF scores and the samples' targets."""


@dataclass(frozen=True)
class CVEstimate:
    """An ensemble's per-fold scores (repeat by repeat, fold by fold) and their mean."""

    fold_scores: list[float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_scores))

    @property
    def std(self) -> float:
        return float(np.std(self.fold_scores))


def combine_repeats(combiner: Combiner, member_scores: np.ndarray) -> np.ndarray:
    """The combiner applied to each repeat's OOF scores: ``(repeats, samples[, classes])``."""
    return np.stack([combiner.combine(member_scores[:, r]) for r in range(member_scores.shape[1])])


def per_fold_scores(scores: np.ndarray, folds: np.ndarray, y: np.ndarray, compute: ScoreFn) -> list[float]:
    """The metric on each fold of each repeat of ``(repeats, samples[, classes])`` OOF scores."""
    values = []
    for r in range(folds.shape[0]):
        for fold in np.unique(folds[r]):
            test = folds[r] == fold
            values.append(float(compute(y[test], scores[r, test])))
    return values


def optimistic_estimate(member_scores: np.ndarray, folds: np.ndarray, y: np.ndarray, compute: ScoreFn,
                        fit: FitCombiner) -> tuple[Any, CVEstimate]:
    """The combiner chosen on all OOF scores, and its per-fold scores on those same OOF scores."""
    combiner = fit(member_scores, y)
    return combiner, CVEstimate(per_fold_scores(combine_repeats(combiner, member_scores), folds, y, compute))


def nested_estimate(member_scores: np.ndarray, folds: np.ndarray, y: np.ndarray, compute: ScoreFn,
                    fit: FitCombiner) -> CVEstimate:
    """Per fold: the combiner chosen on the other folds' OOF scores (that repeat's), scored on the fold."""
    values = []
    for r in range(folds.shape[0]):
        for fold in np.unique(folds[r]):
            test = folds[r] == fold
            combiner = fit(member_scores[:, r : r + 1][:, :, ~test], y[~test])
            values.append(float(compute(y[test], combiner.combine(member_scores[:, r][:, test]))))
    return CVEstimate(values)
