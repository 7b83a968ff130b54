"""Hardy-Weinberg exact tests as plink2 (2.00a3.5) computes them, vectorized over variants.

- :func:`hwe_pvalues_from_counts`: the autosomal exact test (Wigginton et al. 2005, plink2's ``HweP``
  recurrence, optionally mid-p), each distinct (het, hom, hom) triple evaluated once, in lock-step with numpy.
- :func:`hwe_x_pvalues`: the Graffelman-Weir (2016) exact test plink2 runs on chrX (``HweXchrP``): female
  genotype counts and male allele counts, male heterozygous calls left out.

Pure arithmetic on counts: counting genotypes and deciding which samples take part is :mod:`.qc`'s job.
"""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from genoml_search.data.plink import SMALL_EPSILON

EXACT_TEST_BIAS = 2.0**-83
"""plink2's ``kExactTestBias``: starting relative likelihood of the observed count in the exact test."""

_HWE_X_SPAN = 9.0
"""Tables more than this many standard deviations from the modes are left out of the chrX exact test: their
total probability is below 1e-17, so p-values are exact to about 1e-17 (absolute)."""
_HWE_X_CHUNK = 4_000_000
"""Tables enumerated per numpy pass (bounds memory to a few hundred MB)."""


def hwe_pvalues_from_counts(het: np.ndarray, hom1: np.ndarray, hom2: np.ndarray, *, midp: bool = False) -> np.ndarray:
    """Exact HWE p-values for arrays of (het, hom1, hom2) counts (plink2's ``HweP`` recurrence)."""
    het = np.asarray(het, dtype=np.int64)
    hom1 = np.asarray(hom1, dtype=np.int64)
    hom2 = np.asarray(hom2, dtype=np.int64)
    homc = np.maximum(hom1, hom2)
    homr = np.minimum(hom1, hom2)
    triples, inverse = np.unique(np.stack([het, homr, homc], axis=1), axis=0, return_inverse=True)
    pvals = _hwe_p_unique(triples[:, 0], triples[:, 1], triples[:, 2], midp)
    return pvals[inverse.reshape(-1)]


def _hwe_p_unique(het: np.ndarray, homr: np.ndarray, homc: np.ndarray, midp: bool) -> np.ndarray:
    n = len(het)
    out = np.empty(n)
    rare = 2 * homr + het
    g2 = 2 * (het + homc + homr)
    empty = g2 == 0
    out[empty] = 0.5 if midp else 1.0
    upper = (het * g2 > rare * (g2 - rare)) & ~empty
    lower = ~upper & ~empty
    for mask, is_upper in ((upper, True), (lower, False)):
        idx = np.flatnonzero(mask)
        if len(idx):
            out[idx] = _hwe_p_tail(het[idx], homr[idx], homc[idx], is_upper, midp)
    return out


@np.errstate(over="ignore", invalid="ignore")
def _hwe_p_tail(het: np.ndarray, homr: np.ndarray, homc: np.ndarray, upper: bool, midp: bool) -> np.ndarray:
    """One branch of ``HweP`` (observed het count above or below expectation), vectorized over variants."""
    n = len(het)
    start = (1 - SMALL_EPSILON) * EXACT_TEST_BIAS
    tailp = np.full(n, start)
    centerp = np.zeros(n)
    lastp2 = np.full(n, start)
    tie_ct = np.ones(n)
    h2, r2, c2 = het.astype(float), homr.astype(float), homc.astype(float)
    result = np.full(n, np.nan)

    def step2(i: np.ndarray) -> None:
        # One move of the tail-2 walk towards (and past) the most likely het count.
        if upper:
            r2[i] += 1
            c2[i] += 1
            lastp2[i] *= (h2[i] * (h2[i] - 1)) / (4 * r2[i] * c2[i])
            h2[i] -= 2
        else:
            h2[i] += 2
            lastp2[i] *= (4 * r2[i] * c2[i]) / (h2[i] * (h2[i] - 1))
            r2[i] -= 1
            c2[i] -= 1

    def can_step2(i: np.ndarray) -> np.ndarray:
        return h2[i] > 1.5 if upper else r2[i] > 0.5

    # Phase A: sum the centre (relative likelihoods above the observed one).
    live = np.arange(n)
    live = live[can_step2(live)]
    into_tail = np.zeros(n, dtype=bool)
    while len(live):
        step2(live)
        low = lastp2[live] < EXACT_TEST_BIAS
        done = live[low]
        tie_ct[done] += lastp2[done] > (1 - 2 * SMALL_EPSILON) * EXACT_TEST_BIAS
        tailp[done] += lastp2[done]
        into_tail[done] = True
        cont = live[~low]
        centerp[cont] += lastp2[cont]
        over = centerp[cont] > np.finfo(float).max
        result[cont[over]] = 0.0
        cont = cont[~over]
        live = cont[can_step2(cont)]
    finished = ~np.isnan(result)
    if not midp:
        trivially = (centerp == 0) & ~finished
        result[trivially] = 1.0
        finished |= trivially
    # Phase B: the rest of tail 2, until additions no longer change the sum.
    live = np.flatnonzero(into_tail & ~finished)
    live = live[can_step2(live)]
    while len(live):
        step2(live)
        before = tailp[live].copy()
        tailp[live] += lastp2[live]
        live = live[tailp[live] > before]
        live = live[can_step2(live)]
    _add_tail1(het, homr, homc, upper, np.flatnonzero(~finished), np.full(n, start), tailp)
    rest = ~finished
    if midp:
        result[rest] = (tailp[rest] - (start * 0.5) * tie_ct[rest]) / (tailp[rest] + centerp[rest])
    else:
        result[rest] = tailp[rest] / (tailp[rest] + centerp[rest])
    return result


