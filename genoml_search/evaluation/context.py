"""The samples and settings the final refit used, so that other models can be fitted and scored the same way."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genoml_search.core.features import FeatureMatrix
from genoml_search.search.objective import CVSpec
from genoml_search.core.tabular import covariate_start


@dataclass
class RefitContext:
    """Training features (search rows), CV set-up and the scored validation samples of a run.

    ``val_data``/``val_rows``: the feature matrix the validation samples come from (a separate cohort, or the
    training matrix for a held-out split) and the rows that were scored.
    """

    data: FeatureMatrix
    search_index: np.ndarray
    val_data: FeatureMatrix
    val_rows: np.ndarray
    task: str
    metric: str
    cv: CVSpec
    groups: np.ndarray | None = None
    seed: int = 0

    @property
    def y_search(self) -> np.ndarray:
        """Phenotype of the search (training) samples."""
        return self.data.y[self.search_index]

    @property
    def y_val(self) -> np.ndarray:
        """Phenotype of the scored validation samples."""
        return self.val_data.y[self.val_rows]

    @property
    def covariate_names(self) -> list[str]:
        """Names of the covariate (and PC) columns, after the SNPs and any feature-table columns."""
        return list(self.data.feature_names[covariate_start(self.data):])

    def covariates(self, validation: bool = False) -> np.ndarray:
        """Covariate columns of the search or the scored validation rows (float64, NaN where missing), read
        without building the float genotype matrix when the int8 one is kept."""
        source, rows = (self.val_data, self.val_rows) if validation else (self.data, self.search_index)
        start = covariate_start(source)  # feature-table columns (munge --table) are not covariates
        if source.genotypes is not None and source.covariates is not None and start == source.n_snps:
            return np.asarray(source.covariates[rows], dtype=np.float64)
        return np.asarray(source.x[rows, start:], dtype=np.float64)
