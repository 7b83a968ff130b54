"""Multi-fidelity successive halving on training samples against plain TPE at the same wall budget (#22 item 4).

Two parts, each on a simulated binary cohort with an unrelated validation cohort (``genoml-search simulate``,
munged without kinship or PCs):

``timing``  one trial (3-fold CV, fidelity off, in this process, no Dask) of each family at n = 500, 1,500 and
            4,500 search samples, one sampled parameter set (the same at every n): seconds per trial and the
            growth exponent in n (slope of log seconds on log n). Decides which families are "expensive"
            (``ModelFamily.multi_fidelity``) and from which n fidelity pays.
``compare`` ``genoml-search run`` twice on the same dataset and validation cohort with the same ``--timeout``:
            ``--fidelity on`` (rungs 1/9, 1/3, all) and ``--fidelity off`` (plain TPE with the default median
            per-fold pruner), default families, ``--ensemble none --validate-top 0`` so the wall budget goes to
            the search; both runs start together with one Dask worker each, so they share the machine's load. Recorded: validation ROC-AUC, best CV, trials finished (complete / pruned by rung /
            pruned per fold), full-data trials, wall seconds, the load average before and after.

    nice -n 5 python -m benchmarks.fidelity [--n-train 6000] [--n-snps 6000] [--timeout 420] [--parts timing,compare]

The machine is shared (2 cores, other jobs): each `run` is kept under 10 minutes; read wall times with the
recorded load average. Writes benchmarks/results/fidelity.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, WORK, checkout_env, cli, timed_command, write_result

OUT = WORK / "fidelity"
TIMING_FAMILIES = ("lasso_path", "logistic", "random_forest", "hist_gradient_boosting", "xgboost", "lda", "sgd",
                   "knn")
TIMING_N = (500, 1500, 4500)
SKIP_AFTER_SECONDS = 45.0  # a family whose trial took this long at one n is not timed at the next


def prepare(n_train: int, n_validation: int, n_snps: int, seed: int) -> tuple[Path, Path]:
    """Simulate (once) and munge the cohort; return (dataset, simulation directory)."""
    sim, data = OUT / f"sim-{n_train}x{n_snps}", OUT / f"data-{n_train}x{n_snps}"
    if not (sim / "truth.json").is_file():
        done = timed_command(cli("simulate", "--out", str(sim), "--n-train", str(n_train), "--n-validation",
                                 str(n_validation), "--n-snps", str(n_snps), "--n-causal", "200", "--h2", "0.4",
                                 "--seed", str(seed), "--overwrite"), env=checkout_env())
        assert done["returncode"] == 0, done["stderr_tail"]
    if not (data / "manifest.json").is_file():
        done = timed_command(cli("munge", "--bfile", str(sim / "train"), "--pheno", str(sim / "train_pheno.csv"),
                                 "--covar", str(sim / "train_covar.csv"), "--no-kinship", "--pcs", "0",
                                 "--out", str(data)), env=checkout_env())
        assert done["returncode"] == 0, done["stderr_tail"]
    return data, sim


def family_timing(data: Path, seed: int, names: tuple[str, ...] = TIMING_FAMILIES) -> list[dict[str, Any]]:
    """Seconds of one 3-fold trial per family and n (fidelity off), and the growth exponent in n."""
    import optuna

    from genoml_search.data.dataset import Dataset
    from genoml_search.search.objective import CVSpec, TrialSpec, evaluate_trial
    from genoml_search.search.registry import get_family

    dataset = Dataset.open(data)
    y = dataset.phenotype
    order = np.random.default_rng(seed).permutation(len(y))
    rows = []
    for name in names:
        family = get_family(name)
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        param_sets = [family.suggest(study.ask(), "binary")]  # one point: the same at every n
        times: dict[int, float] = {}
        errors: dict[int, str] = {}
        for n in TIMING_N:
            seconds = []
            for params in param_sets:
                spec = TrialSpec(0, str(data.resolve()), dataset.content_hash, "binary", "roc_auc", name, params,
                                 1.0, np.sort(order[:n]), CVSpec(3, 1, seed))
                result = evaluate_trial(spec)
                if result.error is not None:  # e.g. a sampled setting this many SNPs refuses: recorded
                    errors[n] = result.error.splitlines()[0]
                    break
                seconds.append(result.seconds)
            if not seconds:
                break
            times[n] = float(np.median(seconds))
            print(f"timing {name} n={n}: {times[n]:.1f} s", flush=True)
            if times[n] > SKIP_AFTER_SECONDS:
                break
        ns = np.array(sorted(times))
        slope = float(np.polyfit(np.log(ns), np.log([times[n] for n in ns]), 1)[0]) if len(ns) > 1 else None
        rows.append({"family": name, "seconds": {str(n): round(t, 2) for n, t in times.items()},
                     "growth_exponent": None if slope is None else round(slope, 2), "params": param_sets,
                     **({"errors": {str(n): e for n, e in errors.items()}} if errors else {})})
    return rows


def study_counts(run_dir: Path) -> dict[str, Any]:
    """Trials of the run's study: finished, complete, pruned at a lower rung, pruned per fold, failed."""
    import optuna

    storage = f"sqlite:///{(run_dir / 'study.db').resolve()}"
    name = optuna.study.get_all_study_summaries(storage)[0].study_name
    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    rung_pruned = [t for t in trials if t.state.name == "PRUNED" and "fidelity" in t.user_attrs and
                   t.user_attrs["fidelity"]["rung"] < len(t.user_attrs["fidelity"]["rungs"]) - 1]
    states = [t.state.name for t in trials]
    by_family: dict[str, int] = {}
    for t in trials:
        if t.state.name == "COMPLETE":
            by_family[t.user_attrs.get("family", "?")] = by_family.get(t.user_attrs.get("family", "?"), 0) + 1
    return {"finished": states.count("COMPLETE") + states.count("PRUNED"), "complete": states.count("COMPLETE"),
            "pruned": states.count("PRUNED"), "pruned_at_lower_rung": len(rung_pruned),
            "pruned_per_fold": states.count("PRUNED") - len(rung_pruned), "failed": states.count("FAIL"),
            "complete_by_family": by_family,
            "trial_seconds_sum": round(sum(float(t.user_attrs.get("seconds") or 0) for t in trials), 1)}


