"""Type stub of the compiled LD-pruning kernel (_ldkernel.c); see genoml_search.data.ld."""
import numpy as np

def prune(planes: np.ndarray, n_words: int, n_missing: np.ndarray, sums: np.ndarray, ssqs: np.ndarray,
          n_founders: int, windows: np.ndarray, major: np.ndarray, removed: np.ndarray, thresh: float,
          limit: float) -> None: ...
