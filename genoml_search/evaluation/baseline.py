"""What do the SNPs add? A covariates-only model fitted with the same CV folds and the same refit.

The baseline is an (almost) unpenalized logistic regression (classification) or ordinary least squares
(regression) on the covariates and genetic PCs, mean-imputed and standardized inside each fold. Without any
covariate it is the intercept-only model (training prevalence or mean), i.e. chance: ROC-AUC 0.5, R² <= 0.
Its validation scores are compared with the final model's on the same samples, with a paired interval
(DeLong for ROC-AUC, a paired bootstrap otherwise).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from genoml_search.evaluation.context import RefitContext
from genoml_search.core.intervals import paired_differences
from genoml_search.core.metrics import get_metric, score_all
from genoml_search.core.scoring import predict_scores
from genoml_search.search.objective import make_folds
from genoml_search.tasks import Task

INTERCEPT_ONLY = "intercept only (no covariates): chance level"


def baseline_pipeline(task: str, n_covariates: int) -> Pipeline:
    """The covariates-only model for a task (intercept-only when there is no covariate)."""
    if n_covariates == 0:
        return make_pipeline(DummyRegressor() if task == Task.REGRESSION else DummyClassifier(strategy="prior"))
    model = (LinearRegression() if task == Task.REGRESSION
             else LogisticRegression(C=1e4, max_iter=5000))  # practically unpenalized, but always finite
    return make_pipeline(SimpleImputer(), StandardScaler(), model)


def baseline_cv(context: RefitContext) -> list[float]:
    """The baseline's score on each CV fold of the search (the same folds as every trial)."""
    metric = get_metric(context.metric, context.task)
    x, y = context.covariates(), context.y_search
    scores = []
    for train, test in make_folds(y, context.task, context.cv, context.groups):
        model = baseline_pipeline(context.task, x.shape[1]).fit(x[train], y[train])
        scores.append(float(metric.compute(y[test], predict_scores(model, x[test], context.task))))
    return scores


def compare_with_covariates(context: RefitContext, scores: np.ndarray, cv_value: float | None,
                            n_boot: int = 1000) -> dict[str, Any]:
    """``baseline_covariates`` and ``snp_increment`` for ``metrics.json``'s validation part.

    ``scores`` are the final model's validation scores (the rows ``context.val_rows``); ``cv_value`` its
    mean CV score. The increment is with-SNPs minus covariates-only (negative is better for losses).
    """
    names = context.covariate_names  # after the SNPs and any feature-table columns (munge --table)
    fold_scores = baseline_cv(context)
    model = baseline_pipeline(context.task, len(names)).fit(context.covariates(), context.y_search)
    y_val = context.y_val
    base_scores = (predict_scores(model, context.covariates(validation=True), context.task) if len(y_val)
                   else np.empty(0))
    cv_mean = float(np.mean(fold_scores))
    description = (INTERCEPT_ONLY if not names else
                   f"{'linear' if context.task == 'regression' else 'logistic'} regression on {len(names)} "
                   "covariate column(s)")
    baseline: dict[str, Any] = {"model": description, "covariates": list(names),
                                "cv": {context.metric: cv_mean, "fold_scores": fold_scores}}
    increment: dict[str, Any] = {"metric": context.metric, "with_snps": None, "covariates_only": None,
                                 "cv_difference": None if cv_value is None else float(cv_value - cv_mean)}
    if len(y_val):
        baseline.update(score_all(context.task, y_val, base_scores))
        differences = {d.metric: d.as_dict() for d in
                       paired_differences(context.task, y_val, scores, base_scores, n_boot, context.seed)}
        main = differences[context.metric] if context.metric in differences else next(iter(differences.values()))
        increment.update({"with_snps": float(get_metric(context.metric, context.task).compute(y_val, scores)),
                          "covariates_only": baseline.get(context.metric), **{k: main[k] for k in
                          ("difference", "low", "high", "method", "p_value", "level")},
                          "by_metric": differences})
    return {"baseline_covariates": baseline, "snp_increment": increment}
