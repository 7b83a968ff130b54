"""Sample and variant QC with PLINK 2 semantics: --mind, --geno, --hwe, --maf (in plink2's order).

FIRST VERSION (walking skeleton): simple, vectorized filters; issue #3 makes them PLINK-exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from genoml_search.data.plink import MISSING


@dataclass(frozen=True)
class QCParams:
    """QC thresholds; ``None`` disables a filter. Defaults are documented in the README."""

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
    """Which samples and variants pass, and what each step removed."""

    sample_keep: np.ndarray
    variant_keep: np.ndarray
    steps: list[dict] = field(default_factory=list)


def sample_missing_rate(genotypes: np.ndarray) -> np.ndarray:
    """Fraction of missing calls per sample (row)."""
    return (genotypes == MISSING).mean(axis=1)


def variant_missing_rate(genotypes: np.ndarray) -> np.ndarray:
    """Fraction of missing calls per variant (column)."""
    return (genotypes == MISSING).mean(axis=0)


def allele_frequency(genotypes: np.ndarray) -> np.ndarray:
    """Frequency of the counted allele per variant among non-missing calls (NaN where all are missing)."""
    observed = genotypes != MISSING
    counts = np.where(observed, genotypes, 0).sum(axis=0, dtype=np.int64)
    n_alleles = 2 * observed.sum(axis=0, dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / n_alleles


def run_qc(
    genotypes: np.ndarray,
    params: QCParams,
    *,
    founders: np.ndarray | None = None,
    controls: np.ndarray | None = None,
) -> QCResult:
    """Apply --mind, then --geno, --hwe and --maf to the samples that survive --mind."""
    n_samples, n_variants = genotypes.shape
    sample_keep = np.ones(n_samples, dtype=bool)
    variant_keep = np.ones(n_variants, dtype=bool)
    steps: list[dict] = []
    if params.mind is not None:
        sample_keep = sample_missing_rate(genotypes) <= params.mind
        steps.append({"step": "mind", "unit": "samples", "removed": int((~sample_keep).sum()),
                      "reason": f"missing call rate > {params.mind}"})
    kept = genotypes[sample_keep]
    if params.geno is not None:
        drop = variant_missing_rate(kept) > params.geno
        steps.append({"step": "geno", "unit": "variants", "removed": int((drop & variant_keep).sum()),
                      "reason": f"missing call rate > {params.geno}"})
        variant_keep &= ~drop
    if params.maf is not None:
        freq = allele_frequency(kept)
        maf = np.minimum(freq, 1 - freq)
        drop = ~(maf >= params.maf)
        steps.append({"step": "maf", "unit": "variants", "removed": int((drop & variant_keep).sum()),
                      "reason": f"minor allele frequency < {params.maf}"})
        variant_keep &= ~drop
    return QCResult(sample_keep, variant_keep, steps)
