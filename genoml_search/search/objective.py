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
from genoml_search.search.fidelity import Fidelity, promotable
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

    def should_prune(self, reported: list[float], offset: int = 0) -> bool:
        """Whether a trial that reported ``reported`` (one value per fold so far) should stop now.

        ``offset``: the step of ``reported[0]`` in the study (fidelity: the first full-data fold); the finished
        trials' steps from there on are shifted back to 0.., so the pruner compares full-data folds only."""
        if self.pruner == "none" or not reported:
            return False
        study = optuna.create_study(direction=self.direction, pruner=make_pruner(self.pruner))
        states = {"COMPLETE": optuna.trial.TrialState.COMPLETE, "PRUNED": optuna.trial.TrialState.PRUNED}
        study.add_trials([
            optuna.trial.create_trial(state=states[state], value=value if state == "COMPLETE" else None,
                                      intermediate_values={s - offset: v for s, v in steps if s >= offset})
            for state, value, steps in self.history
        ])
        trial = study.ask()
        for step, value in enumerate(reported):
            trial.report(value, step)
        return trial.should_prune()

    def promotes(self, value: float, step: int) -> bool:
        """The rung rule (:func:`genoml_search.search.fidelity.promotable`): whether a trial whose rung score,
        reported at ``step``, is ``value`` goes on, against the finished trials that reached that step."""
        competing = [dict(steps)[step] for _, _, steps in self.history if any(s == step for s, _ in steps)]
        return promotable(value, competing, self.direction == "maximize")


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
    fidelity: Fidelity = field(default_factory=Fidelity)  # rungs of training samples (one rung: off)


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
    first_step: int = 0  # the step of ``reported[0]`` (fidelity: a family without rungs starts at the full rung)

    def steps(self) -> tuple[tuple[int, float], ...]:
        """(step, value) of every reported value, as the study stores them."""
        return tuple(enumerate(self.reported, start=self.first_step))


def model_input(data: FeatureMatrix, family: ModelFamily, rows: np.ndarray) -> Any:
    """What a family's pipeline is fitted on or predicts from for some rows: the int8 genotypes (a
    :class:`~genoml_search.search.paths.Design`) for path families, so no float copy is made; else float rows."""
    if family.fits_path and data.genotypes is not None:
        from genoml_search.search.paths import Design

        assert data.covariates is not None  # a FeatureMatrix with genotypes has its covariates too
        return Design(data.genotypes, data.covariates, np.asarray(rows), data.snp_columns)
    return data.x[rows]


def evaluate_trial(spec: TrialSpec) -> TrialResult:
    """Cross-validate the trial's pipeline, rung by rung with multi-fidelity (:mod:`genoml_search.search.fidelity`);
    never raises for a model error (the error is returned)."""
    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the pruning snapshot study must not log per fold
    done = RungResult([], [])
    reported: list[float] = []
    first_step = 0
    try:
        if spec.families_module:
            from genoml_search.search.space_config import load_families_module

            load_families_module(spec.families_module)
        data = load_features(spec.dataset_path, spec.content_hash, spec.n_pcs, spec.ld_mask)
        family = get_family(spec.family)
        rungs = spec.fidelity.rows(data.y[spec.search_index], spec.task)
        first = 0 if family.multi_fidelity else len(rungs) - 1  # cheap families go straight to all samples
        per_rung = spec.cv.n_folds * spec.cv.n_repeats
        first_step = first * per_rung
        for rung in range(first, len(rungs)):
            last = rung == len(rungs) - 1
            done = cross_validate(spec, data, family, rungs[rung], last)
            reported += done.reported
            if done.pruned or last:
                break
            if not spec.pruning.promotes(done.reported[-1], spec.fidelity.rung_step(rung, per_rung)):
                done.pruned = True  # stopped at a lower rung: its rung score is its partial score
                break
        if spec.fidelity.enabled:
            done.attrs["fidelity"] = {"rung": rung, "n_samples": int(len(rungs[rung])),
                                      "rungs": list(spec.fidelity.sizes)}
        seconds = time.perf_counter() - started
        if done.pruned:
            return TrialResult(spec.trial_number, done.fold_scores, reported, None, True, seconds,
                               attrs=done.attrs, first_step=first_step)
        value = float(np.mean(done.fold_scores)) if done.value is None else done.value
        if not np.isfinite(value):
            raise ValueError(f"non-finite CV score {value}")
        return TrialResult(spec.trial_number, done.fold_scores, reported, value, False, seconds,
                           attrs=done.attrs, oof=done.oof, first_step=first_step)
    except Exception as error:  # a model that fails is a failed trial, not a failed study
        message = f"{type(error).__name__}: {error}".splitlines()[0][:500]
        return TrialResult(spec.trial_number, done.fold_scores, reported, None, False, time.perf_counter() - started,
                           error=message + "\n" + traceback.format_exc(limit=3)[-1500:], first_step=first_step)


