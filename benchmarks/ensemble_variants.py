"""Greedy-selection variants compared on CV only (issue #21): the nested CV estimate of each variant on the
stored out-of-fold predictions of the benchmark's runs, against the best single trial's CV score.

    python -m benchmarks.ensemble_variants --label before

Reads the studies and artifact stores that ``benchmarks/ensemble.py --label LABEL`` left under
benchmarks/work/ensemble/LABEL/; refits nothing and never reads the validation samples, so choosing the
default variant from this comparison does not look at the validation scores the benchmark reports.
Results: benchmarks/results/ensemble_variants.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import WORK, write_result

VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {"method": "greedy", "greedy": {}},
    "init5": {"method": "greedy", "greedy": {"init_size": 5}},
    "bagged20": {"method": "greedy", "greedy": {"n_bags": 20}},
    "init5_bagged20": {"method": "greedy", "greedy": {"init_size": 5, "n_bags": 20}},
    "iterations50": {"method": "greedy", "greedy": {"n_iterations": 50}},
    "stack": {"method": "stack", "greedy": {}},
}


def case_candidates(run_dir: Path) -> tuple[Any, np.ndarray, str, str]:
    """The run's candidates (top 25 trials with OOF predictions), the search samples' targets, task, metric."""
    import optuna

    from genoml_search.core.features import features_from_dataset
    from genoml_search.data.dataset import Dataset
    from genoml_search.ensemble.build import gather_candidates
    from genoml_search.search.oof import artifact_store

    metrics = json.loads((run_dir / "metrics.json").read_text())
    study = optuna.load_study(study_name=metrics["study"], storage=f"sqlite:///{run_dir / 'study.db'}")
    dataset = Dataset.open(run_dir.parent.parent.parent.parent / "ensemble_data" / run_dir.parent.name / "train_ds")
    y = features_from_dataset(dataset, 0).y
    y = y[~np.isnan(y)]
    candidates = gather_candidates(study, artifact_store(run_dir), 25, len(y))
    return candidates, y, metrics["task"], metrics["metric"]


def evaluate(candidates: Any, y: np.ndarray, task: str, metric_name: str) -> dict[str, Any]:
    from genoml_search.core.metrics import get_metric
    from genoml_search.ensemble.build import GreedyOptions, choose_ensemble

    metric = get_metric(metric_name, task)
    sign = 1.0 if metric.greater_is_better else -1.0
    best = float(candidates.trials[0].value)
    row: dict[str, Any] = {"best_single_cv": best, "n_candidates": len(candidates.trials)}
    for name, variant in VARIANTS.items():
        started = time.perf_counter()
        choice = choose_ensemble(candidates, y, task, metric, variant["method"], 0, GreedyOptions(**variant["greedy"]))
        row[name] = {"nested": choice.nested.mean, "optimistic": choice.optimistic.mean,
                     "gain": sign * (choice.nested.mean - best), "n_members": len(choice.trials),
                     "chosen": choice.chosen, "seconds": round(time.perf_counter() - started, 3)}
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="before")
    args = parser.parse_args(argv)
    rows = {}
    for run_dir in sorted((WORK / "ensemble" / args.label).glob("*/run")):
        if not (run_dir / "metrics.json").is_file():
            continue
        candidates, y, task, metric = case_candidates(run_dir)
        if len(candidates.trials) < 2:
            continue
        rows[run_dir.parent.name] = evaluate(candidates, y, task, metric)
        print(run_dir.parent.name, {k: round(v["gain"], 4) for k, v in rows[run_dir.parent.name].items()
                                     if isinstance(v, dict)}, flush=True)
    totals = {name: {"mean_nested_gain": float(np.mean([r[name]["gain"] for r in rows.values()])),
                     "n_nested_above_best_single": sum(r[name]["gain"] > 0 for r in rows.values()),
                     "mean_seconds": float(np.mean([r[name]["seconds"] for r in rows.values()]))}
              for name in VARIANTS}
    print(json.dumps(totals, indent=1))
    write_result("ensemble_variants", {"label": args.label, "variants": VARIANTS, "cases": rows, "totals": totals})


if __name__ == "__main__":
    main()
