"""The ensemble's CV estimate: nested selection is scored on held-out folds."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from genoml_search.core.metrics import get_metric
from genoml_search.ensemble.build import combiner_fitter
from genoml_search.ensemble.nested import nested_estimate, optimistic_estimate, per_fold_scores


def _folds(n: int, k: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).permutation(n) % k)[None].astype(np.int8)


def test_overfitting_candidates_show_optimistic_above_nested():
    """Many pure-noise members: greedy selection fits the noise in-sample (optimistic well above 0.5) but the
    nested estimate, scored on folds the selection never saw, stays at chance."""
    rng = np.random.default_rng(0)
    n, m = 200, 30
    y = rng.integers(0, 2, size=n)
    members = rng.uniform(size=(m, 1, n))
    folds = _folds(n, 5)
    metric = get_metric("roc_auc", "binary")
    fit = combiner_fitter("greedy", "binary", metric, 0)
    _, optimistic = optimistic_estimate(members, folds, y, metric.compute, fit)
    nested = nested_estimate(members, folds, y, metric.compute, fit)
    assert optimistic.mean > 0.6
    assert abs(nested.mean - 0.5) < 0.08
    assert optimistic.mean - nested.mean > 0.08
    assert len(nested.fold_scores) == 5


def test_nested_selection_never_sees_the_held_out_fold():
    """A fitter that records the samples it was given: never one of the fold it is scored on."""
    rng = np.random.default_rng(2)
    n = 50
    y = rng.integers(0, 2, size=n)
    members = rng.uniform(size=(3, 1, n))
    members[:, 0] += np.arange(n) * 1e-3  # each sample's scores are unique: identify samples by them
    folds = _folds(n, 5)
    seen = []

    class First:
        def combine(self, scores):
            return scores[0]

    def fit(scores, targets):
        seen.append(set(np.round(scores[0, 0], 9)))
        return First()

    nested_estimate(members, folds, y, lambda a, b: roc_auc_score(a, b), fit)
    for fold, samples in enumerate(seen):
        held_out = set(np.round(members[0, 0, folds[0] == fold], 9))
        assert samples.isdisjoint(held_out)
        assert len(samples) == int((folds[0] != fold).sum())


def test_per_fold_scores_of_each_repeat():
    y = np.array([0, 1] * 10)
    scores = np.stack([y * 0.8 + 0.1, 1 - (y * 0.8 + 0.1)]).astype(float)  # repeat 0 perfect, repeat 1 reversed
    folds = np.stack([(np.arange(20) // 2) % 2, np.arange(20) // 10]).astype(np.int8)
    values = per_fold_scores(scores, folds, y, roc_auc_score)
    assert values == pytest.approx([1.0, 1.0, 0.0, 0.0])


def test_stacking_nested_on_informative_members_beats_chance():
    rng = np.random.default_rng(3)
    n = 300
    signal = rng.normal(size=n)
    y = (signal + rng.normal(size=n) > 0).astype(int)
    members = np.stack([1 / (1 + np.exp(-(signal + rng.normal(scale=s, size=n)))) for s in (0.5, 1.0, 3.0)])[:, None]
    metric = get_metric("roc_auc", "binary")
    fit = combiner_fitter("stack", "binary", metric, 0)
    nested = nested_estimate(members, _folds(n, 5), y, metric.compute, fit)
    assert nested.mean > 0.7
