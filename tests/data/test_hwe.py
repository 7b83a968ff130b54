"""Hardy-Weinberg exact tests: hand-computed, exact enumeration, and plink2 --hardy (chrX)."""
from __future__ import annotations

from fractions import Fraction
from math import factorial

import numpy as np
import pandas as pd
import pytest

from genoml_search.data.hwe import hwe_pvalues_from_counts, hwe_x_fails, hwe_x_pvalues


def exact_hwe(het: int, hom1: int, hom2: int) -> float:
    """Reference: sum of the probabilities of het counts no more likely than the observed one (exact)."""
    n = het + hom1 + hom2
    rare = 2 * min(hom1, hom2) + het
    probs = {}
    for h in range(rare % 2, rare + 1, 2):
        homr = (rare - h) // 2
        homc = n - h - homr
        if homc < 0:
            continue
        probs[h] = Fraction(factorial(n) * 2**h, factorial(homr) * factorial(h) * factorial(homc))
    total = sum(probs.values())
    obs = probs[het]
    return float(sum(p for p in probs.values() if p <= obs) / total)


def test_hwe_hand_computed_two_samples():
    # n = 2 and two rare copies: P(het = 0) = 1/3, P(het = 2) = 2/3.
    p = hwe_pvalues_from_counts([0, 2], [1, 0], [1, 0])
    assert p == pytest.approx([1 / 3, 1.0], rel=1e-12)


@pytest.mark.parametrize(
    "het, hom1, hom2",
    [(10, 80, 10), (50, 25, 25), (0, 50, 50), (100, 0, 0), (1, 99, 0), (3, 40, 7), (57, 321, 22), (0, 10, 0)],
)
def test_hwe_matches_exact_enumeration(het, hom1, hom2):
    assert hwe_pvalues_from_counts([het], [hom1], [hom2])[0] == pytest.approx(exact_hwe(het, hom1, hom2), rel=1e-9)


def test_hwe_vectorized_is_fast_and_consistent():
    rng = np.random.default_rng(0)
    n = 100_000
    hom1 = rng.integers(0, 5000, n)
    het = rng.integers(0, 5000, n)
    hom2 = rng.integers(0, 100, n)
    p = hwe_pvalues_from_counts(het, hom1, hom2)
    assert p.shape == (n,) and np.all((p >= 0) & (p <= 1))
    small = hwe_pvalues_from_counts(het[:5] % 60, hom1[:5] % 60, hom2[:5] % 60)
    for i in range(5):
        expected = exact_hwe(int(het[i] % 60), int(hom1[i] % 60), int(hom2[i] % 60))
        assert small[i] == pytest.approx(expected, rel=1e-9)
        assert p[i] == hwe_pvalues_from_counts(het[i : i + 1], hom1[i : i + 1], hom2[i : i + 1])[0]


def exact_hwe_x(het: int, hom1: int, hom2: int, m1: int, m2: int) -> float:
    """Reference: every table with the same female/male counts and allele totals, exact fractions."""
    nf, nm = het + hom1 + hom2, m1 + m2
    n_a = 2 * hom1 + het + m1

    def weight(h, a1, a2, x1, x2):
        return Fraction(2**h, factorial(a1) * factorial(h) * factorial(a2) * factorial(x1) * factorial(x2))

    tables = []
    for x1 in range(0, nm + 1):
        female_a = n_a - x1
        if female_a < 0 or female_a > 2 * nf:
            continue
        for h in range(female_a % 2, min(female_a, 2 * nf - female_a) + 1, 2):
            a1 = (female_a - h) // 2
            tables.append(weight(h, a1, nf - h - a1, x1, nm - x1))
    obs = weight(het, hom1, hom2, m1, m2)
    return float(sum(t for t in tables if t <= obs) / sum(tables))


@pytest.mark.parametrize("counts", [(3, 5, 2, 4, 6), (0, 8, 0, 0, 9), (10, 2, 2, 7, 1), (5, 5, 5, 5, 5),
                                    (1, 0, 0, 3, 0), (0, 0, 0, 2, 3), (12, 20, 3, 15, 2)])
def test_hwe_x_matches_exact_enumeration(counts):
    assert hwe_x_pvalues(*[[c] for c in counts])[0] == pytest.approx(exact_hwe_x(*counts), rel=1e-9)


def test_hwe_x_without_males_is_the_autosomal_test_and_fails_agrees():
    rng = np.random.default_rng(2)
    counts = rng.integers(0, 300, size=(5, 40))
    counts[3:, :5] = 0
    p = hwe_x_pvalues(*counts)
    assert p[:5].tolist() == hwe_pvalues_from_counts(counts[0, :5], counts[1, :5], counts[2, :5]).tolist()
    for threshold in (1e-6, 1e-3, 0.05):
        assert hwe_x_fails(*counts, threshold).tolist() == (p < threshold).tolist()
    assert 0 < (p < 0.05).sum() < 40


@pytest.mark.plink2
def test_hwe_x_matches_plink2_hardy(plink2, sex_cohort, tmp_path):
    plink2(sex_cohort, tmp_path / "h", "--hardy")
    table = pd.read_csv(tmp_path / "h.hardy.x", sep="\t")
    p = hwe_x_pvalues(table.FEMALE_HET_A1_CT, table.FEMALE_HOM_A1_CT, table.FEMALE_TWO_AX_CT, table.MALE_A1_CT,
                      table.MALE_AX_CT)
    assert len(table) == 60
    assert p == pytest.approx(table.P.to_numpy(), rel=2e-5)  # plink2 prints 6 significant digits
