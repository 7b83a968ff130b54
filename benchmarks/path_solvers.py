"""Which solver fits lasso paths for `lasso_path`: adelie against glum, skglm, celer and scikit-learn.

Same simulated cohort, same 5 folds, same rule for every solver: per fold a lasso path (penalty from
lambda_max down to 1 % of it) on the fold's training part, each penalty scored on the held-out part, the
penalty with the best mean CV score refitted on all training samples and scored on the unrelated validation
cohort. Measured: wall time (CV + refit), peak RSS of the solver's own process beyond its baseline (after
imports and opening the dataset) relative to the int8 genotype matrix, validation ROC-AUC / R2.

- ``adelie``: what ``lasso_path`` runs (genoml_search.search.path_cv / paths): 100 penalties, int8 genotypes
  standardized on the fly, covariates unpenalized, early stopping after 10 penalties without improvement.
- the others get a float64 standardized copy of each fold (what they need) and a 30-penalty grid with warm
  starts and the same early stopping (5 penalties); covariates are penalized columns like SNPs (their APIs,
  except glum's P1, have no penalty factors; kept equal for comparability).

    nice python -m benchmarks.path_solvers --train DATASET --validation DATASET --task binary [--snps 10000]

Each solver runs in its own process (``--one SOLVER``) so its peak memory is its own; a solver that passes
``--budget`` seconds stops its path where it is (recorded as ``timed_out``).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

SOLVERS = ("adelie", "glum", "skglm", "celer", "sklearn")
GRID = 30
GRID_PATIENCE = 5


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_mib() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def load(path: str, n_snps: int | None) -> tuple[Any, np.ndarray, np.ndarray]:
    from genoml_search.data.dataset import Dataset
    from genoml_search.core.features import features_from_dataset

    data = features_from_dataset(Dataset.open(path))
    genotypes = data.genotypes if n_snps is None else data.genotypes[:, :n_snps]
    return genotypes, data.covariates, data.y


def standardized(genotypes: Any, covariates: np.ndarray, rows: np.ndarray,
                 stats: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, tuple]:
    """A float64 standardized copy of some rows (missing -> mean), with the means/sds of ``stats`` or its own."""
    x = np.hstack([np.asarray(genotypes[rows]).astype(np.float64), covariates[rows].astype(np.float64)])
    x[x < -1] = np.nan
    if stats is None:
        mean = np.nan_to_num(np.nanmean(x, axis=0))
        x = np.where(np.isnan(x), mean, x)
        sd = x.std(axis=0)
        stats = (mean, np.where(sd > 0, sd, 1.0))
    else:
        x = np.where(np.isnan(x), stats[0], x)
    x -= stats[0]
    x /= stats[1]
    return x, stats


def make_model(solver: str, task: str, alpha: float, n_covariates: int, n_columns: int) -> Any:
    """One penalized model at ``alpha`` (lasso scale: mean loss + alpha * |beta|_1), warm-startable."""
    if solver == "sklearn":
        from sklearn.linear_model import Lasso, LogisticRegression

        if task == "regression":
            return Lasso(alpha=alpha, warm_start=True, max_iter=2000, tol=1e-4)
        return LogisticRegression(C=1.0, l1_ratio=1.0, solver="saga", warm_start=True,
                                  max_iter=300, tol=1e-3)
    if solver == "celer":
        from celer import Lasso, LogisticRegression

        if task == "regression":
            return Lasso(alpha=alpha, warm_start=True, tol=1e-4)
        return LogisticRegression(C=1.0, warm_start=True, tol=1e-4)
    if solver == "skglm":
        from skglm import Lasso, SparseLogisticRegression

        if task == "regression":
            return Lasso(alpha=alpha, warm_start=True, tol=1e-4)
        return SparseLogisticRegression(alpha=alpha, warm_start=True, tol=1e-4)
    if solver == "glum":
        from glum import GeneralizedLinearRegressor

        p1 = np.ones(n_columns)
        p1[n_columns - n_covariates :] = 0.0
        return GeneralizedLinearRegressor(family="normal" if task == "regression" else "binomial", alpha=alpha,
                                          l1_ratio=1.0, P1=p1, warm_start=True, gradient_tol=1e-4)
    raise ValueError(solver)


def set_alpha(model: Any, solver: str, task: str, alpha: float, n: int) -> None:
    """Set the mean-loss lasso penalty ``alpha`` in the solver's own parameterization."""
    if "C" in model.get_params():  # C multiplies the summed loss: C = 1 / (n alpha)
        model.set_params(C=1.0 / (alpha * n))
    else:
        model.set_params(alpha=alpha)


def predict(model: Any, x: np.ndarray, task: str) -> np.ndarray:
    if task == "regression":
        return np.asarray(model.predict(x), dtype=float)
    if not hasattr(model, "predict_proba"):  # glum: predict is the mean, P(y = 1)
        return np.asarray(model.predict(x), dtype=float)
    return np.asarray(model.predict_proba(x), dtype=float)[:, 1]


