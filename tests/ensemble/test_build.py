"""The ensemble's candidates: the top K trials with stored OOF predictions, every family represented."""
from __future__ import annotations

import numpy as np
import optuna

from genoml_search.ensemble.build import families_first, gather_candidates
from genoml_search.search.oof import OOFPredictions, artifact_store, store_oof


def _study(tmp_path, families_and_values):
    study = optuna.create_study(direction="maximize")
    store = artifact_store(tmp_path)
    rng = np.random.default_rng(0)
    folds = (np.arange(30) % 3)[None].astype(np.int8)
    for family, value in families_and_values:
        trial = study.ask()
        trial.suggest_categorical("family", ["logistic", "random_forest", "svm"])
        trial.set_user_attr("family", family)
        store_oof(trial, OOFPredictions(rng.uniform(size=(1, 30)).astype(np.float32), folds), store)
        study.tell(trial, value)
    return study, store


def test_top_k_keeps_the_best_trial_of_every_family(tmp_path):
    """Six logistic trials beat every other trial; with K = 3 the best random forest and the best SVM still
    come in, and the candidates stay listed best first (the best single trial first)."""
    trials = [("logistic", 0.90 - 0.01 * i) for i in range(6)] + [("random_forest", 0.70), ("svm", 0.60),
                                                                  ("random_forest", 0.65)]
    study, store = _study(tmp_path, trials)
    candidates = gather_candidates(study, store, top_k=3, n_samples=30)
    assert [t.user_attrs["family"] for t in candidates.trials] == ["logistic", "random_forest", "svm"]
    assert [t.value for t in candidates.trials] == [0.90, 0.70, 0.60]
    wider = gather_candidates(study, store, top_k=5, n_samples=30)
    assert [t.value for t in wider.trials] == [0.90, 0.89, 0.88, 0.70, 0.60]
    assert wider.scores.shape == (5, 1, 30)


def test_families_first_orders_family_bests_then_the_rest():
    frozen = [optuna.trial.create_trial(value=v, params={}, distributions={}, user_attrs={"family": f})
              for f, v in [("a", 0.9), ("a", 0.8), ("b", 0.7), ("a", 0.6), ("c", 0.5)]]
    assert [t.value for t in families_first(frozen)] == [0.9, 0.7, 0.5, 0.8, 0.6]


def test_the_nested_rule_wants_a_gain_beyond_one_standard_error_of_the_per_fold_differences():
    from genoml_search.core.metrics import get_metric
    from genoml_search.ensemble.build import _decide
    from genoml_search.search.final_choice import paired_gain
    from genoml_search.ensemble.nested import CVEstimate

    auc, rmse = get_metric("roc_auc", "binary"), get_metric("rmse", "regression")
    single = [0.760, 0.770, 0.750, 0.765, 0.775]
    noisy = CVEstimate([0.770, 0.760, 0.752, 0.764, 0.7742])  # mean 0.00004 above, differences of +-0.01
    chosen, reason = _decide(noisy, float(np.mean(single)), single, auc, 3, "greedy")
    assert not chosen and "does not beat" in reason and "standard error" in reason
    steady = CVEstimate([s + 0.004 for s in single])  # 0.004 better on every fold
    chosen, reason = _decide(steady, float(np.mean(single)), single, auc, 3, "greedy")
    assert chosen and "per-fold gain 0.0040" in reason
    assert _decide(noisy, float(np.mean(single)), single, auc, 3, "greedy", rule="always")[0]
    assert paired_gain([1.0, 2.0], [1.5, 2.5], sign=-1.0) == (0.5, 0.0)  # lower is better: both folds 0.5 better
    chosen, _ = _decide(CVEstimate([0.9, 0.95, 0.85]), 1.0, [1.0, 1.05, 0.95], rmse, 2, "greedy")
    assert chosen  # RMSE 0.1 lower on every fold
