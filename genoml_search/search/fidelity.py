"""Multi-fidelity successive halving on the number of training samples (issue #22, item 4).

At large n a trial of an expensive family costs minutes, so the sampler would see few points. With fidelity
on, a trial is cross-validated first on a stratified subsample of the search samples (rung 0: 1/9 of them),
then on 1/3 (rung 1), then on all of them (the last rung, whose CV score is the trial's value). After each
lower rung the worker asks the rung rule: the trial goes on only if its rung score is among the best
1/:data:`REDUCTION` of the scores that the finished trials of the pruning snapshot reached at that rung
(asynchronous successive halving, the promotion rule of Optuna's ``SuccessiveHalvingPruner``); otherwise it
is pruned and keeps its rung score (as the trial's last intermediate value and its ``fold_scores``), which
the TPE sampler and the leaderboard use as a partial score.

Rungs are nested prefixes of one stratified ordering of the search samples drawn from the study's seed, so
every trial of a study (and every resumed run) sees the same subsamples, and they never contain a validation
sample (they are drawn from the search samples only). The final model is always refitted on all search
samples.

Steps: every fold of every rung is reported, at step ``rung * folds + fold``; the full-data folds are at
steps ``offset .. offset + folds - 1`` with :meth:`Fidelity.offset` (0 without fidelity, so a study without
fidelity keeps the layout it always had). The per-fold pruner (``--pruner``) acts only on the full-data rung,
seeing those steps shifted back to 0.. so its warm-up and comparisons are those of a study without fidelity.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genoml_search.tasks import Task

FIDELITY_MODES = ("auto", "on", "off")
REDUCTION = 3
"""Reduction factor: each rung has 3x the samples of the one before, and the best third goes on."""
N_RUNGS = 3
"""Rungs at 1/9, 1/3 and all of the search samples."""
AUTO_MIN_SAMPLES = 5000
"""``--fidelity auto`` switches on from this many search samples (rung 0 then has >= 555 samples); below it a
full trial is cheap enough that the sampler sees enough points anyway (benchmarks/results/fidelity.json)."""
MIN_FOLD_TRAIN = 20
"""A rung is kept only if each CV fold trains on at least this many samples per fold (``on`` at small n)."""


@dataclass(frozen=True)
class Fidelity:
    """The rungs of a study: sample counts (ascending, the last one all search samples) and their seed."""

    sizes: tuple[int, ...] = ()
    seed: int = 0

    @property
    def n_rungs(self) -> int:
        """Number of rungs; 1 (or an empty ``sizes``) means no multi-fidelity."""
        return max(1, len(self.sizes))

    @property
    def enabled(self) -> bool:
        return len(self.sizes) > 1

    def offset(self, n_folds: int) -> int:
        """The step of the first full-data fold report (CV folds per rung: ``n_folds``)."""
        return (self.n_rungs - 1) * n_folds

    def rung_step(self, rung: int, n_folds: int) -> int:
        """The step whose value is rung ``rung``'s CV score (its last fold's running mean)."""
        return rung * n_folds + n_folds - 1

    def rows(self, y: np.ndarray, task: str) -> list[np.ndarray]:
        """Each rung's positions in the search samples (sorted); the last rung is all of them."""
        if not self.enabled:
            return [np.arange(len(y))]
        order = subsample_order(y, task, self.seed)
        return [np.sort(order[:size]) for size in self.sizes[:-1]] + [np.arange(len(y))]


def subsample_order(y: np.ndarray, task: str, seed: int) -> np.ndarray:
    """A random ordering of ``range(len(y))`` whose every prefix is stratified by class (classification).

    Each class is shuffled and its members spread evenly over [0, 1) (key (rank + u) / class size, u uniform
    in [0, 1)); sorting by that key interleaves the classes, so a prefix of m samples holds each class in its
    proportion to within one sample. Regression: a plain permutation. Deterministic given ``seed``.
    """
    rng = np.random.default_rng([seed, 1601])  # its own stream: not the folds' or the split's
    n = len(y)
    if not Task(task).is_classification:
        return rng.permutation(n)
    keys = np.empty(n)
    _, codes = np.unique(y, return_inverse=True)
    for code in range(int(codes.max()) + 1):
        members = np.flatnonzero(codes == code)
        ranks = rng.permutation(len(members))
        keys[members] = (ranks + rng.uniform(size=len(members))) / len(members)
    return np.argsort(keys, kind="stable")


def rung_sizes(n_search: int, n_folds: int, mode: str, y: np.ndarray | None = None,
               task: str | None = None) -> tuple[int, ...]:
    """The rungs' sample counts for ``--fidelity mode``; ``(n_search,)`` when off.

    ``auto`` is on from :data:`AUTO_MIN_SAMPLES` search samples; ``on`` always, keeping only the lower rungs
    whose folds train on at least :data:`MIN_FOLD_TRAIN` samples and (classification, given ``y``) that hold
    at least two members of every class per fold.
    """
    if mode not in FIDELITY_MODES:
        raise ValueError(f"unknown fidelity mode {mode!r}; choose one of {', '.join(FIDELITY_MODES)}")
    if mode == "off" or (mode == "auto" and n_search < AUTO_MIN_SAMPLES):
        return (n_search,)
    lower = [n_search // REDUCTION ** k for k in range(N_RUNGS - 1, 0, -1)]
    keep = [size for size in lower if size * (n_folds - 1) // n_folds >= MIN_FOLD_TRAIN]
    if y is not None and task is not None and Task(task).is_classification:
        counts = np.unique(y, return_counts=True)[1]
        keep = [size for size in keep if np.floor(counts.min() * size / n_search) >= 2 * n_folds]
    return tuple(keep) + (n_search,)


def promotable(value: float, competing: list[float], maximize: bool, reduction: int = REDUCTION) -> bool:
    """Whether a trial whose rung score is ``value`` goes on to the next rung, given the rung scores of the
    other trials that reached this rung (``competing``, without ``value``).

    The rule of Optuna's ``SuccessiveHalvingPruner`` (``bootstrap_count`` 0): among all n values (``value``
    included) it must be within the best floor(n / reduction), and the best one while n < reduction. NaN
    never goes on.
    """
    if not np.isfinite(value):
        return False
    values = sorted([v for v in competing if np.isfinite(v)] + [value], reverse=maximize)
    keep = max(len(values) // reduction, 1)
    threshold = values[keep - 1]
    return value >= threshold if maximize else value <= threshold


def resumed_fidelity(recorded: list[int] | None, requested: Fidelity, mode: str, study_name: str) -> Fidelity:
    """The rungs a resumed study keeps: the ones it was made with (``recorded``, its ``fidelity_rungs``
    attribute; a study made before fidelity existed has none and keeps all samples), so its trials stay
    comparable and a resumed run evaluates exactly what the first one would have. ``--fidelity auto`` follows
    the study; an explicit ``on``/``off`` that contradicts it is refused."""
    from genoml_search.errors import StudyError

    sizes = tuple(int(s) for s in recorded) if recorded else (requested.sizes[-1],)
    if sizes == requested.sizes:
        return requested
    if mode != "auto" and (len(sizes) > 1) != (len(requested.sizes) > 1):
        state = "with" if len(sizes) > 1 else "without"
        raise StudyError(f"study {study_name!r} was made {state} multi-fidelity rungs {list(sizes)}; "
                         f"use --fidelity auto (or {'on' if len(sizes) > 1 else 'off'}) or another --study name")
    return Fidelity(sizes, requested.seed)
