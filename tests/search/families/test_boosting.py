"""Boosting families (boosting.py): library defaults in the families' own parameters, fitted on a narrow table."""
from __future__ import annotations

import pytest

from tests.search.families.test_trees import check_defaults

NAMES = ["gradient_boosting", "hist_gradient_boosting", "xgboost", "lightgbm", "catboost"]


@pytest.mark.parametrize("task", ["binary", "regression"])
@pytest.mark.parametrize("name", NAMES)
def test_library_defaults_build_and_fit_on_a_narrow_table(name: str, task: str) -> None:
    check_defaults(name, task)


def test_lightgbm_defaults_are_its_own() -> None:
    import lightgbm

    point = check_defaults("lightgbm", "regression")
    reference = lightgbm.LGBMRegressor().get_params()
    for name in ("n_estimators", "learning_rate", "num_leaves", "min_child_samples", "subsample", "colsample_bytree"):
        assert point[name] == reference[name], name
    assert reference["reg_alpha"] == 0.0 and point["reg_alpha"] == 1e-3  # 0 moved to the searched range's end
