"""Out-of-fold predictions: computed by the objective, stored by the driver through Optuna's artifact store on
every storage, read back unchanged."""
from __future__ import annotations

import numpy as np
import optuna
import pytest

from genoml_search.core.metrics import get_metric
from genoml_search.ensemble.nested import per_fold_scores
from genoml_search.search.objective import CVSpec, PruningContext, TrialSpec, evaluate_trial
from genoml_search.search.oof import OOF_ATTR, OOFPredictions, artifact_store, load_oof
from genoml_search.search.storage import open_storage

from .conftest import make_dataset, noise_genotypes


def _spec(dataset, family, params, task="binary", metric="roc_auc", n_folds=3, n_repeats=1, pruning=None):
    index = np.arange(len(dataset.phenotype))
    return TrialSpec(0, str(dataset.path.resolve()), dataset.content_hash, task, metric, family, params, 1.0, index,
                     CVSpec(n_folds, n_repeats, 0), pruning=pruning or PruningContext())


def _assert_oof_reproduces_folds(result, y, task, metric):
    assert result.error is None, result.error
    oof = result.oof
    assert oof is not None and oof.complete
    assert oof.scores.dtype == np.float32 and oof.folds.dtype == np.int8
    again = per_fold_scores(oof.scores, oof.folds, y, get_metric(metric, task).compute)
    assert again == pytest.approx(result.fold_scores, abs=1e-5)  # float32 storage: same scores


@pytest.mark.parametrize("family,params", [("logistic", {"C": 0.1, "l1_ratio": 0.0}),
                                           ("lasso_path", {"l1_ratio": 1.0})])
def test_binary_trials_return_oof_predictions_of_every_sample(small_dataset, family, params):
    result = evaluate_trial(_spec(small_dataset, family, params, n_repeats=2))
    assert result.oof.scores.shape == (2, len(small_dataset.phenotype))
    _assert_oof_reproduces_folds(result, small_dataset.phenotype, "binary", "roc_auc")


def test_multiclass_and_regression_oof(tmp_path):
    rng = np.random.default_rng(3)
    g = noise_genotypes(150, 30, 3)
    y3 = np.digitize(g[:, :3].sum(axis=1) + rng.normal(size=150), [2.0, 4.0]).astype(float)
    multi = make_dataset(tmp_path / "multi", g, y3, task="multiclass")
    result = evaluate_trial(_spec(multi, "logistic", {"C": 0.1, "l1_ratio": 0.0}, "multiclass", "roc_auc_ovr"))
    assert result.oof.scores.shape == (1, 150, 3)
    assert np.allclose(result.oof.scores.sum(axis=2), 1.0, atol=1e-5)
    _assert_oof_reproduces_folds(result, y3, "multiclass", "roc_auc_ovr")
    yr = g[:, :3].sum(axis=1) + rng.normal(size=150)
    reg = make_dataset(tmp_path / "reg", g, yr, task="regression")
    result = evaluate_trial(_spec(reg, "elastic_net", {"alpha": 0.01, "l1_ratio": 0.5}, "regression", "r2"))
    _assert_oof_reproduces_folds(result, yr, "regression", "r2")


def test_pruned_trials_have_no_oof(small_dataset):
    history = tuple(("COMPLETE", 0.99, ((0, 0.99), (1, 0.99), (2, 0.99))) for _ in range(6))
    result = evaluate_trial(_spec(small_dataset, "logistic", {"C": 0.1, "l1_ratio": 0.0},
                                  pruning=PruningContext("median", "maximize", history)))
    assert result.pruned and result.oof is None


def test_bytes_roundtrip_is_compressed_float32():
    oof = OOFPredictions.empty(1, 1000)
    oof.add(0, 0, np.arange(1000), np.linspace(0, 1, 1000))
    data = oof.to_bytes()
    back = OOFPredictions.from_bytes(data)
    assert np.array_equal(back.scores, oof.scores) and np.array_equal(back.folds, oof.folds)
    assert len(data) < 1000 * 4 + 1000  # compressed below the raw float32 + int8 size


def test_driver_stores_oof_on_every_storage(storage_url, study_name, small_dataset, dask_scheduler, tmp_path):
    """The driver (not the workers) writes each complete trial's OOF predictions to the artifact store; they
    read back and reproduce the trial's fold scores, on SQLite, PostgreSQL and MariaDB."""
    from distributed import Client

    from genoml_search.execute.driver import run_trials

    study = optuna.create_study(storage=open_storage(storage_url), study_name=study_name, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    store = artifact_store(tmp_path / "run")
    index = np.arange(len(small_dataset.phenotype))

    def make_spec(trial, pruning):
        c = trial.suggest_float("C", 1e-3, 1.0, log=True)
        return TrialSpec(trial.number, str(small_dataset.path.resolve()), small_dataset.content_hash, "binary",
                         "roc_auc", "logistic", {"C": c, "l1_ratio": 0.0}, 1.0, index, CVSpec(3, 1, 0),
                         pruning=pruning)

    with Client(dask_scheduler) as client:
        stats = run_trials(study, client, 3, make_spec, "none", artifacts=store)
    assert stats.oof_stored == 3 and stats.oof_bytes > 0
    reloaded = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    for trial in reloaded.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        assert trial.user_attrs[OOF_ATTR]
        oof = load_oof(trial, store)
        assert oof is not None and oof.scores.shape == (1, len(index))
        again = per_fold_scores(oof.scores, oof.folds, small_dataset.phenotype, get_metric("roc_auc", "binary").compute)
        assert again == pytest.approx(trial.user_attrs["fold_scores"], abs=1e-5)


def test_a_trial_without_oof_or_with_a_missing_file_is_skipped(tmp_path):
    store = artifact_store(tmp_path)
    study = optuna.create_study()
    trial = study.ask()
    study.tell(trial, 0.5)
    frozen = study.trials[0]
    assert load_oof(frozen, store) is None  # older study: no attribute
    frozen.user_attrs[OOF_ATTR] = "no-such-artifact"
    assert load_oof(frozen, store) is None  # a store that does not have it
