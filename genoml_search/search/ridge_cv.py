"""The ``ridge_path`` family's cross-validation: each fold's ridge path exact through its Gram matrix
(:mod:`~genoml_search.search.kernel_ridge`) or, from :data:`KRYLOV_FROM` training rows per fold, by Lanczos
passes over the genotypes (:mod:`~genoml_search.search.krylov_ridge`), scored on the fold's held-out rows."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from genoml_search.search.kernel_ridge import (
    FoldKernel, RidgePath, exact_trial_seconds, fold_kernel, penalties, scores_along_path, target,
)
from genoml_search.search.krylov_ridge import estimated_trial_seconds as krylov_seconds
from genoml_search.search.krylov_ridge import krylov_paths
from genoml_search.search.path_cv import PathCV, best_position
from genoml_search.search.paths import Design
from genoml_search.tasks import Task

KRYLOV_FROM = 2_500
"""Training rows per fold from which the path is solved by Lanczos passes over the genotypes
(:mod:`~genoml_search.search.krylov_ridge`: O(n k) memory, one pass per iteration for all folds) instead of
the Gram matrix and its eigendecomposition (n^2 M + n^3 per fold, n x n float64 matrices). Below it the exact
path is affordable (14.4 s per 2,400-row fold of 59,798 SNPs, ``ridge_logistic.json``); at 2,666 rows (the
middle rung of a 10,000-sample search) it took ~100 s per trial where the passes take ~25 s."""


def estimated_trial_seconds(n_fit: int, n_samples: int, n_snps: int, n_folds: int) -> float:
    """Seconds one ``ridge_path`` trial takes on one core of the reference machine: the Lanczos passes from
    :data:`KRYLOV_FROM` training rows per fold (:func:`~genoml_search.search.krylov_ridge.estimated_trial_seconds`),
    the Gram matrices and eigendecompositions below (:func:`~genoml_search.search.kernel_ridge.exact_trial_seconds`)."""
    if n_fit >= KRYLOV_FROM:
        return krylov_seconds(n_samples, n_snps)
    return exact_trial_seconds(n_fit, n_samples, n_snps, n_folds)


def fold_paths(design: Design, y_fit: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], task: str,
               lambdas: np.ndarray) -> Iterator[tuple[RidgePath, FoldKernel]]:
    """Each fold's ridge path and kernel, in fold order: through the Gram matrix one fold at a time, or from
    :data:`KRYLOV_FROM` training rows all folds at once by Lanczos passes converged at ``lambdas``."""
    if min(len(train) for train, _ in folds) < KRYLOV_FROM:
        for train, test in folds:
            kernel = fold_kernel(design, train, test)
            yield RidgePath(kernel.k_fit, kernel.c_fit, y_fit[train]), kernel  # type: ignore[arg-type]
        return
    yield from krylov_paths(design, y_fit, folds, lambdas, binary=task == Task.BINARY)


def cross_validate_ridge(design: Design, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], task: str,
                         compute: Callable[[np.ndarray, np.ndarray], float], greater_is_better: bool,
                         should_prune: Callable[[list[float]], bool] | None = None,
                         report_per_fold: bool = False) -> PathCV:
    """The ridge path per fold (standardization from the fold's training part), scored on its held-out part;
    the penalty with the best mean score over the folds, as :func:`~genoml_search.search.path_cv.cross_validate_path`."""
    if task not in (Task.BINARY, Task.REGRESSION):
        raise ValueError(f"ridge_path fits binary and continuous traits, not {task}")
    lambdas = penalties(design.n_snps)
    y_fit = target(y, task)
    curves: list[list[float]] = []
    predictions: list[list[np.ndarray]] = []
    reported: list[float] = []
    for (_, test), (path, kernel) in zip(folds, fold_paths(design, y_fit, folds, task, lambdas)):
        fold_scores = scores_along_path(path, kernel, task, lambdas)
        predictions.append(fold_scores)
        curves.append([float(compute(y[test], s)) for s in fold_scores])
        bests = [c[best_position(np.asarray(c), greater_is_better)] for c in curves]
        reported.append(bests[-1] if report_per_fold else float(np.mean(bests)))
        if len(curves) < len(folds) and should_prune is not None and should_prune(reported):
            return PathCV(bests, reported, curves, pruned=True)
    index = best_position(np.mean(curves, axis=0), greater_is_better)
    return PathCV([c[index] for c in curves], reported, curves, index, float(lambdas[index] / lambdas[0]),
                  [design.n_snps] * len(curves), test_scores=[p[index] for p in predictions])
