"""The trial pipeline: covariates as practically unpenalized fixed effects in penalized linear families."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from genoml_search.search.pipeline import CovariateWeight, build_pipeline
from genoml_search.search.registry import families_for, get_family

N_SNPS = 300
# a strong genotype penalty, as polygenic traits want (RidgeCV / LogisticRegressionCV pick this strength)
STRONG = {"regression": ("elastic_net", {"alpha": 20.0, "l1_ratio": 0.0}),
          "binary": ("logistic", {"C": 1e-4, "l1_ratio": 0.0}),
          "multiclass": ("logistic", {"C": 1e-4, "l1_ratio": 0.0})}


def cohort(task: str, n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """SNPs with weak effects, then AGE (years) and SEX (0/1) with strong effects; some missing genotypes."""
    rng = np.random.default_rng(seed)
    snps = rng.binomial(2, rng.uniform(0.1, 0.5, N_SNPS), (n, N_SNPS)).astype(np.float32)
    age = rng.integers(40, 80, n).astype(np.float32)
    sex = rng.integers(0, 2, n).astype(np.float32)
    liability = snps[:, :20] @ rng.normal(0, 0.03, 20) + 0.05 * (age - 60) + 0.8 * sex + rng.normal(size=n)
    snps[rng.random(snps.shape) < 0.01] = np.nan
    y = {"regression": liability, "binary": (liability > np.median(liability)).astype(float),
         "multiclass": np.digitize(liability, np.quantile(liability, [1 / 3, 2 / 3])).astype(float)}[task]
    return np.column_stack([snps, age, sex]), y


def standardized_coefficients(pipeline, n_covariates: int) -> np.ndarray:
    """The fitted model's coefficients per standard deviation of each kept input column."""
    coef = np.atleast_2d(pipeline.named_steps["model"].coef_)
    weight = pipeline.named_steps.get("covariates")
    return coef * (weight.factors_ if weight is not None else 1.0)


def unpenalized_covariate_coefficients(x: np.ndarray, y: np.ndarray, task: str) -> np.ndarray:
    """The covariates-only model without penalty, per standard deviation (the fixed-effect reference)."""
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    model = LinearRegression() if task == "regression" else LogisticRegression(C=np.inf, max_iter=1000)
    return np.atleast_2d(model.fit(z, y).coef_)


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_covariates_are_practically_unpenalized_while_snps_stay_shrunk(task):
    x, y = cohort(task)
    name, params = STRONG[task]
    family = get_family(name)
    weighted = build_pipeline(family, params, task, N_SNPS, n_covariates=2).fit(x, y)
    plain = build_pipeline(family, params, task, N_SNPS, n_covariates=0).fit(x, y)
    reference = unpenalized_covariate_coefficients(x[:, N_SNPS:], y, task)
    got = standardized_coefficients(weighted, 2)
    # covariates: close to the unpenalized fit; without the weight the same penalty shrinks them away
    np.testing.assert_allclose(got[:, N_SNPS:], reference, rtol=0.1, atol=0.02 * np.abs(reference).max())
    assert np.abs(standardized_coefficients(plain, 0)[:, N_SNPS:]).max() < 0.5 * np.abs(reference).max()
    # SNPs: the penalty on them is unchanged, so they stay as shrunk as without the weight
    assert np.abs(got[:, :N_SNPS]).max() < 0.1 * np.abs(reference).max()
    snp_plain = np.abs(standardized_coefficients(plain, 0)[:, :N_SNPS]).sum()
    assert np.abs(got[:, :N_SNPS]).sum() == pytest.approx(snp_plain, rel=0.5)


def test_fitted_on_the_training_part_only_and_applied_unchanged_to_new_samples():
    """No leakage: scaling statistics come from the rows fitted on; held-out rows are only transformed."""
    x, y = cohort("regression", n=500)
    train, test = np.arange(400), np.arange(400, 500)
    name, params = STRONG["regression"]
    pipeline = build_pipeline(get_family(name), params, "regression", N_SNPS, n_covariates=2).fit(x[train], y[train])
    shifted = x.copy()
    shifted[test, N_SNPS:] += 100.0  # held-out covariates far off: the fitted statistics must not move
    refit = build_pipeline(get_family(name), params, "regression", N_SNPS, n_covariates=2).fit(shifted[train], y[train])
    np.testing.assert_array_equal(refit.predict(x[test]), pipeline.predict(x[test]))
    scaler = pipeline.named_steps["scale"]
    np.testing.assert_allclose(scaler.mean_[N_SNPS:], x[train, N_SNPS:].mean(axis=0), rtol=1e-5)
    # prediction of new samples = intercept + coefficients on (x - train mean) / train sd * weight
    imputed = pipeline.named_steps["preprocess"].transform(x[test])
    z = (imputed - scaler.mean_) / scaler.scale_ * pipeline.named_steps["covariates"].factors_
    manual = z @ pipeline.named_steps["model"].coef_ + pipeline.named_steps["model"].intercept_
    np.testing.assert_allclose(pipeline.predict(x[test]), manual, rtol=1e-4, atol=1e-4)


def test_covariate_weight_follows_the_snp_filter_and_leaves_snps_alone():
    """The covariates stay the last columns when the association filter drops SNPs."""
    x, y = cohort("binary")
    name, params = STRONG["binary"]
    pipeline = build_pipeline(get_family(name), params, "binary", N_SNPS, snp_p_threshold=0.05, n_covariates=2)
    pipeline.fit(x, y)
    kept = pipeline.named_steps["preprocess"].keep_
    factors = pipeline.named_steps["covariates"].factors_
    assert kept.sum() < N_SNPS and len(factors) == kept.sum()
    assert np.all(factors[:-2] == 1.0) and np.all(factors[-2:] == get_family(name).covariate_weight)
    with pytest.raises(ValueError, match="covariates but only"):
        CovariateWeight(n_covariates=5, weight=10.0).fit(np.zeros((3, 4)))


@pytest.mark.parametrize("task", ["binary", "regression", "multiclass"])
def test_only_penalized_linear_families_reweight_covariates(task):
    """Trees, kNN, SVM, ... keep their pipelines unchanged; the penalized linear families get the step."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    weighted = {f.name for f in families_for(task) if f.covariate_weight != 1.0}
    assert weighted == ({"elastic_net", "ridge_h2"} if task == "regression" else {"logistic"})
    for family in families_for(task):
        params = family.suggest(optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask(), task)
        steps = [name for name, _ in build_pipeline(family, params, task, N_SNPS, n_covariates=2).steps]
        expected = ["preprocess", *(["scale"] if family.needs_scaling else []),
                    *(["covariates"] if family.name in weighted else []), "model"]
        if family.fits_path:  # imputes, standardizes and leaves covariates unpenalized itself
            expected = ["model"]
        assert steps == expected, family.name
