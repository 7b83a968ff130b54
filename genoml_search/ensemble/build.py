"""The ensemble step of a run's finalization: gather the top K trials' OOF predictions, choose the combination,
estimate its CV score (optimistic and nested), decide whether it replaces the best single trial, refit members.

The decision is made on CV only (the validation samples stay untouched until both models are final): the
ensemble becomes the final model only if its *nested* CV score beats the best single trial's CV score (itself
the maximum over the search, so optimistic: the rule leans toward the single trial), and beats the best
trial's own per-fold scores by more than one standard error of the paired per-fold differences (the 1-SE
rule: the simpler model unless the more complex one is better by more than the noise). The per-fold gain is
first reduced by what the refit on all search samples is expected to take from it when the members learn at
different rates (:mod:`.refit_size`, from their multi-fidelity learning curves). Without that margin,
on a 3,000 x 60,000 sparse trait an ensemble won by 0.00003 nested AUC, put a quarter of its weight on
boosting and logistic trials, and lost 0.0017 validation AUC to its own best member
(benchmarks/results/genomewide.json).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna

from genoml_search.core.features import FeatureMatrix
from genoml_search.core.metrics import Metric
from genoml_search.ensemble.combine import WeightedAverage
from genoml_search.ensemble.fast_metrics import fast_compute, fast_compute_many
from genoml_search.ensemble.model import EnsembleModel
from genoml_search.ensemble.parallel import in_threads
from genoml_search.ensemble.refit_size import RefitProjection, project_refit
from genoml_search.ensemble.nested import CVEstimate, FitCombiner, nested_estimate, optimistic_estimate, per_fold_scores
from genoml_search.ensemble.selection import DEFAULT_BAG_FRACTION, DEFAULT_ITERATIONS, bagged_selection
from genoml_search.ensemble.stacking import fit_stack
from genoml_search.search.final_choice import paired_gain
from genoml_search.search.oof import load_oof
from genoml_search.search.ld_choice import trial_snp_columns
from genoml_search.search.pipeline import build_pipeline
from genoml_search.search.registry import ModelFamily
from genoml_search.search.space import family_and_params

log = logging.getLogger(__name__)
METHODS = ("none", "greedy", "stack")
RULES = ("nested", "always")  # when the ensemble becomes the final model (see _decide)
DEFAULT_METHOD = "greedy"
DEFAULT_TOP_K = 25


@dataclass
class Candidates:
    """The top trials that have OOF predictions, best first: their scores ``(members, repeats, samples[,
    classes])``, the common folds ``(repeats, samples)`` and notes on the trials left out."""

    trials: list[optuna.trial.FrozenTrial]
    scores: np.ndarray
    folds: np.ndarray
    notes: list[str] = field(default_factory=list)


def ranked_complete_trials(study: optuna.Study, first: int | None = None) -> list[optuna.trial.FrozenTrial]:
    """The study's complete trials, best value first (ties: lower trial number first); trial ``first`` (the
    run's final single trial, :mod:`genoml_search.search.final_choice`) ahead of all."""
    trials = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
              if t.value is not None and np.isfinite(t.value)]
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    return sorted(trials, key=lambda t: (t.number != first, sign * float(t.value or 0.0), t.number))


def gather_candidates(study: optuna.Study, store: Any, top_k: int, n_samples: int,
                      first: int | None = None) -> Candidates:
    """OOF predictions of the ``top_k`` best complete trials that have them (all trials of the study, old and
    new; the best trial of every family first, see :func:`families_first`), listed best first (trial
    ``first``, the run's final single trial, ahead of all); trials without them (older studies, unreadable
    files, other folds) are skipped and counted."""
    chosen: list[optuna.trial.FrozenTrial] = []
    scores: list[np.ndarray] = []
    folds: np.ndarray | None = None
    missing = mismatched = 0
    ranked = ranked_complete_trials(study, first)
    rank = {t.number: i for i, t in enumerate(ranked)}
    for trial in families_first(ranked):
        if len(chosen) >= top_k:
            break
        oof = load_oof(trial, store)
        if oof is None or not oof.complete:
            missing += 1
            continue
        if oof.scores.shape[1] != n_samples or (folds is not None and not np.array_equal(oof.folds, folds)) or (
                scores and oof.scores.shape != scores[0].shape):
            mismatched += 1
            continue
        folds = oof.folds if folds is None else folds
        chosen.append(trial)
        scores.append(oof.scores)
    notes = []
    if missing:
        notes.append(f"{missing} of the best complete trials have no stored out-of-fold predictions (made by an "
                     "older version, or the artifact store is not reachable) and were skipped")
    if mismatched:
        notes.append(f"{mismatched} trials' out-of-fold predictions do not match the search samples or folds and "
                     "were skipped")
    if not chosen:
        return Candidates([], np.empty((0,)), np.empty((0, 0), dtype=np.int8), notes)
    order = np.argsort([rank[t.number] for t in chosen], kind="stable")  # best first again
    return Candidates([chosen[i] for i in order], np.stack(scores)[order], np.asarray(folds), notes)


