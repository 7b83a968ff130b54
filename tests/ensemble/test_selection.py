"""Greedy ensemble selection on synthetic OOF matrices."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mean_squared_error, roc_auc_score

from genoml_search.ensemble.selection import greedy_selection


def _auc(y):
    return lambda s: roc_auc_score(y, s)


def test_picks_the_two_complementary_members_and_not_the_noise():
    """Two members each see half of the signal; the others are pure noise: the average of the two wins."""
    rng = np.random.default_rng(0)
    n = 600
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = (a + b + 0.3 * rng.normal(size=n) > 0).astype(int)
    members = np.stack([1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b))] + [rng.uniform(size=n) for _ in range(6)])
    selection = greedy_selection(members, _auc(y), greater_is_better=True, n_iterations=20)
    assert selection.weights.sum() == pytest.approx(1.0)
    assert (selection.weights >= 0).all()
    assert selection.weights[:2].sum() >= 0.85  # (almost) no weight on noise
    assert min(selection.weights[:2]) >= 0.3  # both halves of the signal are used
    assert selection.score > max(roc_auc_score(y, m) for m in members) + 0.05


@pytest.mark.parametrize("seed", range(5))
def test_never_worse_in_sample_than_the_best_member(seed):
    rng = np.random.default_rng(seed)
    n = 200
    y = rng.normal(size=n)
    members = np.stack([y + rng.normal(scale=s, size=n) for s in rng.uniform(0.5, 3, size=7)])
    rmse = lambda p: float(np.sqrt(mean_squared_error(y, p)))  # noqa: E731
    selection = greedy_selection(members, rmse, greater_is_better=False, n_iterations=15)
    assert selection.weights.sum() == pytest.approx(1.0)
    assert selection.score <= min(rmse(m) for m in members) + 1e-12
    assert rmse(np.tensordot(selection.weights, members, axes=1)) == pytest.approx(selection.score)


def test_one_member_gets_all_the_weight_and_ties_go_to_the_first():
    y = np.array([0, 0, 1, 1])
    same = np.array([0.1, 0.2, 0.8, 0.9])
    selection = greedy_selection(np.stack([same, same]), _auc(y), True, n_iterations=5)
    assert selection.weights.tolist() == [1.0, 0.0]
    single = greedy_selection(same[None], _auc(y), True)
    assert single.weights.tolist() == [1.0]


def test_multiclass_probability_matrices_stay_probabilities():
    rng = np.random.default_rng(1)
    n, k = 300, 3
    y = rng.integers(0, k, size=n)
    members = rng.dirichlet(np.ones(k), size=(4, n))
    members[0, np.arange(n), y] += 1.0  # one informative member
    members /= members.sum(axis=2, keepdims=True)
    accuracy = lambda p: float((p.argmax(axis=1) == y).mean())  # noqa: E731
    selection = greedy_selection(members, accuracy, True, n_iterations=10)
    combined = np.tensordot(selection.weights, members, axes=1)
    assert np.allclose(combined.sum(axis=1), 1.0)
    assert selection.weights[0] > 0.5


def test_a_non_finite_score_never_wins():
    y = np.array([0, 1, 0, 1])
    members = np.stack([np.array([0.2, 0.7, 0.4, 0.6]), np.full(4, np.nan)])

    def score(p):
        return float("nan") if np.isnan(p).any() else roc_auc_score(y, p)

    assert greedy_selection(members, score, True).weights.tolist() == [1.0, 0.0]
