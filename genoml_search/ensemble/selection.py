"""Greedy ensemble selection with replacement (Caruana, Niculescu-Mizil, Crew & Ksikes, ICML 2004).

Start from an empty ensemble; at each of ``n_iterations`` steps add the member (repeats allowed) whose addition
gives the best score of the averaged scores; return the ensemble of the best step. A member's weight is the
number of times it was added over the size of that ensemble, so weights are non-negative and sum to 1. The
first step picks the best single member and the best step is kept, so in-sample the ensemble is never worse
than its best member. Ties go to the member listed first (callers list the best trials first).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DEFAULT_ITERATIONS = 25


@dataclass(frozen=True)
class Selection:
    """The selected weights (one per member, summing to 1) and the in-sample score at each step."""

    weights: np.ndarray
    score: float
    trace: list[float]


def greedy_selection(member_scores: np.ndarray, score: Callable[[np.ndarray], float], greater_is_better: bool,
                     n_iterations: int = DEFAULT_ITERATIONS) -> Selection:
    """Choose weights for ``member_scores`` (``(members, samples[, classes])``) by greedy forward selection with
    replacement; ``score(ensemble_scores)`` is the metric on the samples (higher or lower is better)."""
    scores = np.asarray(member_scores, dtype=float)
    n_members = scores.shape[0]
    if n_members == 0:
        raise ValueError("greedy selection needs at least one member")
    sign = 1.0 if greater_is_better else -1.0
    counts = np.zeros(n_members, dtype=int)
    total = np.zeros(scores.shape[1:], dtype=float)
    trace: list[float] = []
    best_counts, best_value = counts.copy(), -np.inf
    for step in range(1, max(1, n_iterations) + 1):
        values = np.array([_signed(score, (total + scores[j]) / step, sign) for j in range(n_members)])
        chosen = int(np.argmax(values))  # first on ties
        counts[chosen] += 1
        total += scores[chosen]
        trace.append(sign * float(values[chosen]))
        if values[chosen] > best_value:
            best_value, best_counts = float(values[chosen]), counts.copy()
        if n_members == 1:
            break
    return Selection(best_counts / best_counts.sum(), sign * best_value, trace)


def _signed(score: Callable[[np.ndarray], float], ensemble: np.ndarray, sign: float) -> float:
    """The score times ``sign`` (higher is better); a non-finite score is -inf, so it never wins a step."""
    value = sign * float(score(ensemble))
    return value if np.isfinite(value) else -np.inf
