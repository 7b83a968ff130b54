"""How long the test suite takes: wall and CPU seconds of pytest runs, and each test's duration as it finishes.

    python -m benchmarks.suite_time measure LABEL [PYTEST ARGS...]   # e.g. `measure full` or `measure bad tests/bad_inputs`
    python -m benchmarks.suite_time summarize [TIMED FILES...]       # benchmarks/results/test_suite.json

``measure`` runs ``python -m pytest -q -ra -p no:cacheprovider ARGS`` in a child process and writes
``benchmarks/work/suite-LABEL.json`` (wall seconds, user+system CPU seconds of pytest and everything it waited
for: CLI subprocesses, Dask workers; load averages before and after; the pytest summary line) and
``benchmarks/work/suite-LABEL.tsv`` (one line per test phase, written as it ends, so a long run shows its slow
tests early). CPU seconds are the fairer comparison on a shared machine: wall time grows with the load of
others, CPU time much less. ``summarize`` collects every ``suite-*.json`` into the results file.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, WORK, write_result

PLUGIN = '''
import os
_out = open(os.environ["SUITE_TIME_LOG"], "a", buffering=1)
def pytest_runtest_logreport(report):
    _out.write(f"{report.duration:.3f}\\t{report.when}\\t{report.outcome}\\t{report.nodeid}\\n")
'''


def measure(label: str, args: list[str]) -> dict[str, Any]:
    """Run pytest with ARGS; record wall and CPU seconds, loads, the summary line and per-test durations."""
    WORK.mkdir(parents=True, exist_ok=True)
    plugin_dir = WORK / "suite_time_plugin"
    plugin_dir.mkdir(exist_ok=True)
    (plugin_dir / "suite_time_log.py").write_text(PLUGIN)
    log = WORK / f"suite-{label}.tsv"
    log.unlink(missing_ok=True)
    env = {**os.environ, "SUITE_TIME_LOG": str(log),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(plugin_dir), os.environ.get("PYTHONPATH", "")])}
    load_before, started = os.getloadavg(), time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider", "-p",
                           "suite_time_log", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = [line for line in done.stdout.splitlines() if " in " in line and ("passed" in line or "failed" in line)]
    record = {"label": label, "args": args, "wall_seconds": round(time.perf_counter() - started, 1),
              "cpu_seconds": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
              "loadavg_before": [round(x, 1) for x in load_before],
              "loadavg_after": [round(x, 1) for x in os.getloadavg()],
              "returncode": done.returncode, "summary": summary[-1] if summary else done.stdout[-300:],
              "slowest": slowest(log, 15)}
    (WORK / f"suite-{label}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def slowest(log: Path, n: int) -> list[list[Any]]:
    """The N longest test phases of a duration log: [seconds, phase, test]."""
    if not log.is_file():
        return []
    rows = [line.split("\t") for line in log.read_text().splitlines() if line.count("\t") == 3]
    rows.sort(key=lambda row: -float(row[0]))
    return [[float(row[0]), row[1], row[3]] for row in rows[:n]]


def timed_file(path: Path) -> dict[str, Any] | None:
    """A run timed by ``/usr/bin/time -f "LABEL %e s wall %U user %S sys"`` or ``/usr/bin/time -v`` (the runs
    of the code before this work, from a clean clone of its commit)."""
    text, durations, load = path.read_text(), path.with_suffix(".tsv"), path.with_suffix(".load")
    extra: dict[str, Any] = {"slowest": slowest(durations, 15)} if durations.is_file() else {}  # if logged
    if load.is_file():  # the load averages seen while it ran (uptime), noted beside it
        extra["load"] = load.read_text().strip()
    for line in text.splitlines():
        words = line.split()
        if len(words) == 8 and words[2:4] == ["s", "wall"]:
            return {"label": path.stem, "wall_seconds": float(words[1]),
                    "cpu_seconds": round(float(words[4]) + float(words[6]), 1), **extra}
    fields = dict(line.strip().split(": ", 1) for line in text.splitlines() if ": " in line)
    if "Elapsed (wall clock) time (h:mm:ss or m:ss)" not in fields:
        return None
    clock = [float(x) for x in fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")]
    wall = sum(x * 60 ** i for i, x in enumerate(reversed(clock)))
    return {"label": path.stem, "wall_seconds": round(wall, 1),
            "cpu_seconds": round(float(fields["User time (seconds)"]) + float(fields["System time (seconds)"]), 1),
            **extra}


def summarize(timed: list[Path]) -> Path:
    """benchmarks/results/test_suite.json from every benchmarks/work/suite-*.json and the TIMED files; runs
    already in the results file are kept unless a run of the same label replaces them."""
    runs = [json.loads(path.read_text()) for path in sorted(WORK.glob("suite-*.json"))]
    runs += [record for record in map(timed_file, timed) if record is not None]
    results = ROOT / "benchmarks" / "results" / "test_suite.json"
    if results.is_file():
        labels = {run["label"] for run in runs}
        runs = [run for run in json.loads(results.read_text())["runs"] if run["label"] not in labels] + runs
    return write_result("test_suite", {"runs": runs, "loadavg_at_summary": [round(x, 1) for x in os.getloadavg()]})


if __name__ == "__main__":
    if sys.argv[1:2] == ["measure"] and len(sys.argv) > 2:
        print(json.dumps(measure(sys.argv[2], sys.argv[3:]), indent=2))
    elif sys.argv[1:2] == ["summarize"]:
        print(summarize([Path(p) for p in sys.argv[2:]]))
    else:
        sys.exit(__doc__)