def compare(data: Path, sim: Path, timeout: float, seed: int, workers: int) -> list[dict[str, Any]]:
    """`run --fidelity on` and `--fidelity off` at the same --timeout, started together (``workers`` each) so
    that both see the same load on the shared machine; their validation and study numbers."""
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    def one(mode: str) -> dict[str, Any]:
        run_dir = OUT / f"run-{data.name}-{mode}-{seed}"
        shutil.rmtree(run_dir, ignore_errors=True)
        load_before = os.getloadavg()
        done = timed_command(cli("run", str(data), "--out", str(run_dir), "--task", "binary", "--n-trials", "100000",
                                 "--timeout", str(timeout), "--fidelity", mode, "--ensemble", "none",
                                 "--validate-top", "0", "--seed", str(seed), "--workers", str(workers),
                                 "--validation-bfile", str(sim / "validation"),
                                 "--validation-pheno", str(sim / "validation_pheno.csv"),
                                 "--validation-covar", str(sim / "validation_covar.csv")), env=checkout_env())
        row: dict[str, Any] = {"fidelity": mode, "timeout": timeout, "wall_seconds": done["seconds"],
                               "peak_rss_mib": done["peak_rss_mib"],
                               "load_average_before": [round(v, 2) for v in load_before],
                               "load_average_after": [round(v, 2) for v in os.getloadavg()],
                               "validation_roc_auc": None, "best_cv_roc_auc": None, "best_family": None}
        if done["returncode"] == 0:
            metrics = json.loads((run_dir / "metrics.json").read_text())
            row.update({"validation_roc_auc": round(metrics["validation"]["roc_auc"], 4),
                        "best_cv_roc_auc": round(metrics["cv"]["roc_auc"], 4),
                        "best_family": metrics["cv"]["best_family"]})
        else:  # e.g. no trial completed within the budget: recorded, not hidden
            row["error"] = done["stderr_tail"].strip().splitlines()[-1:]
        row.update(study_counts(run_dir))
        print(json.dumps(row), flush=True)
        return row

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, ("on", "off")))


