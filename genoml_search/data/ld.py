"""LD pruning with PLINK's ``--indep-pairwise WINDOW STEP R2`` semantics.

FIRST VERSION (walking skeleton): a greedy window scan on dense correlations; issue #3 makes it plink2-exact.
"""
from __future__ import annotations

import numpy as np

from genoml_search.data.plink import MISSING


def indep_pairwise(
    genotypes: np.ndarray,
    chrom: np.ndarray,
    pos: np.ndarray,
    window: int,
    step: int,
    r2: float,
    *,
    window_kb: bool = False,
) -> np.ndarray:
    """Return a boolean mask of the variants kept by pruning pairs with r^2 > ``r2`` in sliding windows."""
    n_variants = genotypes.shape[1]
    keep = np.ones(n_variants, dtype=bool)
    chrom = np.asarray(chrom).astype(str)
    for c in dict.fromkeys(chrom):
        idx = np.flatnonzero(chrom == c)
        x = genotypes[:, idx].astype(np.float64)
        x[x == MISSING] = np.nan
        x = x - np.nanmean(x, axis=0)
        x = np.nan_to_num(x)
        norms = np.sqrt((x * x).sum(axis=0))
        for start in range(0, len(idx), step):
            stop = min(start + window, len(idx))
            block = np.arange(start, stop)
            live = block[keep[idx[block]]]
            if len(live) < 2:
                continue
            xb = x[:, live]
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = (xb.T @ xb) / np.outer(norms[live], norms[live])
            r2m = np.nan_to_num(corr) ** 2
            for i in range(len(live)):
                if not keep[idx[live[i]]]:
                    continue
                for j in range(i + 1, len(live)):
                    if keep[idx[live[j]]] and r2m[i, j] > r2:
                        keep[idx[live[j]]] = False
            if stop == len(idx):
                break
    return keep