@np.errstate(over="ignore", invalid="ignore")
def _add_tail1(het: np.ndarray, homr: np.ndarray, homc: np.ndarray, upper: bool, live: np.ndarray,
               lastp1: np.ndarray, tailp: np.ndarray) -> None:
    """Phase C of ``HweP``: add tail 1 to ``tailp`` (in place) for the variants ``live``, walking away from
    expectation on the observed side until additions no longer change the sum."""
    if upper:
        h1, r1, c1 = het + 2.0, homr.astype(float), homc.astype(float)
        live = live[r1[live] > 0.5]
        while len(live):
            lastp1[live] *= (4 * r1[live] * c1[live]) / (h1[live] * (h1[live] - 1))
            before = tailp[live].copy()
            tailp[live] += lastp1[live]
            live = live[tailp[live] > before]
            h1[live] += 2
            r1[live] -= 1
            c1[live] -= 1
            live = live[r1[live] > 0.5]
    else:
        h1, r1, c1 = het.astype(float), homr.astype(float), homc.astype(float)
        live = live[h1[live] > 1.5]
        while len(live):
            r1[live] += 1
            c1[live] += 1
            lastp1[live] *= (h1[live] * (h1[live] - 1)) / (4 * r1[live] * c1[live])
            before = tailp[live].copy()
            tailp[live] += lastp1[live]
            live = live[tailp[live] > before]
            h1[live] -= 2
            live = live[h1[live] > 1.5]


def hwe_x_pvalues(female_het, female_hom1, female_hom2, male1, male2) -> np.ndarray:
    """chrX Hardy-Weinberg exact p-values (Graffelman & Weir 2016, plink2's ``HweXchrP``, not mid-p).

    Females give genotype counts, males allele counts (hemizygous; male heterozygous calls are left out by
    the caller, as plink2 does). Without males this is plink2's autosomal test on the females. With males, the
    p-value is the total probability of the tables (female genotypes and male alleles with the same sample
    counts and allele totals) no more likely than the observed one, ties included, as plink2 sums it; tables
    are enumerated around the modes (see ``_HWE_X_SPAN``), many variants per numpy pass.
    """
    return _hwe_x(female_het, female_hom1, female_hom2, male1, male2, None)


def hwe_x_fails(female_het, female_hom1, female_hom2, male1, male2, threshold: float) -> np.ndarray:
    """Whether each chrX variant's :func:`hwe_x_pvalues` p-value is below ``threshold`` (already nudged).

    The p-value is at least the probability of the observed table, so variants whose observed table is more
    likely than the threshold pass without enumerating their tables (most variants in a large cohort).
    """
    p = _hwe_x(female_het, female_hom1, female_hom2, male1, male2, threshold)
    return p < threshold


def _hwe_x(female_het, female_hom1, female_hom2, male1, male2, threshold: float | None) -> np.ndarray:
    counts = [np.asarray(a, dtype=np.int64).reshape(-1) for a in (female_het, female_hom1, female_hom2, male1, male2)]
    out = np.ones(len(counts[0]))
    if not len(out):
        return out
    no_males = (counts[3] + counts[4]) == 0
    if no_males.any():
        out[no_males] = hwe_pvalues_from_counts(*(c[no_males] for c in counts[:3]))
    rest = np.flatnonzero(~no_males)
    if len(rest):
        table = np.stack([c[rest] for c in counts], axis=1)
        unique, inverse = np.unique(table, axis=0, return_inverse=True)
        out[rest] = _hwe_x_unique(unique, threshold)[inverse.reshape(-1)]
    return out


class _LogFactorial:
    """log(k!) for k = 0..n, looked up instead of calling gammaln for every table."""

    def __init__(self, n: int):
        self.table = gammaln(np.arange(n + 1, dtype=np.float64) + 1.0)

    def __call__(self, k: np.ndarray) -> np.ndarray:
        return self.table[k.astype(np.int64)]


