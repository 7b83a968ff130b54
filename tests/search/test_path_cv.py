"""Path families: a whole regularization path per fold from the int8 genotypes, the penalty chosen by CV."""
from __future__ import annotations

import numpy as np
import pytest
from tests.search.conftest import make_dataset

from genoml_search.core.metrics import get_metric
from genoml_search.search import paths
from genoml_search.core.features import load_features
from genoml_search.search.families.paths import PenalizedPathModel
from genoml_search.search.objective import CVSpec, TrialSpec, evaluate_trial, make_folds
from genoml_search.search.path_cv import cross_validate_path
from genoml_search.search.paths import Design

N, M, CAUSAL = 600, 800, 10


def sparse_cohort(seed: int = 0, task: str = "binary") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """int8 genotypes (1 % missing), a covariate with an effect, and a trait with CAUSAL causal SNPs."""
    rng = np.random.default_rng(seed)
    genotypes = rng.binomial(2, rng.uniform(0.1, 0.5, M), size=(N, M)).astype(np.int8)
    standardized = (genotypes - genotypes.mean(axis=0)) / genotypes.std(axis=0)
    genotypes[rng.random((N, M)) < 0.01] = -127
    age = rng.normal(50, 10, N)
    liability = standardized[:, :CAUSAL] @ rng.choice([-1.0, 1.0], CAUSAL) * 0.35 + 0.05 * (age - 50)
    liability += rng.normal(0, 1, N)
    y = (liability > np.median(liability)).astype(float) if task == "binary" else liability
    return genotypes, age[:, None].astype(np.float32), y


def test_lambda_max_is_the_covariates_only_model():
    genotypes, covariates, y = sparse_cohort()
    fit = paths.fit_path(Design(genotypes, covariates, np.arange(N)), y, "binary", 1.0, np.array([0.0, 1.0]),
                         max_index=3)
    beta, _ = fit.coefficients(0)
    assert np.abs(beta[:M]).max() < 1e-8 and abs(beta[M, 0]) > 0.1  # no SNP (up to round-off); the covariate
    assert np.count_nonzero(fit.coefficients(3)[0][:M]) > 0


def test_path_cv_recovers_causal_snps_and_beats_chance(tmp_path):
    genotypes, covariates, y = sparse_cohort()
    dataset = make_dataset(tmp_path / "d", genotypes, y, covariates={"AGE": covariates[:, 0]})
    spec = TrialSpec(0, str(dataset.path), dataset.content_hash, "binary", "roc_auc", "lasso_path",
                     {"l1_ratio": 1.0}, 1.0, np.arange(N), CVSpec(5, 1, 0))
    result = evaluate_trial(spec)
    assert result.error is None, result.error
    assert result.value > 0.75 and len(result.fold_scores) == 5
    assert result.attrs["path"]["lambda_index"] > 0
    model = PenalizedPathModel(task="binary", lambda_index=result.attrs["path"]["lambda_index"], n_covariates=1)
    model.fit(Design(genotypes, covariates, np.arange(N)), y)
    selected = np.flatnonzero(model.raw_coef_[:M, 0])
    assert set(range(CAUSAL)) <= set(selected[:50]) or len(set(range(CAUSAL)) & set(selected)) >= 8
    strongest = np.argsort(-np.abs(model.coef_[0, :M]))[:CAUSAL]
    assert len(set(strongest) & set(range(CAUSAL))) >= 7
    # the worker never built the float32 copy of the genotypes
    assert not load_features(str(dataset.path), dataset.content_hash).has_float_copy


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_shuffled_phenotype_gives_chance_and_no_snps(task):
    genotypes, covariates, y = sparse_cohort(seed=3, task=task)
    y = np.random.default_rng(4).permutation(y)
    metric = get_metric("roc_auc" if task == "binary" else "r2", task)
    result = cross_validate_path(Design(genotypes, covariates, np.arange(N)), y, make_folds(y, task, CVSpec(5, 1, 0)),
                                 task, metric.compute, metric.greater_is_better, 1.0)
    chance = 0.5 if task == "binary" else 0.0
    assert abs(result.value - chance) < 0.06
    # (near) no SNP: the penalty chosen by the noisy CV curve keeps at most 2 % of them (measured: <= 11 of 800)
    assert max(result.n_selected) <= M // 50


