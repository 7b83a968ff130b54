"""Scores of a fitted model in the form the metrics need."""
from __future__ import annotations

from typing import Any

import numpy as np

from genoml_search.tasks import Task


def predict_scores(model: Any, x: np.ndarray, task: str) -> np.ndarray:
    """What metrics need: P(class 1) for binary, class probabilities for multiclass, predictions otherwise."""
    return Task(task).kind.scores(model, x)
