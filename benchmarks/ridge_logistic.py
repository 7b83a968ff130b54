"""What the logistic fit costs `ridge_path` on binary traits: one fold's parts timed on one thread.

On a genome-wide cohort of ``benchmarks.genomewide`` (default: the 3,000 x 60,000 polygenic binary one, munged
with ``--skip-prune``; run that benchmark first), the first of the search's 5 folds: the Gram matrices from the
int8 genotypes (``fold_kernel``), the covariate-projected eigendecomposition (``RidgePath``) and the logistic
path over the 31 penalties (``LogisticRidgePath``, warm-started down the grid), each timed with BLAS on one
thread (a search worker's setting); the L-BFGS iterations per penalty and the fold's held-out AUC at each.

    python -m benchmarks.ridge_logistic [--cohort binary-polygenic]

Result: benchmarks/results/ridge_logistic.json.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from benchmarks.common import WORK, write_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", default="binary-polygenic")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    from genoml_search.core.features import features_from_dataset
    from genoml_search.core.metrics import get_metric
    from genoml_search.data.dataset import Dataset
    from genoml_search.search import kernel_ridge as kr
    from genoml_search.search.objective import CVSpec, make_folds
    from genoml_search.search.paths import Design

    train = features_from_dataset(Dataset.open(WORK / "genomewide" / args.cohort / "dataset_all"))
    design = Design(train.genotypes, train.covariates, np.arange(len(train.y)))
    fit, held = make_folds(train.y, "binary", CVSpec(5, 1, 0))[0]
    auc = get_metric("roc_auc", "binary")
    load = os.getloadavg()[0]
    seconds = {}
    with threadpool_limits(1):
        started = time.perf_counter()
        kernel = kr.fold_kernel(design, fit, held)
        seconds["gram"] = time.perf_counter() - started
        started = time.perf_counter()
        path = kr.RidgePath(kernel.k_fit, kernel.c_fit, kr.target(train.y[fit], "binary"))
        seconds["eigendecomposition"] = time.perf_counter() - started
        started = time.perf_counter()
        scores = kr.scores_along_path(path, kernel, "binary", kr.penalties(design.n_snps))
        seconds["logistic_path"] = time.perf_counter() - started
        logistic = kr.LogisticRidgePath(path)
        iterations = []
        for penalty in kr.penalties(design.n_snps):
            logistic.solve(penalty)
            iterations.append(logistic.iterations[-1])
    curve = [round(float(auc.compute(train.y[held], s)), 4) for s in scores]
    rounded = {k: round(v, 2) for k, v in seconds.items()}
    share = seconds["logistic_path"] / sum(seconds.values())
    print(rounded, iterations, flush=True)
    write_result("ridge_logistic", {
        "benchmark": "ridge_logistic", "cohort": args.cohort, "n_fit": int(len(fit)), "n_held_out": int(len(held)),
        "n_snps": int(design.n_snps), "threads": 1, "load_before": round(load, 2), "seconds": rounded,
        "iterations_per_penalty": iterations, "held_out_auc_per_penalty": curve,
        "summary": [{"what": f"ridge_path fold on {len(fit):,} x {design.n_snps:,} SNPs, one thread: "
                             "Gram / eigendecomposition / logistic path over 31 penalties",
                     "result": f"{rounded['gram']:.1f} s / {rounded['eigendecomposition']:.1f} s / "
                               f"{rounded['logistic_path']:.1f} s ({share:.0%} of the fold; "
                               f"{min(iterations)}-{max(iterations)} L-BFGS iterations per penalty)",
                     "target": "the logistic fit a small part of a binary ridge_path trial"}]})


if __name__ == "__main__":
    main()
