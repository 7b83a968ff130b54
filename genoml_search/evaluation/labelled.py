"""Scoring a labelled cohort (`predict --pheno`, GenoML2's `test`): the same JSON shape as the ``validation``
part of ``metrics.json``: every metric of the task, their 95% intervals, and for binary traits the case/control
counts, statistics at the threshold, odds ratio per SD and risk by decile."""
from __future__ import annotations

from typing import Any

import numpy as np

from genoml_search.evaluation.binary import THRESHOLD, binary_summary
from genoml_search.core.intervals import metric_intervals
from genoml_search.core.metrics import score_all
from genoml_search.tasks import Task


def interval_records(task: str, y: np.ndarray, scores: np.ndarray, n_boot: int = 1000,
                     seed: int = 0) -> dict[str, dict[str, Any]]:
    """``{metric: {value, low, high, method, level}}``: DeLong for ROC-AUC, percentile bootstrap otherwise."""
    return {i.metric: {k: v for k, v in i.as_dict().items() if k != "metric"}
            for i in metric_intervals(task, y, scores, n_boot, seed)}


def labelled_metrics(task: str, y: np.ndarray, scores: np.ndarray, source: str = "cohort", n_boot: int = 1000,
                     seed: int = 0) -> dict[str, Any]:
    """Metrics with intervals of scored samples whose phenotype is known (rows with a missing one are left out)."""
    y = np.asarray(y, dtype=float)
    keep = ~np.isnan(y)
    y, scores = y[keep], np.asarray(scores)[keep]
    result: dict[str, Any] = {**score_all(task, y, scores), "source": source, "n_samples": int(len(y)),
                              "threshold": THRESHOLD if task == Task.BINARY else None,
                              "intervals": interval_records(task, y, scores, n_boot, seed)}
    if task == Task.BINARY:
        result.update(binary_summary(y, scores))
    return result
