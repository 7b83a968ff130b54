"""Fast equivalents of the study metrics for the inner loop of ensemble selection.

Greedy selection scores every candidate at every step, and the nested estimate repeats that per fold: a few
thousand metric calls per run. scikit-learn's metric functions spend most of a call validating their inputs
(milliseconds each on a loaded machine); the formulas below give the same values (tested against
:mod:`genoml_search.core.metrics`) in tens of microseconds. Metrics without a fast form use the study's own.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import rankdata

from genoml_search.core.metrics import Metric

ScoreFn = Callable[[np.ndarray, np.ndarray], float]


def _roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney U over (n_cases x n_controls); tied scores count one half, like scikit-learn's."""
    positive = np.asarray(y) == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _roc_auc_ovr(y: np.ndarray, score: np.ndarray) -> float:
    """Macro average over classes of the one-vs-rest ROC-AUC (class k: ``y == k`` against column k)."""
    labels = np.asarray(y).astype(int)
    return float(np.mean([_roc_auc((labels == k).astype(int), score[:, k]) for k in range(score.shape[1])]))


def _r2(y: np.ndarray, prediction: np.ndarray) -> float:
    total = float(np.sum((y - np.mean(y)) ** 2))
    residual = float(np.sum((y - prediction) ** 2))
    return 1.0 - residual / total if total > 0 else float("nan")


def _log_loss(y: np.ndarray, score: np.ndarray) -> float:
    probabilities = np.column_stack([1 - score, score]) if score.ndim == 1 else score
    probabilities = np.clip(probabilities, 1e-15, 1 - 1e-15)
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(probabilities[np.arange(len(y)), np.asarray(y, dtype=int)])))


_FAST: dict[str, ScoreFn] = {
    "roc_auc": _roc_auc,
    "roc_auc_ovr": _roc_auc_ovr,
    "r2": _r2,
    "rmse": lambda y, p: float(np.sqrt(np.mean((y - p) ** 2))),
    "mae": lambda y, p: float(np.mean(np.abs(y - p))),
    "brier": lambda y, p: float(np.mean((p - y) ** 2)),
    "log_loss": _log_loss,
}


def fast_compute(metric: Metric) -> ScoreFn:
    """The metric's fast form where there is one, else its own ``compute``."""
    return _FAST.get(metric.name, metric.compute)


ManyScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``(y, candidates)`` -> one metric value per candidate; ``candidates`` is ``(candidates, samples[, classes])``."""


def _roc_auc_many(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """:func:`_roc_auc` of every row of ``scores`` at once (one ``rankdata`` over the rows)."""
    positive = np.asarray(y) == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return np.full(scores.shape[0], np.nan)
    ranks = rankdata(scores, axis=1)
    return (ranks[:, positive].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _roc_auc_ovr_many(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    labels = np.asarray(y).astype(int)
    return np.mean([_roc_auc_many((labels == k).astype(int), scores[:, :, k]) for k in range(scores.shape[2])], axis=0)


def _r2_many(y: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    total = float(np.sum((y - np.mean(y)) ** 2))
    residual = np.sum((y[None] - predictions) ** 2, axis=1)
    return 1.0 - residual / total if total > 0 else np.full(predictions.shape[0], np.nan)


_FAST_MANY: dict[str, ManyScoreFn] = {
    "roc_auc": _roc_auc_many,
    "roc_auc_ovr": _roc_auc_ovr_many,
    "r2": _r2_many,
    "rmse": lambda y, p: np.sqrt(np.mean((y[None] - p) ** 2, axis=1)),
    "mae": lambda y, p: np.mean(np.abs(y[None] - p), axis=1),
    "brier": lambda y, p: np.mean((p - y[None]) ** 2, axis=1),
}


def fast_compute_many(metric: Metric) -> ManyScoreFn:
    """The metric of many candidate score vectors against the same targets: vectorized where there is a
    form (the greedy selection's inner loop scores every candidate at every step), else one call per row."""
    many = _FAST_MANY.get(metric.name)
    if many is not None:
        return lambda y, scores: np.asarray(many(np.asarray(y, dtype=float), np.asarray(scores, dtype=float)),
                                            dtype=float)
    one = fast_compute(metric)
    return lambda y, scores: np.array([one(y, row) for row in scores], dtype=float)
