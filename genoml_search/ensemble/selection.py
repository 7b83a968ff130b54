"""Greedy ensemble selection with replacement (Caruana, Niculescu-Mizil, Crew & Ksikes, ICML 2004).

Start from an empty ensemble; at each of ``n_iterations`` steps add the member (repeats allowed) whose addition
gives the best score of the averaged scores; return the ensemble of the best step. A member's weight is the
number of times it was added over the size of that ensemble, so weights are non-negative and sum to 1. The
first step picks the best single member and the best step is kept, so in-sample the ensemble is never worse
than its best member. Ties go to the member listed first (callers list the best trials first).

Two of the paper's guards against overfitting the selection are options:

- *sorted initialization* (``init_size``): start from the average of the ``n`` best members instead of an
  empty ensemble, ``n <= init_size`` chosen by the in-sample score (``n = 1`` is the plain method);
- *bagged selection* (:func:`bagged_selection`): run the selection on random halves of the members and
  average the weights, so no single lucky member takes all the weight.

Every step scores all candidates at once when a vectorized ``score_many`` is given (one rank computation for
all candidates instead of one per candidate).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DEFAULT_ITERATIONS = 25
DEFAULT_BAGS = 20
DEFAULT_BAG_FRACTION = 0.5

Score = Callable[[np.ndarray], float]
ScoreMany = Callable[[np.ndarray], np.ndarray]  # (candidates, samples[, classes]) -> one value per candidate


@dataclass(frozen=True)
class Selection:
    """The selected weights (one per member, summing to 1) and the in-sample score at each step."""

    weights: np.ndarray
    score: float
    trace: list[float]


def _scorer(score: Score, score_many: ScoreMany | None, sign: float) -> Callable[[np.ndarray], np.ndarray]:
    """Signed scores (higher is better) of stacked candidate ensembles; non-finite ones are -inf (never win)."""
    def signed(candidates: np.ndarray) -> np.ndarray:
        values = (np.asarray(score_many(candidates), dtype=float) if score_many is not None
                  else np.array([float(score(c)) for c in candidates]))
        values = sign * values
        return np.where(np.isfinite(values), values, -np.inf)

    return signed


def greedy_selection(member_scores: np.ndarray, score: Score, greater_is_better: bool,
                     n_iterations: int = DEFAULT_ITERATIONS, score_many: ScoreMany | None = None,
                     init_size: int = 1) -> Selection:
    """Choose weights for ``member_scores`` (``(members, samples[, classes])``) by greedy forward selection with
    replacement; ``score(ensemble_scores)`` is the metric on the samples (higher or lower is better),
    ``score_many`` the same for stacked candidates (optional, faster); ``init_size`` > 1 starts from the
    best average of the 1..``init_size`` individually best members (sorted initialization)."""
    scores = np.asarray(member_scores, dtype=float)
    n_members = scores.shape[0]
    if n_members == 0:
        raise ValueError("greedy selection needs at least one member")
    signed = _scorer(score, score_many, 1.0 if greater_is_better else -1.0)
    counts, total, trace = _initial(scores, signed, init_size)
    size = int(counts.sum())
    best_counts, best_value = counts.copy(), (trace[-1] if trace else -np.inf)
    while size < max(1, n_iterations) and not (size and n_members == 1):
        size += 1
        values = signed((total[None] + scores) / size)
        chosen = int(np.argmax(values))  # first on ties
        counts[chosen] += 1
        total += scores[chosen]
        trace.append(float(values[chosen]))
        if values[chosen] > best_value:
            best_value, best_counts = float(values[chosen]), counts.copy()
    sign = 1.0 if greater_is_better else -1.0
    return Selection(best_counts / best_counts.sum(), sign * best_value, [sign * t for t in trace])


def _initial(scores: np.ndarray, signed: Callable[[np.ndarray], np.ndarray],
             init_size: int) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Counts, summed scores and trace of the starting ensemble: empty (``init_size`` <= 1), or the best
    average of the n individually best members, n = 1..``init_size``."""
    counts = np.zeros(scores.shape[0], dtype=int)
    if init_size <= 1 or scores.shape[0] == 1:
        return counts, np.zeros(scores.shape[1:], dtype=float), []
    order = np.argsort(-signed(scores), kind="stable")[:init_size]
    prefix = np.cumsum(scores[order], axis=0) / np.arange(1, len(order) + 1).reshape((-1,) + (1,) * (scores.ndim - 1))
    values = signed(prefix)
    n = int(np.argmax(values)) + 1  # the smallest n on ties
    counts[order[:n]] = 1
    return counts, scores[order[:n]].sum(axis=0), [float(values[n - 1])]


def bagged_selection(member_scores: np.ndarray, score: Score, greater_is_better: bool,
                     n_iterations: int = DEFAULT_ITERATIONS, score_many: ScoreMany | None = None,
                     init_size: int = 1, n_bags: int = DEFAULT_BAGS, fraction: float = DEFAULT_BAG_FRACTION,
                     seed: int = 0) -> Selection:
    """Greedy selection on ``n_bags`` random subsets (``fraction`` of the members each), weights averaged
    (Caruana et al. 2004, bagged ensemble selection). With 3 members or fewer it is the plain selection."""
    scores = np.asarray(member_scores, dtype=float)
    n_members = scores.shape[0]
    if n_members <= 3 or n_bags <= 1:
        return greedy_selection(scores, score, greater_is_better, n_iterations, score_many, init_size)
    rng = np.random.default_rng(seed)
    size = max(2, int(round(fraction * n_members)))
    weights = np.zeros(n_members)
    for _ in range(n_bags):
        subset = np.sort(rng.choice(n_members, size=size, replace=False))  # keeps best-first order for ties
        weights[subset] += greedy_selection(scores[subset], score, greater_is_better, n_iterations, score_many,
                                            init_size).weights
    weights /= n_bags
    signed = _scorer(score, score_many, 1.0 if greater_is_better else -1.0)
    value = float(signed(np.tensordot(weights, scores, axes=1)[None])[0])
    return Selection(weights, (1.0 if greater_is_better else -1.0) * value, [])
