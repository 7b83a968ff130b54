"""The central driver on real Dask workers: exact counts, pruning in parallel, data by path, worker kills."""
from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time

import cloudpickle
import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from genoml_search.execute.cluster import ClusterOptions, dask_client
from genoml_search.execute.driver import HISTORY_LIMIT, History, count_finished, run_trials
from genoml_search.search.objective import PruningContext, TrialResult, evaluate_trial

from .conftest import assert_exact, make_study, spec_factory

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module


def test_history_is_bounded_and_keeps_the_best() -> None:
    history = History(maximize=True, limit=10)
    history.add("COMPLETE", 0.99, ((0, 0.99),))
    for i in range(1000):
        history.add("PRUNED" if i % 3 else "COMPLETE", None if i % 3 else 0.5, ((0, 0.5), (1, 0.5)))
    snapshot = history.snapshot()
    assert len(snapshot) == 11 and snapshot[0][1] == 0.99
    assert history.snapshot() is snapshot  # cached until the next trial


def test_task_is_small_even_for_a_large_study(dataset, tmp_path) -> None:
    """What travels with each task: the spec with a bounded pruning snapshot, never the genotypes."""
    history = History(maximize=True)
    rng = np.random.default_rng(0)
    for _ in range(10_000):
        history.add("COMPLETE", float(rng.random()), tuple((s, float(rng.random())) for s in range(5)))
    study = optuna.create_study(direction="maximize")
    spec = spec_factory(dataset)(study.ask(), PruningContext("median", "maximize", history.snapshot()))
    size = len(pickle.dumps(spec))
    assert len(history.snapshot()) == HISTORY_LIMIT + 1
    assert size < 100_000, size


def test_dataset_is_loaded_once_per_process(dataset, monkeypatch) -> None:
    from genoml_search.core import features as data_cache

    make_spec = spec_factory(dataset, n_folds=2)
    opened = []
    real_open = data_cache.Dataset.open
    monkeypatch.setattr(data_cache.Dataset, "open", lambda path: opened.append(path) or real_open(path))
    monkeypatch.setattr(data_cache, "_CACHE", {})
    study = optuna.create_study(direction="maximize")
    for _ in range(3):
        result = evaluate_trial(make_spec(study.ask(), PruningContext()))
        assert result.error is None and result.value is not None
    assert len(opened) == 1


@pytest.fixture(scope="module")
def client():
    """One LocalCluster of two single-threaded worker processes (with nannies) for this module."""
    with dask_client(ClusterOptions(workers=2)) as client:
        yield client


def test_two_workers_prune_and_store_intermediate_values(dataset, tmp_path, client) -> None:
    """Per-fold values reach the pruner on the workers; the driver stores them; workers map the data once."""
    study = make_study(f"sqlite:///{tmp_path / 'study.db'}")
    good = {"family": "logistic", "logistic__C": 1.0, "logistic__l1_ratio": 0.5, "snp_p_threshold": 0.01}
    bad = {"family": "logistic", "logistic__C": 1e-4, "logistic__l1_ratio": 1.0, "snp_p_threshold": 1e-6}
    for params in [good] * 6 + [bad] * 6:
        study.enqueue_trial(params)
    stats = run_trials(study, client, 12, spec_factory(dataset, n_folds=4), "median", max_in_flight=2)
    entries = client.run(lambda: len(__import__("genoml_search.core.features").core.features._CACHE))
    assert_exact(study, 12)
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    assert stats.pruned == len(pruned) >= 3, [(t.number, t.state.name, t.intermediate_values) for t in study.trials]
    assert all(t.params["snp_p_threshold"] == 1e-6 for t in pruned)
    assert all(len(t.intermediate_values) == 4 for t in study.get_trials(states=(TrialState.COMPLETE,)))
    assert all(1 <= len(t.intermediate_values) < 4 for t in pruned)
    assert set(entries.values()) == {1}, entries


def slow_evaluate(spec):
    """A trial of about a second that kills its own worker when asked to (``doom`` parameter)."""
    if spec.params.get("doom"):
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.6)
    return TrialResult(spec.trial_number, [0.5], [0.5], 0.5 + spec.trial_number * 1e-3, False, 0.6)


def simple_spec(trial, pruning):
    from genoml_search.search.objective import CVSpec, TrialSpec

    x = trial.suggest_float("x", 0, 1)
    doom = trial.number in DOOMED or trial.user_attrs.get("retry_of") in DOOMED
    return TrialSpec(trial.number, "", "", "binary", "roc_auc", "logistic", {"x": x, "doom": doom}, 1.0,
                     np.arange(3), CVSpec(), pruning=pruning)


DOOMED: set[int] = set()


