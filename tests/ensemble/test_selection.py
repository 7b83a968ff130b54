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


def _noisy_binary(seed: int, n: int = 300, m: int = 12):
    """Two informative members and m - 2 weak or noisy ones."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = (a + b + rng.normal(size=n) > 0).astype(int)
    members = [1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b))]
    members += [1 / (1 + np.exp(-(0.2 * a + rng.normal(size=n)))) for _ in range(m - 2)]
    return y, np.stack(members)


@pytest.mark.parametrize("seed", range(3))
def test_vectorized_scores_choose_the_same_weights(seed):
    from genoml_search.core.metrics import get_metric
    from genoml_search.ensemble.fast_metrics import fast_compute_many

    y, members = _noisy_binary(seed)
    many = fast_compute_many(get_metric("roc_auc", "binary"))
    plain = greedy_selection(members, _auc(y), True, n_iterations=15)
    vectorized = greedy_selection(members, _auc(y), True, n_iterations=15, score_many=lambda c: many(y, c))
    assert np.array_equal(plain.weights, vectorized.weights)
    assert plain.score == pytest.approx(vectorized.score)


def test_sorted_initialization_starts_from_the_best_average_of_the_top_members():
    """Three equally good, independent members: their average beats each, so the start holds all three; with
    init_size 1 it is the plain method."""
    rng = np.random.default_rng(4)
    n = 400
    signal = rng.normal(size=n)
    y = (signal > 0).astype(int)
    members = np.stack([signal + rng.normal(size=n) for _ in range(3)] + [rng.normal(size=n)])
    started = greedy_selection(members, _auc(y), True, n_iterations=3, init_size=4)
    assert started.weights[:3].tolist() == pytest.approx([1 / 3] * 3) and started.weights[3] == 0
    assert len(started.trace) == 1  # the start already has 3 members: no step left
    plain = greedy_selection(members, _auc(y), True, n_iterations=1, init_size=1)
    assert plain.weights.max() == 1.0


def test_bagged_selection_spreads_weight_and_is_reproducible():
    from genoml_search.ensemble.selection import bagged_selection

    y, members = _noisy_binary(7)
    plain = greedy_selection(members, _auc(y), True, n_iterations=20)
    bagged = bagged_selection(members, _auc(y), True, n_iterations=20, n_bags=10, seed=3)
    assert bagged.weights.sum() == pytest.approx(1.0) and (bagged.weights >= 0).all()
    assert np.count_nonzero(bagged.weights) >= np.count_nonzero(plain.weights)
    assert bagged.weights[:2].sum() > 0.5  # the informative members still carry the ensemble
    assert bagged.score == pytest.approx(roc_auc_score(y, np.tensordot(bagged.weights, members, axes=1)))
    again = bagged_selection(members, _auc(y), True, n_iterations=20, n_bags=10, seed=3)
    assert np.array_equal(bagged.weights, again.weights)
    few = bagged_selection(members[:3], _auc(y), True, n_iterations=20, n_bags=10, seed=3)
    assert np.array_equal(few.weights, greedy_selection(members[:3], _auc(y), True, n_iterations=20).weights)
