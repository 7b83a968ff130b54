"""Multi-fidelity rungs on training samples: nested stratified subsamples, the successive-halving rule,
rung-by-rung evaluation in the objective (all tasks), and when it is on."""
from __future__ import annotations

import dataclasses

import numpy as np
import optuna
import pytest
from tests.search.conftest import make_dataset, noise_genotypes

from genoml_search.errors import StudyError
from genoml_search.search import objective
from genoml_search.search.fidelity import (AUTO_MIN_SAMPLES, Fidelity, promotable, resumed_fidelity, rung_sizes,
                                           subsample_order)
from genoml_search.search.objective import CVSpec, PruningContext, TrialSpec, evaluate_trial

K = 3  # CV folds in these tests


# --- rungs ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_rungs_are_nested_deterministic_and_stratified(task):
    rng = np.random.default_rng(0)
    y = {"binary": (rng.random(2000) < 0.2).astype(float), "multiclass": rng.choice([0.0, 1.0, 2.0], 2000,
                                                                                    p=[0.6, 0.3, 0.1]),
         "regression": rng.normal(size=2000)}[task]
    fidelity = Fidelity(rung_sizes(2000, K, "on", y, task), seed=5)
    assert fidelity.sizes == (222, 666, 2000)
    rows = fidelity.rows(y, task)
    assert [len(r) for r in rows] == [222, 666, 2000]
    assert set(rows[0]) < set(rows[1]) < set(rows[2]) == set(range(2000))  # nested, inside the search samples
    again = Fidelity(fidelity.sizes, seed=5).rows(y, task)
    assert all(np.array_equal(a, b) for a, b in zip(rows, again))  # deterministic given the seed
    assert not np.array_equal(rows[0], Fidelity(fidelity.sizes, seed=6).rows(y, task)[0])
    if task != "regression":
        for subset in rows[:2]:  # every class in its proportion, to within one sample
            for label in np.unique(y):
                assert abs(np.sum(y[subset] == label) - np.mean(y == label) * len(subset)) <= 1


def test_every_prefix_of_the_order_is_stratified():
    y = np.array([0.0] * 900 + [1.0] * 100)
    order = subsample_order(y, "binary", 1)
    cases = np.cumsum(y[order])
    assert np.all(np.abs(cases - np.arange(1, 1001) * 0.1) <= 1)
    assert sorted(order) == list(range(1000))


def test_auto_is_off_below_the_threshold_and_off_is_off():
    assert rung_sizes(AUTO_MIN_SAMPLES - 1, 5, "auto") == (AUTO_MIN_SAMPLES - 1,)
    assert rung_sizes(AUTO_MIN_SAMPLES, 5, "auto") == (555, 1666, 5000)
    assert rung_sizes(20000, 5, "off") == (20000,)
    assert not Fidelity(rung_sizes(400, 5, "auto")).enabled
    # `on` at small n keeps only the rungs CV can run on: folds of >= 20 training samples, >= 2 per class per fold
    assert rung_sizes(200, 5, "on") == (66, 200)
    y = np.array([0.0] * 380 + [1.0] * 20)
    assert rung_sizes(400, 5, "on", y, "binary") == (400,)
    with pytest.raises(ValueError):
        rung_sizes(100, 5, "sometimes")


def test_a_resumed_study_keeps_its_rungs():
    requested = Fidelity((600, 1800, 5400), seed=1)
    assert resumed_fidelity([600, 1800, 5400], requested, "auto", "s") == requested
    assert resumed_fidelity(None, requested, "auto", "s") == Fidelity((5400,), 1)  # made before fidelity existed
    assert resumed_fidelity([5400], requested, "auto", "s").sizes == (5400,)
    with pytest.raises(StudyError, match="without multi-fidelity"):
        resumed_fidelity([5400], requested, "on", "s")
    with pytest.raises(StudyError, match="with multi-fidelity"):
        resumed_fidelity([600, 1800, 5400], Fidelity((5400,), 1), "off", "s")


# --- the rung rule is Optuna's successive halving ---------------------------------------------------------------

@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_promotion_rule_matches_optunas_successive_halving_pruner(direction):
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, min_early_stopping_rate=0)
    study = optuna.create_study(direction=direction, pruner=pruner)
    values = np.random.default_rng(3).normal(size=40)
    decisions = []
    for number, value in enumerate(values):
        trial = study.ask()
        trial.report(float(value), 1)  # rung 0 of Optuna's SHA is step min_resource = 1
        optuna_prunes = trial.should_prune()
        ours = promotable(float(value), [float(v) for v in values[:number]], direction == "maximize")
        decisions.append(ours)
        assert ours == (not optuna_prunes), number
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    assert 5 < sum(decisions) < 30  # both outcomes happened
    assert not promotable(float("nan"), [0.5], True)


# --- the objective, rung by rung --------------------------------------------------------------------------------

def _history(step_values: list[dict[int, float]], state: str = "PRUNED") -> tuple:
    return tuple((state, None, tuple(sorted(steps.items()))) for steps in step_values)


