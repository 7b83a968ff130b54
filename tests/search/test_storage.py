"""Storages: every test here runs on SQLite, the real PostgreSQL and the real MariaDB (see conftest.py)."""
from __future__ import annotations

import time

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from genoml_search import __version__
from genoml_search.errors import StudyError, UserError
from genoml_search.execute.cluster import ClusterOptions
from genoml_search.execute.driver import DRIVER_COUNT_ATTR, count_finished
from genoml_search._run import RunOptions, run
from genoml_search.search import storage as storage_module
from genoml_search.search.storage import mask_url, open_storage
from genoml_search.search.study import driver_sampler, make_sampler, open_study, trial_counts

IDENTITY = {"dataset_hash": "abc", "task": "binary", "metric": "roc_auc"}


def test_open_study_records_identity_and_refuses_another_dataset_or_task(storage_url, study_name):
    storage = open_storage(storage_url)
    study = open_study(storage, storage_url, study_name, "maximize", make_sampler("tpe", 0), IDENTITY,
                       {"n_folds": 5})
    assert study.user_attrs["tool_version"] == __version__
    assert study.user_attrs["dataset_hash"] == "abc" and study.user_attrs["task"] == "binary"
    again = open_study(open_storage(storage_url), storage_url, study_name, "maximize", make_sampler("tpe", 0),
                       IDENTITY, {})
    assert again._study_id == study._study_id
    with pytest.raises(StudyError, match=r"dataset_hash='abc', not 'other'.*--study"):
        open_study(storage, storage_url, study_name, "maximize", make_sampler("tpe", 0),
                   {**IDENTITY, "dataset_hash": "other"}, {})
    with pytest.raises(StudyError, match="task='binary', not 'regression'"):
        open_study(storage, storage_url, study_name, "maximize", make_sampler("tpe", 0),
                   {**IDENTITY, "task": "regression"}, {})
    with pytest.raises(StudyError, match="optimizes maximize, not minimize"):
        open_study(storage, storage_url, study_name, "minimize", make_sampler("tpe", 0), IDENTITY, {})


@pytest.mark.slow
def test_stale_running_trial_is_retried_and_the_count_is_exact(storage_url, study_name, small_dataset,
                                                                dask_scheduler, tmp_path, monkeypatch):
    """A trial left RUNNING by a killed driver (heartbeat stops) is failed, retried, and counted once."""
    monkeypatch.setattr(storage_module, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(storage_module, "GRACE_SECONDS", 2)
    options = RunOptions(dataset=small_dataset.path, out=tmp_path / "run", n_trials=2, storage=storage_url,
                         study_name=study_name, families=["logistic"], n_folds=3, pruner="none",
                         cluster=ClusterOptions(scheduler=dask_scheduler))
    run(options)
    # a driver that asked a trial, recorded its heartbeat and died
    storage = open_storage(storage_url)
    study = optuna.load_study(study_name=study_name, storage=storage)
    dead = study.ask({"family": optuna.distributions.CategoricalDistribution(["logistic"]),
                      "logistic__C": optuna.distributions.FloatDistribution(1e-4, 10.0, log=True),
                      "logistic__l1_ratio": optuna.distributions.FloatDistribution(0.0, 1.0),
                      "snp_p_threshold": optuna.distributions.FloatDistribution(1e-6, 1.0, log=True)})
    storage.record_heartbeat(dead._trial_id)
    time.sleep(3)
    options.n_trials = 4
    summary = run(options)
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    counts = trial_counts(study)
    assert summary.n_finished == 4 and count_finished(study) == 4
    assert counts["RUNNING"] == 0 and counts["WAITING"] == 0
    assert counts["FAIL"] == 1  # the dead trial, retried with the same parameters
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retried) == 1 and retried[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert retried[0].params == study.trials[dead.number].params
    finished = [t for t in study.trials if t.state == TrialState.COMPLETE]
    for trial in finished:
        attrs = trial.user_attrs
        assert attrs["tool_version"] == __version__ and attrs["dataset_hash"] == small_dataset.content_hash
        assert attrs["family"] == "logistic" and len(attrs["fold_scores"]) == 3
    assert study.user_attrs["n_folds"] == 3 and study.user_attrs["dataset_hash"] == small_dataset.content_hash


def test_resume_with_another_dataset_is_refused(storage_url, study_name, small_dataset, example_dataset,
                                                dask_scheduler, tmp_path):
    base = dict(out=tmp_path / "run", n_trials=1, storage=storage_url, study_name=study_name,
                families=["logistic"], n_folds=3, cluster=ClusterOptions(scheduler=dask_scheduler))
    run(RunOptions(dataset=small_dataset.path, **base))
    with pytest.raises(StudyError, match="dataset_hash"):
        run(RunOptions(dataset=example_dataset.path, **base))
    with pytest.raises(StudyError, match="n_folds=3, not 5"):
        run(RunOptions(dataset=small_dataset.path, **{**base, "n_folds": 5}))


def test_processes_opening_a_new_database_at_once_all_succeed(empty_database_url):
    """Several runs started together on an empty database all create (or find) Optuna's tables: none fails
    with "relation studies already exists" (PostgreSQL) or a duplicate schema-version row."""
    import threading

    openers = 6
    barrier = threading.Barrier(openers)
    errors: list[BaseException] = []
    storages: list[optuna.storages.BaseStorage] = []

    def open_together() -> None:
        barrier.wait()
        try:
            storages.append(open_storage(empty_database_url))
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=open_together) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, [str(error) for error in errors]
    assert len(storages) == openers
    optuna.create_study(storage=storages[0], study_name="after")
    assert [s.study_name for s in optuna.get_all_study_summaries(storages[-1])] == ["after"]
    for storage in storages:
        storage_module.close_storage(storage)


