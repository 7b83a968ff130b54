"""The final refit of a `lasso_path` model on one thread and on every CPU (what `run` now does once the Dask
workers are gone).

On a genome-wide cohort of ``benchmarks.genomewide`` (default: the 10,000 x 60,000 sparse binary one, munged
with the defaults; run that benchmark first), the lasso path (``l1_ratio`` 1, all QC'd SNPs) refitted on all
training samples down to the penalty its CV chose in that run's search, from the int8 genotypes, with adelie on
1 thread and on ``available_threads()``. Records wall seconds, the coefficients' largest difference and both
fits' validation AUC.

    python -m benchmarks.refit_threads [--cohort binary-sparse-n10000]

Result: benchmarks/results/refit_threads.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np

from benchmarks.common import WORK, write_result


def refit(design: Any, y: np.ndarray, lambda_index: int, n_jobs: int) -> tuple[Any, float]:
    """The lasso path refitted down to ``lambda_index`` with ``n_jobs`` adelie threads; (model, seconds)."""
    from genoml_search.search.families.paths import PenalizedPathModel

    started = time.perf_counter()
    model = PenalizedPathModel(task="binary", l1_ratio=1.0, lambda_index=lambda_index,
                               n_covariates=design.n_covariates, n_jobs=n_jobs).fit(design, y)
    return model, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", default="binary-sparse-n10000")
    args = parser.parse_args()
    from genoml_search.core.features import features_from_dataset
    from genoml_search.core.metrics import get_metric
    from genoml_search.data.dataset import Dataset
    from genoml_search.ensemble.parallel import available_threads
    from genoml_search.search.paths import Design

    work = WORK / "genomewide" / args.cohort
    metrics = json.loads((work / "run" / "metrics.json").read_text())
    if metrics["cv"]["best_family"] != "lasso_path":
        raise SystemExit(f"{args.cohort}: the run's final trial is {metrics['cv']['best_family']}, not lasso_path")
    import optuna

    storage = f"sqlite:///{work / 'run' / 'study.db'}"
    study = optuna.load_study(study_name=metrics["study"], storage=storage)
    lambda_index = int(study.trials[metrics["cv"]["best_trial"]].user_attrs["path"]["lambda_index"])
    train = features_from_dataset(Dataset.open(work / "dataset_all"))
    valid = features_from_dataset(Dataset.open(work / "validation_all"))
    design = Design(train.genotypes, train.covariates, np.arange(len(train.y)))
    v_design = Design(valid.genotypes, valid.covariates, np.arange(len(valid.y)))
    auc = get_metric("roc_auc", "binary")
    threads = available_threads()
    records = {}
    coefficients = {}
    for n_jobs in (1, threads):
        load = os.getloadavg()[0]
        model, seconds = refit(design, train.y, lambda_index, n_jobs)
        coefficients[n_jobs] = model.raw_coef_
        records[str(n_jobs)] = {"seconds": round(seconds, 2), "load_before": round(load, 2),
                                "validation_auc": float(auc.compute(valid.y, model.predict_proba(v_design)[:, 1]))}
        print(n_jobs, records[str(n_jobs)], flush=True)
    speedup = records["1"]["seconds"] / records[str(threads)]["seconds"]
    write_result("refit_threads", {
        "benchmark": "refit_threads", "cohort": args.cohort, "n_samples": int(len(train.y)),
        "n_snps": int(design.n_snps), "lambda_index": lambda_index, "threads": threads, "runs": records,
        "max_coefficient_difference": float(np.max(np.abs(coefficients[1] - coefficients[threads]))),
        "summary": [{"what": f"lasso_path refit on {len(train.y):,} x {design.n_snps:,} SNPs, 1 vs {threads} threads",
                     "result": f"{records['1']['seconds']:.1f} s vs {records[str(threads)]['seconds']:.1f} s "
                               f"({speedup:.2f}x)", "target": "the refit uses the CPUs the idle workers left"}]})


if __name__ == "__main__":
    main()
