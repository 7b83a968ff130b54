"""Pruners and samplers on the bundled example: best CV score reached against wall time.

For each (sampler, pruner) setting and seed, a fresh study of ``--trials`` trials runs through the real engine
(central driver, Dask LocalCluster of ``--workers`` single-thread workers, the real CV objective with in-fold
preprocessing and the SNP p-value filter, per-fold pruning) on examples/genoml2-discrete/training, munged with
the default QC and LD pruning, minus the 20 % hold-out split that `run` keeps for validation. Recorded per run:
wall time, best CV ROC-AUC, the hold-out ROC-AUC of the best trial refitted on the search samples, trials
pruned, and the best-so-far trajectory over time.

    python -m benchmarks.pruning [--trials 40] [--seeds 2] [--workers 1] [--settings tpe:none,tpe:median,...]

Writes benchmarks/results/pruning.json and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import optuna

from genoml_search import __version__
from genoml_search.data.dataset import Dataset
from genoml_search.execute.cluster import ClusterOptions, dask_client
from genoml_search.execute.driver import run_trials
from genoml_search.core.metrics import get_metric
from genoml_search._run import DEFAULT_FAMILIES, split_search_validation, suggest_trial
from genoml_search.core.features import features_from_dataset
from genoml_search.core.scoring import predict_scores
from genoml_search.search.objective import CVSpec, PruningContext, TrialSpec
from genoml_search.search.pipeline import build_pipeline
from genoml_search.search.registry import get_family
from genoml_search.search.storage import open_storage
from genoml_search.search.study import make_sampler

EXAMPLE = Path("examples/genoml2-discrete")
DATA = Path("benchmarks/data/pruning")
WORK = Path("benchmarks/work/pruning")
RESULT = Path("benchmarks/results/pruning.json")
SETTINGS = ("tpe:none", "tpe:median", "tpe:wilcoxon", "random:none", "random:median")


def dataset() -> Dataset:
    """The bundled example munged with the defaults (built once under benchmarks/data)."""
    target = DATA / "dataset"
    if not (target / "manifest.json").is_file():
        from genoml_search.data.munge import MungeOptions, munge

        munge(MungeOptions(out=target, bfile=str(EXAMPLE / "training"), pheno=str(EXAMPLE / "training_pheno.csv"),
                           covar=str(EXAMPLE / "training_addit.csv")))
    return Dataset.open(target)


def one_run(client, data: Dataset, sampler: str, pruner: str, seed: int, n_trials: int) -> dict:
    """One study from scratch; returns its timings, scores and trajectory."""
    task = "binary"
    metric = get_metric("roc_auc", task)
    y = data.phenotype
    search_index, holdout_index = split_search_validation(y, task, 0.2, 0)
    families = [get_family(name) for name in DEFAULT_FAMILIES if task in get_family(name).tasks]
    db = WORK / f"{sampler}-{pruner}-{seed}.db"
    db.unlink(missing_ok=True)
    storage = open_storage(f"sqlite:///{db.resolve()}")
    study = optuna.create_study(storage=storage, study_name="bench", direction="maximize",
                                sampler=make_sampler(sampler, seed))
    cv = CVSpec(5, 1, 0)

    def make_spec(trial: optuna.Trial, pruning: PruningContext) -> TrialSpec:
        family, params, threshold = suggest_trial(trial, families, task, True)
        return TrialSpec(trial.number, str(data.path.resolve()), data.content_hash, task, metric.name, family,
                         params, threshold, search_index, cv, random_state=seed, pruning=pruning)

    started = time.perf_counter()
    trajectory: list[tuple[float, float]] = []

    def on_result(result, finished: int) -> None:
        if result.value is not None and (not trajectory or result.value > trajectory[-1][1]):
            trajectory.append((round(time.perf_counter() - started, 2), round(result.value, 5)))

    stats = run_trials(study, client, n_trials, make_spec, pruner, on_result=on_result)
    wall = time.perf_counter() - started
    best = study.best_trial
    family = get_family(best.params["family"])
    params = {k.split("__", 1)[1]: v for k, v in best.params.items() if k.startswith(f"{family.name}__")}
    features = features_from_dataset(data)
    model = build_pipeline(family, params, task, features.n_snps, best.params.get("snp_p_threshold", 1.0), seed,
                           n_covariates=features.n_covariates)
    model.fit(features.x[search_index], features.y[search_index])
    holdout_auc = metric.compute(features.y[holdout_index], predict_scores(model, features.x[holdout_index], task))
    folds_run = sum(len(t.intermediate_values) for t in study.trials)
    return {"sampler": sampler, "pruner": pruner, "seed": seed, "wall_seconds": round(wall, 2),
            "best_cv": round(best.value, 5), "best_family": family.name, "holdout_auc": round(holdout_auc, 5),
            "completed": stats.completed, "pruned": stats.pruned, "failed": stats.failed,
            "folds_fitted": folds_run, "trajectory": trajectory}


def summarize(runs: list[dict]) -> list[dict]:
    """Mean over seeds per setting, with time saved against the same sampler without pruning."""
    rows = []
    for setting in dict.fromkeys((r["sampler"], r["pruner"]) for r in runs):
        group = [r for r in runs if (r["sampler"], r["pruner"]) == setting]
        rows.append({"sampler": setting[0], "pruner": setting[1], "runs": len(group),
                     "wall_seconds": float(np.mean([r["wall_seconds"] for r in group])),
                     "best_cv": float(np.mean([r["best_cv"] for r in group])),
                     "holdout_auc": float(np.mean([r["holdout_auc"] for r in group])),
                     "pruned": float(np.mean([r["pruned"] for r in group])),
                     "folds_fitted": float(np.mean([r["folds_fitted"] for r in group]))})
    for row in rows:
        base = next((b for b in rows if b["sampler"] == row["sampler"] and b["pruner"] == "none"), None)
        row["time_saved"] = None if base is None else 1.0 - row["wall_seconds"] / base["wall_seconds"]
    return rows


def table(rows: list[dict]) -> str:
    """The markdown table of the summary."""
    lines = ["| sampler | pruner | wall s | time saved vs no pruning | trials pruned | folds fitted "
             "| best CV AUC | hold-out AUC of best |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        saved = "" if r["time_saved"] is None else f"{100 * r['time_saved']:.0f} %"
        lines.append(f"| {r['sampler']} | {r['pruner']} | {r['wall_seconds']:.0f} | {saved} | {r['pruned']:.1f} "
                     f"| {r['folds_fitted']:.0f} | {r['best_cv']:.4f} | {r['holdout_auc']:.4f} |")
    return "\n".join(lines)


def main() -> None:
    """Run every setting for every seed and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    settings = [tuple(s.split(":")) for s in args.settings.split(",")]
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path.cwd()), os.environ.get("PYTHONPATH")]))
    data = dataset()
    runs = []
    started = time.perf_counter()
    with dask_client(ClusterOptions(workers=args.workers)) as client:
        for seed in range(args.seeds):  # seeds outermost: machine-load drift spreads over all settings
            for sampler, pruner in settings:
                run = one_run(client, data, sampler, pruner, seed, args.trials)
                runs.append(run)
                print(f"{sampler}:{pruner} seed {seed}: {run['wall_seconds']:.0f} s, best CV {run['best_cv']:.4f}, "
                      f"hold-out {run['holdout_auc']:.4f}, pruned {run['pruned']}", flush=True)
    rows = summarize(runs)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    payload = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                           "load_average": os.getloadavg()},
               "versions": {"genoml_search": __version__, "optuna": optuna.__version__},
               "setup": {"trials": args.trials, "seeds": args.seeds, "workers": args.workers,
                         "families": list(DEFAULT_FAMILIES), "folds": 5,
                         "total_seconds": round(time.perf_counter() - started, 1)},
               "summary": rows, "runs": runs}
    RESULT.write_text(json.dumps(payload, indent=2) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