@pytest.mark.parametrize("empty_database_url", [pytest.param("postgresql", marks=pytest.mark.postgres),
                                                pytest.param("mysql", marks=pytest.mark.mysql)], indirect=True)
def test_the_table_creation_lock_is_released(empty_database_url):
    """The server-side lock that serializes table creation is free again once the storage is open."""
    from sqlalchemy import create_engine, text

    storage_module.close_storage(open_storage(empty_database_url))
    normalized = storage_module.normalize_url(empty_database_url)
    engine = create_engine(normalized)
    try:
        with engine.connect() as connection:
            if normalized.startswith("postgresql"):
                held = connection.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                               "AND objid = :key"), {"key": storage_module._SCHEMA_LOCK_KEY})
            else:
                held = connection.execute(text("SELECT IS_USED_LOCK(:name) IS NOT NULL"),
                                          {"name": f"genoml-search-{storage_module._SCHEMA_LOCK_KEY}"})
            assert held.scalar() == 0
    finally:
        engine.dispose()


def test_a_failed_open_closes_the_connection_it_made(storage_url, study_name, monkeypatch):
    """Optuna's storage connects, creates the tables, then checks the schema; when a later step fails, the
    connection already made is closed at once, not left to the garbage collector (whose ResourceWarning then
    lands in whatever runs next: the order-dependent failure of test_run_status_corpus.py)."""
    from optuna.storages._rdb.storage import _VersionManager

    engines = []

    def old_schema(self):
        engines.append(self.engine)
        raise RuntimeError("The runtime optuna version 5 is no longer compatible with the table schema")

    monkeypatch.setattr(_VersionManager, "check_table_schema_compatibility", old_schema)
    with pytest.raises(StudyError, match="cannot open storage .*no longer compatible"):
        open_storage(storage_url)
    assert len(engines) == 1 and engines[0].pool.checkedin() == 0 and engines[0].pool.checkedout() == 0


