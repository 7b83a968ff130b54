"""Stacking: a regularized linear meta-model on the members' OOF scores, its penalty chosen by its own CV.

Binary and multiclass: L2 logistic regression on the members' logits / log-probabilities
(``LogisticRegressionCV``); regression: ridge on the predictions (``RidgeCV``). The penalty is chosen by an
inner k-fold CV on the OOF rows, scored with the study's metric. OOF scores of several CV repeats are averaged
per sample first, so one sample is one row.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from threadpoolctl import threadpool_limits

from genoml_search.core.metrics import Metric
from genoml_search.ensemble.combine import LinearStack, stacking_features
from genoml_search.ensemble.fast_metrics import fast_compute
from genoml_search.tasks import Task

INNER_FOLDS = 5
PENALTIES = np.logspace(-4, 2, 7)  # inverse penalties C (logistic) / penalties alpha^-1 (ridge)


def _scorer(metric: Metric, task: str) -> Any:
    """A scikit-learn scorer (higher is better) from the study's metric on the meta-model's scores."""
    sign = 1.0 if metric.greater_is_better else -1.0
    compute = fast_compute(metric)

    def score(estimator: Any, x: np.ndarray, y: np.ndarray) -> float:
        return sign * compute(y, LinearStack(estimator, task).combine_features(x))

    return score


def fit_stack(member_scores: np.ndarray, y: np.ndarray, task: str, metric: Metric, seed: int = 0) -> LinearStack:
    """Fit the meta-model on ``(members, repeats, samples[, classes])`` OOF scores (repeats averaged)."""
    scores = np.asarray(member_scores, dtype=float).mean(axis=1)
    features = stacking_features(scores, task)
    kind = Task(task).kind
    n_folds = INNER_FOLDS
    if kind.classification:
        n_folds = int(min(n_folds, np.unique(y, return_counts=True)[1].min()))
    splitter = kind.cv_splitter(max(2, n_folds), seed, grouped=False)
    if task == "regression":
        meta: Any = RidgeCV(alphas=1.0 / PENALTIES, cv=splitter, scoring=_scorer(metric, task))
    else:
        meta = LogisticRegressionCV(Cs=PENALTIES, cv=splitter, scoring=_scorer(metric, task), max_iter=2000)
        # L2 only; the newer scikit-learn spells it l1_ratios=(0,) and warns about its legacy attributes
        meta.set_params(**{k: v for k, v in {"l1_ratios": (0.0,), "use_legacy_attributes": False}.items()
                           if k in meta.get_params()})
    with threadpool_limits(limits=1):  # tiny problems: BLAS threads only contend with the trials' workers
        meta.fit(features, y)
    # the fitted model needs neither; a local function and a splitter object would need skops allow-listing
    meta.set_params(scoring=None, cv=splitter.get_n_splits())
    return LinearStack(meta, task)
