"""The CV objective: folds, in-fold preprocessing, no leakage, per-fold pruning."""
from __future__ import annotations

import numpy as np
import optuna
import pytest
from tests.search.conftest import make_dataset, noise_genotypes
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from genoml_search.search.objective import (
    CVSpec, PruningContext, TrialSpec, evaluate_trial, make_folds, make_pruner,
)
from genoml_search.search.pipeline import GenotypePreprocessor, association_pvalues

LOGISTIC = {"C": 1.0, "l1_ratio": 0.0}


def spec_for(dataset, family="logistic", params=LOGISTIC, threshold=1.0, cv=CVSpec(5, 1, 0), index=None,
             pruning=PruningContext(), groups=None) -> TrialSpec:
    index = np.arange(len(dataset.phenotype)) if index is None else index
    return TrialSpec(0, str(dataset.path), dataset.content_hash, dataset.task, "roc_auc", family, params,
                     threshold, index, cv, groups=groups, pruning=pruning)


# --- folds ------------------------------------------------------------------------------------------------------

def test_stratified_folds_partition_and_keep_class_ratio():
    y = np.array([0] * 80 + [1] * 20)
    folds = make_folds(y, "binary", CVSpec(5, 1, 3))
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(100))  # every sample tested exactly once
    for train, test in folds:
        assert not set(train) & set(test)
        assert y[test].sum() == 4  # 20 % cases in every fold


def test_repeats_reshuffle_and_regression_uses_plain_kfold():
    y = np.random.default_rng(0).normal(size=60)
    folds = make_folds(y, "regression", CVSpec(3, 2, 0))
    assert len(folds) == 6
    assert not np.array_equal(np.sort(folds[0][1]), np.sort(folds[3][1]))
    for repeat in (folds[:3], folds[3:]):
        assert sorted(np.concatenate([t for _, t in repeat])) == list(range(60))


def test_grouped_folds_never_split_a_group():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(40), 3)  # 40 families of 3
    y = rng.integers(0, 2, 120)
    for task in ("binary", "regression"):
        for train, test in make_folds(y, task, CVSpec(5, 2, 0), groups):
            assert not set(groups[train]) & set(groups[test])


# --- in-fold preprocessing --------------------------------------------------------------------------------------

def test_preprocessor_learns_only_from_the_rows_it_is_fitted_on():
    x = np.array([[0, 1, 5.0], [2, np.nan, 7.0], [np.nan, 1, 9.0], [2, 2, 100.0]], dtype=np.float32)
    pre = GenotypePreprocessor(n_snps=2).fit(x[:3], np.array([0, 1, 0]))
    np.testing.assert_allclose(pre.fill_values_, [1.0, 1.0, 7.0])  # the 4th row (test) is not in the means
    out = pre.transform(np.array([[np.nan, np.nan, 1.0]], dtype=np.float32))
    np.testing.assert_allclose(out, [[1.0, 1.0, 1.0]])


def test_association_filter_uses_training_labels_only():
    rng = np.random.default_rng(2)
    n = 200
    y = rng.integers(0, 2, n).astype(float)
    x = rng.binomial(2, 0.3, (n, 50)).astype(np.float32)
    x[:100, 7] = y[:100] * 2  # SNP 7 tracks y in the first half only
    pre = GenotypePreprocessor(n_snps=50, snp_p_threshold=1e-6, min_snps=0).fit(x[100:], y[100:])
    assert not pre.keep_[7]
    assert GenotypePreprocessor(n_snps=50, snp_p_threshold=1e-6).fit(x[:100], y[:100]).keep_[7]


def test_association_pvalues_match_scipy():
    from scipy import stats

    rng = np.random.default_rng(3)
    x = rng.binomial(2, 0.4, (80, 4)).astype(float)
    y = x[:, 0] + rng.normal(size=80)
    expected = [stats.pearsonr(x[:, j], y).pvalue for j in range(4)]
    np.testing.assert_allclose(association_pvalues(x, y, "regression"), expected, rtol=1e-6)


# --- no leakage ---------------------------------------------------------------------------------------------------

