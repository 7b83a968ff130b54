"""Where feature-table columns (``munge --table``) sit in a feature matrix: ``[SNPs | table | covariates]``.

In the neutral layer because :mod:`genoml_search.core.features` builds the matrix; the in-fold encoding that
reads this layout is :mod:`genoml_search.search.tabular`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TabularLayout:
    """Where the table columns sit in the feature matrix and which of them are categorical.

    ``kinds`` has one entry per table column (``numeric`` or ``categorical``), ``n_levels`` the number of
    manifest levels of each column (0 for numeric ones).
    """

    n_snps: int
    kinds: tuple[str, ...]
    n_levels: tuple[int, ...]
    n_covariates: int

    @property
    def n_table(self) -> int:
        """Number of table columns."""
        return len(self.kinds)

    def categorical_columns(self) -> np.ndarray:
        """Feature-matrix positions of the categorical table columns."""
        return self.n_snps + np.flatnonzero(np.asarray(self.kinds) == "categorical")

    def filterable_columns(self) -> np.ndarray:
        """Feature-matrix positions of the SNPs and the numeric table columns (the association filter's)."""
        numeric = self.n_snps + np.flatnonzero(np.asarray(self.kinds) != "categorical")
        return np.concatenate([np.arange(self.n_snps), numeric]).astype(np.int64)


def table_block(dataset: Any, n_snps: int, n_covariates: int) -> tuple[np.ndarray | None, list[str], TabularLayout | None]:
    """A dataset's feature-table matrix (float32), its column names and layout; ``(None, [], None)`` without."""
    from genoml_search.data.table_munge import dataset_table, table_columns

    columns = table_columns(dataset.manifest)
    matrix = dataset_table(dataset)
    if matrix is None:
        return None, [], None
    kinds = tuple("categorical" if c["type"] == "categorical" else "numeric" for c in columns)
    levels = tuple(len(c.get("levels", [])) for c in columns)
    layout = TabularLayout(n_snps, kinds, levels, n_covariates)
    return np.asarray(matrix, dtype=np.float32), [c["name"] for c in columns], layout


def covariate_start(features: Any) -> int:
    """Index of the first covariate column of a feature matrix: after the SNPs and the feature-table columns."""
    layout = getattr(features, "tabular", None)
    return int(features.n_snps) + (layout.n_table if layout is not None else 0)
