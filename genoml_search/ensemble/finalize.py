"""The ensemble step of `run`'s finalization, called once the best single trial is refitted and validated.

It gathers the OOF predictions of the study's top K complete trials (old and new: a resumed study uses all),
chooses the combination and decides on CV alone whether it replaces the best single trial (:mod:`.build`:
only if its nested CV beats the best trial by more than one SE of the per-fold differences, or always with
``rule="always"``). Only then are the members refitted on all search samples (the best single trial's
pipeline is reused; the others in parallel threads, one BLAS/OpenMP thread each) and the ensemble and each
member scored on the validation samples. An ensemble that is not the final model is not refitted unless
``validate`` asks for its validation score (time recorded apart, ``extra_validation_seconds``): the decision
never depends on the validation samples, and a default run does not pay for members it throws away.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import optuna

from genoml_search.core.features import FeatureMatrix
from genoml_search.core.metrics import Metric, score_all
from genoml_search.ensemble.build import (DEFAULT_GREEDY, DEFAULT_METHOD, DEFAULT_TOP_K, METHODS, EnsembleChoice,
                                          GreedyOptions, choose_ensemble, ensemble_model, gather_candidates,
                                          refit_members)
from genoml_search.ensemble.model import EnsembleModel
from genoml_search.ensemble.parallel import available_threads, in_threads
from genoml_search.search.objective import model_input
from genoml_search.search.registry import ModelFamily
from genoml_search.search.space import family_and_params
from genoml_search.tasks import Task

log = logging.getLogger(__name__)


@dataclass
class EnsembleRequest:
    """What the ensemble step needs from the run."""

    study: optuna.Study
    families: list[ModelFamily]
    task: str
    metric: Metric
    data: FeatureMatrix
    search_index: np.ndarray
    val_data: FeatureMatrix  # the feature matrix of the validation samples (a cohort, or ``data`` for a holdout)
    val_rows: np.ndarray  # its scored rows
    y_val: np.ndarray
    best_single: Any  # the refitted best trial's pipeline
    store: Any  # the Optuna artifact store holding OOF predictions
    method: str = DEFAULT_METHOD
    top_k: int = DEFAULT_TOP_K
    seed: int = 0
    rule: str = "nested"  # nested: the ensemble is final only if its nested CV wins; always: whenever it can be
    validate: bool = False  # refit and validate the ensemble even when it is not the final model
    single_scores: np.ndarray | None = None  # the best trial's validation scores (already computed by the run)
    best_trial: int | None = None  # the number of the trial ``best_single`` refits (None: the best by CV)
    greedy: GreedyOptions = DEFAULT_GREEDY


@dataclass
class EnsembleOutcome:
    """The ensemble step's result: the records for ``metrics.json`` and, if chosen, the final model."""

    cv: dict[str, Any]
    validation: dict[str, Any] | None = None
    model: EnsembleModel | None = None
    scores: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def chosen(self) -> bool:
        """Whether the ensemble replaces the best single trial as the final model."""
        return bool(self.cv.get("chosen")) and self.model is not None


def ensemble_step(request: EnsembleRequest) -> EnsembleOutcome:
    """Choose and estimate the ensemble of the best trials; refit and validate it if it is the final model
    (or ``request.validate``); see the module docstring."""
    if request.method not in METHODS:
        raise ValueError(f"unknown ensemble method {request.method!r}")
    if request.method == "none":
        return EnsembleOutcome({"method": "none", "chosen": False, "reason": "--ensemble none"})
    started = time.perf_counter()
    y = request.data.y[request.search_index]
    candidates = gather_candidates(request.study, request.store, request.top_k, len(y), first=request.best_trial)
    if len(candidates.trials) < 2:
        reason = f"{len(candidates.trials)} trial(s) with out-of-fold predictions: nothing to combine"
        return EnsembleOutcome({"method": request.method, "chosen": False, "reason": reason,
                                "n_candidates": len(candidates.trials), "notes": candidates.notes})
    choice = choose_ensemble(candidates, y, request.task, request.metric, request.method, request.seed,
                             greedy=request.greedy, rule=request.rule)
    record = choice.record(request.metric.name)
    record["selection_seconds"] = round(choice.seconds, 3)
    record["candidate_families"] = dict(Counter(str(t.user_attrs.get("family")) for t in candidates.trials))
    log.info("ensemble (%s): %s", request.method, choice.reason)
    decided = time.perf_counter() - started
    if not (choice.chosen or request.validate):
        record.update(refitted=False, seconds=round(decided, 3))  # no member refit for a discarded ensemble
        return EnsembleOutcome(record, notes=candidates.notes)
    model, refit_seconds = _refitted_model(request, choice, y)
    validation, scores = _validate(request, model, choice, record)
    elapsed = time.perf_counter() - started
    record.update(refitted=True, refit_seconds=round(refit_seconds, 3))
    if choice.chosen:  # selection, estimates, refits, validation: what the run pays for its final model
        record["seconds"] = round(elapsed, 3)
    else:  # asked for by ``validate`` only: a default run stops after the decision
        record.update(seconds=round(decided, 3), extra_validation_seconds=round(elapsed - decided, 3))
    return EnsembleOutcome(record, validation, model if choice.chosen else None, scores, candidates.notes)