def test_the_solver_sees_int8_not_a_float_copy(monkeypatch):
    genotypes, covariates, y = sparse_cohort()
    seen = []
    original = paths.import_adelie().io.snp_unphased.write

    def spy(self, calldata, *args, **kwargs):
        seen.append((calldata.dtype, calldata.shape))
        return original(self, calldata, *args, **kwargs)

    monkeypatch.setattr(paths.import_adelie().io.snp_unphased, "write", spy)
    paths.fit_path(Design(genotypes, covariates, np.arange(N)), y, "binary", 1.0, np.array([0.0, 1.0]), max_index=2)
    assert seen and all(dtype == np.int8 for dtype, _ in seen)
    assert sum(shape[1] for _, shape in seen) == M


def test_imputation_and_scaling_come_from_the_training_rows_only():
    genotypes, covariates, y = sparse_cohort()
    train = np.arange(300)
    genotypes = genotypes.copy()
    genotypes[300:, 0] = 2  # held-out rows differ: they must not move the centers
    fit = paths.fit_path(Design(genotypes, covariates, train), y[train], "binary", 1.0, np.array([0.0, 1.0]),
                         max_index=1)
    column = genotypes[train, 0]
    assert fit.standardization.centers[0] == pytest.approx(column[column >= 0].mean())


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_model_predicts_the_same_from_int8_and_from_floats(task):
    genotypes, covariates, y = sparse_cohort(seed=5, task="regression")
    if task == "binary":
        y = (y > np.median(y)).astype(int)
    elif task == "multiclass":
        y = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    floats = np.hstack([np.where(genotypes < 0, np.nan, genotypes).astype(np.float32), covariates])
    model = PenalizedPathModel(task=task, lambda_index=8, n_covariates=1).fit(floats, y)
    int8_model = PenalizedPathModel(task=task, lambda_index=8, n_covariates=1).fit(
        Design(genotypes, covariates, np.arange(N)), y)
    design = Design(genotypes, covariates, np.arange(N))
    if task == "regression":
        np.testing.assert_allclose(model.predict(floats), int8_model.predict(design), rtol=1e-6, atol=1e-8)
    else:
        np.testing.assert_allclose(model.predict_proba(floats), int8_model.predict_proba(design), atol=1e-8)
        assert model.predict_proba(floats).shape[1] == len(np.unique(y))


def test_a_study_with_lasso_path_refits_the_chosen_penalty_and_saves_the_model(tmp_path):
    """`run` on Dask workers: lasso_path is queued first, its chosen penalty is recorded and refitted, the
    saved model loads through the skops allow-list and reproduces the validation scores."""
    import json
    import os

    import optuna
    from distributed import LocalCluster
    from sklearn.metrics import roc_auc_score

    from genoml_search.core.scoring import predict_scores
    from genoml_search.execute.cluster import ClusterOptions
    from genoml_search.model_io import load_model
    from genoml_search._run import RunOptions, run
    from tests.search.conftest import ROOT

    genotypes, covariates, y = sparse_cohort(seed=7)
    dataset = make_dataset(tmp_path / "d", genotypes, y, covariates={"AGE": covariates[:, 0]})
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        run(RunOptions(dataset=dataset.path, out=tmp_path / "out", n_trials=2, families=["lasso_path", "logistic"],
                       n_folds=3, cluster=ClusterOptions(scheduler=cluster.scheduler_address)))
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["cv"]["best_family"] == "lasso_path" and metrics["cv"]["best_trial"] == 0  # queued first
    study = optuna.load_study(study_name=metrics["study"], storage=f"sqlite:///{tmp_path / 'out' / 'study.db'}")
    path = study.trials[0].user_attrs["path"]
    model, _ = load_model(tmp_path / "out" / "model")
    assert model.named_steps["model"].lambda_index_ == path["lambda_index"] > 0
    ids = (tmp_path / "out" / "holdout_samples.txt").read_text().split()[1:]
    rows = np.array([int(i[1:]) for i in ids])  # IDs s0, s1, ...
    floats = np.hstack([np.where(genotypes < 0, np.nan, genotypes).astype(np.float32), covariates])[rows]
    scores = predict_scores(model, floats, "binary")  # float input, as `predict` gives it
    assert roc_auc_score(y[rows], scores) == pytest.approx(metrics["validation"]["roc_auc"], abs=1e-9)
    # the lasso's SNPs and weights are exported for plink2 --score (checked against the model before writing)
    weights = (tmp_path / "out" / "model" / "score.tsv").read_text().splitlines()
    assert len(weights) - 1 == np.count_nonzero(model.named_steps["model"].raw_coef_[:M])


