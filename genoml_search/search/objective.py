"""The cross-validated objective of one trial, run on a Dask worker (or in-process).

A trial is a :class:`TrialSpec` (which dataset, which samples, which model and parameters, which folds); the
worker loads the dataset once (:mod:`genoml_search.core.features`), fits the pipeline fold by fold (all
preprocessing inside the fold) and scores the held-out part from predicted probabilities. After each fold it
asks the pruner, using a snapshot of the study's finished trials sent with the spec (:class:`PruningContext`),
so pruning needs no database connection on the worker.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import optuna
from threadpoolctl import threadpool_limits

from genoml_search.core.features import FeatureMatrix, load_features
from genoml_search.core.metrics import get_metric
from genoml_search.core.scoring import predict_scores
from genoml_search.search.oof import OOFPredictions
from genoml_search.search.pipeline import build_pipeline
from genoml_search.search.registry import ModelFamily, get_family
from genoml_search.tasks import Task

PRUNERS = ("none", "median", "percentile", "wilcoxon", "successive_halving", "hyperband")


@dataclass(frozen=True)
class CVSpec:
    """k-fold cross-validation (stratified for classification), optionally repeated with other shuffles."""

    n_folds: int = 5
    n_repeats: int = 1
    seed: int = 0


def make_folds(
    y: np.ndarray, task: str, cv: CVSpec, groups: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) index pairs of the CV: stratified for classification, grouped when ``groups``."""
    folds: list[tuple[np.ndarray, np.ndarray]] = []
    kind = Task(task).kind
    for repeat in range(cv.n_repeats):
        splitter = kind.cv_splitter(cv.n_folds, cv.seed + repeat, grouped=groups is not None)
        folds.extend(splitter.split(np.zeros(len(y)), y, groups))
    return folds


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """An Optuna pruner by name (steps are CV folds)."""
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "percentile":
        return optuna.pruners.PercentilePruner(25.0, n_startup_trials=5, n_warmup_steps=1)
    if name == "wilcoxon":
        return optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=2)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1)
    raise ValueError(f"unknown pruner {name!r}; choose one of {', '.join(PRUNERS)}")


@dataclass(frozen=True)
class PruningContext:
    """What the worker needs to decide on pruning: the pruner and the finished trials' intermediate values."""

    pruner: str = "none"
    direction: Literal["minimize", "maximize"] = "maximize"
    history: tuple[tuple[str, float | None, tuple[tuple[int, float], ...]], ...] = ()

    @property
    def reports_per_fold(self) -> bool:
        """Wilcoxon compares fold by fold; the other pruners look at the running mean."""
        return self.pruner == "wilcoxon"

    def should_prune(self, reported: list[float]) -> bool:
        """Whether a trial that reported ``reported`` (one value per fold so far) should stop now."""
        if self.pruner == "none" or not reported:
            return False
        study = optuna.create_study(direction=self.direction, pruner=make_pruner(self.pruner))
        states = {"COMPLETE": optuna.trial.TrialState.COMPLETE, "PRUNED": optuna.trial.TrialState.PRUNED}
        study.add_trials([
            optuna.trial.create_trial(state=states[state], value=value if state == "COMPLETE" else None,
                                      intermediate_values=dict(steps))
            for state, value, steps in self.history
        ])
        trial = study.ask()
        for step, value in enumerate(reported):
            trial.report(value, step)
        return trial.should_prune()


@dataclass(frozen=True)
class TrialSpec:
    """Everything a worker needs to evaluate one trial; small enough to send with every task."""

    trial_number: int
    dataset_path: str
    content_hash: str
    task: str
    metric: str
    family: str
    params: dict[str, Any]
    snp_p_threshold: float
    search_index: np.ndarray
    cv: CVSpec
    groups: np.ndarray | None = None
    random_state: int = 0
    n_jobs: int = 1
    families_module: str | None = None
    pruning: PruningContext = field(default_factory=PruningContext)
    n_pcs: int = 0  # genetic PCs appended to the features
    ld_mask: str | None = None  # the LD mask whose SNP columns the trial uses (None: the dataset's default)


@dataclass
class TrialResult:
    """The outcome of a trial: per-fold scores, the mean, whether it was pruned, or the error."""

    trial_number: int
    fold_scores: list[float]
    reported: list[float]
    value: float | None
    pruned: bool
    seconds: float
    error: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)  # recorded as trial user attributes (path: the penalty)
    oof: OOFPredictions | None = None  # a complete trial's out-of-fold scores; the driver stores them (#21)
    in_flight: int | None = None  # set by the driver: trials still running when this one finished (progress bar)


