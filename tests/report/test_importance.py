"""Permutation importance: finds the causal feature, restores the data, skips filtered-out columns."""
from __future__ import annotations

import numpy as np
import pandas as pd

from genoml_search.report.importance import annotate_features, kept_columns, permutation_importance
from genoml_search.search.pipeline import build_pipeline
from genoml_search.search.registry import get_family

import genoml_search.search.families.linear  # noqa: F401


def _data(n=300, m=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, (n, m + 1)).astype(np.float32)
    x[:, m] = rng.normal(size=n)  # a covariate
    y = ((x[:, 3] + 0.8 * x[:, m] + rng.normal(0, 0.5, n)) > 1.2).astype(float)
    return x, y


def test_causal_feature_first_and_data_restored():
    x, y = _data()
    pipe = build_pipeline(get_family("logistic"), {"C": 1.0, "l1_ratio": 0.5}, "binary", 20, 0.01)
    pipe.fit(x, y)
    before = x.copy()
    names = [f"rs{i}" for i in range(20)] + ["AGE"]
    result = permutation_importance(pipe, x, y, "binary", "roc_auc", names, max_features=5, n_repeats=3)
    np.testing.assert_array_equal(x, before)
    assert set(result["feature"].head(2)) == {"rs3", "AGE"}
    kept = set(kept_columns(pipe, x.shape[1]))
    assert set(result["column"]) <= kept  # filtered-out columns are never permuted
    assert len(result) <= 5 and result.attrs["ranked_by"] == "model importance"


def test_models_without_importances_fall_back_to_correlation():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    from genoml_search.search.pipeline import GenotypePreprocessor

    x, y = _data(seed=1)
    pipe = Pipeline([("preprocess", GenotypePreprocessor(20, "binary", 1.0)),
                     ("model", HistGradientBoostingClassifier(max_iter=30, random_state=0))]).fit(x, y)
    result = permutation_importance(pipe, x, y, "binary", "roc_auc", [str(i) for i in range(21)], max_features=4)
    assert result.attrs["ranked_by"] == "|correlation|"
    assert set(result["feature"].head(2)) == {"3", "20"}


def test_annotation_with_snp_coordinates():
    importance = pd.DataFrame({"feature": ["rs1", "AGE"], "column": [1, 2], "importance_mean": [0.2, 0.1]})
    variants = pd.DataFrame({"id": ["rs0", "rs1"], "chrom": ["1", "7"], "pos": [10, 20],
                             "counted_allele": ["A", "T"], "other_allele": ["G", "C"], "freq": [0.1, 0.3]})
    out = annotate_features(importance, variants, n_snps=2)
    assert out.loc[0, ["kind", "chrom", "pos", "counted_allele"]].tolist() == ["SNP", "7", 20, "T"]
    assert out.loc[1, "kind"] == "covariate" and pd.isna(out.loc[1, "chrom"])


def test_up_weighted_covariates_are_ranked_on_the_standardized_scale():
    """A logistic pipeline's covariate coefficient is smaller by its weight; the ranking undoes that."""
    from genoml_search.report.importance import model_importances

    x, y = _data()
    family = get_family("logistic")
    pipe = build_pipeline(family, {"C": 1.0, "l1_ratio": 0.0}, "binary", 20, 1.0, n_covariates=1).fit(x, y)
    raw = np.abs(pipe.named_steps["model"].coef_).ravel()
    ranked = model_importances(pipe, 21)
    np.testing.assert_allclose(ranked[:20], raw[:20])
    np.testing.assert_allclose(ranked[20], raw[20] * family.covariate_weight, rtol=1e-6)
    assert ranked[20] > np.sort(ranked[:20])[-2]  # AGE is among the two strongest inputs, as simulated
