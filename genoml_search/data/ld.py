"""LD pruning with plink2's ``--indep-pairwise WINDOW STEP R2`` semantics (2.00a3.5, ``plink2_ld.cc``).

The rules reproduced here (see docs/munge-qc.md):

- Chromosomes are processed separately in file order; chromosome ``0`` is ignored (and not kept, as plink2
  leaves it out of ``.prune.in``); a chromosome with a single variant is kept untouched. With a kb window the
  chromosome is further split into sub-contigs wherever two consecutive variants are more than the window
  apart, and each sub-contig starts its own windows.
- Variants are monomorphic for pruning (removed) when the founders have no homozygote, or only one kind of
  homozygote among their calls.
- r^2 of a pair uses the founders called at both variants; the pair is in LD when
  ``cov^2 > r2 * (1 + 2^-44) * var1 * var2`` (all as plink2's integer sums, then doubles).
- At each window end, plink2's greedy pass: each remaining variant in order is compared with later variants
  it has not been compared with yet; on the first pair in LD, the variant with the higher major-allele
  frequency (founders) is removed (the first one only if its frequency exceeds the second's by a factor
  ``1 + 2^-44``, so ties remove the later variant); passes repeat until nothing changes.
- Windows: ``WINDOW`` variants advancing by ``STEP``; or, with a kb window, the window grows to every variant
  within the distance of its first variant and advances by the fewest variants that let its end advance.

r^2 is computed for blocks of variants at once with float32 matrix products (exact: all sums are small
integers), missing calls handled by sparse corrections, so only the greedy bookkeeping is in Python.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from genoml_search.data.plink import MISSING
from genoml_search.data.qc import SMALL_EPSILON, genotype_counts, plink2_ref_frequency

DEFAULT_CHUNK = 256
"""Variants whose r^2 against the current window is computed per matrix product."""


def indep_pairwise(
    genotypes: np.ndarray,
    chrom: np.ndarray,
    pos: np.ndarray,
    window: float,
    step: int,
    r2: float,
    *,
    window_kb: bool = False,
    founders: np.ndarray | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> np.ndarray:
    """Return the boolean mask of variants kept by plink2's ``--indep-pairwise``.

    ``genotypes`` is int8 (samples x variants, :data:`MISSING` for no call), counted allele dosages; ``chrom``
    and ``pos`` give each variant's chromosome and bp position (variants sorted within chromosomes).
    ``window`` counts variants, or kb when ``window_kb`` (then ``step`` must be 1, as plink2 requires).
    ``founders`` (bool per sample) restricts the r^2 and allele frequencies to founders, as plink2 does.
    """
    n_samples, n_variants = genotypes.shape
    if window_kb:
        if step != 1:
            raise ValueError("with a kb window the step must be 1 (plink2 rule)")
        window_size = int(window * 1000 * (1 + SMALL_EPSILON))
        if window_size < 2:
            raise ValueError("--indep-pairwise window size cannot be smaller than 2")
    else:
        window_size = int(window)
        if window_size < 2 or step < 1 or step > window_size:
            raise ValueError("--indep-pairwise needs window >= 2 and 1 <= step <= window")
    if not 0.0 <= r2 < 1.0:
        raise ValueError("--indep-pairwise r^2 threshold must be in [0, 1)")
    founder_idx = None
    if founders is not None:
        founders = np.asarray(founders, dtype=bool)
        if not founders.all():
            founder_idx = np.flatnonzero(founders)
    n_founders = n_samples if founder_idx is None else len(founder_idx)
    if n_founders < 2:
        raise ValueError("--indep-pairwise requires at least two founders")

    counts = genotype_counts(genotypes, founder_idx)
    ref = plink2_ref_frequency(counts)
    major = np.maximum(ref, 1.0 - ref)
    # In plink2's +1/0/-1 coding, hom REF is +1; our counted allele is ALT, so dosage 0 is hom REF.
    plus, minus, observed = counts.hom0, counts.hom2, counts.observed
    monomorphic = ((plus == 0) & (minus == 0)) | (plus == observed) | (minus == observed)

    chrom = np.asarray(chrom).astype(str)
    pos = np.asarray(pos, dtype=np.int64)
    keep = np.ones(n_variants, dtype=bool)
    thresh = r2 * (1 + SMALL_EPSILON)
    for name in dict.fromkeys(chrom):
        idx = np.flatnonzero(chrom == name)
        if name == "0":
            keep[idx] = False
            continue
        if len(idx) < 2:
            continue
        for sub in _subcontigs(idx, pos, window_size if window_kb else None):
            pruner = _WindowPruner(genotypes, founder_idx, sub, major[sub], monomorphic[sub], thresh, chunk)
            removed = pruner.run(pos[sub] if window_kb else None, window_size, step)
            keep[sub[removed]] = False
    return keep


def _subcontigs(idx: np.ndarray, pos: np.ndarray, window_bp: int | None) -> list[np.ndarray]:
    """Split one chromosome's variants where consecutive positions are more than the window apart (kb mode)."""
    if window_bp is None:
        return [idx]
    p = pos[idx]
    breaks = np.flatnonzero((p[1:] >= window_bp) & (p[1:] - window_bp > p[:-1])) + 1
    return [part for part in np.split(idx, breaks) if len(part) > 1]


