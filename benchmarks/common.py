"""Helpers shared by the benchmarks: machine facts, versions, result files, peak memory of a command."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from genoml_search.versions import versions as library_versions

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / "benchmarks" / "data"
WORK = ROOT / "benchmarks" / "work"
PACKAGES = ("genoml-search", "numpy", "scikit-learn", "optuna", "distributed", "xgboost-cpu", "lightgbm",
            "catboost", "bed-reader")


def machine() -> dict[str, Any]:
    """Facts about the machine a benchmark ran on."""
    with open("/proc/meminfo") as handle:
        total_kb = int(handle.readline().split()[1])
    return {"cpus": os.cpu_count(), "memory_gib": round(total_kb / 2**20, 1), "platform": platform.platform(),
            "python": sys.version.split()[0], "processor": platform.processor() or platform.machine()}


def versions() -> dict[str, str]:
    """Installed versions of the packages that matter for the numbers (and Python's)."""
    return library_versions(PACKAGES)


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """Write benchmarks/results/NAME.json with date, machine and versions."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    record = {"benchmark": name, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(), "versions": versions(), **payload}
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return path


def timed_command(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, Any]:
    """Run a command; return wall seconds, peak RSS of its whole process tree (MiB, polled) and exit code."""
    import psutil

    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})}, cwd=cwd)
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            tree = [watched, *watched.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(peak / 2**20, 1), "returncode": process.returncode,
            "stdout": stdout[-4000:], "stderr_tail": stderr[-2000:] if process.returncode else ""}


def venv_python(venv: Path, requirement: str, prefix: tuple[str, ...] = ()) -> tuple[Path | None, str]:
    """The Python of a separate venv under benchmarks/work/ holding REQUIREMENT (created and pip-installed
    from the package registry on first use, each command run behind PREFIX, e.g. ("nice", "-n", "19")),
    or None and the reason it could not be made."""
    python = venv / "bin" / "python"
    if not python.exists():
        for argv in ([sys.executable, "-m", "venv", str(venv)],
                     [str(python), "-m", "pip", "install", "-q", requirement]):
            done = subprocess.run([*prefix, *argv], capture_output=True, text=True)
            if done.returncode:
                return None, f"`{' '.join(argv[1:4])}` failed: {done.stderr.strip().splitlines()[-1:]}"
    return python, f"{requirement} in {venv.relative_to(ROOT)}"


def checkout_env() -> dict[str, str]:
    """Environment entries that make subprocesses import this checkout's genoml_search."""
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def cli(*args: str) -> list[str]:
    """The argv of `genoml-search ARGS` with this interpreter."""
    return [sys.executable, "-m", "genoml_search.cli", *args]
