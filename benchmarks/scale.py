"""Scale benchmark (#22 item 5): simulated cohorts of 10,000 / 20,000 / 50,000 samples x 100,000 SNPs.

For each cohort size n (training samples; plus an unrelated validation cohort of 2,000), every step is a real
command in its own process tree, timed with the peak RSS of each process polled:

- ``simulate``: ``genoml-search simulate`` (sparse binary trait: 100 causal SNPs, h2 0.5, prevalence 0.3);
- ``munge``: ``genoml-search munge`` with the default QC and pruning, ``--no-kinship`` (above 10,000 samples
  kinship comes from a ``--king-table``; the same flags at every n so the times compare) and the default 10 PCs;
- ``trial``: one ``lasso_path`` trial (``run --family lasso_path --n-trials 1 --workers 1``): the trial's own
  seconds (study attribute), the worker's peak RSS, the run's wall time (trial + refit + validation);
- ``reference``: a CV-tuned lasso path fitted directly with adelie on the same data (5-fold path CV, the
  CV-best penalty refitted on all training samples), scored on the validation cohort;
- ``search``: ``genoml-search run --timeout BUDGET`` (default families, 2 workers), its validation score.

Each step writes ``benchmarks/work/scale/n<N>/<step>.json``; a rerun skips the steps already there (resumable
per cohort and step), and ``benchmarks/results/scale.json`` is rebuilt from all of them with the growth
exponents in n fitted over the cohorts measured (log-log least squares).

    nice -n 5 python -m benchmarks.scale --n 10000 --steps simulate,munge,trial,reference,search --budget 600
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import WORK, checkout_env, cli, write_result

SCALE = WORK / "scale"
N_SNPS = 100_000
N_VALIDATION = 2_000
STEPS = ("simulate", "munge", "trial", "reference", "search")


def cohort_dir(n: int) -> Path:
    return SCALE / f"n{n}"


def _role(cmdline: list[str]) -> str:
    text = " ".join(cmdline)
    if "distributed" in text or "spawn_main" in text or "multiprocessing" in text:
        return "worker"
    if "resource_tracker" in text:
        return "helper"
    return "main"


def tree_command(argv: list[str], log: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a command; wall seconds, exit code, and per process (polled every 0.1 s) the peak RSS and the peak of
    its private part (RSS minus file-backed shared pages: what the process itself allocated), plus the peak of
    the whole tree's RSS summed."""
    import psutil

    started = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, **checkout_env(), **(env or {})})
        watched = psutil.Process(process.pid)
        peaks: dict[int, dict[str, Any]] = {}
        tree_peak = 0
        while process.poll() is None:
            total = 0
            try:
                tree = [watched, *watched.children(recursive=True)]
            except psutil.Error:
                tree = []
            for proc in tree:
                try:
                    info = proc.memory_info()
                    entry = peaks.setdefault(proc.pid, {"role": _role(proc.cmdline()), "rss": 0, "private": 0})
                except psutil.Error:
                    continue
                entry["rss"] = max(entry["rss"], info.rss)
                entry["private"] = max(entry["private"], info.rss - info.shared)
                total += info.rss
            tree_peak = max(tree_peak, total)
            time.sleep(0.1)
    seconds = time.perf_counter() - started
    processes = sorted(({"role": e["role"], "peak_rss_mib": round(e["rss"] / 2**20, 1),
                         "peak_private_mib": round(e["private"] / 2**20, 1)} for e in peaks.values()),
                       key=lambda e: -e["peak_rss_mib"])
    processes = [p for p in processes if p["peak_rss_mib"] > 50]  # drop shells and tiny helpers
    return {"seconds": round(seconds, 2), "returncode": process.returncode, "tree_peak_rss_mib": round(tree_peak / 2**20, 1),
            "processes": processes, "load_before": None, "load_after": [round(x, 2) for x in os.getloadavg()]}


def _run(argv: list[str], log: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    load = [round(x, 2) for x in os.getloadavg()]
    record = tree_command(argv, log, env)
    record["load_before"] = load
    if record["returncode"] != 0:
        tail = log.read_text()[-1500:]
        raise SystemExit(f"{' '.join(argv[:4])} failed (exit {record['returncode']}); log {log}:\n{tail}")
    return record


def step_simulate(n: int, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    sim = work / "sim"
    argv = cli("simulate", "--out", str(sim), "--n-train", str(n), "--n-validation", str(N_VALIDATION),
               "--n-snps", str(N_SNPS), "--h2", "0.5", "--n-causal", "100", "--task", "binary",
               "--seed", str(n), "--overwrite")
    return {"argv": argv[3:], **_run(argv, work / "simulate.log")}


def step_munge(n: int, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    sim, out = work / "sim", work / "train"
    if out.exists():
        shutil.rmtree(out)
    argv = cli("munge", "--bfile", str(sim / "train"), "--pheno", str(sim / "train_pheno.csv"),
               "--covar", str(sim / "train_covar.csv"), "--out", str(out), "--no-kinship")
    record = _run(argv, work / "munge.log")
    manifest = json.loads((out / "manifest.json").read_text())
    int8 = manifest["n_samples"] * manifest["n_variants"] / 2**20
    return {"argv": argv[3:], **record, "n_samples": manifest["n_samples"], "n_variants": manifest["n_variants"],
            "int8_mib": round(int8, 1), "pca_seconds": (manifest.get("pca") or {}).get("seconds")}


STEP_FUNCTIONS = {"simulate": step_simulate, "munge": step_munge}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000])
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--budget", type=int, default=600, help="wall budget of the search step (seconds)")
    parser.add_argument("--redo", action="store_true", help="run the steps even if their result exists")
    args = parser.parse_args()
    for n in args.n:
        work = cohort_dir(n)
        work.mkdir(parents=True, exist_ok=True)
        for step in args.steps.split(","):
            path = work / f"{step}.json"
            if path.exists() and not args.redo:
                print(f"n={n} {step}: done before ({path})", flush=True)
                continue
            record = STEP_FUNCTIONS[step](n, work, args)
            path.write_text(json.dumps(record, indent=1, default=str))
            print(f"n={n} {step}: {json.dumps(record, default=str)[:400]}", flush=True)
            write_summary()


def write_summary() -> Path:
    """benchmarks/results/scale.json from every finished step of every cohort."""
    cohorts = {}
    for work in sorted(SCALE.glob("n*"), key=lambda p: int(p.name[1:])):
        cohorts[work.name[1:]] = {p.stem: json.loads(p.read_text()) for p in sorted(work.glob("*.json"))}
    return write_result("scale", {"load_average_now": [round(x, 2) for x in os.getloadavg()], "cohorts": cohorts})


if __name__ == "__main__":
    main()
