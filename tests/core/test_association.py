"""The per-column association tests of the in-fold filter: the linear test (SNPs) and the linear-or-binned
screen of feature-table columns, which must see a purely non-linear effect and stay calibrated on noise."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from genoml_search.core.association import (
    _bin_codes,
    association_pvalues,
    binned_association_pvalues,
    table_association_pvalues,
)


def test_binned_test_matches_scipy_anova_and_chi_square():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = x[:, 0] ** 2 + rng.normal(size=300)
    codes = _bin_codes(x, 10)
    expected = [stats.f_oneway(*[y[codes[:, j] == b] for b in range(10)]).pvalue for j in range(3)]
    np.testing.assert_allclose(binned_association_pvalues(x, y, "regression"), expected, rtol=1e-6)
    classes = (np.abs(x[:, 1]) > 1).astype(int) + (x[:, 2] > 0)
    expected = [stats.chi2_contingency(pd.crosstab(codes[:, j], classes).to_numpy(), correction=False).pvalue
                for j in range(3)]
    np.testing.assert_allclose(binned_association_pvalues(x, classes, "multiclass"), expected, rtol=1e-6)


def test_ties_share_a_bin_and_a_constant_column_gets_p_one():
    x = np.column_stack([np.repeat([0.0, 1.0], 50), np.ones(100)])
    codes = _bin_codes(x, 10)
    assert len(np.unique(codes[:50, 0])) == 1 and len(np.unique(codes[50:, 0])) == 1
    y = np.r_[np.zeros(50), np.ones(50)] + np.random.default_rng(1).normal(size=100)
    p = binned_association_pvalues(x, y, "regression")
    assert p[0] < 1e-6 and p[1] == 1.0


def test_a_quadratic_only_column_is_invisible_to_the_linear_test_but_not_to_the_table_screen():
    """Friedman #1's 20 (x - 0.5)^2 term: no linear correlation, a strong U shape."""
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(500, 1))
    for task, y in (("regression", 20 * (x[:, 0] - 0.5) ** 2 + rng.normal(size=500)),
                    ("binary", (np.abs(x[:, 0] - 0.5) > 0.25).astype(float))):
        assert association_pvalues(x, y, task)[0] > 0.01
        assert table_association_pvalues(x, y, task)[0] < 1e-10


def test_the_table_screen_keeps_the_power_of_the_linear_test_up_to_the_factor_two():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 5))
    y = 0.3 * x[:, 0] + rng.normal(size=200)
    assert np.all(table_association_pvalues(x, y, "regression") <= 2 * association_pvalues(x, y, "regression") + 1e-12)


def test_the_table_screen_is_calibrated_on_noise():
    """A shuffled (here: independent) phenotype gives p-values no smaller than chance."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 2000))
    for task, y in (("regression", rng.normal(size=200)), ("binary", rng.integers(0, 2, 200).astype(float)),
                    ("multiclass", rng.integers(0, 3, 200).astype(float))):
        p = table_association_pvalues(x, y, task)
        assert 0.02 < np.mean(p < 0.05) <= 0.06, (task, np.mean(p < 0.05))
