"""KING-robust kinship with ``plink2 --make-king`` / ``--make-king-table`` semantics, relatives and groups.

For a pair of samples (i, j), over the SNPs where *both* have a call (missing calls drop out pairwise):

- ``IBS0``: opposite homozygotes; ``HETHET``: both heterozygous;
- ``HET_i HOM_j`` / ``HOM_i HET_j``: one heterozygous, the other homozygous (either allele);

and the kinship is ``0.5 - (4 IBS0 + HET_i HOM_j + HOM_i HET_j) / (4 (HETHET + min(HET_i HOM_j, HOM_i HET_j)))``
(Manichaikul et al. 2010, the between-family "robust" estimator, as plink2 computes it: the heterozygote count
of the less heterozygous sample is taken over the pair's jointly called SNPs). It needs no allele frequencies.
When the denominator is zero the value is NaN or -inf, as in plink2. plink2 drops chrX, chrY and chrM variants
first (chrXY and unplaced contigs stay): :func:`king_variant_mask` gives that mask from the .bim chromosomes.

The counts are matrix products of float32 indicator matrices (exact for integers below 2^24), computed over
chunks of SNPs and blocks of samples. SNPs without any missing call need two products per block pair
(``H H'`` and ``x x'`` with ``x = genotype - 1``) because the other counts follow from per-sample totals;
SNPs with missing calls need five.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from genoml_search.data.plink import check_genotype_matrix
from genoml_search.errors import UserError

KING_DUPLICATE: float = 2.0**-1.5
"""Kinship above this (0.354): duplicate sample or monozygotic twin."""
KING_FIRST: float = 2.0**-2.5
"""Kinship above this (0.177) and up to :data:`KING_DUPLICATE`: first degree (parent-child, full siblings)."""
KING_SECOND: float = 2.0**-3.5
"""Kinship above this (0.0884) and up to :data:`KING_FIRST`: second degree. The default relatedness threshold."""
KING_THIRD: float = 2.0**-4.5
"""Kinship above this (0.0442) and up to :data:`KING_SECOND`: third degree."""

MIN_KING_SNPS: int = 100
"""Fewest SNPs accepted: below this KING estimates are noise (thousands of SNPs are needed for third degree)."""

DEFAULT_BLOCK_SIZE = 2048
_MAX_EXACT_FLOAT32 = 2**23  # integer counts stay exact in float32 accumulators below this many SNPs

_NON_AUTOSOMES = {"x", "23", "y", "24", "mt", "m", "26"}


def king_variant_mask(chrom: np.ndarray | pd.Series | list) -> np.ndarray:
    """Boolean mask of the variants plink2's KING uses: all but chrX/23, chrY/24 and chrM/MT/26.

    Pseudo-autosomal chrXY (25) and unplaced contigs are kept, as in plink2.
    """
    codes = pd.Series(np.asarray(chrom)).astype(str).str.lower().str.removeprefix("chr")
    return ~codes.isin(_NON_AUTOSOMES).to_numpy()


def king_kinship(
    genotypes: np.ndarray,
    other: np.ndarray | None = None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    snp_chunk: int | None = None,
) -> np.ndarray:
    """KING-robust kinship, as ``plink2 --make-king`` computes it (float64, bit-for-bit on the same SNPs).

    Args:
        genotypes: int8 samples x SNPs (counts of one allele, :data:`~genoml_search.data.plink.MISSING` for no
            call; any other value than 0/1/2 is treated as missing). Pass autosomal SNPs only to match plink2
            (:func:`king_variant_mask`).
        other: a second cohort on the same SNPs with the same counted alleles; then the result is the
            n_genotypes x n_other cross-cohort matrix instead of the symmetric within-cohort one.
        block_size: samples per block of the matrix products. Memory beyond the inputs: 12 bytes (16 between
            cohorts) per result cell for float32 accumulators, 8 per cell for the float64 result, and about
            256 MB of indicator chunks: about 2.3 GB for 10,000 samples.
        snp_chunk: SNPs per chunk (default: sized so the indicator chunks take about 256 MB).

    Returns:
        n x n (diagonal 0.5) or n_genotypes x n_other kinship coefficients.

    Raises:
        UserError: fewer than :data:`MIN_KING_SNPS` SNPs, fewer than 2 samples (one cohort) or an empty cohort,
            or cohorts on different numbers of SNPs.
    """
    a = check_genotype_matrix(genotypes, "genotypes")
    b = None if other is None else check_genotype_matrix(other, "other")
    if b is None and a.shape[0] < 2:
        raise UserError(f"KING kinship needs at least 2 samples; got {a.shape[0]}")
    if b is not None:
        if b.shape[1] != a.shape[1]:
            raise UserError(
                f"the two cohorts have {a.shape[1]} and {b.shape[1]} SNPs; harmonize the second cohort to the "
                "first (same SNPs, same counted alleles) before comparing them"
            )
        if a.shape[0] == 0 or b.shape[0] == 0:
            raise UserError("KING kinship between cohorts needs at least one sample in each cohort")
    if a.shape[1] < MIN_KING_SNPS:
        raise UserError(
            f"KING kinship needs at least {MIN_KING_SNPS} SNPs for a meaningful estimate; got {a.shape[1]} "
            "(use more variants, e.g. a lighter LD pruning)"
        )
    if block_size < 1:
        raise UserError(f"block_size must be positive; got {block_size}")
    counts = _king_counts(a, b, block_size, snp_chunk)
    return _kinship_from_counts(*counts, within=b is None)


def _missing_columns(genotypes: np.ndarray, chunk: int) -> np.ndarray:
    missing = np.zeros(genotypes.shape[1], dtype=bool)
    for start in range(0, genotypes.shape[1], chunk):
        block = genotypes[:, start : start + chunk]
        missing[start : start + chunk] = (block.view(np.uint8) > 2).any(axis=0)  # MISSING is 129 as uint8
    return missing


class _Indicators:
    """Preallocated float32 indicator buffers for one SNP chunk of one cohort."""

    def __init__(self, n: int, chunk: int, with_hom: bool) -> None:
        self.het = np.empty((n, chunk), dtype=np.float32)
        self.x = np.empty((n, chunk), dtype=np.float32)
        self.hom = np.empty((n, chunk), dtype=np.float32) if with_hom else None
        self._flags = np.empty((n, chunk), dtype=bool)

    def fill(self, g: np.ndarray, has_missing: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        width = g.shape[1]
        het, x, flags = self.het[:, :width], self.x[:, :width], self._flags[:, :width]
        np.equal(g, 1, out=flags)
        np.copyto(het, flags)
        np.copyto(x, g, casting="unsafe")
        x -= 1  # -1 ref hom, 0 het, +1 alt hom
        if not has_missing:
            return het, x, None
        np.greater(g.view(np.uint8), 2, out=flags)  # no call (MISSING is 129 as uint8)
        np.copyto(x, 0.0, where=flags)
        assert self.hom is not None, "buffers made without with_hom"
        hom = self.hom[:, :width]
        np.multiply(x, x, out=hom)
        return het, x, hom


def _columns(genotypes: np.ndarray, idx: np.ndarray) -> np.ndarray:
    if len(idx) and idx[-1] - idx[0] == len(idx) - 1:  # a run of columns: a view, no gather
        return genotypes[:, idx[0] : idx[-1] + 1]
    return np.take(genotypes, idx, axis=1)


def _blocks(n: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def _king_counts(
    a: np.ndarray, b: np.ndarray | None, block_size: int, snp_chunk: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Accumulate HETHET, HET_i HOM_j, HOM_i HET_j (None within a cohort: the transpose) and 2 IBS0."""
    within = b is None
    other = a if b is None else b
    n_a, n_snps = a.shape
    n_b = other.shape[0]
    n_all = n_a + (0 if within else n_b)
    chunk = snp_chunk or int(np.clip(256e6 / (12 * n_all) // 256 * 256, 256, 8192))
    dtype = np.float32 if n_snps < _MAX_EXACT_FLOAT32 else np.float64

    missing = _missing_columns(a, chunk)
    if not within:
        missing |= _missing_columns(other, chunk)
    complete_idx = np.flatnonzero(~missing)
    missing_idx = np.flatnonzero(missing)

    hethet = np.zeros((n_a, n_b), dtype=dtype)
    het_hom = np.zeros((n_a, n_b), dtype=dtype)  # sample i het, sample j hom
    # sample i hom, sample j het (within a cohort: het_hom's transpose, not stored)
    hom_het = np.zeros((0, 0) if within else (n_a, n_b), dtype=dtype)
    ibs0x2 = np.zeros((n_a, n_b), dtype=dtype)
    het_complete_a = np.zeros(n_a, dtype=np.float64)
    het_complete_b = het_complete_a if within else np.zeros(n_b, dtype=np.float64)

    width = min(chunk, n_snps)
    bufs_a = _Indicators(n_a, width, with_hom=len(missing_idx) > 0)
    bufs_b = bufs_a if within else _Indicators(n_b, width, with_hom=len(missing_idx) > 0)
    blocks_a, blocks_b = _blocks(n_a, block_size), _blocks(n_b, block_size)

    for cols, has_missing in ((complete_idx, False), (missing_idx, True)):
        for start in range(0, len(cols), chunk):
            idx = cols[start : start + chunk]
            ha, xa, ga = bufs_a.fill(_columns(a, idx), has_missing)
            if within:
                hb, xb, gb = ha, xa, ga
            else:
                hb, xb, gb = bufs_b.fill(_columns(other, idx), has_missing)
            if not has_missing:
                het_complete_a += ha.sum(axis=1, dtype=np.float64)
                if not within:
                    het_complete_b += hb.sum(axis=1, dtype=np.float64)
            for i, bi in enumerate(blocks_a):
                for j, bj in enumerate(blocks_b):
                    if within and j < i:
                        continue
                    hh = ha[bi] @ hb[bj].T
                    hethet[bi, bj] += hh
                    if not has_missing:
                        # Complete SNPs: hom = 1 - het, so HET_i HOM_j = het_i - HETHET and
                        # 2 IBS0 = HOM HOM' - x x' = n - het_i - het_j + HETHET - x x' (totals added at the end).
                        het_hom[bi, bj] -= hh
                        if within and j > i:
                            het_hom[bj, bi] -= hh.T
                        elif not within:
                            hom_het[bi, bj] -= hh
                        ibs0x2[bi, bj] += hh
                        ibs0x2[bi, bj] -= xa[bi] @ xb[bj].T
                    else:
                        assert ga is not None and gb is not None  # fill() gives the hom buffers with missing
                        het_hom[bi, bj] += ha[bi] @ gb[bj].T
                        if within and j > i:
                            het_hom[bj, bi] += hb[bj] @ ga[bi].T
                        elif not within:
                            hom_het[bi, bj] += ga[bi] @ hb[bj].T
                        ibs0x2[bi, bj] += ga[bi] @ gb[bj].T
                        ibs0x2[bi, bj] -= xa[bi] @ xb[bj].T

    _add_complete_totals(hethet, het_hom, hom_het, ibs0x2, het_complete_a, het_complete_b,
                         float(len(complete_idx)), blocks_a, within)
    return hethet, het_hom, None if within else hom_het, ibs0x2


def _add_complete_totals(
    hethet: np.ndarray, het_hom: np.ndarray, hom_het: np.ndarray, ibs0x2: np.ndarray,
    het_complete_a: np.ndarray, het_complete_b: np.ndarray, n_complete: float, blocks_a: list[slice], within: bool,
) -> None:
    """Finish the counts in place: mirror the lower block triangle (within a cohort) and add the per-sample
    totals of the complete SNPs that the block loop left out."""
    dtype = hethet.dtype
    if within:
        for i, bi in enumerate(blocks_a):
            for bj in blocks_a[:i]:
                hethet[bi, bj] = hethet[bj, bi].T
                ibs0x2[bi, bj] = ibs0x2[bj, bi].T
    for bi in blocks_a:
        het_hom[bi] += het_complete_a[bi, None].astype(dtype)
        ibs0x2[bi] += (n_complete - het_complete_a[bi, None] - het_complete_b[None, :]).astype(dtype)
    if not within:
        hom_het += het_complete_b[None, :].astype(dtype)


def _kinship_from_counts(
    hethet: np.ndarray, het_hom: np.ndarray, hom_het: np.ndarray | None, ibs0x2: np.ndarray, *, within: bool
) -> np.ndarray:
    n_a, n_b = hethet.shape
    kinship = np.empty((n_a, n_b), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        for bi in _blocks(n_a, 512):  # float64 temporaries of 512 rows
            h1 = het_hom[bi].astype(np.float64)
            h2 = (het_hom[:, bi].T if hom_het is None else hom_het[bi]).astype(np.float64)
            numerator = 2.0 * ibs0x2[bi].astype(np.float64) + h1 + h2
            denominator = 4.0 * (hethet[bi].astype(np.float64) + np.minimum(h1, h2))
            kinship[bi] = 0.5 - numerator / denominator
    if within:
        np.fill_diagonal(kinship, 0.5)
    return kinship


def king_degree(kinship: np.ndarray | float) -> np.ndarray:
    """Degree labels from KING's cut-offs: "duplicate/MZ twin", "1st", "2nd", "3rd" or "unrelated"."""
    values = np.asarray(kinship, dtype=np.float64)
    labels = np.full(values.shape, "unrelated", dtype=object)
    labels[values > KING_THIRD] = "3rd"
    labels[values > KING_SECOND] = "2nd"
    labels[values > KING_FIRST] = "1st"
    labels[values > KING_DUPLICATE] = "duplicate/MZ twin"
    return labels


def related_pairs(
    kinship: np.ndarray,
    threshold: float = KING_SECOND,
    ids_a: list | np.ndarray | pd.Series | None = None,
    ids_b: list | np.ndarray | pd.Series | None = None,
) -> pd.DataFrame:
    """Pairs with kinship above ``threshold`` (default 2^-3.5 = 0.0884: second degree or closer).

    With ``ids_b`` None and a square matrix the matrix is one cohort and each pair is listed once (i < j);
    otherwise rows are cohort A (``ids_a``) and columns cohort B (``ids_b``). IDs default to row/column
    indices. Returns columns id1, id2, kinship, degree (see :func:`king_degree`), closest pairs first.
    """
    kinship = np.asarray(kinship)
    if kinship.ndim != 2:
        raise UserError(f"kinship must be a matrix; got {kinship.ndim} dimensions")
    within = ids_b is None and kinship.shape[0] == kinship.shape[1]
    ids_a = np.arange(kinship.shape[0]) if ids_a is None else np.asarray(ids_a)
    ids_b = (ids_a if within else np.arange(kinship.shape[1])) if ids_b is None else np.asarray(ids_b)
    if len(ids_a) != kinship.shape[0] or len(ids_b) != kinship.shape[1]:
        raise UserError(
            f"kinship is {kinship.shape[0]} x {kinship.shape[1]} but {len(ids_a)} and {len(ids_b)} IDs were given"
        )
    rows, cols = [], []
    for bi in _blocks(kinship.shape[0], DEFAULT_BLOCK_SIZE):
        with np.errstate(invalid="ignore"):
            r, c = np.nonzero(kinship[bi] > threshold)
        r = r + bi.start
        if within:
            keep = c > r
            r, c = r[keep], c[keep]
        rows.append(r)
        cols.append(c)
    r, c = np.concatenate(rows), np.concatenate(cols)
    values = kinship[r, c].astype(np.float64)
    order = np.argsort(-values, kind="stable")
    r, c, values = r[order], c[order], values[order]
    return pd.DataFrame(
        {"id1": ids_a[r], "id2": ids_b[c], "kinship": values, "degree": king_degree(values).astype(str)}
    )


def relatedness_groups(kinship: np.ndarray, threshold: float = KING_SECOND) -> np.ndarray:
    """Connected components of the graph "kinship > threshold": one integer group per sample.

    Groups are numbered 0, 1, ... in order of their first sample; an unrelated sample is a group of its own.
    Use them as CV groups (``GroupKFold``/``StratifiedGroupKFold``) so relatives never straddle folds.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    kinship = np.asarray(kinship)
    if kinship.ndim != 2 or kinship.shape[0] != kinship.shape[1]:
        raise UserError(f"relatedness groups need a square within-cohort kinship matrix; got shape {kinship.shape}")
    pairs = related_pairs(kinship, threshold)
    n = kinship.shape[0]
    graph = coo_matrix(
        (np.ones(len(pairs)), (pairs["id1"].to_numpy(np.int64), pairs["id2"].to_numpy(np.int64))), shape=(n, n)
    )
    _, labels = connected_components(graph, directed=False)
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[labels]


CROSS_BLOCK_CELLS = 2**24  # training x other cells per block of cross_cohort_relatedness (~24 bytes each)


def cross_cohort_relatedness(
    train_genotypes: np.ndarray,
    other_genotypes: np.ndarray,
    threshold: float = KING_SECOND,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    columns: np.ndarray | None = None,
    rows_per_block: int | None = None,
) -> dict:
    """How many samples of another cohort duplicate or are related to some training sample (JSON-friendly).

    Both cohorts must be on the same SNPs with the same counted alleles; ``columns`` (indices) restrict the
    training matrix to the SNPs of ``other_genotypes``' columns (e.g. the autosomes) without copying it. The
    training samples are taken ``rows_per_block`` at a time (default: :data:`CROSS_BLOCK_CELLS` kinship cells
    per block), so a training cohort of any size, even a memory map, is never held as a whole matrix. Returns
    ``n_samples`` (of the other cohort), ``n_duplicates`` (max kinship > 2^-1.5 = 0.354), ``n_related`` (max
    kinship > ``threshold``, duplicates included), ``threshold``, ``duplicate_threshold``, ``n_by_degree``
    (closest relation per sample), ``noise``, and per other-cohort sample ``max_kinship`` (None when
    undefined) and ``closest_train_index`` (row of the training matrix; None when undefined).
    """
    from genoml_search.data.kinship_noise import noise_from_estimates, sampled_pairs
    from genoml_search.data.pages import release_pages

    n_train, n_other = train_genotypes.shape[0], other_genotypes.shape[0]
    n_snps = train_genotypes.shape[1] if columns is None else len(columns)
    rows = rows_per_block or max(block_size, CROSS_BLOCK_CELLS // max(n_other, 1))
    best, closest = np.full(n_other, -np.inf), np.zeros(n_other, dtype=np.int64)
    pair_rows, pair_cols = sampled_pairs(n_train, n_other, within=False)
    sampled = np.full(len(pair_rows), np.nan)
    for start in range(0, max(n_train, 1), rows):
        block = np.asarray(train_genotypes[start : start + rows])
        kinship = king_kinship(block if columns is None else block[:, columns], other_genotypes,
                               block_size=block_size)
        finite = np.where(np.isnan(kinship), -np.inf, kinship)
        row = finite.argmax(axis=0)
        value = finite[row, np.arange(n_other)]
        better = value > best  # strictly: ties keep the earlier row, as one argmax over all rows would
        best[better], closest[better] = value[better], row[better] + start
        here = (pair_rows >= start) & (pair_rows < start + len(block))
        sampled[here] = kinship[pair_rows[here] - start, pair_cols[here]]
        release_pages(train_genotypes)  # a memory map's pages read so far leave this process's RSS
    defined = np.isfinite(best)
    degrees = king_degree(np.where(defined, best, -np.inf))
    return {
        "n_samples": int(n_other),
        "n_duplicates": int((best > KING_DUPLICATE).sum()),
        "n_related": int((best > threshold).sum()),
        "threshold": float(threshold),
        "duplicate_threshold": KING_DUPLICATE,
        "n_by_degree": {
            label: int((degrees == label).sum()) for label in ("duplicate/MZ twin", "1st", "2nd", "3rd", "unrelated")
        },
        "noise": noise_from_estimates(sampled, (n_train, n_other), n_snps, KING_SECOND, KING_THIRD, within=False),
        "max_kinship": [float(v) if ok else None for v, ok in zip(best, defined)],
        "closest_train_index": [int(i) if ok else None for i, ok in zip(closest, defined)],
    }
