"""The contract every model family must honour, as checks a plugin author can run on their own family.

In the spirit of scikit-learn's ``check_estimator``: each check builds, fits and predicts the family on tiny
simulated genotypes and raises ``AssertionError`` (naming the parameters) when the family breaks the contract::

    from genoml_search.testing import check_family

    check_family(MyFamily())                      # every check, for every task the family declares

or one pytest test per check and task::

    import pytest
    from genoml_search.testing import family_checks

    @pytest.mark.parametrize("check", family_checks(MyFamily()), ids=lambda c: c.__name__)
    def test_my_family(check):
        check()

The contract (see docs/families.md, "Adding a family"): a valid ``name`` and ``tasks``, boolean flags, a
docstring, parameter ranges within their limits; every sampled parameter set builds a fresh estimator that fits
int8-like dosages and predicts finite values (class probabilities summing to one for classification); a fixed
``random_state`` gives identical predictions; more SNPs than samples works; a family declaring
``handles_missing`` accepts NaN. Size parameters are capped (:data:`SIZE_CAPS`) so the checks run in seconds.
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import optuna
from threadpoolctl import threadpool_limits

from genoml_search.search.registry import FloatParam, IntParam, ModelFamily, replace_range, valid_name
from genoml_search.tasks import TASKS, Task

N_SAMPLES, N_SNPS = 120, 40
SIZE_CAPS = {"n_estimators": 12, "iterations": 12, "max_iter": 12, "n_units": 24}
"""Caps on size parameters (through the override mechanism; the other ranges stay as the family declares)."""


def small(family: ModelFamily, task: str) -> ModelFamily:
    """The family with its size parameters (:data:`SIZE_CAPS`) capped, so that a check runs in seconds."""
    caps = {
        p.name: replace_range(p, low=min(p.low, SIZE_CAPS[p.name] // 2), high=SIZE_CAPS[p.name])
        for p in family.space(task) if isinstance(p, IntParam) and p.name in SIZE_CAPS
    }
    return family.with_overrides(caps)


def genotypes(seed: int = 0, missing: float = 0.0, n_samples: int = N_SAMPLES,
              n_snps: int = N_SNPS) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Tiny 0/1/2 dosages (as float, NaN where ``missing``) with a polygenic signal, and a target per task."""
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(0.1, 0.5, n_snps)
    dosages = rng.binomial(2, freqs, size=(n_samples, n_snps)).astype(np.int8)
    liability = dosages[:, :6].astype(float) @ rng.normal(0, 1, 6) + rng.normal(0, 1, n_samples)
    x = dosages.astype(float)
    if missing:
        x[rng.random(x.shape) < missing] = np.nan
    return x, {
        Task.BINARY: (liability > np.median(liability)).astype(int),
        Task.MULTICLASS: np.digitize(liability, np.quantile(liability, [1 / 3, 2 / 3])),
        Task.REGRESSION: 10.0 + 5.0 * liability,  # a trait on its own scale, not standardized
    }


