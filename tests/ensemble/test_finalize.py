"""The ensemble step decides on CV first and refits members only for an ensemble it keeps (or on request)."""
from __future__ import annotations

import numpy as np
import optuna
import pytest
from sklearn.linear_model import LogisticRegression

import genoml_search.ensemble.finalize as finalize
from genoml_search.core.features import FeatureMatrix
from genoml_search.core.metrics import get_metric
from genoml_search.ensemble.finalize import EnsembleRequest, ensemble_step
from genoml_search.search.oof import OOFPredictions, artifact_store, store_oof
from genoml_search.search.registry import get_family
from genoml_search.search.space import suggest_pipeline

N, N_VAL = 150, 60


def _data(seed: int = 0) -> tuple[FeatureMatrix, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N + N_VAL, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] + rng.normal(size=N + N_VAL) > 0).astype(float)
    data = FeatureMatrix(x[:N], y[:N], 4, [f"f{i}" for i in range(4)], np.array([f"s{i}" for i in range(N)]))
    return data, x[:N], x[N:], y[N:]


def _request(tmp_path, oofs: list[np.ndarray], values: list[float], **kwargs) -> EnsembleRequest:
    """A study of logistic trials with the given OOF scores and CV values (best first)."""
    data, x, x_val, y_val = _data()
    family = get_family("logistic")
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    store = artifact_store(tmp_path)
    folds = (np.arange(N) % 3)[None].astype(np.int8)
    for scores, value in zip(oofs, values):
        trial = study.ask()
        suggest_pipeline(trial, [family], "binary")
        trial.set_user_attr("family", family.name)
        store_oof(trial, OOFPredictions(scores[None].astype(np.float32), folds), store)
        study.tell(trial, value)
    best = LogisticRegression().fit(x, data.y)
    defaults = dict(study=study, families=[family], task="binary", metric=get_metric("roc_auc", "binary"),
                    data=data, search_index=np.arange(N), y_val=y_val,
                    val_data=FeatureMatrix(x_val, y_val, 4, data.feature_names, np.array([f"v{i}" for i in range(N_VAL)])),
                    val_rows=np.arange(N_VAL), best_single=best, store=store)
    return EnsembleRequest(**{**defaults, **kwargs})


def _complementary(seed: int = 1) -> list[np.ndarray]:
    """Two members that each see half of the signal: their average beats both."""
    data, x, _, _ = _data()
    rng = np.random.default_rng(seed)
    return [1 / (1 + np.exp(-(x[:, 0] + rng.normal(scale=0.5, size=N)))),
            1 / (1 + np.exp(-(x[:, 1] + rng.normal(scale=0.5, size=N))))]


def _no_refits(monkeypatch) -> None:
    def refused(*args, **kwargs):
        raise AssertionError("members refitted for an ensemble that is not the final model")

    monkeypatch.setattr(finalize, "refit_members", refused)


def test_a_discarded_ensemble_is_not_refitted(tmp_path, monkeypatch):
    """The nested estimate loses against the (deliberately high) best trial's CV value: no refit, no
    validation score, the time spent is the decision's only."""
    _no_refits(monkeypatch)
    request = _request(tmp_path, _complementary(), [0.99, 0.98])
    outcome = ensemble_step(request)
    assert not outcome.chosen and outcome.model is None and outcome.validation is None
    assert outcome.cv["refitted"] is False and "does not beat" in outcome.cv["reason"]
    assert len(outcome.cv["members"]) == 2 and all("validation" not in m for m in outcome.cv["members"])
    assert outcome.cv["seconds"] >= outcome.cv["selection_seconds"]
    assert outcome.cv["candidate_families"] == {"logistic": 2}


def test_validate_scores_a_discarded_ensemble_and_times_it_apart(tmp_path):
    request = _request(tmp_path, _complementary(), [0.99, 0.98], validate=True)
    outcome = ensemble_step(request)
    assert not outcome.chosen and outcome.model is None  # still not the final model
    assert outcome.validation is not None and 0.5 < outcome.validation["roc_auc"] <= 1.0
    assert outcome.cv["refitted"] is True and outcome.cv["extra_validation_seconds"] > 0
    assert all(isinstance(m["validation"], float) for m in outcome.cv["members"])


