"""Confidence intervals: DeLong against its definition, vectorized bootstrap metrics against scikit-learn."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from genoml_search.core.intervals import (_fast_replicates, bootstrap_samples, delong_auc, delong_interval,
                                            metric_intervals)
from genoml_search.core.metrics import METRICS, REPORTED


def _delong_by_definition(y, s):
    """O(m n) structural components of DeLong et al. (1988)."""
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return psi.mean(), v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)


def test_delong_matches_definition_and_sklearn_with_ties():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 150)
    s = np.round(rng.random(150) + 0.3 * y, 1)  # rounding creates ties
    auc, var = delong_auc(y, s)
    ref_auc, ref_var = _delong_by_definition(y, s)
    assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auc == pytest.approx(ref_auc, abs=1e-12)
    assert var == pytest.approx(ref_var, rel=1e-10)


def test_delong_interval_width_agrees_with_bootstrap():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    s = rng.normal(size=400) + y
    interval = delong_interval(y, s)
    boot = _fast_replicates("roc_auc", y[bootstrap_samples(y, 2000, 1, True)].astype(float),
                            s[bootstrap_samples(y, 2000, 1, True)], 2)
    assert interval.low < interval.value < interval.high
    assert (interval.high - interval.low) / 3.92 == pytest.approx(boot.std(), rel=0.2)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_vectorized_replicates_equal_sklearn(task):
    rng = np.random.default_rng(1)
    n = 200
    if task == "binary":
        y = rng.integers(0, 2, n).astype(float)
        s = np.clip(np.round(rng.random(n), 1), 0.01, 0.99)
    elif task == "multiclass":
        y = rng.integers(0, 3, n).astype(float)
        s = rng.dirichlet([1, 1, 1], n)
    else:
        y = rng.normal(size=n)
        s = y + rng.normal(size=n)
    rows = bootstrap_samples(y, 25, 0, task != "regression")
    for name in REPORTED[task]:
        fast = _fast_replicates(name, y[rows], s[rows], 3 if task == "multiclass" else 2)
        slow = np.array([METRICS[name].compute(y[r], s[r]) for r in rows])
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12, err_msg=name)


def test_stratified_bootstrap_keeps_class_counts():
    y = np.array([0] * 30 + [1] * 5 + [2] * 10)
    rows = bootstrap_samples(y, 50, 0, True)
    for r in rows:
        assert np.bincount(y[r]).tolist() == [30, 5, 10]


def test_metric_intervals_contain_the_value():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 120).astype(float)
    s = 1 / (1 + np.exp(-(rng.normal(size=120) + 1.5 * y - 0.75)))
    intervals = metric_intervals("binary", y, s, n_boot=300)
    assert [i.metric for i in intervals] == REPORTED["binary"]
    assert intervals[0].method == "DeLong"
    for interval in intervals:
        assert interval.low <= interval.value <= interval.high, interval
