"""Ridge over all SNPs through the Gram matrix (search/kernel_ridge.py) and the ridge_path family."""
from __future__ import annotations

import numpy as np
import pytest

from genoml_search.search import kernel_ridge as kr
from genoml_search.search.families.paths import KernelRidgeModel
from genoml_search.search.objective import CVSpec, TrialSpec, evaluate_trial
from genoml_search.search.paths import Design
from tests.search.conftest import make_dataset

N, M = 240, 900


def cohort(seed: int = 0, h2: float = 0.6, n: int = N, m: int = M) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """int8 genotypes (1 % missing), one covariate with an effect, and a polygenic trait over every SNP."""
    rng = np.random.default_rng(seed)
    genotypes = rng.binomial(2, rng.uniform(0.1, 0.5, m), size=(n, m)).astype(np.int8)
    standardized = (genotypes - genotypes.mean(axis=0)) / genotypes.std(axis=0)
    genotypes[rng.random((n, m)) < 0.01] = -127
    age = rng.normal(50, 10, n)
    trait = standardized @ rng.normal(0, np.sqrt(h2 / m), m) + 0.03 * (age - 50) + rng.normal(0, np.sqrt(1 - h2), n)
    return genotypes, age[:, None].astype(np.float32), trait


def direct_ridge(kernel: kr.FoldKernel, genotypes: np.ndarray, covariates: np.ndarray, rows: np.ndarray,
                 y: np.ndarray, penalty: float) -> np.ndarray:
    """Covariate and SNP coefficients of ridge with unpenalized covariates, solved in the primal."""
    st = kernel.standardization
    filled = np.where(genotypes[rows] < 0, st.centers[:M], genotypes[rows])
    z = (filled - st.centers[:M]) / st.scales[:M]
    c = np.column_stack([np.ones(len(rows)), (covariates[rows] - st.centers[M:]) / st.scales[M:]])
    x = np.hstack([c, z])
    weights = np.r_[np.zeros(c.shape[1]), np.full(M, penalty)]
    return np.linalg.solve(x.T @ x + np.diag(weights), x.T @ y)


def test_the_dual_solution_is_ridge_with_unpenalized_covariates():
    genotypes, covariates, y = cohort()
    design = Design(genotypes, covariates, np.arange(N))
    fit, other = np.arange(200), np.arange(200, N)
    kernel = kr.fold_kernel(design, fit, other)
    path = kr.RidgePath(kernel.k_fit, kernel.c_fit, y[fit])
    for penalty in (50.0, 900.0, 30000.0):
        coef = direct_ridge(kernel, genotypes, covariates, fit, y[fit], penalty)
        a, gamma = path.solve(penalty)
        assert np.allclose(gamma, coef[:2], atol=1e-5)
        assert np.allclose(kr.snp_coefficients(design.with_rows(fit), a, kernel.standardization), coef[2:], atol=1e-6)
        expected = direct_ridge(kernel, genotypes, covariates, fit, y[fit], penalty)
        other_x = np.hstack([kernel.c_other, (np.where(genotypes[other] < 0, kernel.standardization.centers[:M],
                                                       genotypes[other]) - kernel.standardization.centers[:M])
                             / kernel.standardization.scales[:M]])
        assert np.allclose(path.predict(penalty, kernel.k_other, kernel.c_other), other_x @ expected, atol=1e-4)


def direct_logistic_ridge(kernel: kr.FoldKernel, genotypes: np.ndarray, covariates: np.ndarray, rows: np.ndarray,
                          y01: np.ndarray, penalty: float) -> np.ndarray:
    """Covariate and SNP coefficients of L2 logistic regression with unpenalized covariates, by Newton's method
    in the primal."""
    st = kernel.standardization
    z = (np.where(genotypes[rows] < 0, st.centers[:M], genotypes[rows]) - st.centers[:M]) / st.scales[:M]
    x = np.hstack([np.column_stack([np.ones(len(rows)), (covariates[rows] - st.centers[M:]) / st.scales[M:]]), z])
    weights = np.r_[np.zeros(x.shape[1] - M), np.full(M, penalty)]
    coef = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ coef)))
        step = np.linalg.solve((x * (p * (1 - p))[:, None]).T @ x + np.diag(weights),
                               x.T @ (p - y01) + weights * coef)
        coef -= step
        if np.abs(step).max() < 1e-12:
            break
    return coef


