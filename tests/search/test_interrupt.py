"""Real `genoml-search run` processes stopped by SIGINT, SIGTERM or SIGKILL mid-run, then resumed."""
from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.search.conftest import worker_env

pytestmark = pytest.mark.slow


def trial_states(db: Path) -> dict[str, int]:
    """Trial counts by state, read straight from the SQLite file (no lock held by the reader)."""
    if not db.is_file():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            return dict(connection.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
    except sqlite3.OperationalError:  # tables not created yet
        return {}


def finished(states: dict[str, int]) -> int:
    return states.get("COMPLETE", 0) + states.get("PRUNED", 0)


def command(dataset: Path, out: Path, n_trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "genoml_search.cli", "run", str(dataset), "--out", str(out), "--n-trials",
            str(n_trials), "--family", "logistic", "--folds", "3", "--workers", "1", *extra]


def start_and_stop(cmd: list[str], db: Path, sig: int, after_finished: int) -> subprocess.CompletedProcess:
    # SIGINT back to its default: a background shell may have started pytest with SIGINT ignored
    process = subprocess.Popen(cmd, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while finished(trial_states(db)) < after_finished:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.2)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(cmd, process.returncode, stdout, stderr)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_is_consistent_and_resumes_to_the_exact_count(sig, small_dataset, tmp_path):
    out, n_trials = tmp_path / "run", 10
    db = out / "study.db"
    stopped = start_and_stop(command(small_dataset.path, out, n_trials), db, sig, after_finished=2)
    assert stopped.returncode == 130, stopped.stderr
    assert "interrupted" in stopped.stderr and "rerun to resume" in stopped.stderr
    states = trial_states(db)
    assert states.get("RUNNING", 0) == 0, states
    assert 2 <= finished(states) < n_trials, states
    assert not (out / "metrics.json").exists()  # no half-written outputs
    resumed = subprocess.run(command(small_dataset.path, out, n_trials), env=worker_env(), capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    states = trial_states(db)
    assert finished(states) == n_trials and states.get("RUNNING", 0) == 0, states
    assert (out / "metrics.json").is_file()


def test_killed_run_leaves_running_trials_that_the_next_run_retries(small_dataset, tmp_path):
    out, n_trials = tmp_path / "run", 8
    db = out / "study.db"
    killed = start_and_stop(command(small_dataset.path, out, n_trials), db, signal.SIGKILL, after_finished=2)
    assert killed.returncode == -signal.SIGKILL
    resumed = subprocess.run(command(small_dataset.path, out, n_trials), env=worker_env(), capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    states = trial_states(db)
    assert finished(states) == n_trials and states.get("RUNNING", 0) == 0 and states.get("WAITING", 0) == 0, states
