"""The ensemble step of `run`'s finalization, called once the best single trial is refitted and validated.

It gathers the OOF predictions of the study's top K complete trials (old and new: a resumed study uses all),
chooses the combination (:mod:`.build`), refits the members on all search samples (the best single trial's
pipeline is reused), scores the ensemble and each member on the validation samples, and says whether the
ensemble is the final model (only if its nested CV beats the best single trial; the validation samples play
no part in that choice).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna

from genoml_search.core.features import FeatureMatrix
from genoml_search.core.metrics import Metric, score_all
from genoml_search.ensemble.build import (DEFAULT_METHOD, DEFAULT_TOP_K, METHODS, choose_ensemble, ensemble_model,
                                          gather_candidates, refit_members)
from genoml_search.ensemble.model import EnsembleModel
from genoml_search.search.registry import ModelFamily

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
    x_val: np.ndarray  # the scored validation rows (float features: every member takes them)
    y_val: np.ndarray
    best_single: Any  # the refitted best trial's pipeline
    store: Any  # the Optuna artifact store holding OOF predictions
    method: str = DEFAULT_METHOD
    top_k: int = DEFAULT_TOP_K
    seed: int = 0
    rule: str = "nested"  # nested: the ensemble is final only if its nested CV wins; always: whenever it can be


@dataclass
class EnsembleOutcome:
    """The ensemble step's result: the records for ``metrics.json`` and, if chosen, the final model."""

    cv: dict[str, Any]
    validation: dict[str, Any] | None = None
    model: EnsembleModel | None = None
    x_val: np.ndarray | None = None
    scores: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def chosen(self) -> bool:
        """Whether the ensemble replaces the best single trial as the final model."""
        return bool(self.cv.get("chosen")) and self.model is not None


def ensemble_step(request: EnsembleRequest) -> EnsembleOutcome:
    """Choose, estimate, refit and validate the ensemble of the best trials (see the module docstring)."""
    if request.method not in METHODS:
        raise ValueError(f"unknown ensemble method {request.method!r}")
    if request.method == "none":
        return EnsembleOutcome({"method": "none", "chosen": False, "reason": "--ensemble none"})
    started = time.perf_counter()
    y = request.data.y[request.search_index]
    candidates = gather_candidates(request.study, request.store, request.top_k, len(y))
    if len(candidates.trials) < 2:
        reason = f"{len(candidates.trials)} trial(s) with out-of-fold predictions: nothing to combine"
        return EnsembleOutcome({"method": request.method, "chosen": False, "reason": reason,
                                "n_candidates": len(candidates.trials), "notes": candidates.notes})
    choice = choose_ensemble(candidates, y, request.task, request.metric, request.method, request.seed,
                             rule=request.rule)
    x_train = request.data.x[request.search_index]
    best_number = candidates.trials[0].number
    fitted = {best_number: request.best_single}
    to_fit = [t for t in choice.trials if t.number not in fitted]
    refitted = refit_members(to_fit, request.families, x_train, y, request.task, request.data, request.seed)
    fitted.update({t.number: m for t, m in zip(to_fit, refitted)})
    classes = sorted({int(v) for v in y}) if request.task != "regression" else None
    model = ensemble_model(choice, [fitted[t.number] for t in choice.trials], request.task, classes)
    x_val = request.x_val
    record = choice.record(request.metric.name)
    validation = None
    scores = np.empty(0)
    if len(request.y_val):
        member_scores = model.member_scores(x_val)
        scores = model.combiner.combine(member_scores)
        validation = score_all(request.task, request.y_val, scores)
        for member, member_score in zip(record["members"], member_scores):
            member["validation"] = float(request.metric.compute(request.y_val, member_score))
    record["seconds"] = round(time.perf_counter() - started, 3)  # selection, estimates, refits, validation
    record["selection_seconds"] = round(choice.seconds, 3)
    log.info("ensemble (%s): %s", request.method, choice.reason)
    return EnsembleOutcome(record, validation, model, x_val, scores, candidates.notes)
