"""The contract every model family honours, for every task it supports (scikit-learn's check_estimator style)."""
from __future__ import annotations

import warnings

import numpy as np
import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from genoml_search.search.registry import TASKS, IntParam, ModelFamily, families_for, replace_range

N_SAMPLES, N_SNPS, N_SETS = 120, 40, 20
# Caps applied through the override mechanism so the whole contract runs in well under two minutes.
SIZE_CAPS = {"n_estimators": 12, "iterations": 12, "max_iter": 12, "n_units": 24}

CASES = [(f.name, task) for task in TASKS for f in families_for(task)]


def small(family: ModelFamily, task: str) -> ModelFamily:
    """The family with its size parameters capped (ranges otherwise as shipped)."""
    caps = {
        p.name: replace_range(p, low=min(p.low, SIZE_CAPS[p.name] // 2), high=SIZE_CAPS[p.name])
        for p in family.space(task) if isinstance(p, IntParam) and p.name in SIZE_CAPS
    }
    return family.with_overrides(caps)


def genotypes(seed: int = 0, missing: float = 0.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A tiny int8 genotype matrix (as float) with a polygenic signal, and targets for each task."""
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(0.1, 0.5, N_SNPS)
    G = rng.binomial(2, freqs, size=(N_SAMPLES, N_SNPS)).astype(np.int8)
    liability = G[:, :6].astype(float) @ rng.normal(0, 1, 6) + rng.normal(0, 1, N_SAMPLES)
    cuts = np.quantile(liability, [1 / 3, 2 / 3])
    X = G.astype(float)
    if missing:
        X[rng.random(X.shape) < missing] = np.nan
    return X, {
        "binary": (liability > np.median(liability)).astype(int),
        "multiclass": np.digitize(liability, cuts),
        "regression": 10.0 + 5.0 * liability,  # a trait on its own scale, not standardized
    }


def sample_params(family: ModelFamily, task: str, n: int, seed: int = 0) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [family.suggest(study.ask(), task) for _ in range(n)]


def fit_predict(family: ModelFamily, params: dict, task: str, X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    model = family.build(params, task, random_state=seed, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings are expected with capped iterations
        model.fit(X, y)
        return model.predict_proba(X) if task != "regression" else model.predict(X)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    return genotypes()


@pytest.fixture(autouse=True)
def quiet_single_threaded():
    """n_jobs=1 does not reach OpenMP (hist_gradient_boosting) or BLAS pools; limit them as the objective must."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with threadpool_limits(1):
        yield


@pytest.mark.parametrize(("name", "task"), CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_family_contract(name: str, task: str, data) -> None:
    """20 sampled parameter sets build, fit and predict properly, and a fixed seed gives fixed predictions."""
    family = small(next(f for f in families_for(task) if f.name == name), task)
    assert task in family.tasks and isinstance(family.needs_scaling, bool) and isinstance(family.handles_missing, bool)
    X, targets = data
    y = targets[task]
    for i, params in enumerate(sample_params(family, task, N_SETS)):
        assert set(params) <= {p.name for p in family.space(task)}
        first = fit_predict(family, params, task, X, y, seed=i)
        if task == "regression":
            assert first.shape == (N_SAMPLES,) and np.all(np.isfinite(first)), params
        else:
            n_classes = len(np.unique(y))
            assert first.shape == (N_SAMPLES, n_classes), params
            assert np.all(first >= 0) and np.allclose(first.sum(axis=1), 1.0), params
        if i < 5:  # determinism on a quarter of the sets keeps the run short
            np.testing.assert_array_equal(first, fit_predict(family, params, task, X, y, seed=i), err_msg=str(params))


NATIVE_MISSING = [(f.name, "binary") for f in families_for("binary") if f.handles_missing]


def test_some_families_handle_missing_values_natively() -> None:
    assert {"xgboost", "lightgbm", "hist_gradient_boosting"} <= {name for name, _ in NATIVE_MISSING}


@pytest.mark.parametrize(("name", "task"), NATIVE_MISSING, ids=lambda v: str(v))
def test_missing_values_when_declared(name: str, task: str) -> None:
    """A family declaring handles_missing fits and predicts on genotypes with NaN."""
    family = small(next(f for f in families_for(task) if f.name == name), task)
    X, targets = genotypes(seed=1, missing=0.1)
    for params in sample_params(family, task, 3, seed=1):
        proba = fit_predict(family, params, task, X, targets[task], seed=0)
        assert np.all(np.isfinite(proba))


def test_every_family_has_a_docstring_and_sane_ranges() -> None:
    for task in TASKS:
        for family in families_for(task):
            assert type(family).__doc__, family.name
            for p in family.space(task):
                if hasattr(p, "low"):
                    assert p.low <= p.high and (not p.log or p.low > 0), (family.name, p)
                    lower, upper = p.limits
                    assert lower is None or p.low >= lower, (family.name, p)
                    assert upper is None or p.high <= upper, (family.name, p)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(CASES), seed=st.integers(0, 2**31 - 1))
def test_any_sampled_parameters_build_and_fit(case: tuple[str, str], seed: int) -> None:
    """Property: whatever the sampler draws (any seed), the family builds and fits."""
    name, task = case
    family = small(next(f for f in families_for(task) if f.name == name), task)
    X, targets = genotypes(seed=seed % 1000)
    with threadpool_limits(1):  # hypothesis runs outside the function-scoped fixture
        params = sample_params(family, task, 1, seed=seed)[0]
        predictions = fit_predict(family, params, task, X, targets[task], seed=seed % 1000)
    assert np.all(np.isfinite(predictions))


@pytest.mark.parametrize(("name", "task"), CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_more_snps_than_samples(name: str, task: str) -> None:
    """Genomic shape (more SNPs than samples per class): three sampled sets fit and predict."""
    family = small(next(f for f in families_for(task) if f.name == name), task)
    rng = np.random.default_rng(5)
    X = rng.binomial(2, 0.3, size=(60, 150)).astype(np.int8).astype(float)
    score = X[:, :5].sum(axis=1) + rng.normal(0, 1, 60)
    y = {"binary": (score > np.median(score)).astype(int), "multiclass": np.digitize(score, np.quantile(score, [1 / 3, 2 / 3])),
         "regression": score}[task]
    for params in sample_params(family, task, 3, seed=2):
        assert np.all(np.isfinite(fit_predict(family, params, task, X, y, seed=0))), params