def test_a_chosen_ensemble_refits_only_the_other_members_and_reuses_the_best_trials_scores(tmp_path, monkeypatch):
    refitted: list[int] = []
    original = finalize.refit_members

    def counting(trials, *args, **kwargs):
        refitted.extend(t.number for t in trials)
        return original(trials, *args, **kwargs)

    monkeypatch.setattr(finalize, "refit_members", counting)
    sentinel = np.linspace(0, 1, N_VAL)  # not what the best trial's pipeline predicts: proves it is reused
    request = _request(tmp_path, _complementary(), [0.8, 0.7], rule="always", single_scores=sentinel)
    outcome = ensemble_step(request)
    assert outcome.chosen and outcome.model is not None and outcome.cv["refitted"] is True
    assert refitted == [1]  # trial 0 is the best single trial: its refit is the run's
    best_member = next(m for m in outcome.cv["members"] if m["trial"] == 0)
    assert best_member["validation"] == pytest.approx(get_metric("roc_auc", "binary").compute(request.y_val, sentinel))
    assert "extra_validation_seconds" not in outcome.cv


def test_greedy_keeping_one_member_is_never_refitted(tmp_path, monkeypatch):
    _no_refits(monkeypatch)
    same = _complementary()[0]
    outcome = ensemble_step(_request(tmp_path, [same, same, same], [0.8, 0.79, 0.78], rule="always"))
    assert not outcome.chosen and outcome.cv["reason"] == "greedy selection kept only the best single trial"


def test_members_of_path_families_read_the_int8_genotypes_without_a_float_copy():
    """#22: an ensemble of path trials is refitted and scored from the int8 matrix (a Design); a float copy is
    made only when a member needs one."""
    from genoml_search.ensemble.finalize import member_input
    from genoml_search.search.paths import Design

    rng = np.random.default_rng(3)
    genotypes = rng.integers(0, 3, size=(40, 30)).astype(np.int8)
    covariates = rng.normal(size=(40, 2)).astype(np.float32)
    data = FeatureMatrix(None, rng.integers(0, 2, 40).astype(float), 30, [f"f{i}" for i in range(32)],
                         np.array([f"s{i}" for i in range(40)]), genotypes=genotypes, covariates=covariates)
    families = [get_family("lasso_path"), get_family("logistic")]
    study = optuna.create_study(direction="maximize")
    for family in (families[0], families[0], families[1]):
        study.enqueue_trial({"family": family.name})
        trial = study.ask()
        suggest_pipeline(trial, families, "binary")
        study.tell(trial, 0.5)
    rows = np.arange(10, 30)
    paths_only = member_input(data, rows, study.trials[:2], families)
    assert isinstance(paths_only, Design) and not data.has_float_copy
    assert np.array_equal(paths_only.rows, rows)
    mixed = member_input(data, rows, study.trials[1:], families)
    assert isinstance(mixed, np.ndarray) and mixed.shape == (20, 32) and data.has_float_copy


def test_the_nested_rule_keeps_an_ensemble_better_on_every_fold(tmp_path):
    """Two members that each see half of the signal, with their true CV scores: the average is better on
    every fold by far more than the noise, so the default (nested) rule makes it the final model."""
    from genoml_search.ensemble.nested import per_fold_scores

    data, _, _, _ = _data()
    members = _complementary()
    folds = (np.arange(N) % 3)[None]
    auc = get_metric("roc_auc", "binary")
    values = [float(np.mean(per_fold_scores(m[None], folds, data.y, auc.compute))) for m in members]
    order = np.argsort(values)[::-1]
    outcome = ensemble_step(_request(tmp_path, [members[i] for i in order], [values[i] for i in order]))
    assert outcome.chosen, outcome.cv["reason"]
    assert "per-fold gain" in outcome.cv["reason"] and outcome.cv["nested"] > max(values)
