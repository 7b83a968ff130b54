"""Type stub of the compiled QC kernel (_qckernel.c); see genoml_search.data.qc."""
import numpy as np

def count_calls(calls: np.ndarray, n_samples: int, counts: np.ndarray, sample_missing: np.ndarray | None) -> None: ...
