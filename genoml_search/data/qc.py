"""Sample and variant QC with PLINK 2 (2.00a3.5) semantics: --mind, then --geno, --hwe, --maf.

What plink2 does, and so what this module does (see docs/munge-qc.md):

- ``--mind`` runs first, on all variants: a sample is removed when its missing-call count exceeds
  ``int(n_variants * mind * (1 + 2^-44))``.
- The variant statistics are then computed once, on the samples that survived ``--mind``, and the variant
  filters are applied in plink2's fixed order ``--geno``, ``--hwe``, ``--maf`` (each step's count is of the
  variants still in at that step).
- ``--geno``: removed when the missing count exceeds ``int(geno * (1 + 2^-44) * n_samples)``.
- ``--hwe``: Hardy-Weinberg exact test (Wigginton et al. 2005, plink2's recurrence, not mid-p) on founders
  (all founders whatever the phenotype, as plink2; controls only with ``hwe_controls_only``, as PLINK 1.9);
  removed when ``p < hwe * (1 - 2^-44)``; variants with no founder call are not tested.
- ``--maf``: allele frequencies from founders; an all-missing variant has frequency 0.5 (plink2's
  convention); removed when ``min(f, 1 - f) < maf * (1 - 2^-44)``.
- Sex chromosomes (``chrom`` and ``sex`` given): chrY calls count only in males for --mind, --geno and
  --maf, chrX frequencies count males as haploid, --hwe runs the chrX exact test of
  :mod:`genoml_search.data.sexchrom` and skips chrY and chrM.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from genoml_search.data import sexchrom
from genoml_search.data.hwe import hwe_pvalues_from_counts, hwe_x_fails
from genoml_search.data.plink import MISSING, SMALL_EPSILON

try:
    from genoml_search.data import _qckernel
except ImportError:  # no compiler at install time: the numpy path gives the same counts
    _qckernel = None  # type: ignore[assignment]


_BLOCK = 4096


@dataclass(frozen=True)
class QCParams:
    """QC thresholds; ``None`` disables a filter. Defaults are documented in docs/munge-qc.md."""

    mind: float | None = 0.1
    geno: float | None = 0.05
    maf: float | None = 0.01
    hwe: float | None = 1e-6
    hwe_controls_only: bool = False

    @classmethod
    def disabled(cls) -> QCParams:
        """No QC at all (``--no-qc``)."""
        return cls(mind=None, geno=None, maf=None, hwe=None)


@dataclass
class QCResult:
    """Which samples and variants pass, and what each step removed.

    ``counts`` (over the kept samples) and ``founder_counts`` (over the kept founders) are the per-variant
    counts the filters used, when they were computed, so that later steps need not count again.
    """

    sample_keep: np.ndarray
    variant_keep: np.ndarray
    steps: list[dict] = field(default_factory=list)
    counts: GenotypeCounts | None = None
    founder_counts: GenotypeCounts | None = None


@dataclass
class GenotypeCounts:
    """Per-variant counts of counted-allele dosage 0, 1, 2 and missing calls over a set of samples."""

    hom0: np.ndarray
    het: np.ndarray
    hom2: np.ndarray
    missing: np.ndarray

    def take(self, idx: np.ndarray) -> GenotypeCounts:
        """The counts of the variants ``idx`` only."""
        return GenotypeCounts(self.hom0[idx], self.het[idx], self.hom2[idx], self.missing[idx])

    @property
    def observed(self) -> np.ndarray:
        """Number of non-missing calls."""
        return self.hom0 + self.het + self.hom2


def genotype_counts(
    genotypes: np.ndarray, samples: np.ndarray | None = None, *, columns: np.ndarray | None = None
) -> GenotypeCounts:
    """Count 0/1/2/missing calls per variant over the rows ``samples`` (bool mask or index; all if None).

    ``columns`` (increasing column indices) counts only those variants. The matrix is never copied whole:
    it is read in blocks of columns; when few samples are left out, their counts are subtracted instead of
    gathering the kept rows.
    """
    n_rows = genotypes.shape[0]
    mask = None
    if samples is not None:
        samples = np.asarray(samples)
        if samples.dtype != bool:
            mask = np.zeros(n_rows, dtype=bool)
            mask[samples] = True
        else:
            mask = samples
        if mask.all():
            mask = None
    if mask is not None:
        excluded, included = np.flatnonzero(~mask), np.flatnonzero(mask)
    n_variants = genotypes.shape[1] if columns is None else len(columns)
    out = np.zeros((4, n_variants), dtype=np.int64)
    for start in range(0, n_variants, _BLOCK):
        pick: slice | np.ndarray = slice(None)
        if columns is None:
            block = genotypes[:, start : start + _BLOCK]
        else:
            cols = np.asarray(columns[start : start + _BLOCK])
            lo, hi = int(cols[0]), int(cols[-1]) + 1
            if hi - lo <= 2 * len(cols):  # counting a few extra columns is cheaper than gathering
                block, pick = genotypes[:, lo:hi], cols - lo
            else:
                block = column_block(genotypes, cols)
        stop = start + min(_BLOCK, n_variants - start)
        if mask is None:
            out[:, start:stop] = _block_counts(block)[:, pick]
        elif len(excluded) < len(included):
            out[:, start:stop] = (_block_counts(block) - _block_counts(take_rows(block, excluded)))[:, pick]
        else:
            out[:, start:stop] = _block_counts(take_rows(block, included))[:, pick]
    return GenotypeCounts(*out)


def _counts_and_sample_missing(genotypes: np.ndarray) -> tuple[GenotypeCounts, np.ndarray]:
    """Per-variant counts over all samples and per-sample missing counts, in one pass over the matrix."""
    n_samples, n_variants = genotypes.shape
    out = np.zeros((4, n_variants), dtype=np.int64)
    sample_missing = np.zeros(n_samples, dtype=np.int64)
    for start in range(0, n_variants, _BLOCK):
        block = genotypes[:, start : start + _BLOCK]
        out[:, start : start + block.shape[1]] = _block_counts(block, sample_missing)
    return GenotypeCounts(*out), sample_missing


def _subset_counts(genotypes: np.ndarray, rows: np.ndarray, full: GenotypeCounts | None) -> GenotypeCounts:
    """Counts over the rows ``rows`` (bool), from ``full`` (all rows) minus the left-out rows when few."""
    if full is None:
        return genotype_counts(genotypes, rows)
    if rows.all():
        return full
    if (~rows).sum() > rows.sum():
        return genotype_counts(genotypes, rows)
    left_out = genotype_counts(genotypes, ~rows)
    return GenotypeCounts(*(a - b for a, b in zip(
        (full.hom0, full.het, full.hom2, full.missing),
        (left_out.hom0, left_out.het, left_out.hom2, left_out.missing))))


def column_block(genotypes: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The columns ``cols`` (increasing) of a samples x variants matrix, reading only their span."""
    lo, hi = int(cols[0]), int(cols[-1]) + 1
    block = genotypes[:, lo:hi]
    return block if hi - lo == len(cols) else take_columns(block, np.asarray(cols) - lo)