def test_selecting_snps_on_all_samples_inflates_auc_but_the_in_fold_filter_stays_at_chance(tmp_path):
    """Pure noise, 2,000 SNPs, 120 samples: picking the top SNPs on all samples before CV (leaky) reaches a
    high AUC; the same selection inside each fold (the objective) stays at chance."""
    leaky, ours = [], []
    cv = CVSpec(5, 1, 0)
    for seed in range(3):
        g = noise_genotypes(120, 2000, seed)
        y = (np.random.default_rng(seed + 100).random(120) < 0.5).astype(float)
        dataset = make_dataset(tmp_path / f"noise{seed}", g, y)
        x = g.astype(float)
        top = np.argsort(association_pvalues(x, y, "binary"))[:10]  # selected on ALL samples: the leak
        aucs = []
        for train, test in make_folds(y, "binary", cv):
            model = LogisticRegression(max_iter=1000).fit(x[train][:, top], y[train])
            aucs.append(roc_auc_score(y[test], model.predict_proba(x[test][:, top])[:, 1]))
        leaky.append(np.mean(aucs))
        result = evaluate_trial(spec_for(dataset, threshold=0.005, cv=cv))  # ~10 SNPs per fold, in-fold
        assert result.error is None
        ours.append(result.value)
    assert min(leaky) > 0.75, leaky
    assert abs(np.mean(ours) - 0.5) < 0.1 and max(ours) < 0.65, ours


def test_shuffled_phenotype_gives_chance_through_the_real_objective(example_dataset, tmp_path):
    samples = example_dataset.samples
    genotypes = np.asarray(example_dataset.genotypes)
    covariates = {c: samples[c].to_numpy() for c in example_dataset.covariate_names}
    real = evaluate_trial(spec_for(example_dataset, threshold=1e-3, cv=CVSpec(5, 1, 0)))
    assert real.value > 0.8  # the example has a strong signal, so the test below can fail
    values = []
    for seed in range(3):
        shuffled = np.random.default_rng(seed).permutation(example_dataset.phenotype)
        dataset = make_dataset(tmp_path / f"shuffled{seed}", genotypes, shuffled, covariates=covariates)
        result = evaluate_trial(spec_for(dataset, threshold=1e-3, cv=CVSpec(5, 1, 0)))
        assert result.error is None
        values.append(result.value)
    assert abs(np.mean(values) - 0.5) < 0.06, values


def test_objective_scores_each_fold_and_uses_only_the_search_samples(small_dataset):
    index = np.arange(0, 200, 2)
    result = evaluate_trial(spec_for(small_dataset, cv=CVSpec(4, 1, 0), index=index))
    assert len(result.fold_scores) == 4 and not result.pruned
    assert result.value == pytest.approx(np.mean(result.fold_scores))
    assert result.reported == pytest.approx(np.cumsum(result.fold_scores) / np.arange(1, 5))  # running mean


def test_a_failing_model_is_a_failed_trial_not_an_exception(small_dataset):
    result = evaluate_trial(spec_for(small_dataset, params={"C": -1.0, "l1_ratio": 0.0}))
    assert result.error is not None and result.value is None


# --- pruning ------------------------------------------------------------------------------------------------------

def _history(values: list[list[float]]):
    return tuple(("COMPLETE", float(np.mean(v)), tuple(enumerate(np.cumsum(v) / np.arange(1, len(v) + 1))))
                 for v in values)


def test_median_pruner_stops_a_trial_below_the_median_after_warmup():
    context = PruningContext("median", "maximize", _history([[0.8] * 5] * 6))
    assert not context.should_prune([0.6])  # warm-up: the first fold is never judged
    assert context.should_prune([0.6, 0.6])
    assert not context.should_prune([0.85, 0.85])
    assert not PruningContext("none", "maximize", _history([[0.8] * 5] * 6)).should_prune([0.1, 0.1])


def test_pruned_trial_stops_early_through_the_objective(small_dataset):
    history = _history([[0.99] * 5] * 6)
    result = evaluate_trial(spec_for(small_dataset, pruning=PruningContext("median", "maximize", history)))
    assert result.pruned and result.value is None
    assert 2 <= len(result.fold_scores) < 5


@pytest.mark.parametrize(("name", "kind"), [
    ("none", optuna.pruners.NopPruner), ("median", optuna.pruners.MedianPruner),
    ("percentile", optuna.pruners.PercentilePruner), ("wilcoxon", optuna.pruners.WilcoxonPruner),
    ("successive_halving", optuna.pruners.SuccessiveHalvingPruner), ("hyperband", optuna.pruners.HyperbandPruner),
])
def test_every_pruner_name_gives_its_pruner(name, kind):
    assert type(make_pruner(name)) is kind


def test_unknown_pruner_names_the_choices():
    with pytest.raises(ValueError, match="unknown pruner 'bogus'; choose one of none, median"):
        make_pruner("bogus")
