"""Metrics, each computed from predicted probabilities where the metric is defined on them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn import metrics as skm

from genoml_search.errors import UserError
from genoml_search.tasks import CLASSIFICATION, Task


@dataclass(frozen=True)
class Metric:
    """A metric: its name, the tasks it applies to, whether higher is better and how to compute it.

    ``compute(y_true, y_score)`` takes the positive-class probability (binary), the class-probability matrix
    (multiclass) or the prediction (regression).
    """

    name: str
    tasks: frozenset[Task]
    greater_is_better: bool
    compute: Callable[[np.ndarray, np.ndarray], float]

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        """Optuna's study direction for this metric."""
        return "maximize" if self.greater_is_better else "minimize"


def _balanced_accuracy(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> float:
    labels = (score >= threshold).astype(int) if score.ndim == 1 else score.argmax(axis=1)
    return float(skm.balanced_accuracy_score(y, labels))


def _log_loss(y: np.ndarray, score: np.ndarray) -> float:
    if score.ndim == 1:
        score = np.column_stack([1 - score, score])
    return float(skm.log_loss(y, np.clip(score, 1e-15, 1 - 1e-15), labels=np.arange(score.shape[1])))


_BINARY = frozenset({Task.BINARY})
_CLASSIFICATION = CLASSIFICATION
_REGRESSION = frozenset({Task.REGRESSION})

METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("roc_auc", _BINARY, True, lambda y, s: float(skm.roc_auc_score(y, s))),
    Metric("average_precision", _BINARY, True, lambda y, s: float(skm.average_precision_score(y, s))),
    Metric("brier", _BINARY, False, lambda y, s: float(skm.brier_score_loss(y, s))),
    Metric("log_loss", _CLASSIFICATION, False, _log_loss),
    Metric("balanced_accuracy", _CLASSIFICATION, True, _balanced_accuracy),
    Metric("roc_auc_ovr", frozenset({Task.MULTICLASS}), True,
           lambda y, s: float(skm.roc_auc_score(y, s, multi_class="ovr", average="macro",
                                                labels=np.arange(s.shape[1])))),
    Metric("r2", _REGRESSION, True, lambda y, s: float(skm.r2_score(y, s))),
    Metric("rmse", _REGRESSION, False, lambda y, s: float(np.sqrt(skm.mean_squared_error(y, s)))),
    Metric("mae", _REGRESSION, False, lambda y, s: float(skm.mean_absolute_error(y, s))),
]}

# Keyed by Task members, which equal their strings: DEFAULT_METRIC["binary"] works too.
DEFAULT_METRIC: dict[str, str] = {task: task.kind.default_metric for task in Task}
REPORTED: dict[str, list[str]] = {task: list(task.kind.reported_metrics) for task in Task}


def get_metric(name: str, task: str) -> Metric:
    """A metric by name, checked against the task."""
    if name not in METRICS:
        raise UserError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}")
    metric = METRICS[name]
    if task not in metric.tasks:
        usable = [m.name for m in METRICS.values() if task in m.tasks]
        raise UserError(f"metric {name!r} does not apply to {task}; choose one of {', '.join(usable)}")
    return metric


def score_all(task: str, y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    """Every reported metric of the task (the validation report)."""
    return {name: METRICS[name].compute(y_true, y_score) for name in REPORTED[task]}
