"""The default search against ridge, lasso and elastic net each tuned by CV on all SNPs (issue #22 targets).

Per cohort (``genoml-search simulate``: training and an unrelated validation cohort, >= 50,000 SNPs), through
the real CLI: ``munge`` with the defaults, ``run --timeout BUDGET`` with the defaults (validation cohort given
to ``run``), and three baselines fitted on ALL QC'd SNPs (``munge --skip-prune``; the validation cohort
``munge --like`` it) plus the covariates, each tuned by 5-fold CV on the training cohort only and scored on
the validation cohort:

- ``lasso`` and ``elastic_net`` (mixing 0.5): glmnet-style paths (adelie, int8 genotypes standardized on the
  fly, 100 penalties from lambda_max to 1 % of it, covariates unpenalized), one path per fold, a fold's path
  stopping only after 20 penalties without a better held-out score (twice the search family's patience),
  the penalty with the best mean CV score refitted on all training samples (cv.glmnet's lambda.min);
- ``ridge``: the kernel trick (n x n Gram matrix of the fold's standardized genotypes, computed from int8
  blocks), covariates unpenalized, the penalty chosen by 5-fold CV over 26 values lambda / M = 0.01..1,000:
  closed form for continuous traits, L2 logistic regression in the Gram matrix's eigenbasis (Newton's method)
  for binary traits (each Newton step by conjugate gradients).

The verdict compares the search's validation score with the best baseline's; ``difference_se`` is the bootstrap
SE of that difference (2,000 resamples of the validation samples, the same for both models), from the
validation scores saved under the cohort's work folder (the search's by ``predict``).

CV scores are ROC-AUC (binary) / R2 (regression), as the search's. Optionally (``--sklearn-l1``, binary
cohorts) the path family alone (``PenalizedPathModel``: its own 5-fold CV + refit) against scikit-learn's
``LogisticRegressionCV(penalty="l1")`` on the same all-SNP data: wall time and validation AUC.

    nice -n 5 python -m benchmarks.genomewide [--only NAME ...] [--search-only] [--baseline NAME ...]
        [--sklearn-l1] [--budget 300]

Resumable: each cohort's record is written to benchmarks/results/genomewide.json as soon as it is finished;
cohorts already there are kept (``--only`` reruns some; ``--search-only`` reruns only their search and keeps
their baselines). Generated data under benchmarks/work/genomewide/.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import RESULTS, ROOT, WORK, checkout_env, cli, timed_command, write_result

N_VALIDATION = 1_000
PREVALENCE = 0.3
BUDGET = 300
BASELINE_PATIENCE = 20
RIDGE_GRID = np.logspace(-2, 3, 26)  # lambda / M; the GBLUP penalty M (1 - h2) / h2 is 1 at h2 0.5, 9 at 0.1
GRAM_BLOCK = 4096
SCORES_KEY = "validation_scores"  # a baseline's scores on the validation cohort, saved apart
TIE_TOLERANCE = 1e-6
"""A tie: the search's final model can be the best baseline's own model (the same path at the same penalty on
the same samples, fitted twice by an iterative solver); their scores then differ at the solver's tolerance
(1.9e-7 R2 on regression-polygenic-n10000, 8e-16 on its replicate), far below any difference the validation
cohort can show (bootstrap SE 0.003-0.004)."""


@dataclass(frozen=True)
class Cohort:
    task: str
    h2: float
    n_causal: int
    n_train: int
    n_snps: int
    seed: int


COHORTS = {
    "binary-sparse": Cohort("binary", 0.5, 100, 3_000, 60_000, 2201),
    "binary-polygenic": Cohort("binary", 0.2, 2_000, 3_000, 60_000, 2202),
    "regression-sparse": Cohort("regression", 0.5, 100, 3_000, 60_000, 2203),
    "regression-polygenic": Cohort("regression", 0.5, 2_000, 3_000, 60_000, 2204),
    "binary-sparse-n10000": Cohort("binary", 0.5, 100, 10_000, 60_000, 2205),
    "binary-polygenic-n10000": Cohort("binary", 0.2, 2_000, 10_000, 60_000, 2206),
    "regression-polygenic-n10000": Cohort("regression", 0.5, 2_000, 10_000, 60_000, 2207),
    # a replicate of the one cohort below its best baseline (2026-12-04): same architecture, another draw
    "regression-polygenic-n10000-b": Cohort("regression", 0.5, 2_000, 10_000, 60_000, 2208),
    # the fourth architecture at 10,000 (2026-12-04): sparse continuous
    "regression-sparse-n10000": Cohort("regression", 0.5, 100, 10_000, 60_000, 2209),
    # tiny cohorts to check the benchmark itself (with --results elsewhere)
    "smoke-binary": Cohort("binary", 0.5, 50, 600, 3_000, 1),
    "smoke-regression": Cohort("regression", 0.5, 50, 600, 3_000, 2),
}
DEFAULT_COHORTS = ("binary-sparse", "binary-polygenic", "regression-sparse", "regression-polygenic")


def metric_name(task: str) -> str:
    return "roc_auc" if task == "binary" else "r2"


def step(argv: list[str], what: str) -> dict[str, Any]:
    """Run one CLI step; its wall time and peak RSS, or an error naming the step."""
    result = timed_command(argv, env=checkout_env(), cwd=ROOT)
    if result["returncode"]:
        raise RuntimeError(f"{what} failed: {result['stderr_tail']}")
    return {"seconds": result["seconds"], "peak_rss_mib": result["peak_rss_mib"]}


def prepare(cohort: Cohort, work: Path, for_search: bool = True) -> dict[str, Any]:
    """Simulate and munge (default dataset for the search unless not ``for_search``, all-QC'd-SNP dataset for
    the baselines); reused."""
    sim = work / "sim"
    timings: dict[str, Any] = {}
    if not (sim / "truth.json").is_file():
        shutil.rmtree(sim, ignore_errors=True)
        timings["simulate"] = step(cli(
            "simulate", "--out", str(sim), "--n-train", str(cohort.n_train), "--n-validation", str(N_VALIDATION),
            "--n-snps", str(cohort.n_snps), "--h2", str(cohort.h2), "--n-causal", str(cohort.n_causal),
            "--task", cohort.task, "--prevalence", str(PREVALENCE), "--seed", str(cohort.seed)), "simulate")
    train = ["--bfile", str(sim / "train"), "--pheno", str(sim / "train_pheno.csv"),
             "--covar", str(sim / "train_covar.csv")]
    valid = ["--bfile", str(sim / "validation"), "--pheno", str(sim / "validation_pheno.csv"),
             "--covar", str(sim / "validation_covar.csv")]
    munges = [("munge_all_snps", cli("munge", *train, "--skip-prune", "--no-kinship", "--pcs", "0",
                                     "--out", str(work / "dataset_all"))),
              ("munge_validation_all_snps", cli("munge", *valid, "--like", str(work / "dataset_all"),
                                                "--out", str(work / "validation_all")))]
    if for_search:
        munges.insert(0, ("munge", cli("munge", *train, "--out", str(work / "dataset"))))
    for name, argv in munges:
        if not (work / argv[argv.index("--out") + 1].split("/")[-1] / "manifest.json").is_file():
            timings[name] = step(argv, name)
    return timings


def study_facts(run: Path) -> dict[str, Any]:
    """Trials by family and state, and every path-family trial (LD mask, l1_ratio, seconds, CV value, path
    facts; the list keeps its old key ``lasso_path_trials``)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{run / 'study.db'}"
    study = optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)
    families: dict[str, dict[str, Any]] = {}
    paths = []
    for trial in study.get_trials(deepcopy=False):
        family = trial.params.get("family", "?")
        row = families.setdefault(family, {"seconds": []})
        row[trial.state.name] = row.get(trial.state.name, 0) + 1
        seconds = ((trial.datetime_complete - trial.datetime_start).total_seconds()
                   if trial.datetime_complete and trial.datetime_start else None)
        if seconds is not None:
            row["seconds"].append(seconds)
        if family in ("lasso_path", "ridge_path"):
            path = trial.user_attrs.get("path") or {}
            paths.append({"number": trial.number, "family": family, "state": trial.state.name, "value": trial.value,
                          "ld_r2": trial.params.get("ld_r2") or trial.user_attrs.get("ld_mask"),
                          "l1_ratio": trial.params.get("lasso_path__l1_ratio"),
                          "seconds": None if seconds is None else round(seconds, 1),
                          "lambda_index": path.get("lambda_index"), "path_lengths": path.get("path_lengths"),
                          "n_snps_selected": path.get("n_snps_selected")})
    for row in families.values():
        seconds = row.pop("seconds")
        row["median_seconds"] = round(float(np.median(seconds)), 1) if seconds else None
    return {"by_family": families, "lasso_path_trials": paths}


