"""Sample structure maths: duplicates, relatives (KING-robust kinship) and ancestry (PCA), for honest validation.

The public import point of the structure maths (documented in docs/structure.md): pure functions on int8
genotype matrices, implemented in :mod:`genoml_search.data.kinship` and :mod:`genoml_search.data.pca`. Their
use in a munged cohort (which files a Dataset gets, relatedness to training, projected PCs) is
:mod:`genoml_search.data.cohort_structure`.
"""
from __future__ import annotations

from genoml_search.data.kinship import (
    KING_DUPLICATE,
    KING_FIRST,
    KING_SECOND,
    KING_THIRD,
    MIN_KING_SNPS,
    cross_cohort_relatedness,
    king_degree,
    king_kinship,
    king_variant_mask,
    related_pairs,
    relatedness_groups,
)
from genoml_search.data.pca import MIN_PCA_SNPS, PCAModel, allele_frequencies, fit_pca

__all__ = [
    "KING_DUPLICATE",
    "KING_FIRST",
    "KING_SECOND",
    "KING_THIRD",
    "MIN_KING_SNPS",
    "MIN_PCA_SNPS",
    "PCAModel",
    "allele_frequencies",
    "cross_cohort_relatedness",
    "fit_pca",
    "king_degree",
    "king_kinship",
    "king_variant_mask",
    "related_pairs",
    "relatedness_groups",
]
