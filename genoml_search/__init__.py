"""genoml-search: AutoML for genomics on PLINK cohorts, with Optuna studies executed on Dask."""
from __future__ import annotations

from genoml_search.versions import __version__ as __version__