def grid_path(solver: str, task: str, genotypes: Any, covariates: np.ndarray, y: np.ndarray,
              folds: list, metric: Any, budget: float, started: float) -> dict[str, Any]:
    """CV of a 30-penalty warm-started grid per fold, then the refit at the best mean position."""
    import warnings

    warnings.filterwarnings("ignore")
    n_cov = covariates.shape[1]
    curves, timed_out = [], False
    for train, test in folds:
        x_train, stats = standardized(genotypes, covariates, train)
        x_test, _ = standardized(genotypes, covariates, test, stats)
        yc = y[train] - y[train].mean()
        lam_max = float(np.max(np.abs(x_train[:, : x_train.shape[1] - n_cov].T @ yc)) / len(train))
        curve: list[float] = []
        model = make_model(solver, task, lam_max, n_cov, x_train.shape[1])
        for alpha in lam_max * np.logspace(0, -2, GRID):
            set_alpha(model, solver, task, alpha, len(train))
            model.fit(x_train, y[train])  # warm-started from the previous penalty
            curve.append(float(metric.compute(y[test], predict(model, x_test, task))))
            if len(curve) - 1 - int(np.argmax(curve)) >= GRID_PATIENCE:
                break
            if time.perf_counter() - started > budget:
                timed_out = True
                break
        curves.append(curve)
        del x_train, x_test
        if timed_out:
            break
    common = min(len(c) for c in curves)
    index = int(np.argmax(np.mean([c[:common] for c in curves], axis=0)))
    return {"curves": curves, "index": index, "timed_out": timed_out}


def cmsa_scores(models: list, genotypes: Any, covariates: np.ndarray, task: str) -> np.ndarray:
    """CMSA (bigstatsr): the mean of the fold models' linear predictors, each at its fold's best penalty."""
    from genoml_search.search.paths import scores_from_eta

    n_snps = genotypes.shape[1]
    etas = []
    for coef, intercept, fill in models:
        active = np.flatnonzero(coef[:, 0])
        snp, cov = active[active < n_snps], active[active >= n_snps]
        values = np.asarray(genotypes[:, snp]).astype(np.float64)
        values = np.where(values < 0, fill[snp], values)
        cov_values = np.where(np.isnan(covariates[:, cov - n_snps]), fill[cov], covariates[:, cov - n_snps])
        etas.append(intercept[0] + values @ coef[snp, 0] + cov_values @ coef[cov, 0])
    return scores_from_eta(np.mean(etas, axis=0)[:, None], task)


def run_one(solver: str, args: argparse.Namespace) -> dict[str, Any]:
    """Time, memory and validation score of one solver on the cohort."""
    from genoml_search.core.metrics import get_metric
    from genoml_search.search.objective import CVSpec, make_folds

    task = args.task
    metric = get_metric("roc_auc" if task == "binary" else "r2", task)
    genotypes, covariates, y = load(args.train, args.snps)
    v_genotypes, v_covariates, v_y = load(args.validation, args.snps)
    if solver == "adelie":
        import adelie  # noqa: F401  (imported before the baseline like the others' modules)
    else:
        make_model(solver, task, 1.0, covariates.shape[1], 10)
    np.asarray(genotypes).sum()  # touch the int8 map so the baseline holds it, for every solver alike
    baseline = current_mib()
    folds = make_folds(y, task, CVSpec(5, 1, 0))
    started = time.perf_counter()
    if solver == "adelie":
        from genoml_search.search.families.paths import PenalizedPathModel
        from genoml_search.search.path_cv import cross_validate_path
        from genoml_search.search.paths import Design

        design = Design(genotypes, covariates, np.arange(len(y)))
        cv = cross_validate_path(design, y, folds, task, metric.compute, True, 1.0, keep_fold_models=True)
        cmsa_seconds = time.perf_counter() - started
        cmsa = cmsa_scores(cv.fold_models, v_genotypes, v_covariates, task)
        model = PenalizedPathModel(task=task, lambda_index=cv.lambda_index, n_covariates=covariates.shape[1])
        model.fit(design, y)
        scores = predict(model, Design(v_genotypes, v_covariates, np.arange(len(v_y))), task)
        record = {"cv_score": cv.value, "lambda_index": cv.lambda_index, "path_lengths": [len(c) for c in cv.curves],
                  "n_snps_selected": int(np.count_nonzero(model.raw_coef_[: design.n_snps])), "timed_out": False,
                  "cmsa_validation_score": round(float(metric.compute(v_y, cmsa)), 4),
                  "cmsa_seconds": round(cmsa_seconds, 2)}
    else:
        found = grid_path(solver, task, genotypes, covariates, y, folds, metric, args.budget, started)
        x_all, stats = standardized(genotypes, covariates, np.arange(len(y)))
        n_cov = covariates.shape[1]
        lam_max = float(np.max(np.abs(x_all[:, : x_all.shape[1] - n_cov].T @ (y - y.mean()))) / len(y))
        model = make_model(solver, task, lam_max, n_cov, x_all.shape[1])
        set_alpha(model, solver, task, lam_max * np.logspace(0, -2, GRID)[found["index"]], len(y))
        model.fit(x_all, y)
        del x_all
        x_val, _ = standardized(v_genotypes, v_covariates, np.arange(len(v_y)), stats)
        scores = predict(model, x_val, task)
        coef = np.ravel(model.coef_)
        cv_curves = found["curves"]
        common = min(len(c) for c in cv_curves)
        record = {"cv_score": float(np.mean([c[found["index"]] for c in cv_curves if len(c) > found["index"]])),
                  "lambda_index": found["index"], "path_lengths": [len(c) for c in cv_curves],
                  "n_snps_selected": int(np.count_nonzero(coef[: len(coef) - n_cov])),
                  "timed_out": found["timed_out"], "common_positions": common}
    seconds = time.perf_counter() - started
    int8_mib = genotypes.shape[0] * genotypes.shape[1] / 2**20
    return {"solver": solver, "task": task, "seconds": round(seconds, 2),
            "validation_score": round(float(metric.compute(v_y, scores)), 4),
            "metric": metric.name, "baseline_rss_mib": round(baseline, 1), "peak_rss_mib": round(peak_mib(), 1),
            "extra_peak_over_int8": round((peak_mib() - baseline) / int8_mib, 2), "int8_mib": round(int8_mib, 1),
            "n_samples": int(len(y)), "n_snps": int(genotypes.shape[1]), **record}