def member_input(data: FeatureMatrix, rows: np.ndarray, trials: Sequence[optuna.trial.FrozenTrial],
                 families: Sequence[ModelFamily]) -> Any:
    """What the members are fitted on or score for ``rows`` of ``data``: the int8 genotypes (a ``Design``) when
    every member is a path family, so an ensemble of path trials never makes a float genotype copy (#22: the
    copy of 50,000 x 100,000 SNPs would be 20 GB); else the float rows, which every family takes."""
    member_families = [family_and_params(trial.params, families)[0] for trial in trials]
    path_family = next((family for family in member_families if family.fits_path), None)
    if path_family is not None and all(family.fits_path for family in member_families):
        return model_input(data, path_family, rows)
    return data.x[rows]


def _reuses_single(request: EnsembleRequest, choice: EnsembleChoice) -> bool:
    """Whether the run's refitted single model is the ensemble's first candidate (it is not when that trial has
    no stored out-of-fold predictions)."""
    return request.best_trial is None or request.best_trial == choice.best_single.number


def _refitted_model(request: EnsembleRequest, choice: EnsembleChoice, y: np.ndarray) -> tuple[EnsembleModel, float]:
    """The ensemble with its members refitted on the search samples (the best trial's refit reused)."""
    started = time.perf_counter()
    fitted = {choice.best_single.number: request.best_single} if _reuses_single(request, choice) else {}
    to_fit = [t for t in choice.trials if t.number not in fitted]
    x_train = member_input(request.data, request.search_index, choice.trials, request.families)
    refitted = refit_members(to_fit, request.families, x_train, y, request.task, request.data, request.seed,
                             n_threads=available_threads())
    fitted.update({t.number: m for t, m in zip(to_fit, refitted)})
    classes = sorted({int(v) for v in y}) if request.task != "regression" else None
    model = ensemble_model(choice, [fitted[t.number] for t in choice.trials], request.task, classes)
    return model, time.perf_counter() - started


def _validate(request: EnsembleRequest, model: EnsembleModel, choice: EnsembleChoice,
              record: dict[str, Any]) -> tuple[dict[str, Any] | None, np.ndarray]:
    """The ensemble's validation metrics and scores; each member's validation score goes into ``record``."""
    if not len(request.y_val):
        return None, np.empty(0)
    kind = Task(request.task).kind
    best = choice.best_single.number if _reuses_single(request, choice) else None
    to_score = [t for t in choice.trials if t.number != best or request.single_scores is None]
    x_val: Any = member_input(request.val_data, request.val_rows, to_score, request.families) if to_score else None

    def member_scores(pair: tuple[int, Any]) -> np.ndarray:
        number, member = pair
        if number == best and request.single_scores is not None:
            return np.asarray(request.single_scores, dtype=float)  # scored already by the run
        return kind.scores(member, x_val)

    members = np.stack(in_threads(member_scores, list(zip([t.number for t in choice.trials], model.members)),
                                  available_threads()))
    scores = model.combiner.combine(members)
    for member, member_score in zip(record["members"], members):
        member["validation"] = float(request.metric.compute(request.y_val, member_score))
    return score_all(request.task, request.y_val, scores), scores
