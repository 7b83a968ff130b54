"""Paired comparisons of two models on the same samples: DeLong for ROC-AUC, a paired bootstrap otherwise."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import r2_score, roc_auc_score

from genoml_search.core.intervals import paired_bootstrap, paired_delong, paired_differences


def _scores(n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    strong = y + rng.normal(0, 0.8, n)
    weak = 0.5 * strong + rng.normal(0, 1.0, n)
    return y, strong, weak


def test_paired_delong_difference_and_interval():
    y, strong, weak = _scores()
    result = paired_delong(y, strong, weak)
    assert result.difference == pytest.approx(roc_auc_score(y, strong) - roc_auc_score(y, weak), abs=1e-12)
    assert result.low < result.difference < result.high
    assert result.low > 0 and result.p_value < 0.01  # the strong score is clearly better
    reverse = paired_delong(y, weak, strong)
    assert reverse.difference == pytest.approx(-result.difference) and reverse.high < 0


def test_paired_delong_is_narrower_than_unpaired_for_correlated_scores():
    """Pairing removes the shared variance: two nearly identical scores give a tight interval around 0."""
    y, strong, _ = _scores(seed=1)
    nudged = strong + np.random.default_rng(2).normal(0, 0.05, len(y))
    result = paired_delong(y, strong, nudged)
    assert result.high - result.low < 0.02 and result.low < 0 < result.high


def test_paired_delong_constant_baseline_is_chance():
    y, strong, _ = _scores()
    result = paired_delong(y, strong, np.full(len(y), 0.3))
    assert result.difference == pytest.approx(roc_auc_score(y, strong) - 0.5)


def test_paired_bootstrap_regression_agrees_with_the_point_estimate():
    rng = np.random.default_rng(3)
    y = rng.normal(size=300)
    good, bad = y + rng.normal(0, 0.5, 300), y + rng.normal(0, 1.5, 300)
    result = paired_bootstrap("r2", y, good, bad, "regression", n_boot=300)
    assert result.difference == pytest.approx(r2_score(y, good) - r2_score(y, bad))
    assert 0 < result.low < result.difference < result.high
    assert result.method.startswith("paired bootstrap")


def test_paired_differences_cover_every_reported_metric():
    y, strong, weak = _scores()
    p_strong, p_weak = 1 / (1 + np.exp(-strong)), 1 / (1 + np.exp(-weak))
    names = [d.metric for d in paired_differences("binary", y, p_strong, p_weak, n_boot=200)]
    assert names == ["roc_auc", "average_precision", "balanced_accuracy", "log_loss", "brier"]
