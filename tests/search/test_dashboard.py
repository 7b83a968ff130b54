"""optuna-dashboard on a finished run's study: metric name, validation metrics and report path, readable name."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from genoml_search.report.build import ReportOptions, build_report
from tests.report.conftest import binary_run  # noqa: F401  (an in-process run directory)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, deadline: float) -> dict:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture
def dashboard_url(binary_run):
    executable = shutil.which("optuna-dashboard") or str(Path(sys.executable).with_name("optuna-dashboard"))
    if not Path(executable).is_file():
        pytest.skip("optuna-dashboard is not installed (it is in the test extra: pip install -e '.[test]')")
    build_report(ReportOptions(run_dir=binary_run, n_boot=100, n_repeats=1, max_features=5))
    port = _free_port()
    process = subprocess.Popen([executable, f"sqlite:///{binary_run / 'study.db'}", "--port", str(port),
                                "--host", "127.0.0.1", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_dashboard_shows_metric_name_validation_and_report(dashboard_url, binary_run):
    deadline = time.monotonic() + 30
    studies = _get(f"{dashboard_url}/api/studies", deadline)["study_summaries"]
    assert [s["study_name"] for s in studies] == ["synthetic-binary"]
    detail = _get(f"{dashboard_url}/api/studies/{studies[0]['study_id']}", deadline)
    assert detail["objective_names"] == ["roc_auc"]
    attrs = {a["key"]: a["value"] for a in detail["user_attrs"]}
    metrics = json.loads((binary_run / "metrics.json").read_text())
    assert float(attrs["validation_roc_auc"]) == pytest.approx(metrics["validation"]["roc_auc"], abs=1e-6)
    assert attrs["report"] == str((binary_run / "report" / "report.html").resolve())
    assert attrs["run_dir"] == str(binary_run.resolve())
    assert "over covariates only" in attrs["snp_increment"]
    assert len(detail["trials"]) == 5