def search(cohort: Cohort, work: Path, budget: int) -> dict[str, Any]:
    """``run --timeout BUDGET`` with the defaults on the default dataset, validated on the simulated cohort."""
    sim, out = work / "sim", work / "run"
    shutil.rmtree(out, ignore_errors=True)
    validation_scores_path(work, "search").unlink(missing_ok=True)
    argv = cli("run", str(work / "dataset"), "--out", str(out), "--n-trials", "100000", "--timeout", str(budget),
               "--validation-bfile", str(sim / "validation"), "--validation-pheno", str(sim / "validation_pheno.csv"),
               "--validation-covar", str(sim / "validation_covar.csv"))
    load = os.getloadavg()
    timing = timed_command(argv, env=checkout_env(), cwd=ROOT)
    record: dict[str, Any] = {"budget": budget, "seconds": timing["seconds"], "peak_rss_mib": timing["peak_rss_mib"],
                              "load_before": [round(x, 2) for x in load],
                              "load_after": [round(x, 2) for x in os.getloadavg()],
                              "measured": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if (out / "study.db").is_file():
        record["trials"] = study_facts(out)
    if timing["returncode"]:
        return {**record, "validation": None, "error": timing["stderr_tail"][-600:]}
    metrics = json.loads((out / "metrics.json").read_text())
    name = metric_name(cohort.task)
    predicted = validation_scores_path(work, "search")
    predicted.parent.mkdir(exist_ok=True)
    step(cli("predict", "--model", str(out), "--out", str(predicted), "--bfile", str(sim / "validation"),
             "--covar", str(sim / "validation_covar.csv")), "predict")
    return {**record, "validation": metrics["validation"][name], "cv": metrics["cv"][name],
            "best_family": metrics["cv"]["best_family"], "best_params": metrics["cv"]["best_params"],
            "covariates_only_validation": (metrics["validation"].get("baseline_covariates") or {}).get(name),
            "final_model": metrics["cv"].get("final_model"), "selection": metrics["cv"].get("selection"),
            "ensemble": {k: (metrics["cv"].get("ensemble") or {}).get(k)
                         for k in ("method", "chosen", "reason", "nested", "optimistic", "members",
                                   "refit_projection")},
            "leaderboard": [{k: r.get(k) for k in ("family", "value", "n_complete")} for r in metrics["leaderboard"]],
            "n_snps_dataset": json.loads((work / "dataset" / "manifest.json").read_text()).get("counts", {})}


def load_all(work: Path) -> tuple[Any, Any]:
    from genoml_search.core.features import features_from_dataset
    from genoml_search.data.dataset import Dataset

    return (features_from_dataset(Dataset.open(work / "dataset_all")),
            features_from_dataset(Dataset.open(work / "validation_all")))


def path_baseline(task: str, train: Any, valid: Any, l1_ratio: float) -> dict[str, Any]:
    """cv.glmnet-style: a path per fold (patience BASELINE_PATIENCE), lambda.min refitted, validation score."""
    import genoml_search.search.path_cv as path_cv
    from genoml_search.core.metrics import get_metric
    from genoml_search.search.families.paths import PenalizedPathModel
    from genoml_search.search.objective import CVSpec, make_folds
    from genoml_search.search.paths import Design

    metric = get_metric(metric_name(task), task)
    started = time.perf_counter()
    design = Design(train.genotypes, train.covariates, np.arange(len(train.y)))
    folds = make_folds(train.y, task, CVSpec(5, 1, 0))
    saved, path_cv.PATIENCE = path_cv.PATIENCE, BASELINE_PATIENCE
    try:
        cv = path_cv.cross_validate_path(design, train.y, folds, task, metric.compute, True, l1_ratio)
    finally:
        path_cv.PATIENCE = saved
    model = PenalizedPathModel(task=task, l1_ratio=l1_ratio, lambda_index=cv.lambda_index,
                               n_covariates=train.covariates.shape[1]).fit(design, train.y)
    v_design = Design(valid.genotypes, valid.covariates, np.arange(len(valid.y)))
    scores = model.predict(v_design) if task == "regression" else model.predict_proba(v_design)[:, 1]
    return {"model": f"adelie path, l1_ratio {l1_ratio}, 5-fold CV (lambda.min), refit",
            "validation": float(metric.compute(valid.y, scores)), SCORES_KEY: scores, "cv": cv.value, "lambda_index": cv.lambda_index,
            "lambda_ratio": cv.lambda_ratio, "path_lengths": [len(c) for c in cv.curves],
            "n_snps_selected": int(np.count_nonzero(model.raw_coef_[: design.n_snps])),
            "seconds": round(time.perf_counter() - started, 1)}


def standardizer(genotypes: Any, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-SNP means of the called genotypes on ``rows`` and sds after mean imputation (as the pipelines)."""
    from genoml_search.search.paths import _snp_block_stats

    means, sds = [], []
    for start in range(0, genotypes.shape[1], GRAM_BLOCK):
        mean, sd = _snp_block_stats(np.asarray(genotypes[rows, start : start + GRAM_BLOCK]))
        means.append(mean)
        sds.append(sd)
    sd = np.concatenate(sds)
    return np.concatenate(means), np.where(sd > 0, sd, 1.0)


def standardized_block(genotypes: Any, rows: Any, columns: slice, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """float32 standardized genotypes at ``rows`` x ``columns`` (missing calls at the mean: 0 after centring)."""
    block = np.asarray(genotypes[rows, columns]).astype(np.float32)
    block = np.where(block < 0, mean[columns].astype(np.float32), block)
    return ((block - mean[columns]) / sd[columns]).astype(np.float32)


def grams(genotypes: Any, fit_rows: np.ndarray, other_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z_fit Z_fit' and Z_other Z_fit' for the genotypes standardized with ``fit_rows``' means and sds (int8
    blocks of GRAM_BLOCK columns made float32 one at a time)."""
    mean, sd = standardizer(genotypes, fit_rows)
    k_fit = np.zeros((len(fit_rows), len(fit_rows)))
    k_other = np.zeros((len(other_rows), len(fit_rows)))
    for start in range(0, genotypes.shape[1], GRAM_BLOCK):
        columns = slice(start, start + GRAM_BLOCK)
        z_fit = standardized_block(genotypes, fit_rows, columns, mean, sd)
        k_fit += z_fit @ z_fit.T
        k_other += standardized_block(genotypes, other_rows, columns, mean, sd) @ z_fit.T
    return k_fit, k_other


def with_intercept(covariates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """[1, covariates] with missing covariates filled with the reference rows' means."""
    mean = np.nan_to_num(np.nanmean(reference, axis=0))
    return np.column_stack([np.ones(len(covariates)), np.where(np.isnan(covariates), mean, covariates)])


def ridge_regression_path(k_fit: np.ndarray, k_other: np.ndarray, c_fit: np.ndarray, c_other: np.ndarray,
                          y: np.ndarray, lambdas: np.ndarray) -> list[np.ndarray]:
    """Ridge with unpenalized covariates, predictions for the other rows at each lambda: with P the
    residual-maker of the covariates, beta = X'P (PKP + lambda I)^-1 P y (push-through identity)."""
    q, _ = np.linalg.qr(c_fit)
    project = lambda m: m - q @ (q.T @ m)  # noqa: E731
    kp = project(project(k_fit).T).T
    s, u = np.linalg.eigh(kp)
    s = np.maximum(s, 0.0)
    uy = u.T @ project(y)
    predictions = []
    for lam in lambdas:
        a = project(u @ (uy / (s + lam)))  # P (PKP + lambda I)^-1 P y
        gamma = np.linalg.lstsq(c_fit, y - k_fit @ a, rcond=None)[0]
        predictions.append(c_other @ gamma + k_other @ a)
    return predictions


def ridge_logistic_path(k_fit: np.ndarray, k_other: np.ndarray, c_fit: np.ndarray, c_other: np.ndarray,
                        y: np.ndarray, lambdas: np.ndarray) -> list[np.ndarray]:
    """L2 logistic regression with unpenalized covariates on the summed log-loss + lambda / 2 |beta|^2, solved in
    the Gram matrix's eigenbasis (eta = C g + U S^1/2 w, penalty lambda / 2 |w|^2) by Newton's method to a step
    below 1e-9 (step halving if the loss rises), warm-started from the largest penalty down; P(y = 1) for the
    other rows at each lambda. Each Newton step is solved by preconditioned conjugate gradients on
    Hessian-vector products (O(n r) each) instead of forming and factorizing the r x r Hessian (O(n r^2)): the
    dense steps took more than 77 minutes at 10,000 samples. (Until 2026-12-03 L-BFGS with scipy's default
    relative-decrease stop, which ended short of the optimum: its records are kept as ``earlier_ridge``.)"""
    from scipy.special import expit

    s, u = np.linalg.eigh(k_fit)
    keep = s > 1e-8 * s.max()
    phi = u[:, keep] * np.sqrt(s[keep])
    to_dual = u[:, keep] / np.sqrt(s[keep])  # a = U S^-1/2 w, eta_other = K_other a
    design = np.hstack([c_fit, phi])
    n_c = c_fit.shape[1]
    theta = np.zeros(design.shape[1])
    predictions = []
    for lam in sorted(lambdas, reverse=True):
        weights = np.r_[np.zeros(n_c), np.full(design.shape[1] - n_c, lam)]

        def loss(t: np.ndarray) -> float:
            eta = design @ t
            return float(np.sum(np.logaddexp(0.0, eta) - y * eta) + weights @ t ** 2 / 2)

        theta = _newton(design, y, weights, theta, loss)
        eta_other = c_other @ theta[:n_c] + k_other @ (to_dual @ theta[n_c:])
        predictions.append((lam, expit(eta_other)))
    order = {lam: p for lam, p in predictions}
    return [order[lam] for lam in lambdas]


def _newton(design: np.ndarray, y: np.ndarray, weights: np.ndarray, theta: np.ndarray,
            loss: Any) -> np.ndarray:
    """Minimize the penalized log-loss from ``theta`` by Newton steps solved with conjugate gradients (Jacobi
    preconditioner, relative residual 1e-10), halving a step while the loss rises, until a step moves no
    coefficient by more than 1e-9."""
    from scipy.sparse.linalg import LinearOperator, cg
    from scipy.special import expit

    for _ in range(100):
        p = expit(design @ theta)
        curvature = p * (1 - p)
        gradient = design.T @ (p - y) + weights * theta
        diagonal = (design ** 2).T @ curvature + weights
        hessian = LinearOperator((len(theta), len(theta)), dtype=np.float64,
                                 matvec=lambda v, c=curvature: design.T @ (c * (design @ v)) + weights * v)
        jacobi = LinearOperator(hessian.shape, dtype=np.float64, matvec=lambda v, d=diagonal: v / d)
        step, _ = cg(hessian, gradient, rtol=1e-10, atol=0.0, maxiter=2000, M=jacobi)
        before, length = loss(theta), 1.0
        while loss(theta - length * step) > before and length > 1e-4:
            length /= 2
        theta = theta - length * step
        if np.abs(length * step).max() < 1e-9:
            break
    return theta


def ridge_baseline(task: str, train: Any, valid: Any) -> dict[str, Any]:
    """Ridge over all SNPs + unpenalized covariates, lambda by 5-fold CV (kernel trick), refit, validation."""
    from genoml_search.core.metrics import get_metric
    from genoml_search.search.objective import CVSpec, make_folds

    metric = get_metric(metric_name(task), task)
    started = time.perf_counter()
    lambdas = RIDGE_GRID * train.genotypes.shape[1]
    solve = ridge_regression_path if task == "regression" else ridge_logistic_path
    y = np.asarray(train.y, dtype=np.float64)
    curves = []
    for fit_rows, test_rows in make_folds(train.y, task, CVSpec(5, 1, 0)):
        k_fit, k_test = grams(train.genotypes, fit_rows, test_rows)
        c = train.covariates[fit_rows]
        predictions = solve(k_fit, k_test, with_intercept(c, c), with_intercept(train.covariates[test_rows], c),
                            y[fit_rows], lambdas)
        curves.append([float(metric.compute(y[test_rows], p)) for p in predictions])
    mean = np.mean(curves, axis=0)
    best = int(np.argmax(mean))
    rows = np.arange(len(y))
    v_genotypes = valid.genotypes
    k_fit, _ = grams(train.genotypes, rows, rows[:1])
    k_val = cross_gram(train.genotypes, v_genotypes, rows)
    c = train.covariates
    prediction = solve(k_fit, k_val, with_intercept(c, c), with_intercept(valid.covariates, c), y,
                       lambdas[best : best + 1])[0]
    return {"model": "ridge (kernel trick), covariates unpenalized, lambda / M by 5-fold CV over "
                     f"{RIDGE_GRID[0]:g}..{RIDGE_GRID[-1]:g}, refit",
            "validation": float(metric.compute(valid.y, prediction)), SCORES_KEY: prediction, "cv": float(mean[best]),
            "lambda_over_m": float(RIDGE_GRID[best]), "at_grid_edge": best in (0, len(RIDGE_GRID) - 1),
            "cv_curve": [round(float(v), 4) for v in mean], "seconds": round(time.perf_counter() - started, 1),
            "solver": "closed form" if task == "regression" else "newton"}


def cross_gram(genotypes: Any, other: Any, rows: np.ndarray) -> np.ndarray:
    """Z_other Z' for another cohort's genotypes standardized with the training rows' means and sds."""
    mean, sd = standardizer(genotypes, rows)
    out = np.zeros((other.shape[0], len(rows)))
    for start in range(0, genotypes.shape[1], GRAM_BLOCK):
        columns = slice(start, start + GRAM_BLOCK)
        out += (standardized_block(other, slice(None), columns, mean, sd)
                @ standardized_block(genotypes, rows, columns, mean, sd).T)
    return out


def sklearn_l1(task: str, train: Any, valid: Any) -> dict[str, Any]:
    """The path family alone (its own 5-fold CV + refit) against LogisticRegressionCV(l1) on the same data."""
    import warnings

    from sklearn.linear_model import LogisticRegressionCV

    from genoml_search.core.metrics import get_metric
    from genoml_search.search.families.paths import PenalizedPathModel
    from genoml_search.search.objective import CVSpec, make_folds
    from genoml_search.search.paths import Design

    metric = get_metric(metric_name(task), task)
    started = time.perf_counter()
    design = Design(train.genotypes, train.covariates, np.arange(len(train.y)))
    model = PenalizedPathModel(task=task, l1_ratio=1.0, n_covariates=train.covariates.shape[1]).fit(design, train.y)
    path_seconds = time.perf_counter() - started
    v_design = Design(valid.genotypes, valid.covariates, np.arange(len(valid.y)))
    path_score = float(metric.compute(valid.y, model.predict_proba(v_design)[:, 1]))
    started = time.perf_counter()
    x = np.asarray(train.x, dtype=np.float64)  # SNPs (missing -> NaN) + covariates
    mean = np.nan_to_num(np.nanmean(x, axis=0))
    x = np.where(np.isnan(x), mean, x)
    sd = x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    x = (x - mean) / sd
    lam_max = float(np.max(np.abs(x.T @ (train.y - train.y.mean()))) / len(train.y))
    cs = 1.0 / (len(train.y) * 0.8 * lam_max * np.logspace(0, -2, 10))  # the adelie path's range, 10 points
    folds = make_folds(train.y, task, CVSpec(5, 1, 0))
    lrcv = LogisticRegressionCV(Cs=cs, cv=folds, penalty="l1", solver="liblinear", scoring="roc_auc",
                                max_iter=1000, tol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lrcv.fit(x, train.y)
    del x
    xv = np.asarray(valid.x, dtype=np.float64)
    xv = (np.where(np.isnan(xv), mean, xv) - mean) / sd
    sk_score = float(metric.compute(valid.y, lrcv.predict_proba(xv)[:, 1]))
    sk_seconds = time.perf_counter() - started
    return {"path_family": {"seconds": round(path_seconds, 1), "validation": path_score,
                            "lambda_index": int(model.lambda_index_),
                            "n_snps_selected": int(np.count_nonzero(model.raw_coef_[: design.n_snps]))},
            "sklearn": {"model": "LogisticRegressionCV(penalty='l1', solver='liblinear', 10 Cs over the path's "
                                 "range, same 5 folds, scoring roc_auc), standardized float64 copy, covariates "
                                 "penalized", "seconds": round(sk_seconds, 1), "validation": sk_score,
                        "C": float(np.ravel(lrcv.C_)[0]),
                        "n_snps_selected": int(np.count_nonzero(lrcv.coef_[0][: train.genotypes.shape[1]]))},
            "speedup": round(sk_seconds / path_seconds, 2)}


RIDGE_SKIPPED = ("not run (--skip-ridge-baseline): its Newton steps on n x n matrices took 1,588 s at 10,000 "
                 "samples (binary-sparse-n10000); the search's ridge_path is compared with the exact path in "
                 "ridge_krylov.json instead")


BASELINES = ("lasso", "elastic_net", "ridge")


def baselines(cohort: Cohort, work: Path, ridge: bool = True, only: tuple[str, ...] = BASELINES,
              recorded: dict[str, Any] | None = None) -> dict[str, Any]:
    """The CV-tuned baselines named in ``only``, each with its ``load`` (1-min load before, after); the others
    are kept from ``recorded`` (an earlier run's baselines), and so are its overall loads."""
    recorded = recorded or {}
    train, valid = load_all(work)
    load = os.getloadavg()
    out: dict[str, Any] = {"n_snps_all": int(train.genotypes.shape[1]), "n_covariates": int(train.covariates.shape[1])}
    fits = {"lasso": lambda: path_baseline(cohort.task, train, valid, 1.0),
            "elastic_net": lambda: path_baseline(cohort.task, train, valid, 0.5),
            "ridge": lambda: ridge_baseline(cohort.task, train, valid) if ridge else {"skipped": RIDGE_SKIPPED}}
    for name in BASELINES:
        if name not in only and name in recorded:
            out[name] = recorded[name]
            continue
        before = os.getloadavg()[0]
        result = fits[name]()
        if SCORES_KEY in result:
            save_validation_scores(work, name, valid.sample_ids, result.pop(SCORES_KEY))
        out[name] = {**result, "load": [round(before, 2), round(os.getloadavg()[0], 2)]}
        print(f"   {name}: {json.dumps(out[name])[:300]}", flush=True)
    if set(only) == set(BASELINES) or "load_before" not in recorded:
        out["load_before"] = [round(x, 2) for x in load]
        out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    else:
        out["load_before"], out["load_after"] = recorded["load_before"], recorded["load_after"]
    return out


def save_validation_scores(work: Path, name: str, sample_ids: np.ndarray, scores: np.ndarray) -> None:
    """A baseline's validation scores (P(y = 1) or predictions) by sample, for the paired SE of the verdict."""
    path = validation_scores_path(work, name)
    path.parent.mkdir(exist_ok=True)
    pd.DataFrame({"ID": np.asarray(sample_ids).astype(str), "score": scores}).to_csv(path, index=False)


def validation_scores_path(work: Path, name: str) -> Path:
    return work / "validation_scores" / f"{name}.csv"


def paired_difference_se(work: Path, task: str, best: str, replicates: int = 2000) -> float | None:
    """Bootstrap SE (validation samples resampled, the same draw for both) of search - best baseline, from the
    saved validation scores; None when either file is missing or they do not hold the same samples."""
    from genoml_search.core.metrics import get_metric

    search_file, baseline_file = validation_scores_path(work, "search"), validation_scores_path(work, best)
    if not (search_file.is_file() and baseline_file.is_file()):
        return None
    search_scores = pd.read_csv(search_file, dtype={"ID": str}).set_index("ID")
    baseline_scores = pd.read_csv(baseline_file, dtype={"ID": str}).set_index("ID")["score"]
    truth = pd.read_csv(work / "validation_all" / "samples.tsv", sep="\t", dtype={"ID": str}).set_index("ID")
    column = "probability" if task == "binary" else "prediction"
    ids = baseline_scores.index
    if not ids.isin(search_scores.index).all() or not ids.isin(truth.index).all():
        return None
    y = truth.loc[ids, "phenotype"].to_numpy(dtype=float)
    a, b = search_scores.loc[ids, column].to_numpy(dtype=float), baseline_scores.to_numpy(dtype=float)
    compute = get_metric(metric_name(task), task).compute
    rng = np.random.default_rng(0)
    differences = []
    for _ in range(replicates):
        rows = rng.integers(0, len(y), len(y))
        if task == "binary" and len(np.unique(y[rows])) < 2:
            continue
        differences.append(compute(y[rows], a[rows]) - compute(y[rows], b[rows]))
    return float(np.std(differences, ddof=1))


def verdict(record: dict[str, Any], work: Path | None = None) -> dict[str, Any]:
    """Best baseline and whether the search is at least as good; with the cohort's work folder, also the
    bootstrap SE of the difference on the validation cohort (kept from the record when the files are gone)."""
    base = record.get("baselines") or {}
    scored = {k: base[k]["validation"] for k in ("lasso", "elastic_net", "ridge") if "validation" in base.get(k, {})}
    found = (record.get("search") or {}).get("validation")
    if not scored or found is None:
        return {}
    best = max(scored, key=scored.get)
    out = {"best_baseline": best, "best_baseline_validation": scored[best], "search_validation": found,
           "difference": found - scored[best], "met": found >= scored[best] - TIE_TOLERANCE}
    se = paired_difference_se(work, record["cohort"]["task"], best) if work is not None else None
    recorded = record.get("verdict") or {}
    if se is None and recorded.get("best_baseline") == best and recorded.get("difference") == out["difference"]:
        se = recorded.get("difference_se")
    if se is not None:
        out["difference_se"] = se
    return out


def difference_text(verdict: dict[str, Any]) -> str:
    """``+0.003`` or, with its bootstrap SE on the validation cohort, ``+0.003, SE 0.004``."""
    se = verdict.get("difference_se")
    if abs(verdict["difference"]) <= TIE_TOLERANCE:
        return "0: the same model, equal to the solver's tolerance"
    return f"{verdict['difference']:+.4f}" + (f", SE {se:.4f}" if se is not None else "")


def summary(cohorts: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for name, record in cohorts.items():
        v, s, b = record.get("verdict") or {}, record.get("search") or {}, record.get("baselines") or {}
        if not s:
            continue
        metric = "AUC" if record["cohort"]["task"] == "binary" else "R2"
        found = ("no model (no trial finished)" if s.get("validation") is None
                 else f"{s['validation']:.3f} ({s['best_family']})")
        parts = [f"{label} {b[k]['validation']:.3f}" if "validation" in b.get(k, {}) else f"{label} not run"
                 for k, label in (("ridge", "ridge"), ("lasso", "lasso"), ("elastic_net", "EN"))]
        outcome = ("met" if v["met"] else "not met") + f" ({difference_text(v)})" if v else "not met"
        load = f"load {s['load_before'][0]:.0f}-{s['load_after'][0]:.0f}"
        rows.append({"what": f"{name} ({record['cohort']['n_train']:,} training samples, "
                             f"{record['cohort']['n_snps']:,} simulated SNPs): default search {s['budget']} s vs "
                             "CV-tuned ridge / lasso / elastic net on all QC'd SNPs",
                     "result": f"validation {metric} {found} ({load}) vs {', '.join(parts)}: {outcome}",
                     "target": "search >= best baseline on every cohort"})
        if "sklearn_l1" in record:
            r = record["sklearn_l1"]
            rows.append({"what": f"{name}: lasso path family alone vs LogisticRegressionCV(l1), all SNPs",
                         "result": f"{r['path_family']['seconds']:.0f} s (AUC {r['path_family']['validation']:.3f})"
                                   f" vs {r['sklearn']['seconds']:.0f} s (AUC {r['sklearn']['validation']:.3f}):"
                                   f" {r['speedup']:.1f}x",
                         "target": ">= 5x faster at equal validation AUC"})
    return rows


def table(cohorts: dict[str, Any]) -> str:
    """The docs table: per cohort the search against the three baselines (validation scores, seconds)."""
    lines = ["| cohort | metric | search (best family, trials complete) | ridge | lasso | elastic net | "
             "search - best baseline | search s (load) | baselines s (load) |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in cohorts.items():
        s, b, v = r.get("search") or {}, r.get("baselines") or {}, r.get("verdict") or {}
        if not s:
            continue
        complete = sum(f.get("COMPLETE", 0) for f in (s.get("trials") or {}).get("by_family", {}).values())
        if s.get("validation") is None:
            found, gap = "no model: no trial finished", "not met"
        else:
            found, gap = f"{s['validation']:.3f} ({s['best_family']}, {complete})", difference_text(v)
        cells = [f"{b[k]['validation']:.3f} ({b[k]['seconds']:.0f} s)" if "validation" in b.get(k, {}) else "not run"
                 for k in ("ridge", "lasso", "elastic_net")]
        seconds = sum(b[k]["seconds"] for k in ("ridge", "lasso", "elastic_net") if "seconds" in b.get(k, {}))
        spent = (f"{seconds:.0f} ({b['load_before'][0]:.0f}-{b['load_after'][0]:.0f})" if "load_before" in b
                 else "")
        lines.append(f"| {name} | {'AUC' if r['cohort']['task'] == 'binary' else 'R2'} | {found} | {' | '.join(cells)} | "
                     f"{gap} | {s['seconds']:.0f} ({s['load_before'][0]:.0f}-{s['load_after'][0]:.0f}) | {spent} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(COHORTS), help="cohorts to (re)run")
    parser.add_argument("--budget", type=int, default=BUDGET)
    parser.add_argument("--search-only", action="store_true", help="rerun only the search; keep baselines")
    parser.add_argument("--skip-search", action="store_true", help="baselines only (keep a recorded search)")
    parser.add_argument("--skip-baselines", action="store_true", help="keep recorded baselines")
    parser.add_argument("--skip-ridge-baseline", action="store_true",
                        help="lasso and elastic net only (at 10,000 samples the ridge takes ~11 min on a continuous "
                             "trait, ~22 min on a binary one)")
    parser.add_argument("--baseline", action="append", choices=BASELINES,
                        help="run only these baselines; the others are kept from the result file")
    parser.add_argument("--sklearn-l1", action="store_true", help="also the LogisticRegressionCV(l1) timing")
    parser.add_argument("--l1-ratios", type=lambda text: [float(x) for x in text.split(",")], default=None,
                        help="also the CV-tuned path at these l1_ratio values (comma-separated)")
    parser.add_argument("--results", default="genomewide", help="result file name under benchmarks/results/")
    parser.add_argument("--collect", action="store_true",
                        help="take each cohort's newest search from benchmarks/work/genomewide/NAME/record.json")
    parser.add_argument("--table", action="store_true", help="print the result file as a markdown table")
    args = parser.parse_args()
    path = RESULTS / f"{args.results}.json"
    if args.collect:  # parallel processes: each cohort's parts from the result file and its record*.json
        cohorts = json.loads(path.read_text())["cohorts"] if path.is_file() else {}
        for name in (n for n in COHORTS if not n.startswith("smoke")):
            records = [json.loads(f.read_text()) for f in sorted((WORK / "genomewide" / name).glob("record*.json"))]
            record = dict(cohorts.get(name, {}))
            for other in records:  # parts the file lacks
                record.update({k: v for k, v in other.items() if k not in record})
            searches = {s["measured"]: s for s in [record.get("search"), *record.get("earlier_searches", []),
                                                   *(r.get("search") for r in records)] if s}
            if searches:  # the newest search counts; earlier ones (before a merge of main, ...) are kept
                ordered = [searches[k] for k in sorted(searches)]
                record["search"], record["earlier_searches"] = ordered[-1], ordered[:-1]
            if record:
                record["verdict"] = verdict(record, WORK / "genomewide" / name)
                cohorts[name] = record
        write_result(args.results, {"protocol": __doc__.split("\n\n")[1], "budget": args.budget,
                                    "cohorts": cohorts, "summary": summary(cohorts)})
        return
    if args.table:
        print(table(json.loads(path.read_text())["cohorts"]))
        return
    cohorts: dict[str, Any] = json.loads(path.read_text())["cohorts"] if path.is_file() else {}
    for name in args.only or DEFAULT_COHORTS:
        if name in cohorts and not args.only:
            continue
        cohort, work = COHORTS[name], WORK / "genomewide" / name
        work.mkdir(parents=True, exist_ok=True)
        print(f"== {name}", flush=True)
        # only what this process measures: merged into the cohort's record on disk at the end
        record: dict[str, Any] = {"cohort": asdict(cohort), "prepare": {**cohorts.get(name, {}).get("prepare", {}),
                                                                       **prepare(cohort, work, for_search=not args.skip_search)}}
        if not args.skip_search:
            record["search"] = search(cohort, work, args.budget)
            print(f"   search: {json.dumps({k: record['search'].get(k) for k in ('validation', 'best_family')})}",
                  flush=True)
        if not (args.search_only or args.skip_baselines):
            record["baselines"] = baselines(cohort, work, ridge=not args.skip_ridge_baseline,
                                            only=tuple(args.baseline or BASELINES),
                                            recorded=cohorts.get(name, {}).get("baselines"))
        if args.l1_ratios:  # the path at other mixing values, same CV rule as the lasso / elastic-net baselines
            train, valid = load_all(work)
            record["l1_ratio_probe"] = {
                str(ratio): {**path_baseline(cohort.task, train, valid, ratio), "load": [round(x, 2) for x in os.getloadavg()]}
                for ratio in args.l1_ratios}
            print(f"   l1_ratio_probe: {json.dumps(record['l1_ratio_probe'])[:600]}", flush=True)
        if args.sklearn_l1 and cohort.task == "binary":
            train, valid = load_all(work)
            record["sklearn_l1"] = {**sklearn_l1(cohort.task, train, valid),
                                    "load": [round(x, 2) for x in os.getloadavg()]}
            print(f"   sklearn_l1: {json.dumps(record['sklearn_l1'])}", flush=True)
        truth = json.loads((work / "sim" / "truth.json").read_text())["expected"]
        record["expected"] = {k: v for k, v in truth.items() if "with_covariates" in k}
        # re-read: another process may have finished other cohorts meanwhile (cohorts run in parallel)
        cohorts = json.loads(path.read_text())["cohorts"] if path.is_file() else {}
        earlier = cohorts.get(name, {})
        if "search" in record and earlier.get("search"):  # a rerun search: the one it replaces is kept
            record["earlier_searches"] = [*earlier.get("earlier_searches", []), earlier["search"]]
        cohorts[name] = record = {**earlier, **record}  # keep fields another process wrote
        record["verdict"] = verdict(record, work)
        (work / "record.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
        write_result(args.results, {"protocol": __doc__.split("\n\n")[1], "budget": args.budget,
                                    "cohorts": cohorts, "summary": summary(cohorts)})


if __name__ == "__main__":
    main()
