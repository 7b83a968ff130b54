"""Harmonizing a cohort to training variants: same order, swaps, strand flips, ambiguous and missing SNPs."""
from __future__ import annotations

import numpy as np
import pandas as pd

from genoml_search.data.harmonize import apply_harmonization, match_variants
from genoml_search.data.plink import MISSING


def _variants(rows):
    return pd.DataFrame(rows, columns=["id", "counted_allele", "other_allele"])


def test_match_variants_rules() -> None:
    training = _variants([("same", "A", "G"), ("swap", "A", "G"), ("flip", "A", "G"), ("flipswap", "A", "C"),
                          ("ambig", "A", "T"), ("absent", "A", "G"), ("other", "A", "G")])
    cohort = _variants([("other", "A", "C"), ("ambig", "T", "A"), ("flipswap", "G", "T"), ("flip", "T", "C"),
                        ("swap", "G", "A"), ("same", "A", "G")])
    h = match_variants(training, cohort)
    assert h.source_index.tolist() == [5, 4, 3, 2, 1, -1, -1]
    assert h.swap.tolist() == [False, True, False, True, True, False, False]
    assert h.counts == {"matched": 5, "absent": 1, "allele_mismatch": 1, "allele_swapped": 2, "strand_flipped": 2,
                        "ambiguous": 1}
    genotypes = np.array([[0, 2, 1, 0, MISSING, 0, 0]], dtype=np.int8)
    out = apply_harmonization(genotypes, h)
    assert out.tolist() == [[0, 0, 1, 2, MISSING, MISSING, MISSING]]