def _windows(n: int, bp: np.ndarray | None, size: int, step: int):
    """Yield (start, end) of each window over ``n`` variants (plink2's LdPruneNextWindow)."""
    if bp is None:
        start, end = 0, min(n, size)
        while True:
            yield start, end
            if end == n:
                return
            start += step
            end = min(start + size, n)
    start = 0
    end = 1
    while end < n and bp[end] <= bp[0] + size:
        end += 1
    while True:
        yield start, end
        if end == n:
            return
        min_bp = bp[end] - size
        start += 1
        while bp[start] < min_bp:
            start += 1
        limit = bp[start] + size
        end += 1
        while end < n and bp[end] <= limit:
            end += 1


class _WindowPruner:
    """Greedy plink2 pruning of one sub-contig, r^2 from blocks of matrix products."""

    def __init__(self, genotypes, founder_idx, columns, major, monomorphic, thresh, chunk):
        self.genotypes = genotypes
        self.founder_idx = founder_idx
        self.columns = columns
        self.major = major
        self.removed = monomorphic.copy()
        self.thresh = thresh
        self.chunk = chunk
        n = len(columns)
        self.unchecked = np.arange(1, n + 1)
        # Buffer of genotypes (founders x buffered variants, float32, missing as 0) and their statistics.
        self.buf_pos = np.empty(0, dtype=np.int64)
        self.xt = None
        self.missing: list[np.ndarray] = []
        self.sums = np.empty(0, dtype=np.int64)
        self.ssqs = np.empty(0, dtype=np.int64)
        self.n_missing = np.empty(0, dtype=np.int64)
        self.rowmap = np.full(n, -1, dtype=np.int64)
        self.hit = None
        self.col_lo = self.col_hi = 0

    def run(self, bp, size, step) -> np.ndarray:
        new_lo = 0
        for start, end in _windows(len(self.columns), bp, size, step):
            if end > self.col_hi:
                self._load_chunk(start, new_lo, max(end, min(len(self.columns), new_lo + self.chunk)))
            self._prune_window(start, new_lo, end)
            new_lo = end
        return self.removed

    def _load_chunk(self, start: int, lo: int, hi: int) -> None:
        old = (self.buf_pos >= start) & (self.buf_pos < lo) & ~self.removed[self.buf_pos]
        block = self.genotypes[:, self.columns[lo:hi]]
        if self.founder_idx is not None:
            block = block[self.founder_idx]
        miss = block == MISSING
        x = np.where(miss, np.int8(0), block).astype(np.float32)
        miss_rows, miss_cols = np.nonzero(miss)
        order = np.argsort(miss_cols, kind="stable")
        bounds = np.searchsorted(miss_cols[order], np.arange(hi - lo + 1))
        new_missing = [miss_rows[order[bounds[j] : bounds[j + 1]]] for j in range(hi - lo)]
        xs = x.sum(axis=0, dtype=np.float64).astype(np.int64)
        xq = (x * x).sum(axis=0, dtype=np.float64).astype(np.int64)
        if self.xt is None:
            self.xt = x
        else:
            self.xt = np.concatenate([self.xt[:, old], x], axis=1)
        keep_idx = np.flatnonzero(old)
        self.missing = [self.missing[i] for i in keep_idx] + new_missing
        self.sums = np.concatenate([self.sums[old], xs])
        self.ssqs = np.concatenate([self.ssqs[old], xq])
        self.n_missing = np.concatenate([self.n_missing[old], miss.sum(axis=0)])
        self.buf_pos = np.concatenate([self.buf_pos[old], np.arange(lo, hi)])
        self.rowmap[:] = -1
        self.rowmap[self.buf_pos] = np.arange(len(self.buf_pos))
        self.hit = self._hits(hi - lo)
        self.col_lo, self.col_hi = lo, hi

    def _hits(self, n_cols: int) -> np.ndarray:
        """Whether each buffered variant is in LD with each of the last ``n_cols`` buffered variants.

        All sums are integers below 2^53, so float64 arithmetic gives plink2's int64 values exactly.
        """
        xt = self.xt
        n = xt.shape[0]
        cols = slice(xt.shape[1] - n_cols, xt.shape[1])
        xc = np.ascontiguousarray(xt[:, cols])
        dot = (xt.T @ xc).astype(np.float64)
        sums = self.sums.astype(np.float64)
        ssqs = self.ssqs.astype(np.float64)
        s1, q1 = sums[:, None], ssqs[:, None]
        s2, q2 = sums[None, cols], ssqs[None, cols]
        nm = float(n)
        if self.n_missing.any():
            rows_m = _csr(self.missing, n)
            cols_m = rows_m[cols]
            # Sums of each variant over the samples missing at the other one.
            s1 = s1 - (cols_m @ xt).T
            q1 = q1 - (cols_m @ (xt * xt)).T
            s2 = s2 - rows_m @ xc
            q2 = q2 - rows_m @ (xc * xc)
            both = (rows_m @ cols_m.T).toarray()
            miss = self.n_missing.astype(np.float64)
            nm = n - miss[:, None] - miss[None, cols] + both
        cov = dot * nm - s1 * s2
        var1 = q1 * nm - s1 * s1
        var2 = q2 * nm - s2 * s2
        return cov * cov > self.thresh * var1 * var2

    def _prune_window(self, start: int, new_lo: int, end: int) -> None:
        removed, unchecked, major = self.removed, self.unchecked, self.major
        active = start + np.flatnonzero(~removed[start:end])
        if len(active) < 2 or new_lo >= end:
            return
        newpos = np.arange(new_lo, end)
        hit = self.hit[self.rowmap[active], new_lo - self.col_lo : end - self.col_lo]
        hit &= newpos[None, :] >= unchecked[active][:, None]
        hit &= ~removed[newpos][None, :]
        rows = np.flatnonzero(hit.any(axis=1))
        if not len(rows):
            return
        firsts = active[rows].tolist()
        row_idx, col_idx = np.nonzero(hit[rows])
        bounds = np.searchsorted(row_idx, np.arange(len(rows) + 1)).tolist()
        seconds = (col_idx + new_lo).tolist()
        hit_cols = [seconds[bounds[i] : bounds[i + 1]] for i in range(len(rows))]
        limit = 1 + SMALL_EPSILON
        changed = True
        while changed:
            changed = False
            for first, cols in zip(firsts, hit_cols):
                if removed[first]:
                    continue
                fu = unchecked[first]
                second = next((c for c in cols if c >= fu and not removed[c]), -1)
                if second < 0:
                    unchecked[first] = end
                    continue
                changed = True
                if major[first] > major[second] * limit:
                    removed[first] = True
                else:
                    removed[second] = True
                    # plink2 resumes at the next remaining variant; removed ones never come back.
                    unchecked[first] = second + 1


def _csr(missing: list[np.ndarray], n: int) -> sp.csr_matrix:
    lengths = np.fromiter((len(m) for m in missing), dtype=np.int64, count=len(missing))
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.concatenate(missing) if len(missing) else np.empty(0, dtype=np.int64)
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(len(missing), n))
