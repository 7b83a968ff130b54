"""The fast metric forms give the study metrics' values."""
from __future__ import annotations

import numpy as np
import pytest

from genoml_search.core.metrics import METRICS, get_metric
from genoml_search.ensemble.fast_metrics import fast_compute


@pytest.mark.parametrize("name,task", [("roc_auc", "binary"), ("brier", "binary"), ("log_loss", "binary"),
                                       ("log_loss", "multiclass"), ("roc_auc_ovr", "multiclass"),
                                       ("r2", "regression"), ("rmse", "regression"),
                                       ("mae", "regression")])
def test_fast_forms_match_the_study_metrics(name, task):
    rng = np.random.default_rng(0)
    n = 257
    if task == "regression":
        y = rng.normal(size=n)
        score = y + rng.normal(size=n)
    elif task == "binary":
        y = rng.integers(0, 2, size=n).astype(float)
        score = np.round(np.clip(0.3 * y + rng.uniform(size=n) * 0.7, 0, 1), 2)  # rounding makes ties
    else:
        y = rng.integers(0, 3, size=n).astype(float)
        score = rng.dirichlet(np.ones(3), size=n)
    metric = get_metric(name, task)
    assert fast_compute(metric) is not metric.compute
    assert fast_compute(metric)(y, score) == pytest.approx(metric.compute(y, score), rel=1e-9, abs=1e-12)


def test_metrics_without_a_fast_form_use_their_own():
    metric = METRICS["average_precision"]
    assert fast_compute(metric) is metric.compute


@pytest.mark.parametrize("name,task", [("roc_auc", "binary"), ("brier", "binary"), ("log_loss", "binary"),
                                       ("roc_auc_ovr", "multiclass"), ("r2", "regression"), ("rmse", "regression"),
                                       ("mae", "regression"), ("average_precision", "binary")])
def test_many_candidates_at_once_match_one_at_a_time(name, task):
    from genoml_search.ensemble.fast_metrics import fast_compute_many

    rng = np.random.default_rng(1)
    n, c = 101, 5
    if task == "regression":
        y = rng.normal(size=n)
        candidates = y[None] + rng.normal(size=(c, n))
    elif task == "binary":
        y = rng.integers(0, 2, size=n).astype(float)
        candidates = np.round(rng.uniform(size=(c, n)) * 0.7 + 0.3 * y[None], 2)
    else:
        y = rng.integers(0, 3, size=n).astype(float)
        candidates = rng.dirichlet(np.ones(3), size=(c, n))
    metric = get_metric(name, task)
    values = fast_compute_many(metric)(y, candidates)
    assert values.shape == (c,)
    assert values == pytest.approx([metric.compute(y, row) for row in candidates], rel=1e-9, abs=1e-12)