def sample_params(family: ModelFamily, task: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` parameter sets drawn by Optuna's random sampler from the family's space."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [family.suggest(study.ask(), task) for _ in range(n)]


def fit_predict(family: ModelFamily, params: dict[str, Any], task: str, x: np.ndarray, y: np.ndarray,
                seed: int) -> np.ndarray:
    """Build, fit and predict (class probabilities for classification), single-threaded, warnings silenced."""
    model = family.build(params, task, random_state=seed, n_jobs=1)
    with warnings.catch_warnings(), threadpool_limits(1):  # n_jobs=1 does not reach OpenMP or BLAS pools
        warnings.simplefilter("ignore")  # convergence warnings are expected with capped iterations
        model.fit(x, y)
        return np.asarray(model.predict_proba(x) if Task(task).is_classification else model.predict(x))


def check_declaration(family: ModelFamily) -> None:
    """Name, tasks, flags, docstring and parameter ranges are valid, for every declared task."""
    assert isinstance(family, ModelFamily), f"{family!r} is not a ModelFamily"
    assert valid_name(family.name), f"invalid family name {family.name!r}"
    assert family.tasks and set(family.tasks) <= set(TASKS), f"{family.name}: tasks {family.tasks!r}"
    assert isinstance(family.needs_scaling, bool) and isinstance(family.handles_missing, bool), family.name
    assert type(family).__doc__, f"{family.name}: the class needs a docstring (listed by `genoml-search families`)"
    for task in family.tasks:
        for p in family.space(task):
            if isinstance(p, (FloatParam, IntParam)):
                assert p.low <= p.high and (not p.log or p.low > 0), (family.name, task, p)
                lower, upper = p.limits
                assert lower is None or p.low >= lower, (family.name, task, p)
                assert upper is None or p.high <= upper, (family.name, task, p)


def check_fit_predict(family: ModelFamily, task: str, n_sets: int = 20, n_repeated: int = 5) -> None:
    """``n_sets`` sampled parameter sets build, fit and predict properly; the first ``n_repeated`` of them
    give identical predictions when fitted again with the same seed. A draw that repeats an earlier set is
    fitted once (a small categorical space, or none, has fewer than ``n_sets`` distinct sets)."""
    family = small(family, task)
    x, targets = _data()
    y = targets[Task(task)]
    for i, params in enumerate(_distinct(sample_params(family, task, n_sets))):
        assert set(params) <= {p.name for p in family.space(task)}, params
        first = fit_predict(family, params, task, x, y, seed=i)
        _check_predictions(first, task, y, params)
        if i < n_repeated:
            again = fit_predict(family, params, task, x, y, seed=i)
            np.testing.assert_array_equal(first, again, err_msg=f"not deterministic with {params}")


def check_more_snps_than_samples(family: ModelFamily, task: str, n_sets: int = 3) -> None:
    """Genomic shape (more SNPs than samples): sampled parameter sets fit and predict finite values."""
    family = small(family, task)
    rng = np.random.default_rng(5)
    x = rng.binomial(2, 0.3, size=(60, 150)).astype(np.int8).astype(float)
    score = x[:, :5].sum(axis=1) + rng.normal(0, 1, 60)
    y = {Task.BINARY: (score > np.median(score)).astype(int),
         Task.MULTICLASS: np.digitize(score, np.quantile(score, [1 / 3, 2 / 3])), Task.REGRESSION: score}[Task(task)]
    for params in sample_params(family, task, n_sets, seed=2):
        assert np.all(np.isfinite(fit_predict(family, params, task, x, y, seed=0))), params


def check_missing_values(family: ModelFamily, task: str, n_sets: int = 3) -> None:
    """A family declaring ``handles_missing`` fits and predicts on dosages with 10 % NaN (others: skipped)."""
    if not family.handles_missing:
        return
    family = small(family, task)
    x, targets = genotypes(seed=1, missing=0.1)
    for params in sample_params(family, task, n_sets, seed=1):
        assert np.all(np.isfinite(fit_predict(family, params, task, x, targets[Task(task)], seed=0))), params


PER_TASK_CHECKS = (check_fit_predict, check_more_snps_than_samples, check_missing_values)


def family_checks(family: ModelFamily) -> Iterator[Callable[[], None]]:
    """Every check of the contract for ``family``, each a no-argument callable named after the check and task."""
    yield _named(functools.partial(check_declaration, family), f"check_declaration[{family.name}]")
    for task in (t for t in TASKS if t in family.tasks):
        for check in PER_TASK_CHECKS:
            yield _named(functools.partial(check, family, task), f"{check.__name__}[{family.name}-{task}]")


def check_family(family: ModelFamily) -> None:
    """Run every check of the contract on ``family`` (``AssertionError`` at the first broken one)."""
    for check in family_checks(family):
        check()


def _check_predictions(predictions: np.ndarray, task: str, y: np.ndarray, params: dict[str, Any]) -> None:
    n = len(y)
    if Task(task).is_classification:
        n_classes = len(np.unique(y))
        assert predictions.shape == (n, n_classes), (predictions.shape, params)
        assert np.all(predictions >= 0) and np.allclose(predictions.sum(axis=1), 1.0), params
    else:
        assert predictions.shape == (n,) and np.all(np.isfinite(predictions)), params


def _distinct(sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parameter sets without repeats, in their first order."""
    seen: list[dict[str, Any]] = []
    for params in sets:
        if params not in seen:
            seen.append(params)
    return seen


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    return genotypes()


def _named(check: functools.partial[None], name: str) -> Callable[[], None]:
    def run() -> None:
        check()

    run.__name__ = run.__qualname__ = name
    return run