def table(path: Path) -> str:
    """The results file as a markdown table (docs/families.md)."""
    lines = ["| cohort | SNPs | solver | seconds | validation | CV | SNPs kept | peak RSS beyond baseline / int8 |",
             "|---|---|---|---|---|---|---|---|"]
    for run in json.loads(path.read_text())["runs"]:
        for r in run["records"]:
            if "error" in r:
                lines.append(f"| {run['task']} | {run['n_snps'] or 'all'} | {r['solver']} | failed: {r['error']} ||||")
                continue
            stopped = " (budget hit: path cut short)" if r.get("timed_out") else ""
            cmsa = f"; CMSA {r['cmsa_validation_score']}" if "cmsa_validation_score" in r else ""
            lines.append(f"| {run['task']} {Path(run['train']).name} | {r['n_snps']} | {r['solver']} | "
                         f"{r['seconds']}{stopped} | {r['metric']} {r['validation_score']}{cmsa} | "
                         f"{r['cv_score']:.4f} | {r['n_snps_selected']} | {r['extra_peak_over_int8']}x "
                         f"({r['peak_rss_mib'] - r['baseline_rss_mib']:.0f} MiB) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--validation", required=True)
    parser.add_argument("--task", choices=("binary", "regression"), required=True)
    parser.add_argument("--snps", type=int, default=None, help="use only the first N SNPs")
    parser.add_argument("--budget", type=float, default=240.0, help="seconds per solver before it stops")
    parser.add_argument("--solvers", default=",".join(SOLVERS))
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--table", action="store_true", help="print the results file as a markdown table")
    parser.add_argument("--out", default="benchmarks/results/path_solvers.json")
    if "--table" in sys.argv:
        print(table(Path("benchmarks/results/path_solvers.json")))
        return
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args)))
        return
    records = []
    for solver in args.solvers.split(","):
        argv = [sys.executable, "-m", "benchmarks.path_solvers", "--one", solver, *sys.argv[1:]]
        load_before = os.getloadavg()[0]
        done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if done.returncode != 0:
            records.append({"solver": solver, "task": args.task, "error": done.stderr.strip().splitlines()[-1:]})
        else:
            records.append({**json.loads(done.stdout.strip().splitlines()[-1]),
                            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)})
        print(json.dumps(records[-1]), flush=True)
    from benchmarks.common import write_result

    out = Path(args.out)
    previous = json.loads(out.read_text()).get("runs", []) if out.is_file() else []
    same = [r for r in previous
            if r.get("task") == args.task and r.get("n_snps") == args.snps and r.get("train") == args.train]
    kept = [r for r in (same[0]["records"] if same else []) if r["solver"] not in {x["solver"] for x in records}]
    runs = [r for r in previous if r not in same] + [
        {"task": args.task, "n_snps": args.snps, "train": args.train, "records": kept + records}]
    write_result(out.stem, {"protocol": __doc__.split("\n\n")[1], "runs": runs, "summary": summary(runs)})


def summary(runs: list[dict]) -> list[dict]:
    """One README row per cohort: every solver's time, validation score and memory."""
    rows = []
    for run in runs:
        done = [r for r in run["records"] if "error" not in r]
        if not done:
            continue
        first = done[0]
        parts = [f"{r['solver']} {r['seconds']:.0f} s{' (cut)' if r.get('timed_out') else ''}, "
                 f"{r['metric']} {r['validation_score']:.3f}, {r['extra_peak_over_int8']}x" for r in done]
        rows.append({"what": f"{run['task']} {Path(run['train']).name}, {first['n_samples']:,} x "
                             f"{first['n_snps']:,}: lasso path, 5-fold CV + refit (time, validation, peak RSS "
                             "beyond baseline / int8)",
                     "result": "; ".join(parts),
                     "target": "path family >= 5x faster than scikit-learn at equal validation; <= 1.5x int8"})
    return rows


if __name__ == "__main__":
    main()
