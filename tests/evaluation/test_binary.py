"""Binary-trait summaries against scikit-learn's confusion matrix and logistic regression."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix

from genoml_search.evaluation.binary import (binary_summary, odds_ratio_per_sd, risk_by_decile, risk_score,
                                             threshold_statistics)


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = 1 / (1 + np.exp(-(1.2 * y - 0.6 + rng.normal(0, 1, 500))))
    return y, p


def test_threshold_statistics_match_the_confusion_matrix(scored):
    y, p = scored
    tn, fp, fn, tp = confusion_matrix(y, (p >= 0.5).astype(int)).ravel()
    stats = threshold_statistics(y, p)
    assert (stats["tp"], stats["fp"], stats["tn"], stats["fn"]) == (tp, fp, tn, fn)
    assert stats["sensitivity"] == pytest.approx(tp / (tp + fn))
    assert stats["specificity"] == pytest.approx(tn / (tn + fp))
    assert stats["ppv"] == pytest.approx(tp / (tp + fp)) and stats["npv"] == pytest.approx(tn / (tn + fn))


def test_odds_ratio_per_sd_matches_unpenalized_logistic_regression(scored):
    y, p = scored
    z = risk_score(p)
    z = ((z - z.mean()) / z.std())[:, None]
    reference = np.exp(LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(z, y).coef_[0, 0])
    result = odds_ratio_per_sd(y, p)
    assert result["value"] == pytest.approx(reference, rel=1e-4)
    assert 1 < result["low"] < result["value"] < result["high"]


def test_odds_ratio_of_an_uninformative_score_is_near_one():
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 2, 2000), rng.random(2000)
    result = odds_ratio_per_sd(y, p)
    assert result["low"] < 1 < result["high"]


def test_risk_by_decile_rises_with_the_score(scored):
    y, p = scored
    deciles = risk_by_decile(y, p)
    assert [d["decile"] for d in deciles] == list(range(1, 11)) and sum(d["n"] for d in deciles) == len(y)
    assert sum(d["n_cases"] for d in deciles) == y.sum()
    assert deciles[-1]["observed"] > deciles[0]["observed"]


def test_binary_summary_counts(scored):
    y, p = scored
    summary = binary_summary(y, p)
    assert summary["n_cases"] == y.sum() and summary["n_controls"] == len(y) - y.sum()