@dataclass
class RungResult:
    """One rung's cross-validation: fold scores, the values reported after each fold, whether the per-fold
    pruner stopped it, the CV score (path families: at the chosen penalty; None: the folds' mean)."""

    fold_scores: list[float]
    reported: list[float]
    pruned: bool = False
    value: float | None = None
    oof: OOFPredictions | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


def cross_validate(spec: TrialSpec, data: FeatureMatrix, family: ModelFamily, positions: np.ndarray,
                   last: bool) -> RungResult:
    """Cross-validate on the search samples at ``positions`` (a rung). Only the ``last`` rung (all search
    samples) asks the per-fold pruner and keeps out-of-fold predictions; a lower rung's last reported value is
    its CV score, which the rung rule compares."""
    index = spec.search_index[positions]
    groups = None if spec.groups is None else spec.groups[positions]
    folds = make_folds(data.y[index], spec.task, spec.cv, groups)
    offset = spec.fidelity.offset(spec.cv.n_folds * spec.cv.n_repeats)
    should_prune = (lambda values: spec.pruning.should_prune(values, offset)) if last else None
    per_fold = last and spec.pruning.reports_per_fold
    if family.fits_path:
        outcome = _path_rung(spec, data, family, index, folds, should_prune, per_fold)
    else:
        outcome = _fitted_rung(spec, data, family, index, folds, should_prune, per_fold)
    if not last and not outcome.pruned:
        outcome.reported[-1] = float(np.mean(outcome.fold_scores)) if outcome.value is None else outcome.value
        outcome.oof = None
    return outcome


def _fitted_rung(spec: TrialSpec, data: FeatureMatrix, family: ModelFamily, index: np.ndarray,
                 folds: list[tuple[np.ndarray, np.ndarray]], should_prune: Any, per_fold: bool) -> RungResult:
    """One fit per fold of the trial's pipeline (all preprocessing inside the fold)."""
    metric = get_metric(spec.metric, spec.task)
    y = data.y[index]  # rows of the feature matrix are taken per fold: one copy, not two
    oof = OOFPredictions.empty(spec.cv.n_repeats, len(y))
    outcome = RungResult([], [])
    for number, (train, test) in enumerate(folds):
        model = build_pipeline(family, spec.params, spec.task, data.n_snps, spec.snp_p_threshold,
                               spec.random_state, spec.n_jobs, n_covariates=data.n_covariates,
                               tabular=data.tabular)
        with threadpool_limits(limits=spec.n_jobs):  # OpenMP/BLAS would otherwise take every core
            model.fit(data.x[index[train]], y[train])
        scores = predict_scores(model, data.x[index[test]], spec.task)
        oof.add(number // spec.cv.n_folds, number % spec.cv.n_folds, test, scores)
        outcome.fold_scores.append(metric.compute(y[test], scores))
        outcome.reported.append(outcome.fold_scores[-1] if per_fold else float(np.mean(outcome.fold_scores)))
        if len(outcome.fold_scores) < len(folds) and should_prune is not None and should_prune(outcome.reported):
            outcome.pruned = True
            return outcome
    outcome.oof = oof if oof.complete else None
    return outcome


def _path_rung(spec: TrialSpec, data: FeatureMatrix, family: ModelFamily, index: np.ndarray,
               folds: list[tuple[np.ndarray, np.ndarray]], should_prune: Any, per_fold: bool) -> RungResult:
    """A path family's rung: one regularization path per fold on the int8 genotypes, the penalty chosen by
    the folds' mean score (the family's ``cross_validate_path``)."""
    from genoml_search.search.paths import Design

    metric = get_metric(spec.metric, spec.task)
    y = data.y[index]
    assert data.genotypes is not None and data.covariates is not None  # loaded without the float copy
    design = Design(data.genotypes, data.covariates, index, data.snp_columns)  # the mask's columns
    with threadpool_limits(limits=spec.n_jobs):
        result = family.cross_validate_path(design, y, folds, spec.task, metric, spec.params, n_threads=spec.n_jobs,
                                            should_prune=should_prune, report_per_fold=per_fold)
    if result.pruned:
        return RungResult(result.fold_scores, result.reported, pruned=True)
    oof = OOFPredictions.empty(spec.cv.n_repeats, len(y))
    for number, ((_, test), scores) in enumerate(zip(folds, result.test_scores)):
        oof.add(number // spec.cv.n_folds, number % spec.cv.n_folds, test, scores)
    return RungResult(result.fold_scores, result.reported, value=result.value, oof=oof if oof.complete else None,
                      attrs={"path": result.attrs()})
