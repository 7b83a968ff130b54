"""Penalized linear families: the logistic solver follows the penalty; ridge_h2 chooses its penalty by inner CV."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from genoml_search.search.pipeline import build_pipeline
from genoml_search.search.families.linear import H2_GRID, HeritabilityRidge
from genoml_search.search.registry import get_family
from tests.search.test_pipeline import N_SNPS, cohort


@pytest.mark.parametrize(("l1_ratio", "solver"), [(0.0, "lbfgs"), (1e-3, "saga"), (0.5, "saga"), (1.0, "saga")])
def test_logistic_fits_pure_l2_with_lbfgs_and_any_l1_share_with_saga(l1_ratio, solver):
    model = get_family("logistic").build({"C": 0.01, "l1_ratio": l1_ratio}, "binary")
    assert model.solver == solver and model.l1_ratio == l1_ratio


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_lbfgs_reaches_the_exact_l2_solution(task):
    """Same penalty, same pipeline (covariates up-weighted): the fast solver's stopping rule must not change
    the model. The reference is Newton-CG run to 1e-10, a second-order solver that converges exactly; L-BFGS
    lands within 0.2 % of it (float32 features), saga at the family's settings (tol 1e-3) within 0.6-1.3 %."""
    x, y = cohort(task, n=500, seed=3)
    params = {"C": 3e-3, "l1_ratio": 0.0}
    family = get_family("logistic")
    fast = build_pipeline(family, params, task, N_SNPS, n_covariates=2).fit(x, y)
    assert fast.named_steps["model"].solver == "lbfgs"
    reference = build_pipeline(family, params, task, N_SNPS, n_covariates=2)
    reference.set_params(model__solver="newton-cg", model__tol=1e-10, model__max_iter=1_000)
    reference.fit(x, y)
    fast_coef, reference_coef = fast.named_steps["model"].coef_, reference.named_steps["model"].coef_
    assert np.abs(fast_coef - reference_coef).max() < 5e-3 * np.abs(reference_coef).max()
    np.testing.assert_allclose(fast.predict_proba(x), reference.predict_proba(x), atol=2e-3)


def polygenic(h2: float, n: int = 1500, m: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Standardized genotypes and a trait in which every SNP explains h2 / m."""
    rng = np.random.default_rng(seed)
    x = rng.binomial(2, rng.uniform(0.1, 0.5, m), (n, m)).astype(np.float32)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    genetic = x @ rng.normal(0, np.sqrt(h2 / m), m)
    return x, genetic + rng.normal(0, np.sqrt(1 - h2), n)


def test_ridge_h2_chooses_the_penalty_the_heritability_wants():
    """Inner CV over the h2 grid: a highly heritable trait gets a weak penalty, a weakly heritable one a
    strong penalty, a shuffled phenotype the strongest (a model that predicts nothing)."""
    x, y = polygenic(0.6)
    high = HeritabilityRidge().fit(x, y)
    x, y = polygenic(0.1, seed=1)
    low = HeritabilityRidge().fit(x, y)
    shuffled = HeritabilityRidge().fit(x, np.random.default_rng(2).permutation(y))
    assert high.h2_ >= 0.35 and low.h2_ <= 0.15 and shuffled.h2_ == min(H2_GRID), (high.h2_, low.h2_, shuffled.h2_)
    assert high.alpha_ == pytest.approx(x.shape[1] * (1 - high.h2_) / high.h2_)


def test_ridge_h2_lsqr_reaches_the_exact_ridge_solution():
    """In the family's pipeline (covariates up-weighted 100x, which LSQR sees as a worse-conditioned
    system), the iterative solution equals the direct (Cholesky) one at the chosen penalty."""
    x, y = cohort("regression", n=500, seed=4)
    pipeline = build_pipeline(get_family("ridge_h2"), {}, "regression", N_SNPS, n_covariates=2).fit(x, y)
    model = pipeline.named_steps["model"]
    features = pipeline[:-1].transform(x)
    exact = Ridge(alpha=model.alpha_, solver="cholesky").fit(features, y)
    assert np.abs(model.coef_ - exact.coef_).max() < 1e-4 * np.abs(exact.coef_).max()
    np.testing.assert_allclose(pipeline.predict(x), exact.predict(features), rtol=1e-5, atol=1e-5)


def test_ridge_h2_chooses_h2_on_a_subsample_of_a_large_cohort():
    """Above max_inner_samples the inner CV runs on a random subset (the penalty M (1 - h2) / h2 does not
    depend on n); the choice still follows the heritability, and the refit uses every sample."""
    x, y = polygenic(0.6, n=2400)
    high = HeritabilityRidge(max_inner_samples=1200).fit(x, y)
    x, y = polygenic(0.1, n=2400, seed=1)
    low = HeritabilityRidge(max_inner_samples=1200).fit(x, y)
    assert high.h2_ >= 0.35 and low.h2_ <= 0.15, (high.h2_, low.h2_)
    assert low.n_inner_samples_ == 1200 and HeritabilityRidge().fit(x, y).n_inner_samples_ == 2400
    exact = Ridge(alpha=low.alpha_, solver="cholesky").fit(x, y)
    assert np.abs(low.coef_ - exact.coef_).max() < 1e-4 * np.abs(exact.coef_).max()
