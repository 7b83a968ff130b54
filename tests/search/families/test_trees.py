"""Tree families (trees.py): library defaults in the families' own parameters, fitted on a narrow table."""
from __future__ import annotations

import numpy as np
import pytest

from genoml_search.search.registry import get_family
from genoml_search.search.warm_start import default_points

NAMES = ["random_forest", "extra_trees", "adaboost", "bagging"]


def narrow_table(task: str, n: int = 120, p: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``p`` numeric columns, the target from the first two."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)).astype(np.float32)
    signal = x[:, 0] + x[:, 1] ** 2
    y = signal if task == "regression" else (signal > np.median(signal)).astype(float)
    return x, y


def check_defaults(name: str, task: str) -> dict:
    """The family's library defaults name only its parameters, land in its width-fitted ranges, build and fit."""
    family = get_family(name).with_width(6)
    defaults = family.library_defaults(task)
    ranges = {p.name: p for p in family.params(task)}
    assert defaults and set(defaults) <= set(ranges), sorted(set(defaults) - set(ranges))
    ((_, point),) = default_points([family], task)
    assert set(point) == set(defaults)
    x, y = narrow_table(task)
    model = family.build(point, task, random_state=0).fit(x, y)
    assert np.isfinite(model.predict(x)).all()
    return point


@pytest.mark.parametrize("task", ["binary", "regression"])
@pytest.mark.parametrize("name", NAMES)
def test_library_defaults_build_and_fit_on_a_narrow_table(name: str, task: str) -> None:
    check_defaults(name, task)


def test_forest_defaults_are_scikit_learns() -> None:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    for task, reference in (("regression", RandomForestRegressor()), ("binary", RandomForestClassifier())):
        point = check_defaults("random_forest", task)
        built = get_family("random_forest").build(point, task).get_params()
        assert built["n_estimators"] == reference.n_estimators and built["bootstrap"] == reference.bootstrap
        expected = 1.0 if reference.max_features == 1.0 else 6 ** -0.5  # "sqrt" of 6 columns
        assert built["max_features"] == pytest.approx(expected)