def test_the_logistic_path_is_l2_logistic_regression_with_unpenalized_covariates():
    genotypes, covariates, trait = cohort(7)
    y = (trait > np.quantile(trait, 0.7)).astype(float)
    design = Design(genotypes, covariates, np.arange(N))
    fit, other = np.arange(200), np.arange(200, N)
    kernel = kr.fold_kernel(design, fit, other)
    path = kr.LogisticRidgePath(kr.RidgePath(kernel.k_fit, kernel.c_fit, y[fit]))
    for penalty in (30000.0, 900.0, 50.0):  # largest first: each starts from the previous solution
        coef = direct_logistic_ridge(kernel, genotypes, covariates, fit, y[fit], penalty)
        a, gamma = path.solve(penalty)
        assert np.allclose(gamma, coef[:2], atol=1e-4)
        snps = kr.snp_coefficients(design.with_rows(fit), a, kernel.standardization)
        assert np.abs(snps - coef[2:]).max() < 1e-4 * max(np.abs(coef[2:]).max(), 1e-3)
        other_z = (np.where(genotypes[other] < 0, kernel.standardization.centers[:M], genotypes[other])
                   - kernel.standardization.centers[:M]) / kernel.standardization.scales[:M]
        expected = kernel.c_other @ coef[:2] + other_z @ coef[2:]
        assert np.allclose(path.predict(penalty, kernel.k_other, kernel.c_other), expected, atol=1e-4)
    assert max(path.iterations) < 100, path.iterations  # the scaled problem is well conditioned


def test_the_binary_model_is_the_logistic_ridge_at_the_chosen_penalty():
    genotypes, covariates, trait = cohort(8)
    y = (trait > np.quantile(trait, 0.6)).astype(int)
    fit = np.arange(200)
    model = KernelRidgeModel(task="binary", lambda_index=18, n_covariates=1).fit(
        Design(genotypes, covariates, fit), y[fit])
    kernel = kr.fold_kernel(Design(genotypes, covariates, np.arange(N)), fit, fit[:0])
    coef = direct_logistic_ridge(kernel, genotypes, covariates, fit, y[fit].astype(float), model.lambda_)
    assert np.abs(model.coef_[0, :M] - coef[2:]).max() < 1e-4 * np.abs(coef[2:]).max()
    new = Design(genotypes, covariates, np.arange(200, N))
    st = kernel.standardization
    z = (np.where(genotypes[200:] < 0, st.centers[:M], genotypes[200:]) - st.centers[:M]) / st.scales[:M]
    eta = coef[0] + (covariates[200:, 0] - st.centers[M]) / st.scales[M] * coef[1] + z @ coef[2:]
    assert np.allclose(model.predict_proba(new)[:, 1], 1 / (1 + np.exp(-eta)), atol=1e-5)


def test_leave_one_out_predictions_are_exact():
    genotypes, covariates, y = cohort(1)
    design = Design(genotypes, covariates, np.arange(N))
    everything = np.arange(N)
    kernel = kr.fold_kernel(design, everything, everything[:0])
    path = kr.RidgePath(kernel.k_fit, kernel.c_fit, y)
    loo = path.leave_one_out(500.0)
    for i in (0, 17, 199):
        rest = np.delete(everything, i)
        coef = direct_ridge(kernel, genotypes, covariates, rest, y[rest], 500.0)
        x_i = np.r_[kernel.c_fit[i], (np.where(genotypes[i] < 0, kernel.standardization.centers[:M], genotypes[i])
                                      - kernel.standardization.centers[:M]) / kernel.standardization.scales[:M]]
        assert loo[i] == pytest.approx(x_i @ coef, abs=1e-5)


