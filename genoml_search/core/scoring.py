"""Scores of a fitted model in the form the metrics need."""
from __future__ import annotations

from typing import Any

import numpy as np


def predict_scores(model: Any, x: np.ndarray, task: str) -> np.ndarray:
    """What metrics need: P(class 1) for binary, class probabilities for multiclass, predictions otherwise."""
    if task == "regression":
        return np.asarray(model.predict(x), dtype=float)
    proba = np.asarray(model.predict_proba(x), dtype=float)
    return proba[:, 1] if task == "binary" else proba
