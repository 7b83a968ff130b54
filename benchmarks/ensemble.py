"""Ensembles of the best trials (issue #21): validation score of the ensemble vs the best single trial, the wall
time the ensemble step adds to a run, and the cost of storing each trial's out-of-fold predictions.

    python -m benchmarks.ensemble            # simulated cohorts + scikit-learn tables, ~10 min on 2 busy cores
    python -m benchmarks.ensemble --quick    # one simulated cohort and one table

Each case is a whole `run` (Python API, 2 local workers, a fixed number of trials, 3-fold CV, greedy ensemble
over the top 25 trials) on a training part, validated on a separate part the search never sees. The run
records both models' validation scores (``validation.ensemble``, ``validation.best_single``) whichever becomes
the final model, and the ensemble step's own seconds (``cv.ensemble.seconds``: selection, nested estimate,
member refits, validation scoring). One standard error of the validation score is taken from the final
model's 95% interval in ``metrics.json`` (DeLong or bootstrap): half-width / 1.96.
Results: ``benchmarks/results/ensemble.json``.
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import WORK, write_result

SIMULATED = [  # name, task, causal SNPs, h2
    ("sim_binary_50", "binary", 50, 0.5),
    ("sim_regression_50", "regression", 50, 0.5),
    ("sim_binary_500", "binary", 500, 0.3),
]
TABLES = ["breast_cancer", "diabetes", "wine"]
METRIC = {"binary": "roc_auc", "multiclass": "roc_auc_ovr", "regression": "r2"}


def simulated_datasets(name: str, task: str, n_causal: int, h2: float, work: Path) -> tuple[Path, Path]:
    """A simulated cohort (1,000 training + 500 validation samples, 2,000 SNPs) munged into two datasets."""
    from genoml_search.data.munge import MungeOptions, munge
    from genoml_search.data.simulate import SimulationSpec, simulate_cohorts

    cohort = work / "cohort"
    simulate_cohorts(SimulationSpec(n_train=1000, n_validation=500, n_snps=2000, h2=h2, n_causal=n_causal,
                                    task=task, seed=1), cohort)
    munge(MungeOptions(out=work / "train_ds", bfile=str(cohort / "train"), pheno=str(cohort / "train_pheno.csv"),
                       covar=str(cohort / "train_covar.csv"), kinship=False))
    munge(MungeOptions(out=work / "val_ds", bfile=str(cohort / "validation"),
                       pheno=str(cohort / "validation_pheno.csv"), covar=str(cohort / "validation_covar.csv"),
                       like=str(work / "train_ds")))
    return work / "train_ds", work / "val_ds"


def table_datasets(name: str, work: Path) -> tuple[Path, Path, str]:
    """A scikit-learn table split 75/25 (benchmarks.tabular's split) munged with --table."""
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


def run_case(train: Path, validation: Path, task: str, work: Path, n_trials: int) -> dict[str, Any]:
    """One run with the greedy ensemble; the numbers the benchmark compares."""
    from genoml_search.execute.cluster import ClusterOptions
    from genoml_search import RunOptions, run

    metric = METRIC[task]
    started = time.perf_counter()
    summary = run(RunOptions(dataset=train, out=work / "run", task=task, metric=metric, n_trials=n_trials, n_folds=3,
                             validation_dataset=validation, validate_top=0, ensemble="greedy",
                             cluster=ClusterOptions(workers=2)))
    wall = time.perf_counter() - started
    m = summary.metrics
    ensemble, validation_ = m["cv"]["ensemble"], m["validation"]
    interval = (validation_.get("intervals") or {}).get(metric) or {}
    se = (interval["high"] - interval["low"]) / (2 * 1.96) if interval else None
    single = validation_["best_single"][metric]
    combined = (validation_.get("ensemble") or {}).get(metric)
    return {
        "task": task, "metric": metric, "n_trials": summary.n_finished, "final_model": m["cv"]["final_model"],
        "reason": ensemble.get("reason"), "cv_best_single": m["cv"][metric], "cv_ensemble_nested": ensemble.get("nested"),
        "cv_ensemble_optimistic": ensemble.get("optimistic"), "validation_best_single": single,
        "validation_ensemble": combined, "validation_se": se,
        "difference": None if combined is None else combined - single,
        "members": [(x["family"], round(x["weight"], 3)) for x in ensemble.get("members", [])],
        "ensemble_seconds": ensemble.get("seconds"), "run_wall_seconds": round(wall, 1),
        "ensemble_share_of_wall": None if ensemble.get("seconds") is None else round(ensemble["seconds"] / wall, 3),
        "oof_stored": summary.stats.oof_stored,
        "oof_bytes_per_trial": round(summary.stats.oof_bytes / max(1, summary.stats.oof_stored)),
        "oof_ms_per_trial": round(1000 * summary.stats.oof_seconds / max(1, summary.stats.oof_stored), 2),
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one simulated cohort and one table")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--summarize-only", action="store_true", help="rewrite the summary of the result file")
    args = parser.parse_args(argv)
    if args.summarize_only:
        import json

        from benchmarks.common import RESULTS

        path = RESULTS / "ensemble.json"
        record = json.loads(path.read_text())
        record.update(summarize(record["cases"], record["oof_storage"]))
        path.write_text(json.dumps(record, indent=2, default=str) + "\n")
        return
    base = WORK / "ensemble"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    cases: list[dict[str, Any]] = []
    for name, task, n_causal, h2 in SIMULATED[:1] if args.quick else SIMULATED:
        work = base / name
        work.mkdir()
        train, validation = simulated_datasets(name, task, n_causal, h2, work)
        cases.append({"case": name, **run_case(train, validation, task, work, args.trials)})
        print(cases[-1], flush=True)
    for name in TABLES[:1] if args.quick else TABLES:
        work = base / name
        work.mkdir()
        train, validation, task = table_datasets(name, work)
        cases.append({"case": name, **run_case(train, validation, task, work, args.trials)})
        print(cases[-1], flush=True)
    storage = oof_storage_cost(base)
    print(storage)
    record = {"cases": cases, "oof_storage": storage,
              "settings": {"trials": args.trials, "folds": 3, "workers": 2, "top_k": 25, "method": "greedy"}}
    record.update(summarize(cases, storage))
    path = write_result("ensemble", record)
    print(record["totals"])
    print(f"wrote {path}")


def summarize(cases: list[dict[str, Any]], storage: list[dict[str, Any]]) -> dict[str, Any]:
    """``totals`` and the README table's ``summary`` rows (what, result, target)."""
    differences = [c["difference"] for c in cases if c["difference"] is not None]
    worse = [c["case"] for c in cases if c["difference"] is not None and c["validation_se"]
             and c["difference"] < -c["validation_se"]]
    shares = [c["ensemble_share_of_wall"] for c in cases if c["ensemble_share_of_wall"] is not None]
    totals = {"mean_difference": float(np.mean(differences)) if differences else None,
              "n_better": int(sum(d > 0 for d in differences)), "n_cases": len(differences),
              "worse_by_more_than_one_se": worse, "max_ensemble_share_of_wall": max(shares) if shares else None,
              "n_final_ensemble": sum(c["final_model"] == "ensemble" for c in cases)}
    rows = [{"what": f"{c['case']} ({c['task']}, {c['n_trials']} trials): validation {c['metric']} ensemble vs best "
                     "single trial; ensemble step's share of the run's wall time",
             "result": (f"{c['validation_ensemble']:.4f} vs {c['validation_best_single']:.4f} "
                        f"({c['difference']:+.4f}, SE {c['validation_se']:.4f}); final: {c['final_model']}; "
                        f"{100 * c['ensemble_share_of_wall']:.1f}% of {c['run_wall_seconds']:.0f} s")
                       if c["difference"] is not None else f"no ensemble: {c['reason']}",
             "target": "never worse by > 1 SE, better on average; <= 15% of wall time"} for c in cases]
    rows.append({"what": "out-of-fold predictions stored per trial (SQLite, file-system artifact store)",
                 "result": "; ".join(f"{r['n_samples']:,} samples: {r['bytes'] / 1000:.0f} KB, {r['ms']:.0f} ms"
                                     for r in storage), "target": "small against a trial"})
    return {"totals": totals, "summary": rows}


if __name__ == "__main__":
    main()
