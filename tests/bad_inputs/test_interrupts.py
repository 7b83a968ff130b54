"""SIGINT and SIGTERM during a real `munge` subprocess: exit 130, no temporaries, previous dataset intact."""
from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tests.bad_inputs.conftest import Cohort, leftovers, tree_digest

N_SAMPLES, N_VARIANTS = 3000, 20000


@pytest.fixture(scope="module")
def big_cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """3,000 x 20,000 genotypes (big enough that munge takes a few seconds) and a binary phenotype."""
    from bed_reader import to_bed

    root = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(1)
    freq = rng.uniform(0.05, 0.5, N_VARIANTS).astype(np.float32)
    genotypes = (rng.random((N_SAMPLES, N_VARIANTS), dtype=np.float32) < freq).astype(np.int8)
    genotypes += (rng.random((N_SAMPLES, N_VARIANTS), dtype=np.float32) < freq).astype(np.int8)
    prefix = root / "big"
    to_bed(str(prefix) + ".bed", genotypes, properties={
        "iid": [f"s{i}" for i in range(N_SAMPLES)], "sid": [f"v{j}" for j in range(N_VARIANTS)],
        "chromosome": ["1"] * N_VARIANTS, "bp_position": np.arange(1, N_VARIANTS + 1) * 100,
    }, count_A1=True, num_threads=1)
    pheno = root / "pheno.csv"
    pheno.write_text("ID,PHENO\n" + "".join(f"s{i},{i % 2}\n" for i in range(N_SAMPLES)))
    return prefix, pheno


def _wait_for(proc: subprocess.Popen, text: str, timeout: float) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
            if text in line:
                return seen
    raise AssertionError(f"{text!r} never appeared; stderr so far: {seen!r}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_munge_leaves_no_partial_files(signum: int, big_cohort, cohort: Cohort, tmp_path: Path) -> None:
    prefix, pheno = big_cohort
    out = tmp_path / "out" / "ds"
    shutil.copytree(cohort.dataset, out)
    before = tree_digest(out)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "genoml_search.cli", "-vv", "munge", "--out", str(out), "--bfile", str(prefix),
         "--pheno", str(pheno), "--indep-pairwise", "200", "5", "0.2"],
        env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        # a test runner started in the background inherits SIGINT ignored; give munge a terminal's default
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_for(proc, "QC of", timeout=90)
        time.sleep(0.5)  # inside QC / LD pruning
        assert proc.poll() is None, "munge finished before the signal: make the cohort bigger"
        proc.send_signal(signum)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    rest = proc.stderr.read()
    proc.stderr.close()
    assert proc.returncode == 130, rest
    assert "interrupted" in rest and "Traceback" not in rest
    assert tree_digest(out) == before
    assert not leftovers(tmp_path)
