"""How noisy a KING kinship estimate is, and how many SNPs reliable second/third-degree calls would need.

With few SNPs, the estimates of unrelated pairs spread widely around their center, and among n(n-1)/2 pairs
many cross the second- or third-degree cut-offs by chance: hundreds of "relatives" that are noise. The spread
is measured on the data itself (median absolute deviation of the pairwise estimates, robust to the few real
relatives) and scales as 1/sqrt(M) with the number of SNPs M, so the SNPs needed for a cut-off follow:
M_needed = M * (sd * z / (cut-off - center))^2, where z makes the expected number of false pairs below one.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

MAX_SAMPLED_PAIRS = 200_000


def sampled_pairs(rows: int, cols: int, within: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The (row, column) pairs whose estimates measure the spread: at most :data:`MAX_SAMPLED_PAIRS`, drawn
    at random (fixed ``seed``), i != j within a cohort."""
    n_pairs = rows * (rows - 1) // 2 if within else rows * cols
    rng = np.random.default_rng(seed)
    count = min(MAX_SAMPLED_PAIRS, n_pairs)
    i, j = rng.integers(0, rows, count), rng.integers(0, cols, count)
    if within:
        keep = i != j
        i, j = i[keep], j[keep]
    return i, j


def kinship_noise(kinship: np.ndarray, n_snps: int, second: float, third: float,
                  within: bool = True) -> dict[str, Any]:
    """Spread of the estimates, the expected chance pairs above each cut-off and the SNPs each would need.

    ``second``/``third``: the second- and third-degree cut-offs (KING's 2^-3.5 and 2^-4.5, passed in by
    :mod:`genoml_search.data.kinship`'s users). ``within``: ``kinship`` is one cohort's square matrix (pairs
    i < j); else training x other cohort.
    """
    i, j = sampled_pairs(kinship.shape[0], kinship.shape[1], within)
    return noise_from_estimates(kinship[i, j], kinship.shape, n_snps, second, third, within)


def noise_from_estimates(values: np.ndarray, shape: tuple[int, int], n_snps: int, second: float, third: float,
                         within: bool) -> dict[str, Any]:
    """:func:`kinship_noise` from the estimates at :func:`sampled_pairs` of a matrix of ``shape`` (a caller
    that computes the matrix in blocks gathers them without keeping it)."""
    values = values[np.isfinite(values)]
    if len(values) < 10:
        return {"n_snps": n_snps, "reliable_second_degree": None, "reliable_third_degree": None}
    center = float(np.median(values))
    sd = float(1.4826 * np.median(np.abs(values - center)))
    rows, cols = shape
    n_pairs = rows * (rows - 1) // 2 if within else rows * cols
    z = float(stats.norm.isf(1.0 / max(n_pairs, 2)))
    result: dict[str, Any] = {"n_snps": int(n_snps), "center": round(center, 5), "sd": round(sd, 5),
                              "n_pairs": int(n_pairs)}
    for name, cut in (("second_degree", second), ("third_degree", third)):
        expected = float(n_pairs * stats.norm.sf((cut - center) / sd)) if sd > 0 else 0.0
        needed = int(np.ceil(n_snps * (sd * z / (cut - center)) ** 2)) if sd > 0 else 0
        result[f"expected_chance_pairs_{name}"] = round(expected, 1)
        result[f"snps_needed_{name}"] = needed
        result[f"reliable_{name}"] = expected < 1.0
    return result


def noise_warning(noise: dict[str, Any] | None, n_called: int | None = None, what: str = "kinship") -> str | None:
    """One line when chance alone would put unrelated pairs above the third-degree cut-off; None otherwise."""
    if not noise or noise.get("reliable_third_degree") in (None, True):
        return None
    degree = "second- or third-degree" if not noise.get("reliable_second_degree") else "third-degree"
    called = "" if n_called is None else f"; the {n_called:,} pairs called are mostly chance"
    return (f"{what} from {noise['n_snps']:,} SNPs is too noisy for {degree} calls (sd {noise['sd']:.3f} between "
            f"unrelated pairs): reliable calls need about {noise['snps_needed_second_degree']:,} independent SNPs "
            f"for second degree and {noise['snps_needed_third_degree']:,} for third degree{called}")