def test_status_closes_the_storage_it_read(storage_url, study_name, monkeypatch):
    from genoml_search.status import study_status

    open_study(open_storage(storage_url), storage_url, study_name, "maximize", make_sampler("tpe", 0), IDENTITY,
               {})
    opened = []

    def spy(url, create=True):
        opened.append(open_storage(url, create))
        return opened[-1]

    monkeypatch.setattr(storage_module, "open_storage", spy)
    assert study_name in [s.study for s in study_status(storage=storage_url).studies]
    assert len(opened) == 1 and opened[0].engine.pool.checkedin() == 0
    with pytest.raises(UserError, match="no study 'absent'"):
        study_status(storage=storage_url, study="absent")
    assert len(opened) == 2 and opened[1].engine.pool.checkedin() == 0


def test_not_a_url_and_unreachable_servers_are_one_line_errors():
    with pytest.raises(StudyError, match="not a database URL"):
        open_storage("study.db")
    started = time.monotonic()
    with pytest.raises(StudyError, match=r"cannot open storage postgresql://u:\*\*\*@127.0.0.1:1/db") as error:
        open_storage("postgresql://u:hunter2@127.0.0.1:1/db")
    assert "hunter2" not in str(error.value) and "\n" not in str(error.value)
    assert time.monotonic() - started < 10


def test_mask_url_hides_passwords_only():
    assert mask_url("postgresql://me:s3cr@t@db:5432/x") == "postgresql://me:***@db:5432/x"  # the whole password
    assert mask_url("mysql+pymysql://root@127.0.0.1/test") == "mysql+pymysql://root@127.0.0.1/test"
    assert mask_url("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"


def test_sampler_names():
    assert isinstance(make_sampler("random", 0), optuna.samplers.RandomSampler)
    with pytest.raises(StudyError, match="choose one of"):
        make_sampler("nope", 0)


def test_a_resumed_run_samples_new_points(storage_url, study_name, small_dataset, dask_scheduler, tmp_path):
    """Each run on a study gets its own sampler seed: a resumed run does not propose the first run's points."""
    options = RunOptions(dataset=small_dataset.path, out=tmp_path / "run", n_trials=5, storage=storage_url,
                         study_name=study_name, families=["logistic"], n_folds=3, pruner="none", sampler="random",
                         cluster=ClusterOptions(scheduler=dask_scheduler))
    run(options)
    options.n_trials = 8
    run(options)
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    sampled = [tuple(sorted(t.params.items())) for t in study.trials if "fixed_params" not in t.system_attrs]
    assert len(sampled) == 5 and len(set(sampled)) == 5, sampled  # 3 starting points are queued, 5 sampled
    assert study._storage.get_study_system_attrs(study._study_id)[DRIVER_COUNT_ATTR] == 2


def test_driver_sampler_seeds() -> None:
    assert driver_sampler("random", 7, 0)._rng.rng.random() == make_sampler("random", 7)._rng.rng.random()
    assert driver_sampler("random", 7, 1)._rng.rng.random() != make_sampler("random", 7)._rng.rng.random()
    assert driver_sampler("random", 7, 1)._rng.rng.random() == driver_sampler("random", 7, 1)._rng.rng.random()
    assert driver_sampler("qmc", 7, 3)._seed == 7  # QMC numbers its points in the study: one sequence for all


def test_a_resumed_study_keeps_its_families(small_dataset, dask_scheduler, tmp_path):
    """A study's family choices cannot change: without --family a resumed run takes the study's own (a study
    made by an earlier version with other defaults resumes); another explicit choice is a one-line error."""
    base = dict(dataset=small_dataset.path, out=tmp_path / "run", n_folds=3, pruner="none",
                cluster=ClusterOptions(scheduler=dask_scheduler))
    run(RunOptions(n_trials=2, families=["logistic", "random_forest"], **base))
    summary = run(RunOptions(n_trials=4, **base))  # the defaults differ from the study's two families
    assert summary.n_finished == 4
    study = optuna.load_study(study_name="dataset-binary", storage=f"sqlite:///{tmp_path / 'run' / 'study.db'}")
    assert {t.params["family"] for t in study.trials if t.params} <= {"logistic", "random_forest"}
    with pytest.raises(StudyError, match="searches the families logistic, random_forest, not knn; use another --study"):
        run(RunOptions(n_trials=5, families=["knn"], **base))
