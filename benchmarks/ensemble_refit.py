"""Do ensemble weights chosen on CV folds carry over to the refit on all samples? (issue #22)

On the polygenic continuous cohorts of 10,000 samples (benchmarks/genomewide.py), the default run's final
model was a greedy ensemble of its lasso path trial (weight ~0.8) and its ridge trial (~0.2). Nested CV put it
ahead of the lasso alone, but on the validation cohort it fell behind. The weights are chosen on OOF
predictions of fold models trained on 4/5 of the samples; the members are then refitted on all of them. If
the lasso gains more from the extra fifth than the ridge does, weights chosen at 4/5 overweight the ridge.

This benchmark measures that on a cohort prepared by ``benchmarks.genomewide`` (its ``dataset_all`` and
``validation_all``). It fits the lasso (l1_ratio 1, penalty index chosen by 5-fold CV, as the search's
``lasso_path`` trial) and the ridge (lambda / M = 1, as the search's ``ridge_path`` trial: the GBLUP penalty at
h2 0.5) at three training sizes:

- ``third``: three disjoint thirds of the training cohort (3,333 samples each: the learning curve below);
- ``fold``: the five CV fold models (4/5 of the samples each);
- ``all``: one refit on all samples.

At each size it scores on the validation cohort the lasso, the ridge and the ensemble with the weights the
greedy selection chooses on the folds' OOF predictions, averaged over the size's models. The validation
samples only measure here; nothing is chosen on them except the reported ``oracle_ridge_weight`` (the weight
that would have been best on them, for reading the drift).

    python -m benchmarks.ensemble_refit --only regression-polygenic-n10000
"""
from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from benchmarks.common import WORK, write_result
from benchmarks.genomewide import COHORTS, GRAM_BLOCK, load_all, standardized_block, standardizer, with_intercept

RIDGE_LAMBDA_OVER_M = 1.0


def full_grams(train: Any, valid: Any) -> tuple[np.ndarray, np.ndarray]:
    """Z Z' over all training samples and Z_val Z' (standardized with all training samples' means and sds;
    fold-specific standardization changes the Gram by far less than the effects measured here)."""
    rows = np.arange(train.genotypes.shape[0])
    mean, sd = standardizer(train.genotypes, rows)
    k = np.zeros((len(rows), len(rows)))
    k_val = np.zeros((valid.genotypes.shape[0], len(rows)))
    for start in range(0, train.genotypes.shape[1], GRAM_BLOCK):
        columns = slice(start, start + GRAM_BLOCK)
        z = standardized_block(train.genotypes, rows, columns, mean, sd)
        k += z @ z.T
        k_val += standardized_block(valid.genotypes, slice(None), columns, mean, sd) @ z.T
    return k, k_val


def ridge_predictions(k: np.ndarray, fit: np.ndarray, k_others: list[np.ndarray], c_fit: np.ndarray,
                      c_others: list[np.ndarray], y: np.ndarray, lam: float) -> list[np.ndarray]:
    """Ridge with unpenalized covariates fitted on rows ``fit`` of the Gram ``k``; predictions for each other
    block (their cross-Gram rows against all training samples, restricted to ``fit``)."""
    k_fit = k[np.ix_(fit, fit)]
    q, _ = np.linalg.qr(c_fit)
    project = lambda m: m - q @ (q.T @ m)  # noqa: E731
    kp = project(project(k_fit).T).T
    a = project(np.linalg.solve(kp + lam * np.eye(len(fit)), project(y)))
    gamma = np.linalg.lstsq(c_fit, y - k_fit @ a, rcond=None)[0]
    return [c @ gamma + k_other[:, fit] @ a for c, k_other in zip(c_others, k_others)]


