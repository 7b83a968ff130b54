"""genoml-search: AutoML for genomics on PLINK cohorts, with Optuna studies executed on Dask."""
from __future__ import annotations

__version__ = "0.1.0"
