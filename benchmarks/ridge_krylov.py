"""The `ridge_path` trial by Lanczos passes (search/krylov_ridge.py): time, passes and memory on one thread, and
its CV curve against the exact path through the Gram matrices.

On genome-wide cohorts of ``benchmarks.genomewide`` (munged with ``--skip-prune``; run that benchmark's
``prepare`` first), the search's 5 folds of all training samples: the whole trial's Lanczos part
(``krylov_paths``: every fold's subspace, all folds advanced by the same passes) timed with BLAS on one thread
(a search worker's setting), each pass's seconds and width, the Ritz basis sizes, the held-out scores along
the 31 penalties, and the process's peak RSS. With ``--exact`` the same folds through the Gram matrices
(``fold_kernel`` + ``RidgePath``, the path below ``KRYLOV_FROM`` rows per fold): their time, their CV curve and
the largest difference of the held-out scores at each penalty, relative to the exact scores' sd.

    python -m benchmarks.ridge_krylov --cohort binary-polygenic --exact
    python -m benchmarks.ridge_krylov --cohort binary-polygenic-n10000

Result: benchmarks/results/ridge_krylov.json (one record per cohort, kept across invocations).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, WORK, write_result


def measure(cohort: str, exact: bool) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from genoml_search.core.features import features_from_dataset
    from genoml_search.core.metrics import DEFAULT_METRIC, get_metric
    from genoml_search.data.dataset import Dataset
    from genoml_search.search import kernel_ridge as kr
    from genoml_search.search import krylov_ridge as kry
    from genoml_search.search.objective import CVSpec, make_folds
    from genoml_search.search.paths import Design

    dataset = Dataset.open(WORK / "genomewide" / cohort / "dataset_all")
    task = str(dataset.task)
    train = features_from_dataset(dataset)
    design = Design(train.genotypes, train.covariates, np.arange(len(train.y)))
    folds = make_folds(train.y, task, CVSpec(5, 1, 0))
    metric = get_metric(DEFAULT_METRIC[task], task)
    lambdas = kr.penalties(design.n_snps)
    y_fit = kr.target(train.y, task)
    passes: list[tuple[int, float]] = []
    multiply = kry.FoldPasses.multiply

    def timed(self: Any, v: np.ndarray, fold_of_column: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        product = multiply(self, v, fold_of_column)
        passes.append((int(v.shape[1]), time.perf_counter() - started))
        return product

    kry.FoldPasses.multiply = timed  # type: ignore[method-assign]
    load = os.getloadavg()[0]
    with threadpool_limits(1):
        started = time.perf_counter()
        paths = kry.krylov_paths(design, y_fit, folds, lambdas, task == "binary")
        krylov_seconds = time.perf_counter() - started
        started = time.perf_counter()
        krylov_scores = [kr.scores_along_path(path, kernel, task, lambdas) for path, kernel in paths]
        scoring_seconds = time.perf_counter() - started
        curve = np.mean([[metric.compute(train.y[test], s) for s in scores]
                         for scores, (_, test) in zip(krylov_scores, folds)], axis=0)
        record: dict[str, Any] = {
            "task": task, "n_samples": len(train.y), "n_snps": design.n_snps, "threads": 1,
            "load_before": round(load, 2), "metric": metric.name,
            "krylov": {"seconds": round(krylov_seconds, 1), "scoring_seconds": round(scoring_seconds, 1),
                       "passes": len(passes), "pass_widths": [w for w, _ in passes],
                       "pass_seconds": [round(s, 2) for _, s in passes],
                       "seconds_per_cell_pass_5_columns": float(f"{np.median([s for w, s in passes if w <= 5]) / (len(train.y) * design.n_snps):.3g}"),
                       "basis_sizes": [len(path.s) for path, _ in paths],
                       "cv_curve": [round(float(x), 5) for x in curve],
                       "best_index": int(np.argmax(curve) if metric.greater_is_better else np.argmin(curve)),
                       "best_cv": round(float(curve.max() if metric.greater_is_better else curve.min()), 5)},
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "int8_matrix_mib": round(len(train.y) * design.n_snps / 2**20, 1)}
        if exact:
            started = time.perf_counter()
            exact_scores = []
            for train_rows, test_rows in folds:
                kernel = kr.fold_kernel(design, train_rows, test_rows)
                path = kr.RidgePath(kernel.k_fit, kernel.c_fit, y_fit[train_rows])  # type: ignore[arg-type]
                exact_scores.append(kr.scores_along_path(path, kernel, task, lambdas))
            exact_curve = np.mean([[metric.compute(train.y[test], s) for s in scores]
                                   for scores, (_, test) in zip(exact_scores, folds)], axis=0)
            differences = np.max([[float(np.abs(a - b).max() / np.std(a)) for a, b in zip(e, k)]
                                  for e, k in zip(exact_scores, krylov_scores)], axis=0)
            record["exact"] = {"seconds": round(time.perf_counter() - started, 1),
                               "cv_curve": [round(float(x), 5) for x in exact_curve],
                               "best_index": int(np.argmax(exact_curve) if metric.greater_is_better
                                                 else np.argmin(exact_curve)),
                               "best_cv": round(float(exact_curve.max() if metric.greater_is_better
                                                      else exact_curve.min()), 5)}
            record["relative_score_difference_per_penalty"] = [float(f"{d:.2g}") for d in differences]
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", default="binary-polygenic")
    parser.add_argument("--exact", action="store_true", help="also the exact path on the same folds")
    args = parser.parse_args()
    path = RESULTS / "ridge_krylov.json"
    cohorts = json.loads(path.read_text())["cohorts"] if path.is_file() else {}
    cohorts[args.cohort] = measure(args.cohort, args.exact)
    print(json.dumps(cohorts[args.cohort])[:1500], flush=True)
    summary = []
    for name, record in cohorts.items():
        k = record["krylov"]
        line = (f"{k['seconds']:.0f} s on one thread ({k['passes']} passes, {k['seconds_per_cell_pass_5_columns']:.2g} s "
                f"per genotype cell and pass), best CV {record['metric']} {k['best_cv']}, peak RSS "
                f"{record['peak_rss_mib'] / record['int8_matrix_mib']:.1f}x the int8 matrix")
        if "exact" in record:
            line += (f"; exact path {record['exact']['seconds']:.0f} s, best CV {record['exact']['best_cv']} "
                     f"(index {record['exact']['best_index']} vs {k['best_index']})")
        summary.append({"what": f"ridge_path trial by Lanczos passes, {name} ({record['n_samples']:,} x "
                                f"{record['n_snps']:,} SNPs, 5 folds)", "result": line,
                        "target": "a polygenic trait's ridge path at ~10,000 samples within a 300 s search"})
    write_result("ridge_krylov", {"protocol": __doc__.split("\n\n")[1], "cohorts": cohorts, "summary": summary})


if __name__ == "__main__":
    main()
