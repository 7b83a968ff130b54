"""A real PostgreSQL user with a password: the password appears in no attribute, output, file or error."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid

import optuna
import pytest
from tests.search.conftest import PG_HOST, PG_PORT, _pg_admin, worker_env

from genoml_search.search.storage import open_storage

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def pg_user_url():
    admin, _ = _pg_admin()
    user, password, database = (f"gs_user_{uuid.uuid4().hex[:8]}", f"Pw-{uuid.uuid4().hex}",
                                f"gs_cred_{uuid.uuid4().hex[:8]}")
    admin.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
    admin.execute(f'CREATE DATABASE "{database}" OWNER {user}')
    yield f"postgresql://{user}:{password}@{PG_HOST}:{PG_PORT}/{database}", password, database
    admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    admin.execute(f"DROP ROLE IF EXISTS {user}")
    admin.close()


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genoml_search.cli", *args], env=worker_env(),
                          capture_output=True, text=True, timeout=300)


def test_password_is_never_shown_or_stored(pg_user_url, small_dataset, dask_scheduler, tmp_path):
    url, password, database = pg_user_url
    out = tmp_path / "run"
    ran = cli("-vv", "run", str(small_dataset.path), "--out", str(out), "--storage", url, "--n-trials", "2",
              "--family", "logistic", "--folds", "3", "--scheduler", dask_scheduler)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "***" in ran.stdout  # the storage is named, masked
    status_table = cli("status", "--storage", url)
    status_json = cli("status", "--storage", url, "--format", "json")
    assert status_table.returncode == 0 and status_json.returncode == 0
    assert json.loads(status_json.stdout)["storage"].count("***") == 1
    wrong_db = cli("status", "--storage", url.replace(database, database + "_missing"))
    assert wrong_db.returncode == 2 and "cannot open storage" in wrong_db.stderr
    wrong_study = cli("status", "--storage", url, "--study", "nope")
    assert wrong_study.returncode == 2
    for process in (ran, status_table, status_json, wrong_db, wrong_study):
        assert password not in process.stdout + process.stderr
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".txt", ".tsv", ""):
            assert password not in path.read_text(errors="ignore"), path
    storage = open_storage(url)
    for summary in optuna.study.get_all_study_summaries(storage, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        assert password not in json.dumps(study.user_attrs, default=str)
        assert password not in json.dumps(storage.get_study_system_attrs(study._study_id), default=str)
        for trial in study.trials:
            assert password not in json.dumps([trial.user_attrs, trial.system_attrs], default=str)
