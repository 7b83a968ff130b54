"""How member scores are combined: a weighted average (greedy selection) or a linear meta-model (stacking).

Member scores are what the task's metrics take (:meth:`genoml_search.tasks.TaskKind.scores`): P(case) for
binary, the class-probability matrix for multiclass, the prediction for regression. They are stacked on a
first axis of members: ``(members, samples)`` or ``(members, samples, classes)``. A combiner returns scores of
the same kind for the samples, so every metric applies to the ensemble unchanged.
"""
from __future__ import annotations

from typing import Any

import numpy as np

EPS = 1e-6  # probabilities are clipped away from 0 and 1 before taking logits


class WeightedAverage:
    """Scores averaged with non-negative weights that sum to 1 (probabilities stay probabilities)."""

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = np.asarray(weights, dtype=float)

    def combine(self, member_scores: np.ndarray) -> np.ndarray:
        """The ensemble's scores from ``(members, samples[, classes])`` member scores."""
        return np.tensordot(self.weights, np.asarray(member_scores, dtype=float), axes=1)


def stacking_features(member_scores: np.ndarray, task: str) -> np.ndarray:
    """The meta-model's inputs, one row per sample: logits of P(case) (binary), log-probabilities of every
    class of every member (multiclass), or the predictions (regression)."""
    scores = np.asarray(member_scores, dtype=float)
    if task == "regression":
        return scores.T
    clipped = np.clip(scores, EPS, 1 - EPS)
    if task == "binary":
        return (np.log(clipped) - np.log1p(-clipped)).T
    return np.log(clipped).transpose(1, 0, 2).reshape(scores.shape[1], -1)


class LinearStack:
    """A fitted regularized linear meta-model over member scores (:mod:`genoml_search.ensemble.stacking`)."""

    def __init__(self, meta: Any, task: str) -> None:
        self.meta = meta
        self.task = task

    def combine(self, member_scores: np.ndarray) -> np.ndarray:
        """The meta-model's scores (P(case), class probabilities or predictions) for the samples."""
        return self.combine_features(stacking_features(member_scores, self.task))

    def combine_features(self, features: np.ndarray) -> np.ndarray:
        """The meta-model's scores from its input rows (:func:`stacking_features`)."""
        if self.task == "regression":
            return np.asarray(self.meta.predict(features), dtype=float)
        probabilities = np.asarray(self.meta.predict_proba(features), dtype=float)
        return probabilities[:, 1] if self.task == "binary" else probabilities
