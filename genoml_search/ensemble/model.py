"""The refitted ensemble: member pipelines fitted on all search samples and the combiner chosen on their OOF
predictions. It predicts like a single pipeline (``predict_proba`` / ``predict``, ``classes_``), so ``predict``,
the report and the validation code use it unchanged; it is saved with skops (its types are allow-listed in
:mod:`genoml_search.model_io`)."""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from genoml_search.tasks import Task


class EnsembleModel(BaseEstimator):
    """Member pipelines and a combiner (:class:`~genoml_search.ensemble.combine.WeightedAverage` or
    :class:`~genoml_search.ensemble.combine.LinearStack`) over their scores."""

    def __init__(self, members: list[Any], combiner: Any, task: str, classes: list[Any] | None = None,
                 trials: list[int] | None = None) -> None:
        self.members = members
        self.combiner = combiner
        self.task = task
        self.classes = classes
        self.trials = trials
        if classes is not None:
            self.classes_ = np.asarray(classes)

    def fit(self, x: Any, y: np.ndarray) -> EnsembleModel:
        """Refit every member on ``(x, y)``, keeping the combiner (weights or meta-model) as chosen."""
        from sklearn.base import clone

        self.members = [clone(member).fit(x, y) for member in self.members]
        return self

    def member_scores(self, x: Any) -> np.ndarray:
        """Each member's scores: ``(members, samples[, classes])``."""
        kind = Task(self.task).kind
        return np.stack([kind.scores(member, x) for member in self.members])

    def scores(self, x: Any) -> np.ndarray:
        """The ensemble's scores (what the task's metrics take)."""
        return self.combiner.combine(self.member_scores(x))

    def predict_proba(self, x: Any) -> np.ndarray:
        """Class probabilities ``(samples, classes)`` (classification)."""
        scores = self.scores(x)
        return np.column_stack([1.0 - scores, scores]) if scores.ndim == 1 else scores

    def predict(self, x: Any) -> np.ndarray:
        """Predictions (regression) or the most probable class (classification)."""
        scores = self.scores(x)
        if self.task == "regression":
            return scores
        index = (scores >= 0.5).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index] if hasattr(self, "classes_") else index