def main() -> None:
    from genoml_search.core.metrics import get_metric
    from genoml_search.ensemble.build import combiner_fitter
    from genoml_search.search.families.paths import PenalizedPathModel
    from genoml_search.search.objective import CVSpec, make_folds
    from genoml_search.search.path_cv import cross_validate_path
    from genoml_search.search.paths import Design

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=["regression-polygenic-n10000"])
    args = parser.parse_args()
    records = {}
    for name in args.only:
        cohort = COHORTS[name]
        assert cohort.task == "regression", "this measurement is written for continuous traits"
        work = WORK / "genomewide" / name
        started = time.perf_counter()
        train, valid = load_all(work)
        metric = get_metric("r2", "regression")
        y = np.asarray(train.y, dtype=np.float64)
        n = len(y)
        rows = np.arange(n)
        design = Design(train.genotypes, train.covariates, rows)
        v_design = Design(valid.genotypes, valid.covariates, np.arange(len(valid.y)))
        folds = make_folds(train.y, "regression", CVSpec(5, 1, 0))
        index = cross_validate_path(design, train.y, folds, "regression", metric.compute, True, 1.0).lambda_index
        k, k_val = full_grams(train, valid)
        lam = RIDGE_LAMBDA_OVER_M * train.genotypes.shape[1]

        def fit_both(fit: np.ndarray, test: np.ndarray | None) -> dict[str, Any]:
            lasso = PenalizedPathModel(task="regression", l1_ratio=1.0, lambda_index=index,
                                       n_covariates=train.covariates.shape[1]).fit(design.with_rows(fit), y[fit])
            c_fit = with_intercept(train.covariates[fit], train.covariates[fit])
            grams_, covs = [k_val], [with_intercept(valid.covariates, train.covariates[fit])]
            if test is not None:
                grams_.append(k[test])
                covs.append(with_intercept(train.covariates[test], train.covariates[fit]))
            ridge = ridge_predictions(k, fit, grams_, c_fit, covs, y[fit], lam)
            out = {"lasso_val": lasso.predict(v_design), "ridge_val": ridge[0]}
            if test is not None:
                out.update(lasso_test=lasso.predict(design.with_rows(test)), ridge_test=ridge[1])
            return out

        fold_fits = [fit_both(fit, test) for fit, test in folds]
        oof = np.zeros((2, 1, n))
        for (fit, test), f in zip(folds, fold_fits):
            oof[0, 0, test], oof[1, 0, test] = f["lasso_test"], f["ridge_test"]
        weights = combiner_fitter("greedy", "regression", metric, 0)(oof, y).weights
        order = np.random.default_rng(0).permutation(n)
        third_fits = [fit_both(np.sort(part), None) for part in np.array_split(order, 3)]
        refit = fit_both(rows, None)

        def at_size(fits: list[dict[str, Any]], size: int) -> dict[str, Any]:
            def score(p: np.ndarray) -> float:
                return float(metric.compute(valid.y, p))

            lasso = [score(f["lasso_val"]) for f in fits]
            ridge = [score(f["ridge_val"]) for f in fits]
            ensemble = [score(weights[0] * f["lasso_val"] + weights[1] * f["ridge_val"]) for f in fits]
            grid = np.linspace(0, 1, 101)
            oracle = [float(grid[np.argmax([score((1 - w) * f["lasso_val"] + w * f["ridge_val"]) for w in grid])])
                      for f in fits]
            return {"n_fit": size, "models": len(fits), "lasso": float(np.mean(lasso)), "ridge": float(np.mean(ridge)),
                    "ensemble": float(np.mean(ensemble)),
                    "ensemble_minus_lasso": [round(e - la, 5) for e, la in zip(ensemble, lasso)],
                    "mean_ensemble_minus_lasso": float(np.mean(ensemble) - np.mean(lasso)),
                    "oracle_ridge_weight": oracle}

        oof_scores = {"lasso": float(metric.compute(y, oof[0, 0])), "ridge": float(metric.compute(y, oof[1, 0])),
                      "ensemble": float(metric.compute(y, weights @ oof[:, 0]))}
        records[name] = {"lambda_index": index, "ridge_lambda_over_m": RIDGE_LAMBDA_OVER_M,
                         "greedy_weights": {"lasso": float(weights[0]), "ridge": float(weights[1])},
                         "oof_r2": oof_scores,
                         "validation": {"third": at_size(third_fits, n // 3), "fold": at_size(fold_fits, len(folds[0][0])),
                                        "all": at_size([refit], n)},
                         "seconds": round(time.perf_counter() - started, 1)}
        print(name, records[name])
    write_result("ensemble_refit", {"cohorts": records})


if __name__ == "__main__":
    main()
