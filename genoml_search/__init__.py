"""genoml-search: AutoML for genomics on PLINK cohorts, with Optuna studies executed on Dask."""
from __future__ import annotations

from genoml_search.versions import __version__ as __version__


def load_model(run_dir, with_info: bool = False):  # noqa: ANN001, ANN201  (re-exported, see python_api)
    """The fitted pipeline of a run directory; see :func:`genoml_search.python_api.load_model`."""
    from genoml_search.python_api import load_model as load

    return load(run_dir, with_info)
