"""The covariates-only baseline: same folds, same refit, paired increment; intercept-only without covariates."""
from __future__ import annotations

import json

import numpy as np
import pytest

from genoml_search.evaluation.baseline import INTERCEPT_ONLY, baseline_cv, compare_with_covariates
from genoml_search.evaluation.context import RefitContext
from genoml_search.core.features import FeatureMatrix
from genoml_search.search.objective import CVSpec, make_folds


def _matrix(n: int, n_snps: int, n_cov: int, seed: int = 0, snp_effect: float = 1.0) -> FeatureMatrix:
    rng = np.random.default_rng(seed)
    g = rng.binomial(2, 0.3, (n, n_snps)).astype(np.float32)
    c = rng.normal(size=(n, n_cov)).astype(np.float32)
    liability = snp_effect * g[:, :3].sum(1) + (c[:, 0] if n_cov else 0) + rng.normal(0, 1, n)
    y = (liability > np.median(liability)).astype(float)
    names = [f"rs{i}" for i in range(n_snps)] + [f"C{i}" for i in range(n_cov)]
    return FeatureMatrix(np.hstack([g, c]), y, n_snps, names, np.array([f"s{i}" for i in range(n)]))


def _context(data: FeatureMatrix, n_search: int) -> RefitContext:
    search = np.arange(n_search)
    val = np.arange(n_search, len(data.y))
    return RefitContext(data, search, data, val, "binary", "roc_auc", CVSpec(3, 1, 0))


@pytest.mark.parametrize("run_fixture, metric", [("binary_run", "roc_auc"), ("regression_run", "r2")])
def test_metrics_json_has_baseline_and_increment(run_fixture, metric, request):
    run_dir = request.getfixturevalue(run_fixture)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    baseline, increment = metrics["validation"]["baseline_covariates"], metrics["validation"]["snp_increment"]
    assert baseline["covariates"] == ["AGE", "SEX"] and "regression on 2 covariate" in baseline["model"]
    assert len(baseline["cv"]["fold_scores"]) == metrics["cv"]["n_folds"]
    assert increment["metric"] == metric
    assert increment["with_snps"] == pytest.approx(metrics["validation"][metric])
    assert increment["covariates_only"] == pytest.approx(baseline[metric])
    assert increment["difference"] == pytest.approx(increment["with_snps"] - increment["covariates_only"])
    assert increment["low"] <= increment["difference"] <= increment["high"]
    assert increment["method"] == ("paired DeLong" if metric == "roc_auc" else "paired bootstrap (1000 replicates)")
    assert set(increment["by_metric"]) >= {metric}


def test_baseline_uses_the_search_folds():
    data = _matrix(240, 10, 2)
    context = _context(data, 180)
    scores = baseline_cv(context)
    assert len(scores) == len(make_folds(context.y_search, "binary", context.cv)) == 3


def test_without_covariates_the_baseline_is_chance():
    data = _matrix(240, 10, 0)
    context = _context(data, 180)
    scores = 1 / (1 + np.exp(-(data.x[180:, :3].sum(1) - 1.8)))
    result = compare_with_covariates(context, scores, cv_value=0.8, n_boot=200)
    baseline = result["baseline_covariates"]
    assert baseline["model"] == INTERCEPT_ONLY and baseline["covariates"] == []
    assert baseline["roc_auc"] == 0.5 and baseline["cv"]["roc_auc"] == 0.5
    assert result["snp_increment"]["cv_difference"] == pytest.approx(0.3)


def test_genotype_free_trait_shows_no_increment():
    """Covariates carry all the signal: a model whose score is the covariate gains nothing from SNPs."""
    data = _matrix(600, 10, 2, snp_effect=0.0)
    context = _context(data, 400)
    scores = 1 / (1 + np.exp(-data.x[400:, 10]))
    increment = compare_with_covariates(context, scores, None, n_boot=200)["snp_increment"]
    assert increment["low"] < 0 < increment["high"] or abs(increment["difference"]) < 0.02


def test_genetic_trait_shows_a_clear_increment():
    data = _matrix(600, 10, 2, snp_effect=1.5)
    context = _context(data, 400)
    scores = 1 / (1 + np.exp(-(1.5 * data.x[400:, :3].sum(1) + data.x[400:, 10])))
    increment = compare_with_covariates(context, scores, None, n_boot=200)["snp_increment"]
    assert increment["low"] > 0.05 and increment["p_value"] < 1e-3, increment