def test_the_single_precision_eigendecomposition_gives_the_same_path(monkeypatch):
    """Large folds decompose in float32: predictions and leave-one-out values at the grid's penalties stay those
    of float64 (relative to their spread) and the CV choice along the grid is the same."""
    genotypes, covariates, y = cohort(3)
    design = Design(genotypes, covariates, np.arange(N))
    fit, other = np.arange(200), np.arange(200, N)
    kernel = kr.fold_kernel(design, fit, other)
    double = kr.RidgePath(kernel.k_fit, kernel.c_fit, y[fit])
    monkeypatch.setattr(kr, "SINGLE_PRECISION_FROM", 1)
    single = kr.RidgePath(kernel.k_fit, kernel.c_fit, y[fit])
    assert single.u.dtype == np.float64  # decomposed in float32, used in float64
    errors = []
    for penalty in kr.penalties(M)[::3]:
        for values in ((double.predict(penalty, kernel.k_other, kernel.c_other),
                        single.predict(penalty, kernel.k_other, kernel.c_other)),
                       (double.leave_one_out(penalty), single.leave_one_out(penalty))):
            errors.append(np.abs(values[0] - values[1]).max() / np.std(values[0]))
    assert max(errors) < 1e-3, errors
    mse = [[np.mean((path.predict(p, kernel.k_other, kernel.c_other) - y[other]) ** 2) for p in kr.penalties(M)]
           for path in (double, single)]
    assert np.argmin(mse[0]) == np.argmin(mse[1])


@pytest.mark.parametrize("route", ["exact", "lanczos"])
@pytest.mark.parametrize("task", ["binary", "regression"])
def test_a_ridge_path_trial_finds_a_polygenic_signal_and_a_shuffled_trait_gives_chance(tmp_path, task, route,
                                                                                       monkeypatch):
    """Through the Gram matrices and through Lanczos passes (search/krylov_ridge.py, forced from 10 rows)."""
    from genoml_search.search import ridge_cv

    if route == "lanczos":
        monkeypatch.setattr(ridge_cv, "KRYLOV_FROM", 10)
    # expected ridge R2 ~ h2 / (1 + M / (n h2)) = 0.25 on the 0.6 h2 trait with n 400, M 300
    genotypes, covariates, trait = cohort(2, n=400, m=300)
    y = (trait > np.median(trait)).astype(float) if task == "binary" else trait
    metric = "roc_auc" if task == "binary" else "r2"
    values = {}
    for label, target in (("real", y), ("shuffled", np.random.default_rng(3).permutation(y))):
        dataset = make_dataset(tmp_path / label, genotypes, target, task=task,
                               covariates={"AGE": covariates[:, 0] if label == "real" else
                                           np.random.default_rng(4).permutation(covariates[:, 0])})
        result = evaluate_trial(TrialSpec(0, str(dataset.path), dataset.content_hash, task, metric, "ridge_path",
                                          {}, 1.0, np.arange(len(y)), CVSpec(5, 1, 0)))
        assert result.error is None, result.error
        values[label] = result.value
        assert 0 <= result.attrs["path"]["lambda_index"] < len(kr.RIDGE_GRID)
    chance = 0.5 if task == "binary" else 0.0
    assert values["real"] > chance + 0.1
    assert abs(values["shuffled"] - chance) < 0.1


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_the_model_predicts_the_same_from_int8_and_from_floats(task):
    genotypes, covariates, trait = cohort(5)
    y = (trait > np.median(trait)).astype(int) if task == "binary" else trait
    model = KernelRidgeModel(task=task, lambda_index=12, n_covariates=1).fit(
        Design(genotypes, covariates, np.arange(200)), y[:200])
    new = np.arange(200, N)
    floats = np.hstack([np.where(genotypes[new] < 0, np.nan, genotypes[new]).astype(float), covariates[new]])
    from_int8 = model.decision_function(Design(genotypes, covariates, new))
    assert np.allclose(from_int8, model.decision_function(floats))
    assert model.coef_.shape == (1, M + 1) and np.count_nonzero(model.coef_[0, :M]) == M
    if task == "binary":
        p = model.predict_proba(floats)[:, 1]
        assert ((p > 0) & (p < 1)).all() and np.corrcoef(p, from_int8)[0, 1] > 0.99
        assert set(model.predict(floats)) <= {0, 1}
    with pytest.raises(ValueError, match="binary and continuous"):
        KernelRidgeModel(task="multiclass").fit(floats, np.arange(len(new)) % 3)


