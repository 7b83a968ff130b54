"""LD pruning with plink2's ``--indep-pairwise WINDOW STEP R2`` semantics (2.00a3.5, ``plink2_ld.cc``).

The rules reproduced here (see docs/munge-qc.md):

- Chromosomes are processed separately in file order; chromosome ``0`` is ignored (and not kept, as plink2
  leaves it out of ``.prune.in``); a chromosome with a single variant is kept untouched. With a kb window the
  chromosome is further split into sub-contigs wherever two consecutive variants are more than the window
  apart, and each sub-contig starts its own windows.
- Sex chromosomes (``sex`` per sample, .fam codes; all unknown when None): on chrX male founders take part
  with their heterozygous calls missing and non-male founders with weight 2 (plink2's ``--ld-xchr 3``; here
  their rows are simply counted twice); on chrY only male founders, hets missing; on chrM all founders, hets
  missing. The major-allele frequencies are plink2's sex-aware ones (males haploid on chrX, males only on chrY).
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

Two implementations make the same decisions. The compiled kernel (``_ldkernel.c``, built with the package)
runs plink2's greedy passes itself with r^2 computed on demand from bit-packed genotypes, so a pair is only
evaluated when the greedy pass needs it. The numpy fallback, used where the kernel could not be compiled,
computes r^2 for chunks of new variants against the variants still live in the window with float32 matrix
products (exact: all sums are small integers), with missing calls handled by sparse corrections that pack
two or three exact integer sums into one float; only its greedy bookkeeping is in Python.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from genoml_search.data.plink import MISSING
from genoml_search.data import sexchrom
from genoml_search.data.qc import (
    SMALL_EPSILON,
    GenotypeCounts,
    column_block,
    genotype_counts,
    sex_aware_ref_frequency,
    take_rows,
)

try:
    from genoml_search.data import _ldkernel
except ImportError:  # no compiler at install time: the numpy path below gives the same result
    _ldkernel = None  # type: ignore[assignment]

DEFAULT_CHUNK = 250
"""New variants whose r^2 against the live window is computed per matrix product (not a power of two:
transposing blocks with power-of-two strides is several times slower)."""


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
    columns: np.ndarray | None = None,
    threads: int | None = None,
    chunk: int = DEFAULT_CHUNK,
    sex: np.ndarray | None = None,
    compiled: bool | None = None,
    counts: GenotypeCounts | None = None,
) -> np.ndarray:
    """Return the boolean mask of variants kept by plink2's ``--indep-pairwise``.

    ``genotypes`` is int8 (samples x variants, :data:`MISSING` for no call), counted allele dosages; ``chrom``
    and ``pos`` give each variant's chromosome and bp position (variants sorted within chromosomes).
    ``window`` counts variants, or kb when ``window_kb`` (then ``step`` must be 1, as plink2 requires).
    ``founders`` (bool per sample) restricts the r^2 and allele frequencies to founders, as plink2 does;
    samples that are not founders take no part at all, so a sample filter can be folded into it.
    ``columns`` (indices of genotype columns, increasing) prunes only those columns, described by ``chrom``
    and ``pos`` and the returned mask, without copying the matrix. ``threads`` chromosomes (or kb-window
    sub-contigs) are pruned at once (default: the CPUs this process may use). ``sex`` (per sample: 1 male,
    2 female, other unknown, as in a .fam; all unknown when None) gives plink2's chrX/chrY/chrM rules.
    ``compiled`` chooses the compiled kernel (default: when it is built and the machine is little-endian)
    or the numpy path. ``counts`` are the founders' genotype counts of ``columns`` if already known (QC
    computes them), to save a pass over the matrix.
    """
    n_samples = genotypes.shape[0]
    if columns is None:
        columns = np.arange(genotypes.shape[1])
    columns = np.asarray(columns, dtype=np.int64)
    n_variants = len(columns)
    window_size = _window_size(window, step, r2, window_kb)
    founders, founder_idx = _founder_rows(founders, n_samples)

    if counts is None:
        counts = genotype_counts(genotypes, founder_idx, columns=columns)
    kinds = sexchrom.chrom_kinds(chrom)
    sex = np.zeros(n_samples, dtype=np.int8) if sex is None else sexchrom.sex_codes(sex)
    founder_mask = np.ones(n_samples, dtype=bool) if founders is None else founders
    ref = sex_aware_ref_frequency(genotypes, counts, founder_mask, kinds, sex, columns)
    major = np.maximum(ref, 1.0 - ref)
    sources, counts = _row_sources(genotypes, founder_idx, founder_mask, sex, kinds, columns, counts)
    # In plink2's +1/0/-1 coding, hom REF is +1; our counted allele is ALT, so dosage 0 is hom REF.
    plus, minus, observed = counts.hom0, counts.hom2, counts.observed
    monomorphic = ((plus == 0) & (minus == 0)) | (plus == observed) | (minus == observed)

    chrom = np.asarray(chrom).astype(str)
    pos = np.asarray(pos, dtype=np.int64)
    keep = np.ones(n_variants, dtype=bool)
    thresh = r2 * (1 + SMALL_EPSILON)
    subs = _chromosome_subcontigs(chrom, pos, keep, window_size if window_kb else None)
    compiled = _use_compiled(compiled)

    def prune(sub: np.ndarray) -> np.ndarray:
        sub_counts = counts.take(sub)
        source = sources.get(kinds[sub[0]], sources[sexchrom.AUTOSOME])
        if source.n_rows == 0:  # e.g. chrY without male founders: nothing is polymorphic
            return sub
        bp = pos[sub] if window_kb else None
        if compiled:
            removed = _prune_compiled(source, columns[sub], sub_counts, major[sub], monomorphic[sub], thresh,
                                      list(_windows(len(sub), bp, window_size, step)))
            return sub[removed]
        pruner = _WindowPruner(source, columns[sub], sub_counts, major[sub], monomorphic[sub], thresh, chunk)
        return sub[pruner.run(bp, window_size, step)]

    for sub_removed in _map_subcontigs(prune, subs, threads):
        keep[sub_removed] = False
    return keep


def _window_size(window: float, step: int, r2: float, window_kb: bool) -> int:
    """The window in variants (or bp when ``window_kb``), after plink2's checks of window, step and r^2."""
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
    return window_size