def take_rows(block: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``block[rows]`` in the block's own memory order (np.take copies a column-major block whole first)."""
    if block.flags.f_contiguous and not block.flags.c_contiguous:
        return np.take(block.T, rows, axis=1).T
    return np.take(block, rows, axis=0)


def take_columns(block: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``block[:, cols]`` in the block's own memory order."""
    if block.flags.f_contiguous and not block.flags.c_contiguous:
        return np.take(block.T, cols, axis=0).T
    return np.take(block, cols, axis=1)


def _block_counts(block: np.ndarray, sample_missing: np.ndarray | None = None) -> np.ndarray:
    """Rows (dosage 0, 1, 2, missing) of per-column counts, from three sums over the bytes.

    As uint8 the calls are 0, 1, 2 and 129 (missing): the high bit counts missing calls, the low bit counts
    hets plus missing calls, and the byte sum gives the rest. ``sample_missing`` (per row) is incremented
    by each row's missing calls. A column-major block is counted by the compiled kernel (``_qckernel.c``,
    the same numbers in one pass) when it is built.
    """
    if _qckernel is not None and block.flags.f_contiguous and block.size:
        counts = np.empty((block.shape[1], 4), dtype=np.int64)
        row_missing = None if sample_missing is None else np.zeros(block.shape[0], dtype=np.int32)
        _qckernel.count_calls(block.T.view(np.uint8), block.shape[0], counts, row_missing)
        if sample_missing is not None:
            sample_missing += row_missing
        return counts.T
    n = block.shape[0]
    u = block.view(np.uint8)
    acc = np.int32 if n * 255 < 2**31 else np.int64
    total = np.add.reduce(u, axis=0, dtype=acc).astype(np.int64)
    high = u >> 7
    missing = np.add.reduce(high, axis=0, dtype=acc).astype(np.int64)
    if sample_missing is not None:
        sample_missing += np.add.reduce(high, axis=1, dtype=np.int32)
    het = np.add.reduce(u & 1, axis=0, dtype=acc).astype(np.int64) - missing
    hom2 = (total - het - 129 * missing) // 2
    return np.stack([n - het - hom2 - missing, het, hom2, missing])


def sample_missing_counts(genotypes: np.ndarray) -> np.ndarray:
    """Number of missing calls per sample (row)."""
    counts = np.zeros(genotypes.shape[0], dtype=np.int64)
    for start in range(0, genotypes.shape[1], _BLOCK):
        counts += np.add.reduce(genotypes[:, start : start + _BLOCK].view(np.uint8) >> 7, axis=1, dtype=np.int32)
    return counts


def sample_missing_rate(genotypes: np.ndarray) -> np.ndarray:
    """Fraction of missing calls per sample (row)."""
    return sample_missing_counts(genotypes) / max(genotypes.shape[1], 1)


def variant_missing_rate(genotypes: np.ndarray) -> np.ndarray:
    """Fraction of missing calls per variant (column)."""
    return genotype_counts(genotypes).missing / max(genotypes.shape[0], 1)


def allele_frequency(genotypes: np.ndarray) -> np.ndarray:
    """Frequency of the counted allele per variant among non-missing calls (NaN where all are missing)."""
    counts = genotype_counts(genotypes)
    n_alleles = 2 * counts.observed
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts.het + 2 * counts.hom2) / n_alleles


def plink2_ref_frequency(counts: GenotypeCounts) -> np.ndarray:
    """Frequency of the other (REF) allele as plink2 computes it: count times reciprocal total, 0.5 if none."""
    ref = 2 * counts.hom0 + counts.het
    total = 2 * counts.observed
    freq = np.full(len(ref), 0.5)
    seen = total > 0
    freq[seen] = ref[seen] * (1.0 / total[seen])
    return freq


def hwe_exact_pvalues(genotypes: np.ndarray | GenotypeCounts, *, midp: bool = False) -> np.ndarray:
    """Hardy-Weinberg exact test p-value per variant, computed as plink2's ``HweP`` does.

    ``genotypes`` is an int8 matrix (samples x variants, :data:`MISSING` for no call) or precomputed
    :class:`GenotypeCounts`. Variants with no call get p = 1 (0.5 with ``midp``). Each distinct
    (het, hom, hom) triple is evaluated once, all triples in lock-step with numpy.
    """
    counts = genotypes if isinstance(genotypes, GenotypeCounts) else genotype_counts(genotypes)
    return hwe_pvalues_from_counts(counts.het, counts.hom0, counts.hom2, midp=midp)


def founders_from_samples(samples) -> np.ndarray:
    """plink2's founder rule: both parental IDs are ``0`` (a samples table with father/mother columns)."""
    return ((samples["father"].astype(str) == "0") & (samples["mother"].astype(str) == "0")).to_numpy()


def x_ref_frequency(counts: GenotypeCounts, male: GenotypeCounts) -> np.ndarray:
    """chrX REF-allele frequency as plink2 computes it: non-males diploid, males haploid (a het male call
    counts half an allele of each kind); ``counts`` over all the samples, ``male`` over the males among them."""
    ref = 2 * (2 * (counts.hom0 - male.hom0) + counts.het - male.het) + 2 * male.hom0 + male.het
    total = 4 * (counts.observed - male.observed) + 2 * male.observed
    freq = np.full(len(ref), 0.5)
    seen = total > 0
    freq[seen] = ref[seen] * (1.0 / total[seen])
    return freq


def sex_aware_ref_frequency(
    genotypes: np.ndarray, counts: GenotypeCounts, rows: np.ndarray, kinds: np.ndarray, sex: np.ndarray,
    columns: np.ndarray | None = None,
) -> np.ndarray:
    """plink2's REF frequency per variant over the samples ``rows`` (bool): autosomes, chrXY and chrM from
    ``counts`` (over ``rows``), chrX with haploid males (:func:`x_ref_frequency`), chrY from males only.

    ``kinds`` are :func:`~genoml_search.data.sexchrom.chrom_kinds` per counted variant, ``columns`` the matrix
    columns they describe (all when None), ``sex`` the :func:`~genoml_search.data.sexchrom.sex_codes`.
    """
    freq = plink2_ref_frequency(counts)
    male_rows = rows & (sex == sexchrom.MALE)
    for kind in (sexchrom.X, sexchrom.Y):
        idx = np.flatnonzero(kinds == kind)
        if not len(idx):
            continue
        male = genotype_counts(genotypes, male_rows, columns=idx if columns is None else columns[idx])
        if kind == sexchrom.X:
            freq[idx] = x_ref_frequency(counts.take(idx), male)
        else:
            freq[idx] = plink2_ref_frequency(male)
    return freq


def run_qc(
    genotypes: np.ndarray,
    params: QCParams,
    *,
    founders: np.ndarray | None = None,
    controls: np.ndarray | None = None,
    chrom: np.ndarray | None = None,
    sex: np.ndarray | None = None,
) -> QCResult:
    """Apply --mind, then --geno, --hwe and --maf (plink2's order and comparisons) to an int8 matrix.

    ``founders`` (bool per sample; all samples when None) restricts the --hwe counts and the --maf
    frequencies, as plink2 does. ``controls`` (bool per sample) is needed with ``hwe_controls_only``.
    ``chrom`` (per variant) and ``sex`` (per sample, .fam codes: 1 male, 2 female, other unknown; all unknown
    when None) give plink2's sex-chromosome rules (see docs/munge-qc.md): chrY calls count only in males for
    --mind, --geno and --maf; chrX frequencies count males as haploid; --hwe uses the chrX exact test
    (females and males) and skips chrY and chrM. Without ``chrom`` every variant is an autosome.
    """
    n_samples, n_variants = genotypes.shape
    layout = _SexLayout.of(n_samples, n_variants, chrom, sex)
    variant_keep = np.ones(n_variants, dtype=bool)
    steps: list[dict] = []
    sample_keep, full = _mind(genotypes, params, layout, steps)
    founder_mask = np.ones(n_samples, dtype=bool) if founders is None else np.asarray(founders, dtype=bool)
    kept_founders = sample_keep & founder_mask
    all_counts = _subset_counts(genotypes, sample_keep, full) if params.geno is not None else None
    founder_counts = None
    if params.maf is not None or params.hwe is not None:
        if all_counts is not None and kept_founders.sum() == sample_keep.sum():
            founder_counts = all_counts
        else:
            founder_counts = _subset_counts(genotypes, kept_founders, full)

    if params.geno is not None and params.geno < 1.0:
        assert all_counts is not None  # counted above whenever --geno is on
        drop = _geno_fails(genotypes, params.geno, all_counts, sample_keep, layout)
        steps.append({"step": "geno", "unit": "variants", "removed": int((drop & variant_keep).sum()),
                      "reason": f"missing call rate > {params.geno}"})
        variant_keep &= ~drop
    if params.hwe is not None and params.hwe > 0.0:
        assert founder_counts is not None  # founder counts exist whenever --hwe or --maf is on
        hwe_counts, hwe_rows, who = founder_counts, kept_founders, "founders"
        if params.hwe_controls_only:
            if controls is None:
                raise ValueError("hwe_controls_only needs the controls mask")
            hwe_rows = kept_founders & np.asarray(controls, dtype=bool)
            hwe_counts, who = _subset_counts(genotypes, hwe_rows, full), "founder controls"
        drop = _hwe_fails(genotypes, params.hwe, hwe_counts, hwe_rows, variant_keep, layout)
        steps.append({"step": "hwe", "unit": "variants", "removed": int(drop.sum()),
                      "reason": f"Hardy-Weinberg exact test p < {params.hwe} ({who})"})
        variant_keep &= ~drop
    if params.maf is not None and params.maf > 0.0:
        assert founder_counts is not None
        ref = sex_aware_ref_frequency(genotypes, founder_counts, kept_founders, layout.kinds, layout.sex)
        drop = np.minimum(1.0 - ref, ref) < params.maf * (1 - SMALL_EPSILON)
        steps.append({"step": "maf", "unit": "variants", "removed": int((drop & variant_keep).sum()),
                      "reason": f"minor allele frequency < {params.maf} (founders)"})
        variant_keep &= ~drop
    return QCResult(sample_keep, variant_keep, steps, all_counts, founder_counts)


@dataclass(frozen=True)
class _SexLayout:
    """Which variants are on chrX/chrY/... and which samples are male (plink2's sex-chromosome rules)."""

    kinds: np.ndarray
    sex: np.ndarray
    male: np.ndarray
    x_cols: np.ndarray
    y_cols: np.ndarray

    @classmethod
    def of(cls, n_samples: int, n_variants: int, chrom: np.ndarray | None, sex: np.ndarray | None) -> _SexLayout:
        kinds = sexchrom.chrom_kinds(chrom) if chrom is not None else np.full(n_variants, sexchrom.AUTOSOME)
        codes = np.zeros(n_samples, dtype=np.int8) if sex is None else sexchrom.sex_codes(sex)
        return cls(kinds, codes, codes == sexchrom.MALE, np.flatnonzero(kinds == sexchrom.X),
                   np.flatnonzero(kinds == sexchrom.Y))


def _mind(genotypes: np.ndarray, params: QCParams, layout: _SexLayout,
          steps: list[dict]) -> tuple[np.ndarray, GenotypeCounts | None]:
    """--mind: the samples kept, and the counts over all samples (None when --mind is off) from the same pass."""
    n_samples, n_variants = genotypes.shape
    if params.mind is None or params.mind >= 1.0:
        return np.ones(n_samples, dtype=bool), None
    mind = params.mind * (1 + SMALL_EPSILON)
    full, sample_missing = _counts_and_sample_missing(genotypes)
    max_missing = np.full(n_samples, int(n_variants * mind))
    if len(layout.y_cols):
        # Non-males' chrY calls do not count, and their allowance is over the other variants (plink2).
        non_male = ~layout.male
        y_block = column_block(genotypes, layout.y_cols)
        sample_missing[non_male] -= sample_missing_counts(take_rows(y_block, np.flatnonzero(non_male)))
        max_missing[non_male] = int((n_variants - len(layout.y_cols)) * mind)
    sample_keep = sample_missing <= max_missing
    steps.append({"step": "mind", "unit": "samples", "removed": int((~sample_keep).sum()),
                  "reason": f"missing call rate > {params.mind}"})
    return sample_keep, full


def _geno_fails(genotypes: np.ndarray, geno: float, counts: GenotypeCounts, sample_keep: np.ndarray,
                layout: _SexLayout) -> np.ndarray:
    """--geno: variants whose missing call rate over the kept samples (chrY: kept males) is above ``geno``."""
    geno = geno * (1 + SMALL_EPSILON)
    n_kept = int(sample_keep.sum())
    missing, max_missing = counts.missing.copy(), np.full(len(counts.missing), int(geno * n_kept))
    y_cols = layout.y_cols
    if len(y_cols):  # chrY: missing calls among the males, out of the males
        missing[y_cols] = genotype_counts(genotypes, sample_keep & layout.male, columns=y_cols).missing
        max_missing[y_cols] = int(geno * int((sample_keep & layout.male).sum()))
    return missing > max_missing


def _hwe_fails(genotypes: np.ndarray, hwe: float, counts: GenotypeCounts, rows: np.ndarray,
               variant_keep: np.ndarray, layout: _SexLayout) -> np.ndarray:
    """--hwe: kept variants failing the exact test over ``rows`` (chrX: females and males; chrY, chrM: untested)."""
    threshold = hwe * (1 - SMALL_EPSILON)
    kinds = layout.kinds
    tested = variant_keep & (counts.observed > 0) & (kinds != sexchrom.X)
    tested &= (kinds != sexchrom.Y) & (kinds != sexchrom.MT)
    idx = np.flatnonzero(tested)
    pvals = hwe_pvalues_from_counts(counts.het[idx], counts.hom0[idx], counts.hom2[idx])
    drop = np.zeros(len(kinds), dtype=bool)
    drop[idx] = pvals < threshold
    x_tested = layout.x_cols[variant_keep[layout.x_cols]]
    if len(x_tested):
        females = genotype_counts(genotypes, rows & (layout.sex == sexchrom.FEMALE), columns=x_tested)
        males = genotype_counts(genotypes, rows & layout.male, columns=x_tested)
        drop[x_tested] = hwe_x_fails(females.het, females.hom0, females.hom2, males.hom0, males.hom2, threshold)
    return drop
