"""Cross-validation of a whole regularization path: one path per fold, the penalty chosen by the folds.

Each fold fits the path on its training part (:func:`genoml_search.search.paths.fit_path`: standardization
and imputation from that part only) and scores its held-out part at every penalty, stopping once the score
has not improved for :data:`~genoml_search.search.paths.PATIENCE` penalties. The penalties are the same
fractions of each fold's own lambda_max, so the folds' curves line up by position; the chosen penalty is the
position with the best mean score over the positions every fold reached (position 0, lambda_max, is the
covariates-only model, so it can always be chosen). The trial's value is that mean: the CV score at the
chosen penalty.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from genoml_search.data.pages import release_pages
from genoml_search.search.paths import (PATIENCE, AdelieMatrix, Design, PathFit, fit_path, linear_predictor,
                                        raw_scale, scores_from_eta)
from genoml_search.tasks import Task


@dataclass
class PathCV:
    """The outcome of cross-validating a path."""

    fold_scores: list[float]  # each fold's score at the chosen penalty
    reported: list[float]  # after each fold: the running mean of the folds' best scores (for pruning)
    curves: list[list[float]] = field(default_factory=list)  # each fold's score at every penalty it reached
    lambda_index: int = 0  # position of the chosen penalty (0 = lambda_max: covariates only)
    lambda_ratio: float = 1.0  # chosen penalty / lambda_max
    n_selected: list[int] = field(default_factory=list)  # SNPs with a nonzero coefficient per fold, there
    pruned: bool = False
    test_scores: list[np.ndarray] = field(default_factory=list)  # each fold's held-out scores there (OOF, #21)
    # with keep_fold_models: each fold's raw-scale (coefficients, intercept, fill values) at its own best
    # penalty, for CMSA-style averaging (bigstatsr) in benchmarks/path_solvers.py
    fold_models: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)

    @property
    def value(self) -> float:
        return float(np.mean(self.fold_scores))

    def attrs(self) -> dict[str, float | int | list[int]]:
        """What the study records with the trial (the refit takes ``lambda_index``)."""
        return {"lambda_index": self.lambda_index, "lambda_ratio": self.lambda_ratio,
                "n_snps_selected": self.n_selected, "path_lengths": [len(c) for c in self.curves]}


def best_position(values: np.ndarray, greater_is_better: bool) -> int:
    """Position of the best value (the first one on ties: the larger penalty, the simpler model)."""
    return int(np.argmax(values) if greater_is_better else np.argmin(values))


def score_fold(design: Design, y: np.ndarray, train: np.ndarray, test: np.ndarray, task: str,
               compute: Callable[[np.ndarray, np.ndarray], float], greater_is_better: bool, l1_ratio: float,
               classes: np.ndarray | None, n_threads: int = 1, shared: tuple[AdelieMatrix, int] | None = None
               ) -> tuple[PathFit, list[float], list[np.ndarray]]:
    """Fit a path on the ``train`` rows of ``design`` and score the ``test`` rows at each penalty, with
    early stopping. ``train``/``test`` index ``design.rows``; ``y`` holds the targets of ``design.rows``.
    ``shared`` = (a matrix of all of ``design.rows`` with fold standardizations, this fold's number).
    Returns the fit, the score at each penalty and the ``test`` rows' scores (predictions) at each penalty."""
    train_design = design.with_rows(design.rows[train])
    test_rows, y_test = design.rows[test], y[test]
    curve: list[float] = []
    predictions: list[np.ndarray] = []

    def score_up_to(fit: PathFit) -> None:
        for index in range(len(curve), len(fit.lambdas)):
            eta = linear_predictor(fit, index, train_design, test_rows)
            predictions.append(scores_from_eta(eta, task).astype(np.float32))
            curve.append(float(compute(y_test, predictions[-1])))
        release_pages(design.genotypes)  # the held-out rows' pages of the int8 map: re-read from the page cache

    def stop(fit: PathFit) -> bool:
        score_up_to(fit)
        return len(curve) - 1 - best_position(np.asarray(curve), greater_is_better) >= PATIENCE

    if shared is None:
        fit = fit_path(train_design, y[train], task, l1_ratio, classes, stop=stop, n_threads=n_threads)
    else:
        fit = fit_path(design, y, task, l1_ratio, classes, stop=stop, n_threads=n_threads,
                       shared=(shared[0], shared[1], train))
    score_up_to(fit)  # the last penalties, if the solver ended the path on its own
    return fit, curve[: len(fit.lambdas)], predictions[: len(fit.lambdas)]


def cross_validate_path(design: Design, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], task: str,
                        compute: Callable[[np.ndarray, np.ndarray], float], greater_is_better: bool,
                        l1_ratio: float, n_threads: int = 1,
                        should_prune: Callable[[list[float]], bool] | None = None,
                        report_per_fold: bool = False, keep_fold_models: bool = False,
                        share_matrix: bool = False) -> PathCV:
    """One early-stopped path per fold; the penalty position with the best mean score over the folds.

    After each fold, ``should_prune`` sees the folds' best scores so far (each fold's own, or their running
    mean when not ``report_per_fold``). ``share_matrix`` converts the genotypes once for all folds (weight 0
    on each fold's held-out rows) instead of once per fold: measured 1.46x faster cross-validation but 1.6x the
    worker's own memory (0.89x against 0.55x the int8 matrix, ``benchmarks/path_memory.py``), so off by
    default: #22 asks for memory first."""
    classes = np.unique(y) if task != Task.REGRESSION else None
    curves: list[list[float]] = []
    ratios: list[np.ndarray] = []  # each fold's penalties / its lambda_max
    selected: list[np.ndarray] = []  # each fold's count of nonzero SNP coefficients at each penalty
    reported: list[float] = []
    predictions: list[list[np.ndarray]] = []  # each fold's held-out scores at each penalty
    fold_models: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    shared = AdelieMatrix(design, n_threads, fold_rows=[train for train, _ in folds]) if share_matrix else None
    for fold, (train, test) in enumerate(folds):
        fit, curve, fold_predictions = score_fold(design, y, train, test, task, compute, greater_is_better,
                                                  l1_ratio, classes, n_threads,
                                                  shared=None if shared is None else (shared, fold))
        predictions.append(fold_predictions)
        curves.append(curve)
        ratios.append(fit.lambdas / fit.lambdas[0])
        selected.append(np.array([n_selected_snps(fit, i, design.n_snps) for i in range(len(curve))]))
        if keep_fold_models:
            fold_models.append(raw_scale(fit, best_position(np.asarray(curve), greater_is_better)))
        bests = [c[best_position(np.asarray(c), greater_is_better)] for c in curves]
        reported.append(bests[-1] if report_per_fold else float(np.mean(bests)))
        if len(curves) < len(folds) and should_prune is not None and should_prune(reported):
            return PathCV(bests, reported, curves, pruned=True)
    common = min(len(c) for c in curves)
    mean_curve = np.mean([c[:common] for c in curves], axis=0)
    index = best_position(mean_curve, greater_is_better)
    ratio = float(np.mean([r[index] for r in ratios]))
    return PathCV([c[index] for c in curves], reported, curves, index, ratio, [int(s[index]) for s in selected],
                  fold_models=fold_models, test_scores=[p[index] for p in predictions])


def n_selected_snps(fit: PathFit, index: int, n_snps: int) -> int:
    """SNPs with a nonzero coefficient (for any class) at one penalty of a path."""
    beta, _ = fit.coefficients(index)
    return int(np.count_nonzero(np.any(beta[:n_snps] != 0, axis=1)))
