"""Align a new cohort's variants to a training dataset: same SNPs, same order, same counted allele.

Rules, applied per training variant, matched by variant ID:

* same alleles in the same order: used as is;
* the same two alleles swapped: genotypes recoded as ``2 - g`` (allele swap);
* the complementary alleles (other strand), e.g. A/G vs T/C: strand flip, recoded like the matching order;
* strand-ambiguous SNPs (A/T, C/G) are taken on the strand they are written: their labels alone cannot tell a
  strand flip from an allele swap, so they are matched literally (same or swapped labels) and counted in the
  report (``ambiguous``) so users can exclude them when their cohorts come from different arrays;
* absent, or alleles that match in no way: missing. This is an error unless ``fill_missing``; then the calls are
  left missing and the fitted model's imputer fills them with the training allele frequency.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genoml_search.data.plink import MISSING

COMPLEMENT = str.maketrans("ACGTacgt", "TGCAtgca")


@dataclass
class Harmonization:
    """For each training variant: the column in the new cohort (-1 if missing) and whether to recode 2 - g."""

    source_index: np.ndarray
    swap: np.ndarray
    counts: dict[str, int]

    @property
    def n_missing(self) -> int:
        """How many training variants have no usable counterpart in the new cohort."""
        return int((self.source_index < 0).sum())


def _complement(alleles: pd.Series) -> pd.Series:
    return alleles.str.translate(COMPLEMENT)


def match_variants(training: pd.DataFrame, cohort: pd.DataFrame) -> Harmonization:
    """Match ``cohort`` variants (id, counted_allele, other_allele) to ``training`` ones, by ID then alleles."""
    position = pd.Series(np.arange(len(cohort)), index=cohort["id"].astype(str).to_numpy())
    position = position[~position.index.duplicated()]
    index = position.reindex(training["id"].astype(str).to_numpy()).to_numpy()
    found = ~np.isnan(index)
    index = np.where(found, index, 0).astype(np.int64)

    t_a1 = training["counted_allele"].astype(str).str.upper().reset_index(drop=True)
    t_a2 = training["other_allele"].astype(str).str.upper().reset_index(drop=True)
    c_a1 = cohort["counted_allele"].astype(str).str.upper().to_numpy()[index]
    c_a2 = cohort["other_allele"].astype(str).str.upper().to_numpy()[index]
    c_a1, c_a2 = pd.Series(c_a1), pd.Series(c_a2)

    same = (c_a1 == t_a1) & (c_a2 == t_a2)
    swapped = (c_a1 == t_a2) & (c_a2 == t_a1)
    ambiguous = (_complement(t_a1) == t_a2)
    flip_same = ~ambiguous & (_complement(c_a1) == t_a1) & (_complement(c_a2) == t_a2)
    flip_swapped = ~ambiguous & (_complement(c_a1) == t_a2) & (_complement(c_a2) == t_a1)

    usable = found & (same | swapped | flip_same | flip_swapped).to_numpy()
    swap = usable & (~same & (swapped | flip_swapped)).to_numpy()
    counts = {
        "matched": int(usable.sum()),
        "absent": int((~found).sum()),
        "allele_mismatch": int((found & ~usable).sum()),
        "allele_swapped": int((usable & swapped.to_numpy() & ~same.to_numpy()).sum()),
        "strand_flipped": int((usable & (flip_same | flip_swapped).to_numpy() & ~(same | swapped).to_numpy()).sum()),
        "ambiguous": int((usable & ambiguous.to_numpy()).sum()),
    }
    return Harmonization(np.where(usable, index, -1), swap, counts)


def apply_harmonization(genotypes: np.ndarray, harmonization: Harmonization) -> np.ndarray:
    """Recode swapped variants in a matrix whose columns are already in training order (missing columns MISSING)."""
    out = np.array(genotypes, dtype=np.int8, copy=True)
    swap = harmonization.swap
    if swap.any():
        block = out[:, swap]
        out[:, swap] = np.where(block == MISSING, MISSING, 2 - block).astype(np.int8)
    out[:, harmonization.source_index < 0] = MISSING
    return out
