"""Scale benchmark (#22 item 5): simulated cohorts of 10,000 / 20,000 / 50,000 samples x 100,000 SNPs.

For each cohort size n (training samples; plus an unrelated validation cohort of 2,000), every step is a real
command in its own process tree, timed with the peak RSS of each process polled:

- ``simulate``: ``genoml-search simulate`` (sparse binary trait: 100 causal SNPs, h2 0.5, prevalence 0.3);
- ``munge``: ``genoml-search munge`` with the default QC and pruning, ``--no-kinship`` (above 10,000 samples
  kinship comes from a ``--king-table``; the same flags at every n so the times compare) and ``--pcs 0`` unless
  ``--pcs K`` (the 10,000 run had the default 10 PCs, whose time its manifest records apart);
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
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "scale.json"
STEPS = ("simulate", "munge", "munge_repeat", "trial", "reference", "search")


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
                    entry = peaks.setdefault(proc.pid, {"role": _role(proc.cmdline()), "rss": 0, "private": 0,
                                                        "cpu": 0.0})
                    times = proc.cpu_times()
                    entry["cpu"] = max(entry["cpu"], times.user + times.system)
                except psutil.Error:
                    continue
                entry["rss"] = max(entry["rss"], info.rss)
                entry["private"] = max(entry["private"], info.rss - info.shared)
                total += info.rss
            tree_peak = max(tree_peak, total)
            time.sleep(0.1)
    seconds = time.perf_counter() - started
    cpu_seconds = round(sum(e["cpu"] for e in peaks.values()), 1)  # of the tree (as last polled): load-proof
    processes = sorted(({"role": e["role"], "peak_rss_mib": round(e["rss"] / 2**20, 1),
                         "peak_private_mib": round(e["private"] / 2**20, 1), "cpu_seconds": round(e["cpu"], 1)}
                        for e in peaks.values()),
                       key=lambda e: -e["peak_rss_mib"])
    processes = [p for p in processes if p["peak_rss_mib"] > 50]  # drop shells and tiny helpers
    return {"seconds": round(seconds, 2), "returncode": process.returncode, "tree_peak_rss_mib": round(tree_peak / 2**20, 1),
            "cpu_seconds": cpu_seconds, "processes": processes, "load_before": None, "load_after": [round(x, 2) for x in os.getloadavg()]}


def _run(argv: list[str], log: Path, env: dict[str, str] | None = None, allow: str | None = None) -> dict[str, Any]:
    """Run and measure a command; a failure stops the benchmark unless its log contains ``allow``."""
    load = [round(x, 2) for x in os.getloadavg()]
    record = tree_command(argv, log, env)
    record["load_before"] = load
    if record["returncode"] != 0 and allow and allow in log.read_text():
        record["outcome"] = allow
    elif record["returncode"] != 0:
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
               "--covar", str(sim / "train_covar.csv"), "--out", str(out), "--no-kinship", "--pcs", str(args.pcs))
    record = _run(argv, work / "munge.log")
    manifest = json.loads((out / "manifest.json").read_text())
    int8 = manifest["n_samples"] * manifest["n_variants"] / 2**20
    return {"argv": argv[3:], **record, "n_samples": manifest["n_samples"], "n_variants": manifest["n_variants"],
            "int8_mib": round(int8, 1), "pca_seconds": (manifest.get("pca") or {}).get("seconds")}


def _validation_args(work: Path) -> list[str]:
    sim = work / "sim"
    return ["--validation-bfile", str(sim / "validation"), "--validation-pheno", str(sim / "validation_pheno.csv"),
            "--validation-covar", str(sim / "validation_covar.csv")]


def _trials(run_dir: Path) -> list[dict[str, Any]]:
    """Family, state, value and the worker's seconds of every trial of the run's study."""
    import optuna

    storage = f"sqlite:///{run_dir / 'study.db'}"
    out = []
    for summary in optuna.study.get_all_study_summaries(storage, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        for trial in study.trials:
            out.append({"number": trial.number, "state": trial.state.name, "value": trial.value,
                        "family": trial.user_attrs.get("family") or trial.params.get("family"),
                        "seconds": trial.user_attrs.get("seconds")})
    return out


def _run_record(run_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    validation = metrics.get("validation") or {}
    return {**record, "validation_roc_auc": validation.get("roc_auc"),
            "cv_roc_auc": (metrics.get("cv") or {}).get("roc_auc"),
            "best_family": (metrics.get("cv") or {}).get("best_family"),
            "best_params": (metrics.get("cv") or {}).get("best_params"), "trials": _trials(run_dir)}


def step_trial(n: int, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One lasso_path trial (the study's first, queued lasso) on one worker, then its refit and validation."""
    out = work / "trial"
    if out.exists():
        shutil.rmtree(out)
    argv = cli("run", str(work / "train"), "--out", str(out), "--family", "lasso_path", "--n-trials", "1",
               "--workers", "1", "--ensemble", "none", "--validate-top", "1", *_validation_args(work))
    return _run_record(out, {"argv": argv[3:], **_run(argv, work / "trial.log")})


