"""Class 5 of issue #17: outputs honour the umask, an overwritten file keeps its mode, Ctrl-C in a terminal
prints one line, and temporaries of a killed process are cleaned by the next command."""
from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.bad_inputs.conftest import RUN_FLAGS, STRANGE_STUDY, Cohort, FinishedRun, subprocess_cli


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_munge_and_predict_outputs_honour_the_umask(finished_run: FinishedRun, tmp_path: Path, umask: int) -> None:
    cohort = finished_run.cohort
    dataset = tmp_path / "ds"
    assert subprocess_cli("munge", "--bfile", cohort.prefix, "--pheno", cohort.pheno, "--out", dataset,
                          umask=umask).code == 0
    predictions = tmp_path / "pred.csv"
    assert subprocess_cli("predict", "--model", finished_run.out, "--bfile", cohort.prefix, "--covar", cohort.covar,
                          "--out", predictions, umask=umask).code == 0
    for name, mode in _modes(dataset).items():
        expected = 0o777 & ~umask if (dataset / name).is_dir() else 0o666 & ~umask
        assert mode == expected, (name, oct(mode), oct(expected))
    assert stat.S_IMODE(predictions.stat().st_mode) == 0o666 & ~umask


@pytest.mark.slow
def test_run_and_report_outputs_honour_the_umask(cohort: Cohort, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert subprocess_cli("run", cohort.dataset, "--out", out, *RUN_FLAGS, umask=0o027).code == 0
    assert subprocess_cli("report", out, "--bootstrap", "20", "--permutations", "1", "--max-features", "2",
                          umask=0o027).code == 0
    for name, mode in _modes(out).items():
        if name.endswith(("-wal", "-shm")):
            continue  # SQLite's own journal files
        expected = 0o750 if (out / name).is_dir() else 0o640
        assert mode == expected, (name, oct(mode))


def test_an_overwritten_file_keeps_its_mode(finished_run: FinishedRun, tmp_path: Path) -> None:
    cohort = finished_run.cohort
    predictions = tmp_path / "pred.csv"
    assert subprocess_cli("predict", "--model", finished_run.out, "--bfile", cohort.prefix, "--covar", cohort.covar,
                          "--out", predictions).code == 0
    predictions.chmod(0o604)
    assert subprocess_cli("predict", "--model", finished_run.out, "--bfile", cohort.prefix, "--covar", cohort.covar,
                          "--out", predictions, umask=0o077).code == 0
    assert stat.S_IMODE(predictions.stat().st_mode) == 0o604


def test_atomic_file_keeps_mode_and_honours_umask(tmp_path: Path) -> None:
    from genoml_search.fileio import atomic_file

    old = os.umask(0o022)
    try:
        with atomic_file(tmp_path / "new.txt") as handle:
            handle.write("x")
        assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644
        (tmp_path / "new.txt").chmod(0o600)
        with atomic_file(tmp_path / "new.txt") as handle:
            handle.write("y")
        assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o600
    finally:
        os.umask(old)


@pytest.mark.slow
def test_ctrl_c_in_a_terminal_prints_one_line(finished_run: FinishedRun, tmp_path: Path) -> None:
    """SIGINT to the whole process group (what a terminal's Ctrl-C does) reaches the Dask workers too: only
    the driver reports it, in one line, and the run directory stays consistent (resumable)."""
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "run"
    shutil.copytree(finished_run.out, out)
    proc = subprocess.Popen([sys.executable, "-m", "genoml_search.cli", "run", finished_run.cohort.dataset, "--out",
                             out, "--study", STRANGE_STUDY, "--n-trials", "500", "--workers", "2", "--family",
                             "logistic", "--pruner", "none"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(root), "COLUMNS": "200"})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(out.glob("study.db-wal")):
            time.sleep(0.5)
        time.sleep(6)  # workers started and running trials
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=60)  # reaped, pipes closed: nothing left for a later test's garbage collection
    assert proc.returncode == 130, (proc.returncode, stderr)
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(("trials", "Dask"))]
    assert lines == ["interrupted: outputs are unchanged and the study is consistent; rerun to resume"], stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    status = subprocess_cli("status", out, "--format", "json")
    assert status.code == 0 and '"RUNNING": 0' in status.stdout.replace("\n", "").replace("  ", "")


def test_stale_predict_temporaries_are_cleaned(finished_run: FinishedRun, tmp_path: Path) -> None:
    dead = tmp_path / ".genoml-predict-999999999-abcd"  # left by `kill -9` of a process that no longer runs
    dead.mkdir()
    (dead / "cohort").mkdir()
    alive = tmp_path / f".genoml-predict-{os.getpid()}-live"  # a running process's: kept
    alive.mkdir()
    cohort = finished_run.cohort
    result = subprocess_cli("predict", "--model", finished_run.out, "--bfile", cohort.prefix, "--covar",
                            cohort.covar, "--out", tmp_path / "pred.csv")
    assert result.code == 0, result.stderr
    assert not dead.exists() and alive.exists()


def test_stale_dataset_temporaries_are_cleaned(cohort: Cohort, tmp_path: Path) -> None:
    stale = [tmp_path / "ds.tmp-999999999-x", tmp_path / "ds.old-999999999", tmp_path / ".ds.tmp-999999999-y"]
    for path in stale:
        path.mkdir()
    assert subprocess_cli("munge", "--bfile", cohort.prefix, "--pheno", cohort.pheno, "--out", tmp_path / "ds").code == 0
    assert not any(p.exists() for p in stale)
