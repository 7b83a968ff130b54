"""The samples and settings the final refit used, so that other models can be fitted and scored the same way."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genoml_search.core.features import FeatureMatrix
from genoml_search.search.objective import CVSpec


@dataclass
class RefitContext:
    """Training features (search rows), CV set-up and the scored validation samples of a run."""

    data: FeatureMatrix
    search_index: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    task: str
    metric: str
    cv: CVSpec
    groups: np.ndarray | None = None
    seed: int = 0

    @property
    def y_search(self) -> np.ndarray:
        """Phenotype of the search (training) samples."""
        return self.data.y[self.search_index]
