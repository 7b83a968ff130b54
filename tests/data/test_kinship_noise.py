"""Kinship noise: chance relatives with few SNPs are recognized, and the SNPs needed scale as expected."""
from __future__ import annotations

import numpy as np

from genoml_search.data.kinship import KING_SECOND, KING_THIRD, king_kinship
from genoml_search.data.kinship_noise import kinship_noise as noise_of, noise_warning


def kinship_noise(matrix, n_snps):
    return noise_of(matrix, n_snps, KING_SECOND, KING_THIRD)


def _unrelated(n: int, m: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.binomial(2, rng.uniform(0.05, 0.5, m), (n, m)).astype(np.int8)


def test_few_snps_are_flagged_with_the_snps_needed():
    g = _unrelated(200, 300)
    noise = kinship_noise(king_kinship(g), 300)
    assert noise["reliable_third_degree"] is False and noise["snps_needed_third_degree"] > 300
    assert noise["snps_needed_second_degree"] < noise["snps_needed_third_degree"]
    text = noise_warning(noise, 1234)
    assert "300 SNPs is too noisy" in text and "1,234 pairs called are mostly chance" in text


def test_the_needed_count_is_stable_and_enough():
    """The estimate does not depend on how many SNPs it was made from, and that many SNPs are reliable."""
    small = kinship_noise(king_kinship(_unrelated(150, 400, 1)), 400)
    large = kinship_noise(king_kinship(_unrelated(150, 1600, 1)), 1600)
    assert 0.7 < small["snps_needed_third_degree"] / large["snps_needed_third_degree"] < 1.4
    enough = int(1.3 * large["snps_needed_third_degree"])
    g = _unrelated(150, enough, 2)
    matrix = king_kinship(g)
    noise = kinship_noise(matrix, enough)
    assert noise["reliable_third_degree"] is True and noise_warning(noise) is None
    upper = matrix[np.triu_indices(len(matrix), 1)]
    assert (upper > 2.0**-4.5).sum() <= 2  # what "reliable" promises: (almost) no chance third-degree pair
