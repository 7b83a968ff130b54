"""What the study itself tells: a leaderboard per family, trial states and times, parameter importances.

The one place that groups a study's trials by family and picks each family's best trial (:func:`by_family`,
:func:`best_trial`): the report's leaderboard, ``metrics.json`` and ``status`` all summarize trials through it.

Parameter importances use Optuna's evaluator (fANOVA by default) on two views, because the search space is
conditional (a family's parameters exist only in that family's trials): the parameters every trial has
(``family``, ``snp_p_threshold``) over all finished trials, and the best family's own parameters over that
family's finished trials.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

def family_of(trial: optuna.trial.FrozenTrial) -> str:
    """The model family a trial evaluated (``?`` for a trial that never sampled one)."""
    return str(trial.params.get("family", trial.user_attrs.get("family", "?")))


def by_family(study: optuna.Study) -> dict[str, list[optuna.trial.FrozenTrial]]:
    """The study's trials grouped by family (in order of first appearance), without surplus trials."""
    groups: dict[str, list[optuna.trial.FrozenTrial]] = {}
    for trial in study.get_trials(deepcopy=False):
        if not trial.user_attrs.get("surplus"):
            groups.setdefault(family_of(trial), []).append(trial)
    return groups


def maximizes(study: optuna.Study) -> bool:
    """Whether higher values are better in the study."""
    return study.direction == optuna.study.StudyDirection.MAXIMIZE


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, family, value, seconds, CV fold count."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if trial.user_attrs.get("surplus"):
            continue
        rows.append({
            "trial": trial.number,
            "state": trial.state.name,
            "family": family_of(trial),
            "value": trial.value,
            "seconds": trial.user_attrs.get("seconds"),
            "n_folds_run": len(trial.user_attrs.get("fold_scores", []) or []),
        })
    columns = ["trial", "state", "family", "value", "seconds", "n_folds_run"]
    return pd.DataFrame(rows, columns=columns)


def best_trial(trials: list[optuna.trial.FrozenTrial], maximize: bool,
               value: Callable[[optuna.trial.FrozenTrial], float | None] = lambda t: t.value,
               ) -> optuna.trial.FrozenTrial | None:
    """The trial with the best finite ``value`` (the first of equals), or None."""
    scored = [(v, t) for t in trials if (v := value(t)) is not None and np.isfinite(v)]
    if not scored:
        return None
    return (max if maximize else min)(scored, key=lambda pair: pair[0])[1]


def _partial_value(trial: optuna.trial.FrozenTrial) -> float | None:
    """A pruned trial's score so far: the mean of the folds it finished."""
    folds = trial.user_attrs.get("fold_scores") or []
    if folds:
        return float(np.mean(folds))
    values = list(trial.intermediate_values.values())
    return float(values[-1]) if values else None


def leaderboard(study: optuna.Study) -> pd.DataFrame:
    """Best trial per family (best first): CV mean/sd and per-fold scores, trial counts by state, time spent.

    A family whose every trial was pruned still shows its best partial score (mean of the folds its best
    pruned trial finished; ``partial`` is True and ``n_folds`` says how many folds).
    """
    maximize = maximizes(study)
    rows = []
    for family, trials in by_family(study).items():
        group = [t for t in trials if t.state.is_finished()]  # queued/running trials have no result yet
        if not group:
            continue
        row: dict[str, Any] = {"family": family}
        best = best_trial([t for t in group if t.state == TrialState.COMPLETE], maximize)
        partial = best is None
        if partial:
            best = best_trial([t for t in group if t.state == TrialState.PRUNED], maximize, _partial_value)
        if best is not None:
            folds = np.asarray(best.user_attrs.get("fold_scores", []) or [], dtype=float)
            row.update({"best_trial": best.number, "cv_mean": _partial_value(best) if partial else best.value,
                        "cv_std": float(folds.std()) if len(folds) else np.nan, "n_folds": len(folds),
                        "partial": partial, "fold_scores": [round(float(v), 6) for v in folds]})
        else:
            row.update({"best_trial": None, "cv_mean": np.nan, "cv_std": np.nan, "n_folds": 0, "partial": False,
                        "fold_scores": []})
        for state in ("COMPLETE", "PRUNED", "FAIL"):
            row[f"n_{state.lower()}"] = sum(t.state.name == state for t in group)
        row["seconds"] = float(sum(float(t.user_attrs.get("seconds") or 0.0) for t in group))
        rows.append(row)
    table = pd.DataFrame(rows, columns=["family", "best_trial", "cv_mean", "cv_std", "n_folds", "partial",
                                        "fold_scores", "n_complete", "n_pruned", "n_fail", "seconds"])
    # complete families first (a partial mean over fewer folds is not comparable), then by score
    table["_order"] = table["partial"].astype(bool)
    table = table.sort_values(["_order", "cv_mean"], ascending=[True, not maximize], na_position="last")
    return table.drop(columns="_order").reset_index(drop=True)


def _importances_of(study: optuna.Study, trials: list[optuna.trial.FrozenTrial], params: list[str],
                    seed: int) -> dict[str, float]:
    varying = [p for p in params if len({repr(t.params.get(p)) for t in trials}) > 1]
    if len(trials) < 3 or not varying:
        return {}
    view = optuna.create_study(direction=study.direction)
    view.add_trials(trials)
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return dict(optuna.importance.get_param_importances(view, evaluator=evaluator, params=varying))
        except (RuntimeError, ValueError):  # e.g. all values equal
            return {}


def parameter_importances(study: optuna.Study, best_family: str | None = None, seed: int = 0) -> pd.DataFrame:
    """Importances of the shared parameters over all trials and of the best family's own parameters."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    rows = []
    shared = [p for p in ("family", "snp_p_threshold") if all(p in t.params for t in complete)]
    for param, value in _importances_of(study, complete, shared, seed).items():
        rows.append({"scope": "all trials", "parameter": param, "importance": value,
                     "n_trials": len(complete)})
    if best_family:
        own = [t for t in complete if t.params.get("family") == best_family]
        names = sorted({p for t in own for p in t.params if p != "family"})
        names = [p for p in names if all(p in t.params for t in own)]
        for param, value in _importances_of(study, own, names, seed).items():
            rows.append({"scope": f"{best_family} trials", "parameter": param, "importance": value,
                         "n_trials": len(own)})
    return pd.DataFrame(rows, columns=["scope", "parameter", "importance", "n_trials"])