def step_search(n: int, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The default search with a wall budget (2 workers), validated on the unrelated cohort."""
    out = work / "search"
    if out.exists():
        shutil.rmtree(out)
    argv = cli("run", str(work / "train"), "--out", str(out), "--n-trials", "100000", "--timeout",
               str(args.budget), "--workers", "2", *_validation_args(work))
    record = {"argv": argv[3:], "budget_seconds": args.budget,
              **_run(argv, work / "search.log", allow="has no completed trial yet")}
    if record.get("outcome"):  # no trial finished within the budget: no model, no validation score
        return {**record, "validation_roc_auc": None, "trials": _trials(out)}
    return _run_record(out, record)


def step_reference(n: int, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """A CV-tuned lasso path fitted directly with adelie (5-fold path CV, the CV-best penalty refitted on all
    training samples), in its own process; the validation cohort munged --like by the trial or search step."""
    validation = next((work / step / "validation_dataset" for step in ("trial", "search")
                       if (work / step / "validation_dataset").is_dir()), None)
    if validation is None:
        raise SystemExit(f"n={n} reference: run the trial or search step first (it munges the validation cohort)")
    argv = [sys.executable, "-m", "benchmarks.scale", "--reference-child", str(work / "train"), str(validation),
            str(work / "reference_child.json")]
    record = _run(argv, work / "reference.log")
    return {**record, **json.loads((work / "reference_child.json").read_text())}


def reference_child(train: str, validation: str, out: str) -> None:
    from genoml_search.core.features import features_from_dataset
    from genoml_search.core.metrics import get_metric
    from genoml_search.data.dataset import Dataset
    from genoml_search.search.families.paths import PenalizedPathModel
    from genoml_search.search.objective import CVSpec, make_folds
    from genoml_search.search.path_cv import cross_validate_path
    from genoml_search.search.paths import Design

    data, held = features_from_dataset(Dataset.open(train)), features_from_dataset(Dataset.open(validation))
    metric = get_metric("roc_auc", "binary")
    started = time.perf_counter()
    design = Design(data.genotypes, data.covariates, np.arange(len(data.y)))
    cv = cross_validate_path(design, data.y, make_folds(data.y, "binary", CVSpec(5, 1, 0)), "binary",
                             metric.compute, True, 1.0)
    cv_seconds = time.perf_counter() - started
    model = PenalizedPathModel(task="binary", lambda_index=cv.lambda_index, n_covariates=data.covariates.shape[1])
    model.fit(design, data.y)
    scores = model.predict_proba(Design(held.genotypes, held.covariates, np.arange(len(held.y))))[:, 1]
    Path(out).write_text(json.dumps({
        "cv_seconds": round(cv_seconds, 2), "fit_seconds": round(time.perf_counter() - started, 2),
        "cv_roc_auc": round(cv.value, 4), "lambda_index": cv.lambda_index,
        "n_snps_selected": int(np.count_nonzero(model.raw_coef_[: design.n_snps])),
        "validation_roc_auc": round(float(metric.compute(held.y, scores)), 4)}))


def step_munge_repeat(n: int, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """munge again with ``--pcs 0`` into a directory of its own (the first run's dataset may be in use): the
    CPU time of read + QC + pruning, for cohorts whose first munge ran before CPU time was recorded."""
    sim, out = work / "sim", work / "train_repeat"
    if out.exists():
        shutil.rmtree(out)
    argv = cli("munge", "--bfile", str(sim / "train"), "--pheno", str(sim / "train_pheno.csv"),
               "--covar", str(sim / "train_covar.csv"), "--out", str(out), "--no-kinship", "--pcs", "0")
    record = _run(argv, work / "munge_repeat.log")
    shutil.rmtree(out)
    return {"argv": argv[3:], **record}


STEP_FUNCTIONS = {"munge_repeat": step_munge_repeat, "simulate": step_simulate, "munge": step_munge, "trial": step_trial, "reference": step_reference,
                  "search": step_search}


def restore_from_results(path: Path = RESULTS_FILE) -> None:
    """Write back the step and path-memory records of ``scale.json`` that the (git-ignored) work folder lacks, so
    that a fresh checkout rebuilding the summary keeps the cohorts measured before."""
    if not path.exists():
        return
    earlier = json.loads(path.read_text())
    for n, steps in (earlier.get("cohorts") or {}).items():
        for step, record in steps.items():
            target = cohort_dir(int(n)) / f"{step}.json"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(record, indent=1, default=str))
    for record in earlier.get("path_memory") or []:
        target = SCALE / "path_memory" / f"{record['label']}.json"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(record, indent=1, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000])
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--pcs", type=int, default=0, help="munge --pcs (0: PCA timed apart; it dominated munge "
                        "at 10,000 on the loaded machine)")
    parser.add_argument("--budget", type=int, default=600, help="wall budget of the search step (seconds)")
    parser.add_argument("--redo", action="store_true", help="run the steps even if their result exists")
    parser.add_argument("--reference-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--summary", action="store_true", help="only rebuild benchmarks/results/scale.json")
    args = parser.parse_args()
    restore_from_results()
    if args.summary:
        print(write_summary())
        print(table())
        return
    if args.reference_child:
        reference_child(*args.reference_child)
        return
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


def _worker_peak(record: dict[str, Any]) -> float | None:
    workers = [p["peak_rss_mib"] for p in record.get("processes", []) if p["role"] == "worker"]
    return max(workers) if workers else None


def cohort_summary(n: int, steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The headline numbers of one cohort (what docs/scale.md tabulates), from its finished steps."""
    munge, trial = steps.get("munge") or {}, steps.get("trial") or {}
    reference, search = steps.get("reference") or {}, steps.get("search") or {}
    int8 = munge.get("int8_mib")
    row: dict[str, Any] = {"n": n, "n_snps": munge.get("n_variants"), "int8_mib": int8}
    simulate = steps.get("simulate")
    if simulate:
        row.update({"simulate_seconds": simulate["seconds"], "simulate_cpu_seconds": simulate.get("cpu_seconds"),
                    "simulate_peak_rss_mib": simulate["tree_peak_rss_mib"]})
    if munge:
        row["munge_seconds"] = munge["seconds"]
        row["munge_seconds_without_pca"] = round(munge["seconds"] - (munge.get("pca_seconds") or 0.0), 2)
        row["munge_cpu_seconds"] = munge.get("cpu_seconds")
        row["munge_peak_rss_over_int8"] = round(munge["tree_peak_rss_mib"] / int8, 2)
    repeat = steps.get("munge_repeat")
    if repeat and not row.get("munge_cpu_seconds"):
        row["munge_cpu_seconds"] = repeat.get("cpu_seconds")
        row["munge_repeat_seconds"] = repeat["seconds"]
    if trial:
        lasso = [t for t in trial["trials"] if t["state"] == "COMPLETE"]
        row["trial_seconds"] = lasso[0]["seconds"] if lasso else None
        row["trial_run_seconds"] = trial["seconds"]
        worker = _worker_peak(trial)
        row["trial_worker_peak_rss_mib"] = worker
        row["trial_worker_peak_over_int8"] = round(worker / int8, 2) if worker and int8 else None
        auc = trial.get("validation_roc_auc")
        row["trial_validation_roc_auc"] = None if auc is None else round(auc, 4)
        row["trial_process_peaks_mib"] = {p["role"]: p["peak_rss_mib"] for p in reversed(trial["processes"])}
    poll = steps.get("trial_worker_poll")
    if poll and not trial:  # a trial stopped unfinished: its worker polled from outside (VmHWM = peak RSS)
        row["trial_unfinished"] = {
            "worker_peak_rss_mib": round(poll["peak_mib"]["VmHWM"], 1),
            "worker_peak_over_int8": round(poll["peak_mib"]["VmHWM"] / int8, 2) if int8 else None,
            "worker_peak_anon_mib": round(poll["peak_mib"]["RssAnon"], 1),
            "worker_cpu_seconds": round(poll["cpu_seconds"], 1), "polled_seconds": poll["polled_seconds"],
            "load_average": poll["load_average"]}
    if reference:
        row["reference_validation_roc_auc"] = reference.get("validation_roc_auc")
        row["reference_seconds"] = reference.get("fit_seconds")
        row["reference_peak_rss_over_int8"] = round(reference["tree_peak_rss_mib"] / int8, 2) if int8 else None
    if search:
        row["search_budget_seconds"] = search["budget_seconds"]
        row["search_seconds"] = search["seconds"]
        row["search_validation_roc_auc"] = search.get("validation_roc_auc")
        row["search_best_family"] = search.get("best_family")
        row["search_complete_trials"] = sum(t["state"] == "COMPLETE" for t in search["trials"])
        row["search_worker_peak_over_int8"] = (round(_worker_peak(search) / int8, 2)
                                               if _worker_peak(search) and int8 else None)
        row["search_load"] = [search.get("load_before"), search.get("load_after")]
    return row


def growth(rows: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The exponent b of value ~ a n^b (least squares on logs) over the cohorts that have the value."""
    points = [(r["n"], r[key]) for r in rows if r.get(key)]
    if len(points) < 2:
        return None
    x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    slope, intercept = np.polyfit(x, y, 1)
    return {"exponent": round(float(slope), 3), "coefficient": float(np.exp(intercept)),
            "n": [int(p[0]) for p in points], "values": [p[1] for p in points]}


GROWTH_KEYS = ("munge_seconds_without_pca", "munge_cpu_seconds", "trial_seconds", "trial_worker_peak_rss_mib",
               "reference_seconds")


def write_summary() -> Path:
    """benchmarks/results/scale.json from every finished step of every cohort (and the path memory runs)."""
    cohorts, rows = {}, []
    for work in sorted(SCALE.glob("n*"), key=lambda p: int(p.name[1:])):
        steps = {p.stem: json.loads(p.read_text()) for p in sorted(work.glob("*.json"))
                 if p.stem in STEPS + ("trial_worker_poll",)}
        cohorts[work.name[1:]] = steps
        rows.append(cohort_summary(int(work.name[1:]), steps))
    memory = [json.loads(p.read_text()) for p in sorted((SCALE / "path_memory").glob("*.json"))]
    # a lasso_path trial's CPU seconds on the first n samples of one cohort at a fixed number of SNPs
    subsets = [{"n": r["n_samples"], "trial_cpu_seconds": r.get("cpu_seconds"),
                "trial_own_memory_mib": round(r["peak_mib"]["RssAnon"] - r["baseline_mib"]["RssAnon"], 1)}
               for r in memory if r["label"].startswith("growth_n")]
    exponents = {key: growth(rows, key) for key in GROWTH_KEYS}
    exponents["trial_cpu_seconds_fixed_snps"] = growth(subsets, "trial_cpu_seconds")
    exponents["trial_own_memory_fixed_snps"] = growth(subsets, "trial_own_memory_mib")
    return write_result("scale", {
        "load_average_now": [round(x, 2) for x in os.getloadavg()], "summary": rows,
        "growth_in_n": exponents, "trial_subsets": subsets, "path_memory": memory,
        "cohorts": cohorts})


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def table(path: Path = RESULTS_FILE) -> str:
    """The markdown table of docs/scale.md from benchmarks/results/scale.json."""
    rows = json.loads(path.read_text())["summary"]
    lines = ["| training samples | SNPs after QC | int8 matrix | munge wall (without PCA) | munge CPU (without PCA) | "
             "munge peak RSS / int8 | one lasso_path trial | its worker's peak RSS / int8 | trial / direct adelie "
             "AUC | search (budget) |", "|---|---|---|---|---|---|---|---|---|---|"]

    def fmt(value: Any, unit: str = "") -> str:
        return "-" if value is None else f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"

    for r in rows:
        search = ("not run" if "search_budget_seconds" not in r else
                  f"AUC {fmt(_rounded(r.get('search_validation_roc_auc')))} ({r['search_budget_seconds']} s, "
                  f"{r['search_complete_trials']} trials)")
        unfinished = r.get("trial_unfinished")
        trial = (f"stopped unfinished ({unfinished['worker_cpu_seconds']} CPU s)" if unfinished else
                 fmt(r.get("trial_seconds"), " s") if "trial_seconds" in r else "not run")
        worker = unfinished["worker_peak_over_int8"] if unfinished else r.get("trial_worker_peak_over_int8")
        munge = "not run" if "munge_seconds" not in r else (
            f"{fmt(r.get('munge_seconds'), ' s')} ({fmt(r.get('munge_seconds_without_pca'), ' s')})")
        lines.append(f"| {r['n']:,} | {fmt(r.get('n_snps'))} | {fmt(r.get('int8_mib'), ' MiB')} | {munge} | "
                     f"{fmt(r.get('munge_cpu_seconds'), ' s')} | {fmt(r.get('munge_peak_rss_over_int8'), 'x')} | "
                     f"{trial} | {fmt(worker, 'x')} | {fmt(r.get('trial_validation_roc_auc'))} / "
                     f"{fmt(r.get('reference_validation_roc_auc'))} | {search} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