def _founder_rows(founders: np.ndarray | None, n_samples: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The founders mask as bool (or None) and the founders' row indices (None when all samples are)."""
    founder_idx = None
    if founders is not None:
        founders = np.asarray(founders, dtype=bool)
        if not founders.all():
            founder_idx = np.flatnonzero(founders)
    n_founders = n_samples if founder_idx is None else len(founder_idx)
    if n_founders < 2:
        raise ValueError("--indep-pairwise requires at least two founders")
    return founders, founder_idx


def _row_sources(
    genotypes: np.ndarray, founder_idx: np.ndarray | None, founder_mask: np.ndarray, sex: np.ndarray,
    kinds: np.ndarray, columns: np.ndarray, counts: GenotypeCounts,
) -> tuple[dict[str, _Columns], GenotypeCounts]:
    """The rows taking part per chromosome kind, and the counts with the sex chromosomes' replaced."""
    sources = {sexchrom.AUTOSOME: _Columns(genotypes, founder_idx)}
    for kind in (sexchrom.X, sexchrom.Y, sexchrom.MT):
        idx = np.flatnonzero(kinds == kind)
        if len(idx):
            # The calls that take part differ on these chromosomes: their own rows, and counts over them.
            sources[kind] = _sex_chromosome_rows(genotypes, founder_mask, sex, kind)
            counts = _replace_counts(counts, idx, sources[kind].counts(columns[idx]))
    return sources, counts


def _chromosome_subcontigs(
    chrom: np.ndarray, pos: np.ndarray, keep: np.ndarray, window_bp: int | None
) -> list[np.ndarray]:
    """The sub-contigs to prune, chromosome by chromosome; variants on chromosome 0 are dropped from ``keep``."""
    subs = []
    for name in dict.fromkeys(chrom):
        idx = np.flatnonzero(chrom == name)
        if name == "0":
            keep[idx] = False
        elif len(idx) >= 2:
            subs += _subcontigs(idx, pos, window_bp)
    return subs


def _use_compiled(compiled: bool | None) -> bool:
    """Whether to use the compiled kernel: by default when it is built and the machine is little-endian."""
    if compiled is None:
        return _ldkernel is not None and sys.byteorder == "little"
    if compiled and _ldkernel is None:
        raise RuntimeError("the compiled LD kernel is not built (pip install the package with a C compiler)")
    return compiled


def _map_subcontigs(
    prune: Callable[[np.ndarray], np.ndarray], subs: list[np.ndarray], threads: int | None
) -> list[np.ndarray]:
    """``prune`` of each sub-contig (its removed variants), on ``threads`` threads (default: the usable CPUs)."""
    threads = min(len(subs), threads or _available_cpus())
    if threads > 1:
        # Sub-contigs are independent; numpy and scipy release the GIL in the heavy calls. One BLAS thread
        # per worker so that the matrix products do not oversubscribe the cores.
        with _blas_threads(1), ThreadPoolExecutor(threads) as pool:
            return list(pool.map(prune, sorted(subs, key=len, reverse=True)))
    return [prune(sub) for sub in subs]


def _prune_compiled(source, columns, counts, major, monomorphic, thresh, windows) -> np.ndarray:
    """Removed variants (bool) of one sub-contig, by the compiled kernel's greedy passes."""
    n_words = -(-source.n_rows // 64)
    planes = _packed_planes(source, columns, n_words)
    bounds = np.array([(start, prev_end, end) for (start, end), prev_end in
                       zip(windows, [0] + [end for _, end in windows[:-1]])], dtype=np.int64).reshape(-1, 3)
    removed = monomorphic.astype(np.uint8)
    sums = (counts.het + 2 * counts.hom2).astype(np.int64)
    ssqs = (counts.het + 4 * counts.hom2).astype(np.int64)
    _ldkernel.prune(planes, n_words, counts.missing.astype(np.int64), sums, ssqs, source.n_rows, bounds,
                    np.ascontiguousarray(major, dtype=np.float64), removed, thresh, 1 + SMALL_EPSILON)
    return removed.astype(bool)


def _packed_planes(source, columns: np.ndarray, n_words: int, block: int = 2048) -> np.ndarray:
    """Per variant, three bit planes of ``n_words`` words (one bit per sample, little-endian): x >= 1,
    x == 2 and missing; the layout (variants x 3 x words, uint64) keeps a variant's planes together."""
    planes = np.zeros((len(columns), 3, n_words), dtype=np.uint64)
    as_bytes = planes.view(np.uint8)
    n_bytes = -(-source.n_rows // 8)
    for lo in range(0, len(columns), block):
        u = source.variant_major(columns[lo : lo + block]).view(np.uint8)  # 0, 1, 2 or 129 (missing)
        hi = lo + u.shape[0]
        as_bytes[lo:hi, 0, :n_bytes] = np.packbits(u - np.uint8(1) < 2, axis=1, bitorder="little")
        as_bytes[lo:hi, 1, :n_bytes] = np.packbits(u == 2, axis=1, bitorder="little")
        as_bytes[lo:hi, 2, :n_bytes] = np.packbits(u == np.uint8(MISSING & 0xFF), axis=1, bitorder="little")
    return planes


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def _blas_threads(n: int):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn's dependency; without it BLAS keeps its own setting
        yield
        return
    with threadpool_limits(n, user_api="blas"):
        yield


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
    """Greedy plink2 pruning of one sub-contig; r^2 of each new chunk against the live buffer.

    The buffer holds, variant-major, the float32 genotypes X (missing as 0) of every variant that can still be
    compared. Missing calls are corrected with sparse products over the missing samples; two exact integer
    sums are packed into one float as ``a + K b``, K a power of two above both.
    """

    def __init__(self, source, columns, counts, major, monomorphic, thresh, chunk):
        self.source = source
        self.columns = columns
        self.major = major
        self.removed = monomorphic.copy()
        self.thresh = thresh
        self.chunk = chunk
        n = len(columns)
        self.unchecked = np.arange(1, n + 1)
        self.sums = (counts.het + 2 * counts.hom2).astype(np.float64)
        self.ssqs = (counts.het + 4 * counts.hom2).astype(np.float64)
        self.n_missing = counts.missing.astype(np.int64)
        max_missing = int(self.n_missing.max(initial=0))
        # Sums over missing samples: of x <= 2 * max_missing, of x^2 <= 4 * max_missing, so K > 4 * max_missing
        # decodes them; the floats must hold the packed sums exactly.
        self.k = float(2 ** int(np.ceil(np.log2(4 * max_missing + 2))))
        self.w_dtype = np.float32 if (4 * max_missing + 1) * self.k < 2**24 else np.float64
        self.buf_pos = np.empty(0, dtype=np.int64)
        self.xv = np.empty((0, source.n_rows), dtype=np.float32)
        self.w_blocks: list[tuple[np.ndarray, np.ndarray]] = []  # (positions, W = X + K X^2 sample-major)
        self.miss_idx = np.empty(0, dtype=np.int64)
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
        # Chunks can overlap the previous one (when the chunk is not a multiple of the step): reload those.
        old = (self.buf_pos >= start) & (self.buf_pos < lo) & ~self.removed[self.buf_pos]
        u = np.ascontiguousarray(self.source.block(self.columns[lo:hi])).view(np.uint8)  # samples x chunk
        flat = np.flatnonzero(u.ravel() == np.uint8(MISSING & 0xFF))  # 2-D np.nonzero is much slower
        order = np.argsort(flat % u.shape[1], kind="stable")
        m_sample, m_var = np.divmod(flat[order], u.shape[1])
        xv = np.ascontiguousarray(u.T).astype(np.float32)  # transposing int8 is cheaper than float32
        xv[m_var, m_sample] = 0.0
        self.miss_idx = np.concatenate([self.miss_idx[np.repeat(old, self.n_missing[self.buf_pos])], m_sample])
        self.xv = np.concatenate([self.xv[old], xv])
        self.buf_pos = np.concatenate([self.buf_pos[old], np.arange(lo, hi)])
        self.rowmap[:] = -1
        self.rowmap[self.buf_pos] = np.arange(len(self.buf_pos))
        in_buffer = self.rowmap >= 0  # buffer rows, new variants included even if already removed
        self.w_blocks = [(p[p < lo], w[:, : np.count_nonzero(p < lo)]) for p, w in self.w_blocks]
        self.w_blocks = [(p, w) for p, w in self.w_blocks if in_buffer[p].any()]
        x = u.astype(self.w_dtype)
        x[m_sample, m_var] = 0.0
        w = x * x
        w *= self.k
        w += x
        self.w_blocks.append((np.arange(lo, hi), w))
        self.hit = self._hits(u.shape[0], u.shape[1], in_buffer)
        self.col_lo, self.col_hi = lo, hi

    def _hits(self, n: int, c: int, in_buffer: np.ndarray) -> np.ndarray:
        """Whether each buffered variant is in LD with each of the ``c`` new variants (``n`` samples).

        All sums are integers below 2^24 (float32) or 2^53 (float64), so they are plink2's int64 values.
        """
        pos = self.buf_pos
        new = pos[-c:]
        dot = (self.xv @ self.xv[-c:].T).astype(np.float64)
        s1, q1 = self.sums[pos, None], self.ssqs[pos, None]
        s2, q2 = self.sums[None, new], self.ssqs[None, new]
        nm = float(n)
        miss = self.n_missing[pos]
        if miss.any():
            k = self.k
            ones = np.ones(len(self.miss_idx), dtype=np.float32)
            rows_m = sp.csr_matrix((ones, self.miss_idx, np.concatenate([[0], np.cumsum(miss)])), shape=(len(pos), n))
            cols_m = rows_m[len(pos) - c :]
            # Sums of each buffered variant over the samples missing at each new variant: a + K b.
            packed = np.concatenate([(cols_m @ w)[:, in_buffer[p]] for p, w in self.w_blocks], axis=1)
            packed = packed.T.astype(np.float64)
            b1 = np.floor(packed / k)
            s1 = s1 - (packed - k * b1)
            q1 = q1 - b1
            # Sums of each new variant over the samples missing at each buffered variant (a + K b again),
            # and the both-missing counts from the sparse patterns alone.
            packed = (rows_m @ self.w_blocks[-1][1]).astype(np.float64)
            b2 = np.floor(packed / k)
            a2 = packed - k * b2
            both = (rows_m @ cols_m.T).toarray()
            s2 = s2 - a2
            q2 = q2 - b2
            miss = miss.astype(np.float64)
            nm = n - miss[:, None] - miss[None, -c:] + both
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


def _sex_chromosome_rows(genotypes: np.ndarray, founders: np.ndarray, sex: np.ndarray, kind: str) -> _Columns:
    """The founder rows plink2 uses on chrX, chrY or chrM, and which of them are haploid (hets missing).

    chrX: male founders (haploid) once and the other founders twice (plink2 gives them weight 2 in every
    sum); chrY: male founders only (haploid); chrM: all founders (haploid).
    """
    male = founders & (sex == sexchrom.MALE)
    if kind == sexchrom.X:
        others = np.flatnonzero(founders & ~male)
        rows = np.concatenate([np.flatnonzero(male), others, others])
        haploid = np.zeros(len(rows), dtype=bool)
        haploid[: male.sum()] = True
    elif kind == sexchrom.Y:
        rows = np.flatnonzero(male)
        haploid = np.ones(len(rows), dtype=bool)
    else:
        rows = np.flatnonzero(founders)
        haploid = np.ones(len(rows), dtype=bool)
    return _Columns(genotypes, rows, haploid)


def _replace_counts(counts: GenotypeCounts, idx: np.ndarray, new: GenotypeCounts) -> GenotypeCounts:
    arrays = [a.copy() for a in (counts.hom0, counts.het, counts.hom2, counts.missing)]
    for array, values in zip(arrays, (new.hom0, new.het, new.hom2, new.missing)):
        array[idx] = values
    return GenotypeCounts(*arrays)


class _Columns:
    """Variant blocks (variants x founders, int8) of a samples x variants matrix, without copying it whole.

    ``haploid`` (per row of the block) marks rows whose heterozygous calls are read as missing.
    """

    def __init__(self, genotypes: np.ndarray, rows: np.ndarray | None, haploid: np.ndarray | None = None):
        self.genotypes = genotypes
        self.rows = rows
        self.n_rows = genotypes.shape[0] if rows is None else len(rows)
        self.haploid = haploid if haploid is not None and haploid.any() else None

    def block(self, cols: np.ndarray) -> np.ndarray:
        block = column_block(self.genotypes, cols)
        if self.rows is not None:
            block = take_rows(block, self.rows)
        if self.haploid is not None:
            block = np.where((block == 1) & self.haploid[:, None], np.int8(MISSING), block)
        return block

    def variant_major(self, cols: np.ndarray) -> np.ndarray:
        """The columns ``cols`` (increasing) as a C-contiguous variants x rows block; no copy of the whole
        span is made for a column-major (Fortran) matrix, whose columns are already contiguous."""
        lo, hi = int(cols[0]), int(cols[-1]) + 1
        block = self.genotypes[:, lo:hi].T
        if hi - lo != len(cols):
            block = block[np.asarray(cols) - lo]
        if self.rows is not None:
            block = np.take(block, self.rows, axis=1)
        block = np.ascontiguousarray(block)
        if self.haploid is not None:
            block = np.where((block == 1) & self.haploid[None, :], np.int8(MISSING), block)
        return block

    def counts(self, cols: np.ndarray, step: int = 4096) -> GenotypeCounts:
        """Dosage 0/1/2/missing counts per column over these rows (as the pruner reads them)."""
        parts = [genotype_counts(self.block(cols[i : i + step])) for i in range(0, len(cols), step)]
        return GenotypeCounts(*(np.concatenate(arrays) for arrays in zip(
            *((c.hom0, c.het, c.hom2, c.missing) for c in parts))))
