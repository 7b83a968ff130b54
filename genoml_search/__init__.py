"""genoml-search: AutoML for genomics on PLINK cohorts, with Optuna studies executed on Dask.

The public Python API (docs/api.md): the functions every command calls, with typed options and results::

    import genoml_search as gs
    dataset = gs.munge(gs.MungeOptions(out=..., bfile=..., pheno=...))
    summary = gs.run(gs.RunOptions(dataset=dataset.path, out=...))

Names are imported on first use (``import genoml_search`` stays light for the command line); the modules
behind them are private (``genoml_search._run``, ``genoml_search._predict``, ...), so ``genoml_search.run`` is
the function, never a module.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from genoml_search.versions import __version__ as __version__

# public name -> (module, attribute)
_API = {
    "munge": ("genoml_search.api", "munge"),
    "MungeOptions": ("genoml_search.data.munge", "MungeOptions"),
    "Dataset": ("genoml_search.data.dataset", "Dataset"),
    "run": ("genoml_search._run", "run"),
    "RunOptions": ("genoml_search._run", "RunOptions"),
    "RunSummary": ("genoml_search._run", "RunSummary"),
    "MetricsRecord": ("genoml_search.run_directory", "MetricsRecord"),
    "RunDirectory": ("genoml_search.run_directory", "RunDirectory"),
    "predict": ("genoml_search._predict", "predict"),
    "PredictOptions": ("genoml_search._predict", "PredictOptions"),
    "PredictSummary": ("genoml_search._predict", "PredictSummary"),
    "build_report": ("genoml_search.report.build", "build_report"),
    "ReportOptions": ("genoml_search.report.build", "ReportOptions"),
    "ReportResult": ("genoml_search.report.build", "ReportResult"),
    "study_status": ("genoml_search.status", "study_status"),
    "StorageStatus": ("genoml_search.status", "StorageStatus"),
    "StudyStatus": ("genoml_search.status", "StudyStatus"),
    "UserError": ("genoml_search.errors", "UserError"),
}

__all__ = ["__version__", "load_model", *_API]

if TYPE_CHECKING:  # what type checkers and IDEs see (py.typed)
    from genoml_search._predict import PredictOptions, PredictSummary, predict
    from genoml_search._run import RunOptions, RunSummary, run
    from genoml_search.api import munge
    from genoml_search.data.dataset import Dataset
    from genoml_search.data.munge import MungeOptions
    from genoml_search.errors import UserError
    from genoml_search.report.build import ReportOptions, ReportResult, build_report
    from genoml_search.run_directory import MetricsRecord, RunDirectory
    from genoml_search.status import StorageStatus, StudyStatus, study_status


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    if name in _API:
        module, attribute = _API[name]
        value = getattr(import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'genoml_search' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_model(run_dir, with_info: bool = False):  # noqa: ANN001, ANN201  (re-exported, see python_api)
    """The fitted pipeline of a run directory; see :func:`genoml_search.python_api.load_model`."""
    from genoml_search.python_api import load_model as load

    return load(run_dir, with_info)
