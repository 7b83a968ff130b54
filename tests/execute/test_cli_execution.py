"""`run` through the CLI against real processes: a dask scheduler and workers, kill -9, shared PostgreSQL."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import optuna
import pytest

from .conftest import PYTHON, assert_exact, worker_env

FAST = ["--family", "logistic", "--folds", "3", "--sampler", "random", "--pruner", "none"]


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "genoml_search.cli", *args], capture_output=True, text=True,
                          env=worker_env(), **kwargs)


def popen_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, "-m", "genoml_search.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=worker_env(), start_new_session=True)


def finished_in(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as connection:
            return connection.execute("SELECT count(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED')").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def wait_until(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def kill_group(process: subprocess.Popen) -> None:
    """Clean up a process and whatever it started (its own session)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def load(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)


def test_unreachable_scheduler_is_one_line_exit_2(dataset, tmp_path) -> None:
    started = time.monotonic()
    done = cli("run", str(dataset), "--out", str(tmp_path / "run"), "--scheduler", "tcp://127.0.0.1:9", *FAST,
               timeout=120)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "tcp://127.0.0.1:9" in done.stderr
    assert time.monotonic() - started < 40


def test_unreachable_database_is_one_line_exit_2_password_masked(dataset, tmp_path) -> None:
    started = time.monotonic()
    done = cli("run", str(dataset), "--out", str(tmp_path / "run"), "--storage",
               "postgresql://alice:s3cr3t@127.0.0.1:9/test", *FAST, timeout=120)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "s3cr3t" not in done.stderr + done.stdout and "***" in done.stderr
    assert time.monotonic() - started < 40


@pytest.mark.slow
def test_existing_scheduler_and_workers_survive_a_worker_kill(dataset, tmp_path) -> None:
    """A real `dask scheduler` + `dask worker` (2 processes); one worker process is killed -9 mid-trial."""
    scheduler_file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen([PYTHON, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(scheduler_file)], env=worker_env(),
                                 stderr=subprocess.DEVNULL, start_new_session=True)
    workers = subprocess.Popen([PYTHON, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file), "--nworkers", "2",
                                "--nthreads", "1", "--no-dashboard", "--memory-limit", "2GB"], env=worker_env(),
                               stderr=subprocess.DEVNULL, start_new_session=True, cwd=tmp_path)
    try:
        wait_until(scheduler_file.exists, 60)
        from distributed import Client

        with Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            address = client.scheduler.address
            pids = list(client.run(os.getpid).values())
        db = tmp_path / "run" / "study.db"
        run = popen_cli("run", str(dataset), "--out", str(tmp_path / "run"), "--scheduler", address,
                        "--n-trials", "10", *FAST)
        wait_until(lambda: finished_in(db) >= 2 or run.poll() is not None, 240)
        os.kill(pids[0], signal.SIGKILL)
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        assert "10 finished trials" in out
        assert_exact(load(f"sqlite:///{db}", "ds-binary"), 10)
    finally:
        kill_group(workers)
        kill_group(scheduler)


@pytest.mark.slow
def test_kill_9_the_run_then_rerun_completes_exactly(dataset, tmp_path) -> None:
    db = tmp_path / "run" / "study.db"
    args = ("run", str(dataset), "--out", str(tmp_path / "run"), "--n-trials", "10", "--workers", "2", *FAST)
    run = popen_cli(*args)
    try:
        wait_until(lambda: finished_in(db) >= 2 or run.poll() is not None, 240)
        os.kill(run.pid, signal.SIGKILL)
    finally:
        kill_group(run)
    assert finished_in(db) < 10
    done = cli(*args, timeout=600)
    assert done.returncode == 0, done.stderr
    study = load(f"sqlite:///{db}", "ds-binary")
    assert_exact(study, 10)
    # the killed run's in-flight trials were failed and their parameters evaluated again (a trial killed while
    # its parameters were being sampled has only some of them: the retry samples the rest)
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert failed and all(any(f.params.items() <= t.params.items() and t.state.is_finished() and t.number > f.number
                              for t in study.trials) for f in failed)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_runs_share_one_postgresql_study(dataset, tmp_path) -> None:
    """Two `run` processes start together on a brand-new database (both create its tables) and one study."""
    try:
        import psycopg

        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3,
                                autocommit=True)
    except Exception as error:
        pytest.skip(f"no PostgreSQL server at 127.0.0.1:5432 ({type(error).__name__})")
    database = f"genoml_dask_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE DATABASE {database}")
    url = f"postgresql://postgres@127.0.0.1:5432/{database}"
    try:
        runs = [popen_cli("run", str(dataset), "--out", str(tmp_path / f"run{i}"), "--storage", url,
                          "--study", "shared", "--n-trials", "12", "--workers", "1", *FAST) for i in range(2)]
        try:
            results = [run.communicate(timeout=600) for run in runs]
        finally:
            for run in runs:
                kill_group(run)
        for run, (_, err) in zip(runs, results):
            assert run.returncode == 0, err
        storage = optuna.storages.RDBStorage(url.replace("postgresql://", "postgresql+psycopg://"))
        study = optuna.load_study(study_name="shared", storage=storage)
        assert_exact(study, 12)
        assert not [t.number for t in study.trials if t.user_attrs.get("surplus")]
        sampled = [tuple(sorted(t.params.items())) for t in study.trials if "fixed_params" not in t.system_attrs]
        assert len(set(sampled)) == len(sampled), sampled  # each driver samples with its own seed
        queued = [t for t in study.trials if t.user_attrs.get("starting_point")]
        assert len(queued) == len({tuple(sorted(t.params.items())) for t in queued})  # queued by one driver
        per_run = [int(out.split("finished trials (")[1].split(" completed")[0]) for out, _ in results]
        assert sum(per_run) == 12 and min(per_run) > 0, per_run  # both drivers did work
        storage.engine.dispose()
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()
