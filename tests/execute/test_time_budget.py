"""The time budget (--timeout) of a study without any complete trial: the driver waits for the first one."""
from __future__ import annotations

import sys
import time

import cloudpickle
import numpy as np
import pytest
from optuna.trial import TrialState

from genoml_search.execute.cluster import ClusterOptions, dask_client
from genoml_search.execute.driver import run_trials
from genoml_search.search.objective import CVSpec, TrialResult, TrialSpec

from .conftest import make_study

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module


@pytest.fixture(scope="module")
def client():
    """Two single-threaded workers of this module's own: idle for the first test, whose trial lengths the
    assertions rely on (a stopped trial keeps its worker busy until it returns; later tests do not mind)."""
    with dask_client(ClusterOptions(workers=2)) as client:
        client.run(lambda: __import__("genoml_search.search.objective"))  # warm: trial lengths are what they say
        yield client


def simple_spec(trial, pruning):
    x = trial.suggest_float("x", 0, 1)
    return TrialSpec(trial.number, "", "", "binary", "roc_auc", "logistic", {"x": x}, 1.0, np.arange(3), CVSpec(),
                     pruning=pruning)


def first_trial_quick(spec):
    """Trial 0 takes 1.5 s, every other 20 s: none finishes inside a budget of a fraction of a second."""
    time.sleep(1.5 if spec.trial_number == 0 else 20.0)
    return TrialResult(spec.trial_number, [0.5], [0.5], 0.5, False, 1.5)


def test_budget_spent_before_any_complete_trial_waits_for_the_first(tmp_path, client, caplog) -> None:
    """No complete trial when --timeout runs out: no new trial, the running ones go on until the first
    completes (trial 0), then the rest is stopped as usual; the overrun is recorded."""
    study = make_study(f"sqlite:///{tmp_path / 'study.db'}")
    stats = run_trials(study, client, 1000, simple_spec, "none", timeout=0.3, evaluate=first_trial_quick,
                       max_in_flight=2)
    trials = study.get_trials(deepcopy=False)
    assert [t.number for t in trials if t.state == TrialState.COMPLETE] == [0]
    assert stats.completed == 1 and stats.stopped == 1 and stats.timeout_overrun
    assert 1.0 < stats.timeout_grace_seconds < 15.0  # waited for trial 0, not for the 20 s trial 1
    assert len([t for t in trials if t.state != TrialState.WAITING]) == 2  # nothing asked after the budget
    assert "waiting for the first trial to finish" in caplog.text
    client.restart()  # the stopped 20 s trial would hold a worker through the next tests


def failing_trial(spec):
    time.sleep(0.5)
    return TrialResult(spec.trial_number, [], [], None, False, 0.5, error="ValueError: boom")


def test_grace_ends_when_every_running_trial_failed(tmp_path, client) -> None:
    """All trials running at the budget fail: the run ends there (no new trial), with nothing complete."""
    study = make_study(f"sqlite:///{tmp_path / 'study.db'}")
    stats = run_trials(study, client, 1000, simple_spec, "none", timeout=0.1, evaluate=failing_trial,
                       max_in_flight=2)
    assert stats.failed == 2 and stats.completed == 0 and stats.timeout_overrun
    assert len(study.get_trials(deepcopy=False)) == 2


def six_seconds(spec):
    time.sleep(6.0)
    return TrialResult(spec.trial_number, [0.5], [0.5], 0.5, False, 6.0)


def test_no_grace_when_the_study_already_has_a_complete_trial(tmp_path, client) -> None:
    """A resumed study with a complete trial has a model to refit: the budget is kept as before."""
    study = make_study(f"sqlite:///{tmp_path / 'study.db'}")
    study.tell(study.ask(), 0.5)
    stats = run_trials(study, client, 1000, simple_spec, "none", timeout=0.3, evaluate=six_seconds,
                       max_in_flight=2)
    assert stats.completed == 0 and stats.timeout_grace_seconds == 0.0 and not stats.timeout_overrun
    assert stats.seconds_total < 5.0  # stopped at the first check after the budget, not waited for
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 1