def cpu_budget_search(data: Path, validation: Path, mode: str, budget: float, seed: int) -> dict[str, Any]:
    """One search in this process until ``budget`` CPU seconds are spent (a wall budget is meaningless when the
    shared machine gives a process 5% of a core): the driver's own ``_record`` and pruning snapshot, the real
    objective, TPE with the starting points; then the best trial refitted on all search samples and scored on
    the validation cohort."""
    import optuna
    from sklearn.metrics import roc_auc_score

    from genoml_search._run import choose_families, RunOptions, suggest_trial
    from genoml_search.core.features import features_from_dataset
    from genoml_search.core.scoring import predict_scores
    from genoml_search.data.dataset import Dataset
    from genoml_search.execute.driver import DriverStats, History, _record
    from genoml_search.search.fidelity import Fidelity, rung_sizes
    from genoml_search.search.objective import CVSpec, PruningContext, TrialSpec, evaluate_trial, model_input
    from genoml_search.search.pipeline import build_pipeline
    from genoml_search.search.space import family_and_params
    from genoml_search.search.study import make_sampler
    from genoml_search.search.warm_start import enqueue_starting_points

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dataset = Dataset.open(data)
    y, n = dataset.phenotype, len(dataset.phenotype)
    families = choose_families(RunOptions(dataset=data, out=OUT), "binary")
    fidelity = Fidelity(rung_sizes(n, 5, mode, y, "binary"), seed)
    study = optuna.create_study(direction="maximize", sampler=make_sampler("tpe", seed))
    enqueue_starting_points(study, families, "binary", True, dataset.genotypes.shape[1], n * 4 // 5)
    history, stats, finished = History(True), DriverStats(), 0
    cpu0, wall0, load_before = time.process_time(), time.perf_counter(), os.getloadavg()
    while time.process_time() - cpu0 < budget:
        trial = study.ask()
        family, params, threshold = suggest_trial(trial, families, "binary", True)
        spec = TrialSpec(trial.number, str(data.resolve()), dataset.content_hash, "binary", "roc_auc", family, params,
                         threshold, np.arange(n), CVSpec(5, 1, seed), random_state=seed,
                         pruning=PruningContext("median", "maximize", history.snapshot()), fidelity=fidelity)
        result = evaluate_trial(spec)
        finished = _record(study, trial, spec, result, stats, finished)
        if result.error is None:
            history.add("PRUNED" if result.pruned else "COMPLETE", result.value, result.steps())
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    best = study.best_trial
    family, params = family_and_params(best.params, families)
    params = family.final_params(params, best.user_attrs)
    train, held = features_from_dataset(dataset), features_from_dataset(Dataset.open(validation))
    pipeline = build_pipeline(family, params, "binary", train.n_snps, best.params.get("snp_p_threshold", 1.0), seed,
                              n_covariates=train.n_covariates)
    pipeline.fit(model_input(train, family, np.arange(n)), y)
    rows = np.arange(len(held.y))
    auc = roc_auc_score(held.y, predict_scores(pipeline, model_input(held, family, rows), "binary"))
    trials = study.get_trials(deepcopy=False)
    lower = [t for t in trials if t.state.name == "PRUNED" and "fidelity" in t.user_attrs
             and t.user_attrs["fidelity"]["rung"] < len(fidelity.sizes) - 1]
    return {"fidelity": mode, "rungs": list(fidelity.sizes), "cpu_budget_seconds": budget,
            "cpu_seconds": round(cpu, 1), "wall_seconds": round(wall, 1),
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
            "finished": stats.completed + stats.pruned, "complete": stats.completed, "pruned": stats.pruned,
            "pruned_at_lower_rung": len(lower), "failed": stats.failed,
            "complete_by_family": {f: sum(t.state.name == "COMPLETE" and t.user_attrs.get("family") == f
                                          for t in trials) for f in sorted({t.user_attrs.get("family") for t in trials
                                                                           if t.user_attrs.get("family")})},
            "best_cv_roc_auc": round(float(best.value), 4), "best_family": family.name,
            "validation_roc_auc": round(float(auc), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=6000)
    parser.add_argument("--n-validation", type=int, default=2000)
    parser.add_argument("--n-snps", type=int, default=6000)
    parser.add_argument("--timeout", type=float, default=420.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=1, help="Dask workers of each of the two runs")
    parser.add_argument("--parts", default="timing,compare")
    parser.add_argument("--families", default=",".join(TIMING_FAMILIES), help="timing part: families to time")
    parser.add_argument("--cpu-budget", type=float, default=60.0, help="cpu part: CPU seconds per search")
    parser.add_argument("--mode", default="on", help="cpu part: the --fidelity of this search (on or off)")
    args = parser.parse_args()
    parts = args.parts.split(",")
    data, sim = prepare(args.n_train, args.n_validation, args.n_snps, args.seed)
    truth = json.loads((sim / "truth.json").read_text())
    previous = RESULTS / "fidelity.json"
    result: dict[str, Any] = {}
    cohort = {"n_train": args.n_train, "n_validation": args.n_validation, "n_snps_simulated": args.n_snps,
              "n_snps_after_munge": int(json.loads((data / "manifest.json").read_text())["n_variants"]),
              "h2": 0.4, "n_causal": 200, "task": "binary", "seed": args.seed,
              "expected_auc_with_covariates": truth.get("expected", {}).get("expected_auc_with_covariates")}
    if "timing" in parts:
        started = time.perf_counter()
        result.setdefault("timing", {})[f"{args.n_train}x{args.n_snps}"] = timing = {"cohort": cohort, "load_average_before": list(os.getloadavg()),
                            "families": family_timing(data, args.seed, tuple(args.families.split(",")))}
        timing["seconds"] = round(time.perf_counter() - started, 1)
        timing["load_average_after"] = list(os.getloadavg())
    if "compare" in parts:
        result.setdefault("compare", {})[f"{args.n_train}x{args.n_snps}"] = {
            "cohort": cohort, "workers": args.workers, "runs": compare(data, sim, args.timeout, args.seed, args.workers)}
    if "cpu" in parts:  # one arm per process: start `--mode on` and `--mode off` together
        validation = OUT / f"run-{data.name}-off-{args.seed}" / "validation_dataset"  # munged --like by `compare`
        result["cpu"] = {f"{args.n_train}x{args.n_snps}-{args.mode}": {
            "cohort": cohort, **cpu_budget_search(data, validation, args.mode, args.cpu_budget, args.seed)}}
    latest = json.loads(previous.read_text()) if previous.is_file() else {}  # another part may have finished
    for part in ("timing", "compare", "cpu"):
        result[part] = {**latest.get(part, {}), **result.get(part, {})}
    for key, timing in result["timing"].items():  # a rerun of some families replaces only their rows
        old = latest.get("timing", {}).get(key, {}).get("families", [])
        names = {row["family"] for row in timing.get("families", [])}
        timing["families"] = [row for row in old if row["family"] not in names] + timing.get("families", [])
    print(write_result("fidelity", result))


if __name__ == "__main__":
    main()