def _log_weight(lf: _LogFactorial, het, hom1, hom2, m1, m2) -> np.ndarray:
    """Log probability of a table, up to the constant shared by all tables with the same totals."""
    return het * np.log(2.0) - lf(hom1) - lf(het) - lf(hom2) - lf(m1) - lf(m2)


def _hwe_x_unique(table: np.ndarray, threshold: float | None) -> np.ndarray:
    het, hom1, hom2, m1, m2 = (table[:, i].astype(np.float64) for i in range(5))
    nf, nm = het + hom1 + hom2, m1 + m2
    n_a = 2 * hom1 + het + m1
    n_total = 2 * nf + nm
    lf = _LogFactorial(int(n_total.max()))
    obs = _log_weight(lf, het, hom1, hom2, m1, m2)
    out = np.ones(len(table))
    todo = np.arange(len(table))
    if threshold is not None:
        # log P(observed) = obs + log(nA! nB! nf! nm! / N!): above the threshold, so is p.
        log_p_obs = obs + lf(n_a) + lf(n_total - n_a) + lf(nf) + lf(nm) - lf(n_total)
        todo = np.flatnonzero(log_p_obs <= np.log(threshold) + 1e-9)
    if not len(todo):
        return out
    het, hom1, hom2, m1, m2, nf, nm, n_a, n_total, obs = (
        x[todo] for x in (het, hom1, hom2, m1, m2, nf, nm, n_a, n_total, obs))
    p = n_a / n_total
    # Rows: male allele-1 counts, hypergeometric around nm * p.
    sd_m = np.sqrt(nm * p * (1 - p)) + 1
    row_lo = np.maximum.reduce([np.zeros_like(nm), n_a - 2 * nf, np.floor(nm * p - _HWE_X_SPAN * sd_m)])
    row_hi = np.minimum.reduce([nm, n_a, np.ceil(nm * p + _HWE_X_SPAN * sd_m)])
    n_rows = (row_hi - row_lo + 1).astype(np.int64)
    # Columns: female het counts (parity of the female allele-1 count) around each row's mode; the width uses
    # the largest p(1-p) any row can have.
    safe_nf = np.maximum(nf, 1)
    f_lo, f_hi = (n_a - row_hi) / (2 * safe_nf), (n_a - row_lo) / (2 * safe_nf)
    pq = np.where((f_lo <= 0.5) & (f_hi >= 0.5), 0.25, np.maximum(f_lo * (1 - f_lo), f_hi * (1 - f_hi)))
    half = np.ceil(_HWE_X_SPAN * (np.sqrt(2 * nf * pq) + 1) / 2).astype(np.int64) + 1
    n_cols = 2 * half + 1
    scale = lf(hom1) + lf(het) + lf(hom2) + lf(m1) + lf(m2)
    tol = 1e-12 * (scale + 1)  # plink2 counts ties (equal probabilities up to float error) in the tail
    per_variant = dict(n_cols=n_cols, half=half, row_lo=row_lo, nf=nf, nm=nm, n_a=n_a, obs=obs, tol=tol)
    sizes = n_rows * n_cols
    start = 0
    while start < len(todo):
        stop = start + max(1, int(np.searchsorted(np.cumsum(sizes[start:]), _HWE_X_CHUNK, side="right")))
        out[todo[start:stop]] = _hwe_x_chunk(lf, sizes[start:stop], {k: a[start:stop] for k, a in per_variant.items()})
        start = stop
    return out


def _hwe_x_chunk(lf: _LogFactorial, sizes: np.ndarray, var: dict[str, np.ndarray]) -> np.ndarray:
    """p-values of a few variants: every table of their (rows x columns) grids, flattened together."""
    owner = np.repeat(np.arange(len(sizes)), sizes)
    offset = np.arange(len(owner)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    row, col = np.divmod(offset, var["n_cols"][owner])
    males1 = var["row_lo"][owner] + row
    males2 = var["nm"][owner] - males1
    nf = var["nf"][owner]
    a = var["n_a"][owner] - males1  # female allele-1 copies in this row
    b = 2 * nf - a
    mode = np.round(a * b / np.maximum(2 * nf - 1, 1))
    mode += (mode - a) % 2
    het = mode + 2 * (col - var["half"][owner])
    valid = (a >= 0) & (b >= 0) & (het >= 0) & (het <= np.minimum(a, b))
    het, a, nf, males1, males2, owner = (x[valid] for x in (het, a, nf, males1, males2, owner))
    hom1 = (a - het) / 2
    logw = _log_weight(lf, het, hom1, nf - het - hom1, males1, males2)
    top = np.full(len(sizes), -np.inf)
    np.maximum.at(top, owner, logw)
    weight = np.exp(logw - top[owner])
    total = np.bincount(owner, weight, minlength=len(sizes))
    in_tail = logw <= var["obs"][owner] + var["tol"][owner]
    tail = np.bincount(owner, weight * in_tail, minlength=len(sizes))
    return np.minimum(tail / total, 1.0)
