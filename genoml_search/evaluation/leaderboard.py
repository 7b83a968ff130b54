"""The leaderboard of a run: the best trial of every family, and the top K of them refitted and validated.

Each of the ``validate_top`` best families' best trial is refitted on all search samples exactly like the
final model (same pipeline, same seed) and scored on the validation samples, so a user sees whether the CV
ranking holds on new samples. The final model's own row takes its validation score from the run.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from genoml_search.evaluation.context import RefitContext
from genoml_search.core.metrics import get_metric
from genoml_search.search.study_summary import leaderboard
from genoml_search.core.scoring import predict_scores
from genoml_search.search.ld_choice import trial_snp_columns
from genoml_search.search.objective import model_input
from genoml_search.search.pipeline import build_pipeline
from genoml_search.search.registry import ModelFamily
from genoml_search.search.space import family_and_params

log = logging.getLogger(__name__)
DEFAULT_VALIDATE_TOP = 3


def _validation_score(study: optuna.Study, trial_number: int, families: Sequence[ModelFamily],
                      context: RefitContext) -> float | None:
    trial = next(t for t in study.get_trials(deepcopy=False) if t.number == trial_number)
    family, params = family_and_params(trial.params, families)
    params = family.final_params(params, trial.user_attrs)  # path families: the penalty chosen by CV
    data = context.data
    pipeline = build_pipeline(family, params, context.task, data.n_snps, trial.params.get("snp_p_threshold", 1.0),
                              context.seed, n_jobs=1, n_covariates=data.n_covariates,
                              tabular=data.tabular,
                              snp_columns=trial_snp_columns(trial, data.ld_masks, data.ld_default))  # its LD mask
    try:
        with warnings.catch_warnings():  # as in the trials: a solver's convergence note is not the user's concern
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipeline.fit(model_input(data, family, context.search_index), context.y_search)
        scores = predict_scores(pipeline, model_input(context.val_data, family, context.val_rows), context.task)
        return float(get_metric(context.metric, context.task).compute(context.y_val, scores))
    except Exception as error:  # one family failing to refit must not lose the run
        log.warning("leaderboard: refitting trial %d (%s) failed: %s", trial_number, family.name, error)
        return None


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    return value


def leaderboard_records(study: optuna.Study, families: Sequence[ModelFamily], context: RefitContext | None,
                        validate_top: int = DEFAULT_VALIDATE_TOP, final: tuple[int, float | None] | None = None
                        ) -> list[dict[str, Any]]:
    """``metrics.json``'s ``leaderboard``: one record per family, best first.

    Keys: ``family``, ``trial``, ``value`` (CV mean; for a family with only pruned trials its best partial
    mean), ``cv_std``, ``fold_scores``, ``n_folds``, ``partial``, ``n_complete``, ``n_pruned``, ``n_fail``,
    ``seconds`` and ``validation`` (the metric on the validation samples for the top ``validate_top``
    complete families, else None). ``final`` is the final model's (trial, validation score), reused.
    """
    board = leaderboard(study)
    known = {f.name for f in families}
    records = []
    for rank, row in enumerate(board.to_dict("records")):
        trial = None if pd.isna(row["best_trial"]) else int(row["best_trial"])
        validation = None
        if (context is not None and len(context.y_val) and trial is not None and not row["partial"]
                and rank < validate_top and row["family"] in known):
            if final is not None and final[0] == trial:
                validation = final[1]
            else:
                validation = _validation_score(study, trial, families, context)
        records.append({
            "family": row["family"], "trial": trial, "value": _plain(row["cv_mean"]), "cv_std": _plain(row["cv_std"]),
            "fold_scores": list(row["fold_scores"]), "n_folds": int(row["n_folds"]), "partial": bool(row["partial"]),
            "n_complete": int(row["n_complete"]), "n_pruned": int(row["n_pruned"]), "n_fail": int(row["n_fail"]),
            "seconds": round(float(row["seconds"]), 3), "validation": validation,
        })
    return records