def test_without_adelie_lasso_path_leaves_the_defaults_and_an_explicit_choice_is_a_user_error(monkeypatch, tmp_path):
    import importlib.util

    from genoml_search.errors import UserError
    from genoml_search._run import RunOptions, choose_families

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "adelie" else real(name, *a))
    defaults = [f.name for f in choose_families(RunOptions(dataset=tmp_path, out=tmp_path), "binary")]
    assert "lasso_path" not in defaults and "logistic" in defaults
    with pytest.raises(UserError, match="lasso_path: needs the adelie package.*pip install --no-deps adelie"):
        choose_families(RunOptions(dataset=tmp_path, out=tmp_path, families=["lasso_path"]), "binary")
    monkeypatch.undo()
    assert "lasso_path" in [f.name for f in choose_families(RunOptions(dataset=tmp_path, out=tmp_path), "binary")]


@pytest.mark.parametrize("task", ["binary", "regression", "multiclass"])
def test_one_shared_matrix_per_trial_gives_the_per_fold_paths(task):
    """Folds fitted on one matrix of all rows (weight 0 on the held-out rows, the fold's own standardization)
    follow the paths of per-fold matrices; without missing calls the imputation cannot differ either."""
    genotypes, covariates, y = sparse_cohort(seed=5, task="regression")
    genotypes[genotypes < 0] = 1
    if task == "binary":
        y = (y > np.median(y)).astype(float)
    elif task == "multiclass":
        y = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3])).astype(float)
    classes = None if task == "regression" else np.unique(y)
    design = Design(genotypes, covariates, np.arange(N))
    train = np.sort(np.random.default_rng(6).choice(N, int(0.8 * N), replace=False))
    shared = paths.AdelieMatrix(design, fold_rows=[train])
    one = paths.fit_path(design, y, task, 0.5, classes, max_index=15, shared=(shared, 0, train))
    alone = paths.fit_path(Design(genotypes, covariates, train), y[train], task, 0.5, classes, max_index=15)
    assert np.allclose(one.lambdas, alone.lambdas, rtol=1e-6)
    assert np.allclose(one.standardization.centers, alone.standardization.centers)
    for index in (1, 8, 15):
        assert np.allclose(one.coefficients(index)[0], alone.coefficients(index)[0], atol=2e-4)


def test_minor_allele_storage_keeps_the_counted_allele_scale():
    """Columns whose counted allele is the major one are stored as 2 - g; the standardized matrix adelie sees
    is still that of g."""
    genotypes, covariates, _ = sparse_cohort(seed=7)
    genotypes[:, ::2] = np.where(genotypes[:, ::2] >= 0, 2 - genotypes[:, ::2], genotypes[:, ::2])  # major counted
    design = Design(genotypes, covariates, np.arange(N))
    matrix = paths.AdelieMatrix(design)
    vector = np.random.default_rng(8).standard_normal(N)
    out = np.empty(M + 1)
    matrix.matrix.mul(vector, np.ones(N), out)
    dense = np.hstack([genotypes.astype(float), covariates.astype(float)])
    filled = np.where((dense < 0) & (np.arange(M + 1) < M), matrix.standardization.centers, dense)
    expected = ((filled - matrix.standardization.centers) / matrix.standardization.scales).T @ vector
    assert np.allclose(out, expected, atol=1e-8)


@pytest.mark.parametrize(("threshold", "collections"), [(N * M + 1, 0), (N * M, 1)])
def test_a_fit_collects_garbage_only_for_a_large_matrix(monkeypatch, threshold, collections):
    """The end-of-fit collection (which releases a big fold matrix at once) is skipped below COLLECT_CELLS."""
    genotypes, covariates, y = sparse_cohort()
    calls = []
    monkeypatch.setattr(paths, "COLLECT_CELLS", threshold)
    monkeypatch.setattr(paths.gc, "collect", lambda *args: calls.append(args) or 0)
    paths.fit_path(Design(genotypes, covariates, np.arange(N)), y, "binary", 1.0, np.array([0.0, 1.0]), max_index=2)
    assert len(calls) == collections