TASKS = {"binary": ("logistic", {"C": 1.0, "l1_ratio": 0.0}, "roc_auc"),
         "multiclass": ("logistic", {"C": 1.0, "l1_ratio": 0.0}, "roc_auc_ovr"),
         "regression": ("elastic_net", {"alpha": 0.1, "l1_ratio": 0.5}, "r2")}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """One small dataset per task; covariate ``idx`` is the sample's row number (to see which rows a fit got)."""
    rng = np.random.default_rng(4)
    n = 540
    g = noise_genotypes(n, 30, 4)
    signal = g[:, :3].sum(1) - g[:, :3].sum(1).mean() + rng.normal(size=n)
    ys = {"binary": (signal > 0).astype(float), "regression": signal,
          "multiclass": np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3])).astype(float)}
    return {task: make_dataset(tmp_path_factory.mktemp(task) / "ds", g, y, task,
                               covariates={"idx": np.arange(n, dtype=float)}) for task, y in ys.items()}


def _spec(dataset, task, history=(), index=None, family=None):
    name, params, metric = TASKS[task]
    index = np.arange(len(dataset.phenotype)) if index is None else index
    fidelity = Fidelity(rung_sizes(len(index), K, "on", dataset.phenotype[index], task), seed=2)
    return TrialSpec(0, str(dataset.path), dataset.content_hash, task, metric, family or name, params, 1.0, index,
                     CVSpec(K, 1, 0), pruning=PruningContext("median", "maximize", history), fidelity=fidelity)


def test_a_bad_trial_is_stopped_at_rung_0(datasets):
    dataset = datasets["binary"]
    good = _history([{2: 0.97}] * 6)  # six finished trials scored 0.97 on rung 0 (its score is at step K - 1)
    result = evaluate_trial(_spec(dataset, "binary", good))
    assert result.error is None and result.pruned and result.value is None
    assert len(result.reported) == K and len(result.fold_scores) == K  # only rung 0 ran
    assert result.attrs["fidelity"] == {"rung": 0, "n_samples": 60, "rungs": [60, 180, 540]}
    assert result.reported[-1] == pytest.approx(np.mean(result.fold_scores))  # its partial score
    assert result.steps() == tuple(enumerate(result.reported))


@pytest.mark.parametrize("task", list(TASKS))
def test_a_good_trial_climbs_every_rung_and_scores_on_all_samples(datasets, task):
    dataset = datasets[task]
    poor = _history([{2: -5.0}] * 6)
    result = evaluate_trial(_spec(dataset, task, poor))
    assert result.error is None and not result.pruned
    assert len(result.reported) == 3 * K and result.attrs["fidelity"]["rung"] == 2
    off = evaluate_trial(dataclasses.replace(_spec(dataset, task, poor), fidelity=Fidelity()))
    assert result.value == pytest.approx(off.value)  # the value is the full-data CV score, as without fidelity
    assert result.fold_scores == pytest.approx(off.fold_scores)
    assert result.oof is not None and result.oof.complete


def test_rungs_fit_on_their_subsample_of_the_search_samples_only(datasets, monkeypatch):
    dataset = datasets["binary"]
    search = np.sort(np.random.default_rng(1).choice(540, 450, replace=False))  # the rest is "validation"
    spec = _spec(dataset, "binary", _history([{2: -1.0}] * 6), index=search)
    seen: list[np.ndarray] = []
    real = objective.build_pipeline

    def recording(*args, **kwargs):
        model = real(*args, **kwargs)
        fit = model.fit
        model.fit = lambda x, y: (seen.append(x[:, -1].astype(int)), fit(x, y))[1]  # covariate idx = row number
        return model

    monkeypatch.setattr(objective, "build_pipeline", recording)
    result = evaluate_trial(spec)
    assert result.error is None and not result.pruned
    rows = spec.fidelity.rows(dataset.phenotype[search], "binary")
    assert spec.fidelity.sizes == (50, 150, 450)
    for rung in range(3):
        fits = seen[rung * K:(rung + 1) * K]
        trained = np.unique(np.concatenate(fits))
        assert set(trained) == set(search[rows[rung]])  # each rung's folds together train on exactly its rows
        assert all(len(f) == pytest.approx(len(rows[rung]) * (K - 1) / K, abs=1) for f in fits)


def test_a_family_without_rungs_reports_at_the_full_data_steps(datasets, monkeypatch):
    dataset = datasets["binary"]
    monkeypatch.setattr(type(objective.get_family("logistic")), "multi_fidelity", False)
    result = evaluate_trial(_spec(dataset, "binary", _history([{2: 0.99}] * 6)))
    assert not result.pruned and len(result.reported) == K and result.first_step == 2 * K
    assert [step for step, _ in result.steps()] == [6, 7, 8]


def test_the_fold_pruner_sees_only_full_data_folds(datasets):
    dataset = datasets["binary"]
    # finished trials: poor at the lower rungs (so this trial climbs), excellent on every full-data fold
    history = tuple(("COMPLETE", 0.99, tuple((s, -5.0 if s < 2 * K else 0.99) for s in range(3 * K)))
                    for _ in range(6))
    result = evaluate_trial(_spec(dataset, "binary", history))
    assert result.pruned and result.attrs["fidelity"]["rung"] == 2
    assert len(result.reported) == 2 * K + 2  # pruned after the second full-data fold (warm-up: the first)