def model_input(data: FeatureMatrix, family: ModelFamily, rows: np.ndarray) -> Any:
    """What a family's pipeline is fitted on or predicts from for some rows: the int8 genotypes (a
    :class:`~genoml_search.search.paths.Design`) for path families, so no float copy is made; else float rows."""
    if family.fits_path and data.genotypes is not None:
        from genoml_search.search.paths import Design

        assert data.covariates is not None  # a FeatureMatrix with genotypes has its covariates too
        return Design(data.genotypes, data.covariates, np.asarray(rows), data.snp_columns)
    return data.x[rows]


def evaluate_trial(spec: TrialSpec) -> TrialResult:
    """Cross-validate the trial's pipeline; never raises for a model error (the error is returned)."""
    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the pruning snapshot study must not log per fold
    fold_scores: list[float] = []
    reported: list[float] = []
    try:
        if spec.families_module:
            from genoml_search.search.space_config import load_families_module

            load_families_module(spec.families_module)
        data = load_features(spec.dataset_path, spec.content_hash, spec.n_pcs, spec.ld_mask)
        y = data.y[spec.search_index]  # rows of the feature matrix are taken per fold: one copy, not two
        metric = get_metric(spec.metric, spec.task)
        family = get_family(spec.family)
        if family.fits_path:
            return evaluate_path_trial(spec, data, started)
        oof = OOFPredictions.empty(spec.cv.n_repeats, len(y))
        for number, (train, test) in enumerate(make_folds(y, spec.task, spec.cv, spec.groups)):
            model = build_pipeline(family, spec.params, spec.task, data.n_snps, spec.snp_p_threshold,
                                   spec.random_state, spec.n_jobs, n_covariates=data.n_covariates,
                                   tabular=data.tabular)
            with threadpool_limits(limits=spec.n_jobs):  # OpenMP/BLAS would otherwise take every core
                model.fit(data.x[spec.search_index[train]], y[train])
            scores = predict_scores(model, data.x[spec.search_index[test]], spec.task)
            oof.add(number // spec.cv.n_folds, number % spec.cv.n_folds, test, scores)
            fold_scores.append(metric.compute(y[test], scores))
            reported.append(fold_scores[-1] if spec.pruning.reports_per_fold else float(np.mean(fold_scores)))
            if len(fold_scores) < spec.cv.n_folds * spec.cv.n_repeats and spec.pruning.should_prune(reported):
                return TrialResult(spec.trial_number, fold_scores, reported, None, True,
                                   time.perf_counter() - started)
        value = float(np.mean(fold_scores))
        if not np.isfinite(value):
            raise ValueError(f"non-finite CV score {value}")
        return TrialResult(spec.trial_number, fold_scores, reported, value, False, time.perf_counter() - started,
                           oof=oof if oof.complete else None)
    except Exception as error:  # a model that fails is a failed trial, not a failed study
        message = f"{type(error).__name__}: {error}".splitlines()[0][:500]
        return TrialResult(spec.trial_number, fold_scores, reported, None, False, time.perf_counter() - started,
                           error=message + "\n" + traceback.format_exc(limit=3)[-1500:])


def evaluate_path_trial(spec: TrialSpec, data: FeatureMatrix, started: float) -> TrialResult:
    """A path family's trial: one early-stopped regularization path per fold on the int8 genotypes, the
    penalty chosen by the folds' mean score (:func:`~genoml_search.search.path_cv.cross_validate_path`)."""
    from genoml_search.search.path_cv import cross_validate_path
    from genoml_search.search.paths import Design

    metric = get_metric(spec.metric, spec.task)
    y = data.y[spec.search_index]
    assert data.genotypes is not None and data.covariates is not None  # loaded without the float copy
    design = Design(data.genotypes, data.covariates, spec.search_index, data.snp_columns)  # the mask's columns
    folds = make_folds(y, spec.task, spec.cv, spec.groups)
    with threadpool_limits(limits=spec.n_jobs):
        result = cross_validate_path(design, y, folds, spec.task,
                                     metric.compute, metric.greater_is_better, spec.params["l1_ratio"],
                                     n_threads=spec.n_jobs, should_prune=spec.pruning.should_prune,
                                     report_per_fold=spec.pruning.reports_per_fold)
    seconds = time.perf_counter() - started
    if result.pruned:
        return TrialResult(spec.trial_number, result.fold_scores, result.reported, None, True, seconds)
    if not np.isfinite(result.value):
        raise ValueError(f"non-finite CV score {result.value}")
    oof = OOFPredictions.empty(spec.cv.n_repeats, len(y))
    for number, ((_, test), scores) in enumerate(zip(folds, result.test_scores)):
        oof.add(number // spec.cv.n_folds, number % spec.cv.n_folds, test, scores)
    return TrialResult(spec.trial_number, result.fold_scores, result.reported, result.value, False, seconds,
                       attrs={"path": result.attrs()}, oof=oof if oof.complete else None)
