"""The contract every model family honours, for every task it supports (genoml_search.testing, which plugin
authors run on their own families, as scikit-learn's check_estimator)."""
from __future__ import annotations

import numpy as np
import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from genoml_search import testing
from genoml_search.search.registry import TASKS, ModelFamily, families_for, family_names, get_family

CASES = [(f.name, task) for task in TASKS for f in families_for(task)]
NATIVE_MISSING = [(f.name, "binary") for f in families_for("binary") if f.handles_missing]


def family(name: str) -> ModelFamily:
    return get_family(name)


@pytest.fixture(autouse=True)
def quiet():
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize(("name", "task"), CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_family_contract(name: str, task: str) -> None:
    """20 sampled parameter sets build, fit and predict properly, and a fixed seed gives fixed predictions."""
    testing.check_fit_predict(family(name), task, n_sets=20, n_repeated=5)


def test_some_families_handle_missing_values_natively() -> None:
    assert {"xgboost", "lightgbm", "hist_gradient_boosting"} <= {name for name, _ in NATIVE_MISSING}


@pytest.mark.parametrize(("name", "task"), NATIVE_MISSING, ids=lambda v: str(v))
def test_missing_values_when_declared(name: str, task: str) -> None:
    """A family declaring handles_missing fits and predicts on genotypes with NaN."""
    testing.check_missing_values(family(name), task)


@pytest.mark.parametrize("name", family_names())
def test_every_family_has_a_docstring_and_sane_ranges(name: str) -> None:
    testing.check_declaration(family(name))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(CASES), seed=st.integers(0, 2**31 - 1))
def test_any_sampled_parameters_build_and_fit(case: tuple[str, str], seed: int) -> None:
    """Property: whatever the sampler draws (any seed), the family builds and fits."""
    name, task = case
    small = testing.small(family(name), task)
    x, targets = testing.genotypes(seed=seed % 1000)
    with threadpool_limits(1):
        params = testing.sample_params(small, task, 1, seed=seed)[0]
        predictions = testing.fit_predict(small, params, task, x, targets[task], seed=seed % 1000)
    assert np.all(np.isfinite(predictions))


@pytest.mark.parametrize(("name", "task"), CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_more_snps_than_samples(name: str, task: str) -> None:
    """Genomic shape (more SNPs than samples per class): three sampled sets fit and predict."""
    testing.check_more_snps_than_samples(family(name), task)


class _Broken(ModelFamily):
    """A family whose classifier returns scores that are not probabilities."""

    name = "broken_example"
    tasks = frozenset({"binary"})

    def space(self, task: str) -> list:
        return []

    def build(self, params: dict, task: str, random_state: int = 0, n_jobs: int = 1):
        from sklearn.linear_model import LogisticRegression

        class NotProbabilities(LogisticRegression):
            def predict_proba(self, x):
                return super().predict_proba(x) * 2

        return NotProbabilities()


class _Random(_Broken):
    """A family whose predictions change from fit to fit with the same seed."""

    name = "random_example"

    def build(self, params: dict, task: str, random_state: int = 0, n_jobs: int = 1):
        from sklearn.dummy import DummyClassifier

        return DummyClassifier(strategy="stratified", random_state=None)  # random draws at every predict


def test_the_checks_catch_a_broken_family() -> None:
    with pytest.raises(AssertionError):
        testing.check_fit_predict(_Broken(), "binary", n_sets=1)
    with pytest.raises(AssertionError, match="not deterministic"):
        testing.check_fit_predict(_Random(), "binary", n_sets=1)
    with pytest.raises(AssertionError, match="invalid family name"):
        testing.check_declaration(type("Bad", (_Broken,), {"name": "Bad Name", "__doc__": "x"})())


def test_a_space_without_parameters_is_fitted_once_and_once_more_for_determinism() -> None:
    builds: list[dict] = []

    class Counting(_Broken):
        """A family without parameters that counts its builds."""

        name = "counting_example"

        def build(self, params: dict, task: str, random_state: int = 0, n_jobs: int = 1):
            from sklearn.linear_model import LogisticRegression

            builds.append(params)
            return LogisticRegression()

    testing.check_fit_predict(Counting(), "binary", n_sets=20, n_repeated=5)
    assert builds == [{}, {}]


def test_family_checks_cover_every_task_and_run_on_a_good_family() -> None:
    checks = list(testing.family_checks(family("logistic")))
    names = [c.__name__ for c in checks]
    assert names[0] == "check_declaration[logistic]"
    assert "check_fit_predict[logistic-multiclass]" in names and len(names) == 1 + 3 * 2
    testing.check_family(family("lda"))
