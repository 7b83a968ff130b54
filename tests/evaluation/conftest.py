"""In-process run directories (the real objective and refit, no Dask), shared with tests/report."""
from tests.report.conftest import binary_run, regression_run  # noqa: F401
