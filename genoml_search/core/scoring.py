"""What a fitted model says about samples: the scores metrics take, and the columns ``predict`` writes."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from genoml_search.core.features import FeatureMatrix
from genoml_search.tasks import Task


def predict_scores(model: Any, x: np.ndarray, task: str) -> np.ndarray:
    """What metrics need: P(class 1) for binary, class probabilities for multiclass, predictions otherwise."""
    return Task(task).kind.scores(model, x)


def prediction_frame(model: Any, info: dict[str, Any], features: FeatureMatrix, x: Any = None) -> pd.DataFrame:
    """``ID`` plus the task's prediction columns for a feature matrix laid out like the training one (``x``:
    what the model reads of it, when not the float rows, e.g. a path family's int8 design)."""
    kind = Task.parse(info["task"]).kind
    scores = kind.scores(model, features.x if x is None else x)
    classes: list[Any] = []
    if scores.ndim == 2:  # class probabilities: their labels name the columns
        fitted = getattr(model, "classes_", None)
        classes = list(fitted if fitted is not None else info.get("classes") or range(scores.shape[1]))
    frame = pd.DataFrame({"ID": features.sample_ids})
    for column, values in kind.prediction_columns(scores, [_label(c) for c in classes]).items():
        frame[column] = values
    return frame


def _label(value: Any) -> Any:
    """Class codes are stored as floats in the feature matrix; print 1 rather than 1.0."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return value.item() if isinstance(value, np.generic) else value
