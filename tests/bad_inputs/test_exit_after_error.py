"""A refused command exits as soon as it has printed its error (exit code 2), with nothing left running.

The subprocess timeout is the failure signal (a process that lingers after its error line), not a timing test.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import Cohort

ROOT = Path(__file__).resolve().parents[2]
SLOW_HASH = """
import sys, time
import genoml_search.data.munge as munge
from genoml_search import cli

real = munge.file_sha256
munge.file_sha256 = lambda path: time.sleep(60) or real(path)  # a very large .bed
cli.main(sys.argv[1:])
"""
FAILING_FAMILY = '''
from genoml_search.search.registry import FloatParam, ModelFamily, register


@register
class Broken(ModelFamily):
    """A family whose every fit fails."""

    name = "broken"
    tasks = frozenset({"binary"})

    def space(self, task):
        return [FloatParam("C", 1e-3, 100.0, log=True)]

    def build(self, params, task, random_state=0, n_jobs=1):
        raise ValueError("broken on purpose")
'''


def python(*args: str, timeout: float) -> subprocess.CompletedProcess:
    """``python ARGS`` with this worktree's code; the output pipes are read to their end (so a child process
    that outlives the command and holds them counts as not exited)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "400"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env)


def error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    return errors[0]


def test_munge_refused_while_hashing_a_large_bed_exits_at_once(cohort: Cohort, tmp_path: Path) -> None:
    """The input hashes run in the background; a refusal must not wait for them (it did: an executor thread is
    joined at exit, so the process lived on for the whole hash of the .bed after printing its error)."""
    pheno = tmp_path / "pheno.csv"
    pheno.write_text("ID,PHENO\nnobody1,1\nnobody2,0\n")
    done = python("-c", SLOW_HASH, "munge", "--bfile", str(cohort.prefix), "--pheno", str(pheno),
                  "--out", str(tmp_path / "ds"), timeout=30)
    assert "phenotype IDs match" in error_line(done)


def test_run_whose_trials_all_failed_exits_with_code_2(cohort: Cohort, tmp_path: Path) -> None:
    """A run that ends in StudyError after its Dask cluster ran trials: one error line naming the trials'
    error, exit code 2, and no process left behind (workers, threads)."""
    module = tmp_path / "broken.py"
    module.write_text(FAILING_FAMILY)
    done = python("-m", "genoml_search.cli", "run", str(cohort.dataset), "--out", str(tmp_path / "run"),
                  "--family", "broken", "--families-module", str(module), "--workers", "1", "--timeout", "0.01",
                  "--n-trials", "5", timeout=120)
    line = error_line(done)
    assert "has no completed trial yet" in line and "broken on purpose" in line, line