def test_a_study_with_ridge_path_refits_the_chosen_penalty_and_saves_the_model(tmp_path):
    """`run` on a Dask worker: ridge_path is queued first, its penalty is refitted, the saved model loads through
    the skops allow-list, reproduces the validation score from float input, and exports a plink2 score."""
    import json
    import os

    import optuna
    from distributed import LocalCluster
    from sklearn.metrics import roc_auc_score

    from genoml_search._run import RunOptions, run
    from genoml_search.core.scoring import predict_scores
    from genoml_search.execute.cluster import ClusterOptions
    from genoml_search.model_io import load_model
    from tests.search.conftest import ROOT

    genotypes, covariates, trait = cohort(6, n=400, m=300)
    y = (trait > np.median(trait)).astype(float)
    dataset = make_dataset(tmp_path / "d", genotypes, y, covariates={"AGE": covariates[:, 0]})
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        run(RunOptions(dataset=dataset.path, out=tmp_path / "out", n_trials=1, families=["ridge_path", "knn"],
                       n_folds=3, ensemble="none", cluster=ClusterOptions(scheduler=cluster.scheduler_address)))
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["cv"]["best_family"] == "ridge_path" and metrics["cv"]["best_trial"] == 0  # queued first
    study = optuna.load_study(study_name=metrics["study"], storage=f"sqlite:///{tmp_path / 'out' / 'study.db'}")
    model, _ = load_model(tmp_path / "out" / "model")
    assert model.named_steps["model"].lambda_index_ == study.trials[0].user_attrs["path"]["lambda_index"]
    ids = (tmp_path / "out" / "holdout_samples.txt").read_text().split()[1:]
    rows = np.array([int(i[1:]) for i in ids])  # IDs s0, s1, ...
    floats = np.hstack([np.where(genotypes < 0, np.nan, genotypes).astype(np.float32), covariates])[rows]
    scores = predict_scores(model, floats, "binary")
    assert roc_auc_score(y[rows], scores) == pytest.approx(metrics["validation"]["roc_auc"], abs=1e-9)
    assert metrics["validation"]["roc_auc"] > 0.6
    weights = (tmp_path / "out" / "model" / "score.tsv").read_text().splitlines()
    assert len(weights) - 1 == 300  # every SNP has a ridge weight


def test_the_exact_trial_time_estimate_matches_the_measured_trials():
    """The 30-minute search at 10,000 x 99,770 SNPs measured ridge_path trials of 1,087-1,470 s on one core
    (docs/scale.md) and the 3,000 x 59,798 fold of benchmarks/ridge_logistic.py 14.4 s (Gram and
    eigendecomposition); the estimate scales with the SNPs and the folds."""
    assert 1_087 * 0.8 < kr.exact_trial_seconds(8_000, 10_000, 99_770, 5) < 1_470 * 1.2
    assert 14.4 * 0.8 < kr.exact_trial_seconds(2_400, 3_000, 59_798, 1) < 14.4 * 1.2
    one = kr.exact_trial_seconds(2_400, 3_000, 10_000, 1)
    assert kr.exact_trial_seconds(2_400, 3_000, 10_000, 5) == pytest.approx(5 * one)
    assert kr.exact_trial_seconds(2_400, 3_000, 20_000, 1) > one
