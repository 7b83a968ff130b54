"""95% confidence intervals of validation metrics: DeLong for ROC-AUC, a percentile bootstrap otherwise.

DeLong et al. (1988), in the fast midrank form of Sun and Xu (2014): the AUC's variance comes from each
positive's and each negative's "placement" (the fraction of the other class it outranks), so it costs one
sort, not a resampling loop. The bootstrap resamples samples with replacement (within each class for
classification, so every replicate keeps both classes) and takes the percentiles of the recomputed metric.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from genoml_search.core.metrics import METRICS, REPORTED
from genoml_search.tasks import Task


@dataclass(frozen=True)
class Interval:
    """A metric's value and its confidence interval."""

    metric: str
    value: float
    low: float
    high: float
    method: str
    level: float = 0.95

    def as_dict(self) -> dict:
        """Plain dict (for JSON and CSV)."""
        return asdict(self)


def delong_auc(y_true: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """ROC-AUC and its DeLong variance for binary labels (1 = positive)."""
    y_true = np.asarray(y_true)
    score = np.asarray(score, dtype=float)
    positive, negative = score[y_true == 1], score[y_true != 1]
    m, n = len(positive), len(negative)
    if m < 2 or n < 2:
        raise ValueError("DeLong needs at least two samples of each class")
    rank_all = stats.rankdata(np.concatenate([positive, negative]))
    rank_pos, rank_neg = stats.rankdata(positive), stats.rankdata(negative)
    auc = (rank_all[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (rank_all[:m] - rank_pos) / n  # fraction of negatives each positive outranks
    v01 = 1.0 - (rank_all[m:] - rank_neg) / m  # fraction of positives outranking each negative
    variance = v10.var(ddof=1) / m + v01.var(ddof=1) / n
    return float(auc), float(variance)


def delong_interval(y_true: np.ndarray, score: np.ndarray, level: float = 0.95) -> Interval:
    """ROC-AUC with its DeLong (normal) interval, clipped to [0, 1]."""
    auc, variance = delong_auc(y_true, score)
    half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(variance)
    return Interval("roc_auc", auc, max(0.0, auc - half), min(1.0, auc + half), "DeLong", level)


def bootstrap_samples(y_true: np.ndarray, n_boot: int, seed: int, stratify: bool) -> np.ndarray:
    """``n_boot`` x n resampled row indices (within each class when ``stratify``)."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    if not stratify:
        return rng.integers(0, n, size=(n_boot, n))
    index = np.empty((n_boot, n), dtype=np.int64)
    start = 0
    for label in np.unique(y_true):
        members = np.flatnonzero(y_true == label)
        index[:, start : start + len(members)] = members[rng.integers(0, len(members), size=(n_boot, len(members)))]
        start += len(members)
    return index


def _binary_auc_rows(truth: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Row-wise ROC-AUC (midranks handle ties) of 0/1 ``truth`` against ``score``, both replicates x n."""
    ranks = stats.rankdata(score, axis=1)
    positives = truth.sum(axis=1)
    negatives = truth.shape[1] - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((ranks * truth).sum(axis=1) - positives * (positives + 1) / 2) / (positives * negatives)


def _average_precision_rows(truth: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Row-wise average precision with scikit-learn's step-wise definition (one point per distinct score)."""
    order = np.argsort(-score, axis=1, kind="stable")
    s = np.take_along_axis(score, order, axis=1)
    t = np.take_along_axis(truth, order, axis=1)
    tp = np.cumsum(t, axis=1)
    seen = np.arange(1, t.shape[1] + 1)
    last = np.ones_like(s, dtype=bool)
    last[:, :-1] = s[:, 1:] != s[:, :-1]  # the last sample of each group of tied scores is a threshold
    at_threshold = np.where(last, tp, 0)
    previous = np.zeros_like(tp)
    previous[:, 1:] = np.maximum.accumulate(at_threshold, axis=1)[:, :-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (last * (tp - previous) * (tp / seen)).sum(axis=1) / tp[:, -1]


def _balanced_accuracy_rows(y: np.ndarray, predicted: np.ndarray, labels: np.ndarray) -> np.ndarray:
    recalls = []
    for label in labels:
        members = y == label
        count = members.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            recalls.append(np.where(count > 0, (members & (predicted == label)).sum(axis=1) / count, np.nan))
    return np.nanmean(np.column_stack(recalls), axis=1)


def _fast_replicates(name: str, y: np.ndarray, s: np.ndarray, n_classes: int) -> np.ndarray | None:
    """Vectorized metric values for replicate matrices (``y``: replicates x n; ``s``: x n (x classes))."""
    eps = 1e-15
    if name == "roc_auc":
        return _binary_auc_rows((y == 1).astype(float), s)
    if name == "average_precision":
        return _average_precision_rows((y == 1).astype(float), s)
    if name == "brier":
        return ((s - y) ** 2).mean(axis=1)
    if name == "log_loss" and s.ndim == 2:
        p = np.clip(s, eps, 1 - eps)
        return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(axis=1)
    if name == "log_loss":
        p = np.clip(np.take_along_axis(s, y.astype(int)[..., None], axis=2)[..., 0], eps, 1 - eps)
        return -np.log(p).mean(axis=1)
    if name == "balanced_accuracy":
        predicted = (s >= 0.5).astype(int) if s.ndim == 2 else s.argmax(axis=2)
        return _balanced_accuracy_rows(y.astype(int), predicted, np.arange(max(n_classes, 2)))
    if name == "roc_auc_ovr":
        aucs = [_binary_auc_rows((y == k).astype(float), s[..., k]) for k in range(n_classes)]
        return np.mean(aucs, axis=0)
    if name == "r2":
        residual = ((y - s) ** 2).sum(axis=1)
        total = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return 1 - residual / total
    if name == "rmse":
        return np.sqrt(((y - s) ** 2).mean(axis=1))
    if name == "mae":
        return np.abs(y - s).mean(axis=1)
    return None


def bootstrap_replicates(name: str, y_true: np.ndarray, score: np.ndarray, task: str, n_boot: int = 1000,
                         seed: int = 0, chunk: int = 100) -> np.ndarray:
    """The metric on ``n_boot`` bootstrap resamples (vectorized for the registered metrics, in chunks)."""
    index = bootstrap_samples(y_true, n_boot, seed, stratify=Task(task).is_classification)
    n_classes = score.shape[1] if score.ndim == 2 else 2
    values = []
    for start in range(0, n_boot, chunk):
        rows = index[start : start + chunk]
        fast = _fast_replicates(name, y_true[rows], score[rows], n_classes)
        if fast is None:  # a metric without a vectorized form: one call per replicate
            compute = METRICS[name].compute
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fast = np.array([_safe(compute, y_true[r], score[r]) for r in rows])
        values.append(fast)
    return np.concatenate(values)


def _safe(compute, y: np.ndarray, s: np.ndarray) -> float:
    try:
        return compute(y, s)
    except ValueError:
        return float("nan")


def bootstrap_interval(name: str, y_true: np.ndarray, score: np.ndarray, task: str, n_boot: int = 1000,
                       seed: int = 0, level: float = 0.95) -> Interval:
    """A registered metric with its percentile-bootstrap interval."""
    value = METRICS[name].compute(y_true, score)
    replicates = bootstrap_replicates(name, y_true, score, task, n_boot, seed)
    replicates = replicates[np.isfinite(replicates)]
    if len(replicates) < 10:
        return Interval(name, value, float("nan"), float("nan"), "bootstrap (too few valid replicates)", level)
    low, high = np.quantile(replicates, [0.5 - level / 2, 0.5 + level / 2])
    return Interval(name, value, float(low), float(high), f"bootstrap ({len(replicates)} replicates)", level)


def metric_intervals(task: str, y_true: np.ndarray, score: np.ndarray, n_boot: int = 1000, seed: int = 0,
                     level: float = 0.95) -> list[Interval]:
    """Every reported metric of the task with its interval (DeLong for binary ROC-AUC)."""
    y_true = np.asarray(y_true)
    score = np.asarray(score, dtype=float)
    intervals = []
    for name in REPORTED[task]:
        if name == "roc_auc" and task == Task.BINARY:
            try:
                intervals.append(delong_interval(y_true, score, level))
                continue
            except ValueError:
                pass
        intervals.append(bootstrap_interval(name, y_true, score, task, n_boot, seed, level))
    return intervals


@dataclass(frozen=True)
class PairedDifference:
    """The difference ``a - b`` of one metric between two models scored on the same samples, with its CI."""

    metric: str
    difference: float
    low: float
    high: float
    method: str
    p_value: float | None = None
    level: float = 0.95

    def as_dict(self) -> dict:
        """Plain dict (for JSON and CSV)."""
        return asdict(self)


def _placements(positive: np.ndarray, negative: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = len(positive)
    rank_all = stats.rankdata(np.concatenate([positive, negative]))
    v10 = (rank_all[:m] - stats.rankdata(positive)) / len(negative)
    v01 = 1.0 - (rank_all[m:] - stats.rankdata(negative)) / m
    return v10, v01


def paired_delong(y_true: np.ndarray, score_a: np.ndarray, score_b: np.ndarray,
                  level: float = 0.95) -> PairedDifference:
    """ROC-AUC(a) - ROC-AUC(b) on the same samples with DeLong's covariance of correlated AUCs (1988)."""
    y_true = np.asarray(y_true)
    cases, controls = y_true == 1, y_true != 1
    if cases.sum() < 2 or controls.sum() < 2:
        raise ValueError("DeLong needs at least two samples of each class")
    placements = [_placements(np.asarray(s, dtype=float)[cases], np.asarray(s, dtype=float)[controls])
                  for s in (score_a, score_b)]
    aucs = [v10.mean() for v10, _ in placements]
    s10 = np.cov(np.vstack([p[0] for p in placements]))
    s01 = np.cov(np.vstack([p[1] for p in placements]))
    contrast = np.array([1.0, -1.0])
    variance = float(contrast @ s10 @ contrast / cases.sum() + contrast @ s01 @ contrast / controls.sum())
    difference = float(aucs[0] - aucs[1])
    z_level = stats.norm.ppf(0.5 + level / 2)
    if variance <= 0:
        return PairedDifference("roc_auc", difference, difference, difference, "paired DeLong", None, level)
    half = z_level * np.sqrt(variance)
    p_value = float(2 * stats.norm.sf(abs(difference) / np.sqrt(variance)))
    return PairedDifference("roc_auc", difference, difference - half, difference + half, "paired DeLong",
                            p_value, level)


def paired_bootstrap(name: str, y_true: np.ndarray, score_a: np.ndarray, score_b: np.ndarray, task: str,
                     n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> PairedDifference:
    """metric(a) - metric(b) with a percentile bootstrap that resamples the same samples for both models."""
    y_true = np.asarray(y_true)
    score_a, score_b = np.asarray(score_a, dtype=float), np.asarray(score_b, dtype=float)
    compute = METRICS[name].compute
    difference = float(compute(y_true, score_a) - compute(y_true, score_b))
    index = bootstrap_samples(y_true, n_boot, seed, stratify=Task(task).is_classification)
    n_classes = score_a.shape[1] if score_a.ndim == 2 else 2
    values = []
    for start in range(0, n_boot, 100):
        rows = index[start : start + 100]
        fast = [_fast_replicates(name, y_true[rows], s[rows], n_classes) for s in (score_a, score_b)]
        first, second = fast
        if first is None or second is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                first, second = (np.array([_safe(compute, y_true[r], s[r]) for r in rows]) for s in (score_a, score_b))
        values.append(first - second)
    replicates = np.concatenate(values)
    replicates = replicates[np.isfinite(replicates)]
    if len(replicates) < 10:
        return PairedDifference(name, difference, float("nan"), float("nan"),
                                "paired bootstrap (too few valid replicates)", None, level)
    low, high = np.quantile(replicates, [0.5 - level / 2, 0.5 + level / 2])
    return PairedDifference(name, difference, float(low), float(high),
                            f"paired bootstrap ({len(replicates)} replicates)", None, level)


def paired_differences(task: str, y_true: np.ndarray, score_a: np.ndarray, score_b: np.ndarray,
                       n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> list[PairedDifference]:
    """Every reported metric's paired difference a - b (paired DeLong for binary ROC-AUC)."""
    differences = []
    for name in REPORTED[task]:
        if name == "roc_auc" and task == Task.BINARY:
            try:
                differences.append(paired_delong(y_true, score_a, score_b, level))
                continue
            except ValueError:
                pass
        differences.append(paired_bootstrap(name, y_true, score_a, score_b, task, n_boot, seed, level))
    return differences
