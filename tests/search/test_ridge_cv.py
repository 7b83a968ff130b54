"""The ridge_path family's CV (search/ridge_cv.py): the exact path below KRYLOV_FROM rows per fold, Lanczos
passes from there, and the trial time estimate behind the time admission."""
from __future__ import annotations

import numpy as np
import pytest

from genoml_search.search import kernel_ridge as kr
from genoml_search.search import krylov_ridge as kry
from genoml_search.search import ridge_cv
from genoml_search.search.families.paths import KernelRidgeModel
from genoml_search.search.paths import Design
from tests.search.test_krylov_ridge import N, M, five_folds
from tests.search.test_kernel_ridge import cohort


def test_the_trial_and_the_model_use_the_lanczos_path_from_krylov_from(monkeypatch):
    genotypes, covariates, trait = cohort(3, n=N, m=M)
    design = Design(genotypes, covariates, np.arange(N))
    from genoml_search.core.metrics import get_metric

    r2 = get_metric("r2", "regression")
    folds = five_folds(N)
    exact = ridge_cv.cross_validate_ridge(design, trait, folds, "regression", r2.compute, True)
    exact_model = KernelRidgeModel(task="regression", lambda_index=exact.lambda_index, n_covariates=1).fit(design,
                                                                                                           trait)
    monkeypatch.setattr(ridge_cv, "KRYLOV_FROM", 10)
    used = []
    original = kry.fold_subspaces
    monkeypatch.setattr(kry, "fold_subspaces", lambda *a, **k: used.append(1) or original(*a, **k))
    krylov = ridge_cv.cross_validate_ridge(design, trait, folds, "regression", r2.compute, True)
    model = KernelRidgeModel(task="regression", lambda_index=exact.lambda_index, n_covariates=1).fit(design, trait)
    assert len(used) == 2  # the trial's five folds in one run, the refit in another
    assert krylov.lambda_index == exact.lambda_index
    assert np.allclose(krylov.fold_scores, exact.fold_scores, atol=1e-6)
    assert np.allclose(model.raw_coef_, exact_model.raw_coef_, rtol=1e-3, atol=1e-4 * np.abs(exact_model.raw_coef_).max())
    assert model.intercept_ == pytest.approx(exact_model.intercept_, rel=1e-4)


def test_the_time_estimate_counts_passes_over_the_search_samples():
    one = kry.estimated_trial_seconds(10_000, 50_000)
    assert kry.estimated_trial_seconds(20_000, 50_000) == pytest.approx(2 * one)
    assert ridge_cv.estimated_trial_seconds(8_000, 10_000, 50_000, 5) == pytest.approx(one)
    assert ridge_cv.estimated_trial_seconds(2_400, 3_000, 50_000, 5) == kr.exact_trial_seconds(2_400, 3_000, 50_000, 5)