def test_kill_9_a_worker_mid_trial(tmp_path, client) -> None:
    """A worker killed with SIGKILL mid-trial: Dask re-runs its task; exact count, nothing RUNNING or doubled."""
    study = make_study(f"sqlite:///{tmp_path / 'study.db'}")
    pids = list(client.run(os.getpid).values())

    def killer() -> None:
        while count_finished(study) < 3:
            time.sleep(0.05)
        time.sleep(0.3)  # both workers are inside a trial now
        os.kill(pids[0], signal.SIGKILL)

    thread = threading.Thread(target=killer)
    thread.start()
    stats = run_trials(study, client, 12, simple_spec, "none", evaluate=slow_evaluate)
    thread.join()
    assert pids[0] not in client.run(os.getpid).values()  # the nanny restarted a new worker process
    assert_exact(study, 12)
    assert stats.completed == 12 and stats.failed == 0


def test_killed_worker_is_failed_and_requeued_once(tmp_path, client) -> None:
    """A task that kills every worker it runs on becomes KilledWorker: FAIL, re-enqueued once, then given up."""
    def set_allowed_failures(dask_scheduler, n: int) -> int:
        old, dask_scheduler.allowed_failures = dask_scheduler.allowed_failures, n
        return old

    study = make_study(f"sqlite:///{tmp_path / 'study.db'}")
    DOOMED.clear()
    DOOMED.add(1)
    client.wait_for_workers(2, timeout=60)
    old = client.run_on_scheduler(set_allowed_failures, n=0)
    try:
        stats = run_trials(study, client, 6, simple_spec, "none", evaluate=slow_evaluate, max_in_flight=2)
    finally:
        client.run_on_scheduler(set_allowed_failures, n=old)
        DOOMED.clear()
    assert_exact(study, 6)
    failed = study.get_trials(states=(TrialState.FAIL,))
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert stats.failed == len(failed) and stats.retried >= 1
    assert all("KilledWorker" in t.user_attrs["error"] for t in failed)
    doomed = next(t for t in failed if t.number == 1)
    # the doomed trial and its single retry failed; it was not retried again, nor ever completed
    assert [t.user_attrs.get("retry_of") for t in failed if t.params == doomed.params] == [None, 1]
    assert not [t for t in complete if t.params == doomed.params]
    # a trial that only shared a worker with it was retried and completed
    for other in (t for t in failed if t.params != doomed.params):
        assert [t for t in complete if t.params == other.params]


def long_first_trial(spec):
    """Trial 0 would run for 12 s; the others take 0.2 s."""
    time.sleep(12.0 if spec.trial_number == 0 else 0.2)
    return TrialResult(spec.trial_number, [0.5], [0.5], 0.5, False, 0.2)


def test_time_limit_stops_running_trials_and_requeues_them(tmp_path, client) -> None:
    """--timeout is a budget: a trial still running at the limit is failed and re-queued, not waited for."""
    study = make_study(f"sqlite:///{tmp_path / 'study.db'}")
    stats = run_trials(study, client, 1000, simple_spec, "none", timeout=5.0, evaluate=long_first_trial,
                       max_in_flight=2)
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert trials[0].state == TrialState.FAIL and trials[0].user_attrs["stopped"] == "time limit"
    assert stats.stopped >= 1 and stats.completed >= 1
    assert not [t for t in trials.values() if t.state == TrialState.RUNNING]
    requeued = [t for t in trials.values() if t.state == TrialState.WAITING]
    assert {t.user_attrs["retry_of"] for t in requeued} == {t.number for t in trials.values()
                                                            if t.user_attrs.get("stopped")}
    assert trials[0].params in [t.system_attrs["fixed_params"] for t in requeued]  # re-evaluated on resume


def test_a_trial_finished_by_another_driver_while_counting_is_still_counted(client) -> None:
    """Another driver tells its trials while this one counts: every read sees one of them finish.

    The ask decision must come from one snapshot; with separate reads of finished and running trials, a trial
    that finishes between them is counted in neither, and a trial beyond ``n_trials`` is asked.
    """
    study = optuna.create_study(direction="maximize")
    foreign = [study.ask() for _ in range(3)]  # RUNNING on another driver
    storage = study._storage
    read_trials = storage.get_all_trials

    def read_then_finish_one(*args, **kwargs):
        trials = read_trials(*args, **kwargs)
        running = [t for t in foreign if storage.get_trial(t._trial_id).state == TrialState.RUNNING]
        if running:
            storage.set_trial_state_values(running[0]._trial_id, TrialState.COMPLETE, [0.5])
        return trials

    storage.get_all_trials = read_then_finish_one
    stats = run_trials(study, client, 3, simple_spec, "none", evaluate=slow_evaluate)
    storage.get_all_trials = read_trials
    assert stats.completed == 0 and stats.surplus == 0, [(t.number, t.state.name) for t in study.trials]
    assert_exact(study, 3)

