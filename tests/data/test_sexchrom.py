"""Sex-chromosome codes, sample sex and the chrX HWE exact test (hand-checked and against plink2 --hardy)."""
from __future__ import annotations

from fractions import Fraction
from math import factorial

import numpy as np
import pandas as pd
import pytest

from genoml_search.data.qc import hwe_pvalues_from_counts
from genoml_search.data.sexchrom import chrom_kinds, hwe_x_fails, hwe_x_pvalues, sex_codes


def test_chrom_kinds_accept_plink_numbers_and_names():
    got = chrom_kinds(["1", "23", "X", "chrX", "x", "24", "chrY", "25", "XY", "26", "MT", "chrM", "0", "22"])
    assert got.tolist() == ["A", "X", "X", "X", "X", "Y", "Y", "XY", "XY", "MT", "MT", "MT", "A", "A"]


def test_sex_codes_unknown_is_anything_but_1_or_2():
    assert sex_codes(["1", "2", "0", "-9", "NA", " 2"]).tolist() == [1, 2, 0, 0, 0, 2]


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
