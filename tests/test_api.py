"""The public Python API: names are functions (not modules), lazy, typed; docs/api.md runs as written."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_public_names_are_functions_and_types() -> None:
    code = ("import inspect, sys, genoml_search as gs\n"
            "assert 'optuna' not in sys.modules, 'import genoml_search must stay light'\n"
            "for name in ('munge', 'run', 'predict', 'build_report', 'load_model', 'study_status'):\n"
            "    assert inspect.isfunction(getattr(gs, name)), name\n"
            "import genoml_search._run, genoml_search._predict  # importing the private modules changes nothing\n"
            "assert inspect.isfunction(gs.run) and inspect.isfunction(gs.predict)\n"
            "for name in gs.__all__:\n"
            "    assert hasattr(gs, name), name\n"
            "import dataclasses\n"
            "for name in ('MungeOptions', 'RunOptions', 'RunSummary', 'PredictOptions', 'PredictSummary',\n"
            "             'ReportOptions', 'ReportResult', 'StorageStatus', 'StudyStatus', 'MetricsRecord'):\n"
            "    assert dataclasses.is_dataclass(getattr(gs, name)), name\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr


def test_package_is_typed() -> None:
    assert (ROOT / "genoml_search" / "py.typed").is_file()


def test_unknown_name_is_an_attribute_error() -> None:
    import genoml_search

    with pytest.raises(AttributeError):
        genoml_search.no_such_thing  # noqa: B018


@pytest.mark.slow
def test_docs_api_example_runs_as_written(tmp_path: Path) -> None:
    """Every ```python block of docs/api.md, in order, in one namespace, in a temporary directory."""
    text = (ROOT / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 5
    script = "\n".join(blocks)
    done = subprocess.run([sys.executable, "-c", f"EXAMPLE = {str(ROOT / 'examples' / 'genoml2-discrete')!r}\n"
                           + script], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "validation ROC-AUC" in done.stdout and "samples predicted" in done.stdout
    assert (tmp_path / "work" / "run" / "report" / "report.html").is_file()