def families_first(ranked: Sequence[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The best trial of every family (best first), then the other trials best first: the top K candidates
    span every family the study tried, not K near-copies of the family TPE concentrated on."""
    seen: set[Any] = set()
    firsts: list[optuna.trial.FrozenTrial] = []
    rest: list[optuna.trial.FrozenTrial] = []
    for trial in ranked:
        family = trial.user_attrs.get("family", trial.params.get("family"))
        (rest if family in seen else firsts).append(trial)
        seen.add(family)
    return firsts + rest


@dataclass(frozen=True)
class GreedyOptions:
    """How greedy selection runs (:mod:`.selection`): steps, sorted initialization, bagging."""

    n_iterations: int = DEFAULT_ITERATIONS
    init_size: int = 1
    n_bags: int = 1  # 1: the plain selection; more: bagged selection over random member subsets
    fraction: float = DEFAULT_BAG_FRACTION


DEFAULT_GREEDY = GreedyOptions()


def combiner_fitter(method: str, task: str, metric: Metric, seed: int,
                    greedy: GreedyOptions = DEFAULT_GREEDY) -> FitCombiner:
    """How a combiner is chosen from ``(members, repeats, samples[, classes])`` OOF scores and targets."""
    if method == "stack":
        return lambda scores, y: fit_stack(scores, y, task, metric, seed)
    if method != "greedy":
        raise ValueError(f"unknown ensemble method {method!r}; choose one of {', '.join(METHODS)}")

    compute, many = fast_compute(metric), fast_compute_many(metric)

    def fit_greedy(scores: np.ndarray, y: np.ndarray) -> WeightedAverage:
        def pooled(ensemble: np.ndarray) -> float:  # the metric on each repeat's OOF scores, averaged
            return float(np.mean([compute(y, ensemble[r]) for r in range(ensemble.shape[0])]))

        def pooled_many(candidates: np.ndarray) -> np.ndarray:  # (candidates, repeats, samples[, classes])
            return np.mean([many(y, candidates[:, r]) for r in range(candidates.shape[1])], axis=0)

        selection = bagged_selection(scores, pooled, metric.greater_is_better, greedy.n_iterations, pooled_many,
                                     greedy.init_size, greedy.n_bags, greedy.fraction, seed)
        return WeightedAverage(selection.weights)

    return fit_greedy


@dataclass
class EnsembleChoice:
    """What the ensemble step decided, with everything ``metrics.json`` and the report show."""

    method: str
    trials: list[optuna.trial.FrozenTrial]  # the members (weight > 0 for greedy; all candidates for stacking)
    weights: list[float] | None  # greedy: one per member; stacking: None (see the meta-model)
    combiner: Any
    optimistic: CVEstimate
    nested: CVEstimate
    best_single: optuna.trial.FrozenTrial
    best_single_folds: list[float]
    chosen: bool
    reason: str
    n_candidates: int
    notes: list[str]
    seconds: float = 0.0
    refit: RefitProjection = field(default_factory=lambda: RefitProjection(None))

    def record(self, metric: str) -> dict[str, Any]:
        """``metrics.json``'s ``cv.ensemble``."""
        return {"method": self.method, "chosen": self.chosen, "reason": self.reason,
                metric: self.nested.mean, "nested": self.nested.mean, "nested_std": self.nested.std,
                "nested_fold_scores": self.nested.fold_scores, "optimistic": self.optimistic.mean,
                "optimistic_fold_scores": self.optimistic.fold_scores,
                "best_single": {"trial": self.best_single.number, metric: self.best_single.value,
                                "fold_scores": self.best_single_folds},
                "n_candidates": self.n_candidates, "notes": self.notes, "seconds": round(self.seconds, 3),
                "refit_projection": self.refit.record(),
                "members": [{"trial": t.number, "family": t.user_attrs.get("family"), "weight": w, "cv": t.value}
                            for t, w in zip(self.trials, self.weights or [None] * len(self.trials))]}  # type: ignore[list-item]


def choose_ensemble(candidates: Candidates, y: np.ndarray, task: str, metric: Metric, method: str,
                    seed: int = 0, greedy: GreedyOptions = DEFAULT_GREEDY, rule: str = "nested") -> EnsembleChoice:
    """Choose the combination on all OOF predictions, estimate it (optimistic and nested) and decide
    (``rule`` ``nested``: only if its nested CV beats the best trial by more than one SE of the per-fold
    differences, after the expected drift at the refit on all samples (:mod:`.refit_size`); ``always``:
    whenever it has 2+ members)."""
    started = time.perf_counter()
    fit = combiner_fitter(method, task, metric, seed, greedy)
    scores, folds = candidates.scores, candidates.folds
    combiner, optimistic = optimistic_estimate(scores, folds, y, metric.compute, fit)
    nested = nested_estimate(scores, folds, y, metric.compute, fit)
    best = candidates.trials[0]
    best_folds = per_fold_scores(scores[0], folds, y, metric.compute)
    trials, weights = list(candidates.trials), None
    if isinstance(combiner, WeightedAverage):
        keep = np.flatnonzero(combiner.weights > 0)
        trials, weights = [trials[i] for i in keep], [float(combiner.weights[i]) for i in keep]
        combiner = WeightedAverage(combiner.weights[keep])
    sign = 1.0 if metric.greater_is_better else -1.0
    refit = project_refit(trials, weights, best, len(np.unique(folds[0])), folds.shape[0], sign)
    chosen, reason = _decide(nested, float(best.value or 0.0), best_folds, metric, len(trials), method, rule,
                             refit.drift)
    return EnsembleChoice(method, trials, weights, combiner, optimistic, nested, best, best_folds, chosen, reason,
                          len(candidates.trials), list(candidates.notes), time.perf_counter() - started, refit)


def _decide(nested: CVEstimate, single: float, single_folds: Sequence[float], metric: Metric, n_members: int,
            method: str, rule: str = "nested", drift: float | None = None) -> tuple[bool, str]:
    """Whether the ensemble replaces the best single trial, and why (one sentence); ``single_folds``: the best
    trial's scores on the folds of ``nested.fold_scores``; ``drift``: how much of the ensemble's gain the refit
    on all samples is expected to take away (:mod:`.refit_size`; only a positive drift counts). See the module
    docstring for the rule."""
    if method == "greedy" and n_members == 1:
        return False, "greedy selection kept only the best single trial"
    sign = 1.0 if metric.greater_is_better else -1.0
    comparison = f"nested CV {metric.name} {nested.mean:.4f} vs best single trial {single:.4f}"
    if rule == "always":
        return True, f"--ensemble-rule always ({comparison})"
    if sign * (nested.mean - single) <= 0:
        return False, f"the ensemble does not beat the best single trial ({comparison})"
    gain, se = paired_gain(nested.fold_scores, single_folds, sign)
    at_refit = f"per-fold gain {gain:.4f}"
    if drift is not None and drift > 0:
        at_refit += (f", {gain - drift:.4f} at the refit on all samples after the members' unequal learning "
                     f"curves take {drift:.4f}")
        gain -= drift
    if gain <= se:
        return False, (f"the ensemble does not beat the best single trial by more than one standard error of "
                       f"their per-fold difference ({comparison}; {at_refit}, SE {se:.4f})")
    return True, f"the ensemble's {comparison} ({at_refit} > SE {se:.4f})"


def refit_members(trials: Sequence[optuna.trial.FrozenTrial], families: Sequence[ModelFamily], x: Any,
                  y: np.ndarray, task: str, data: FeatureMatrix, seed: int, n_threads: int = 1) -> list[Any]:
    """Each member trial's pipeline refitted on ``x`` (the search samples' features of ``data``) exactly like
    the final single model, up to ``n_threads`` at a time, one BLAS/OpenMP thread each (like the trials)."""
    def refit(trial: optuna.trial.FrozenTrial) -> Any:
        family, params = family_and_params(trial.params, families)
        params = family.final_params(params, trial.user_attrs)
        pipeline = build_pipeline(family, params, task, data.n_snps, trial.params.get("snp_p_threshold", 1.0), seed,
                                  n_jobs=1, n_covariates=data.n_covariates, tabular=data.tabular,
                                  snp_columns=trial_snp_columns(trial, data.ld_masks, data.ld_default))
        return pipeline.fit(x, y)

    return in_threads(refit, list(trials), n_threads)


def ensemble_model(choice: EnsembleChoice, members: list[Any], task: str, classes: list[Any] | None) -> EnsembleModel:
    """The refitted ensemble of a choice."""
    return EnsembleModel(members, choice.combiner, task, classes, [t.number for t in choice.trials])
