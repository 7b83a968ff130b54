"""Bad requests to `run` and `status` that fail before any search starts: exit 2, one line, no traceback."""
from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from tests.bad_inputs.conftest import Cohort, throwaway_pg_role


def _one_line_error(result, *fragments: str) -> str:
    assert result.code == 2, (result.code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_run_on_a_non_dataset_directory(run_cli, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    result = run_cli("run", str(tmp_path / "plain"), "--out", str(tmp_path / "run"))
    _one_line_error(result, "not a genoml-search dataset", "plain", "munge")


def test_run_on_an_incomplete_dataset(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(cohort.dataset, broken)
    (broken / "genotypes.npy").unlink()
    result = run_cli("run", str(broken), "--out", str(tmp_path / "run"))
    _one_line_error(result, "genotypes.npy missing", "broken")


def test_run_with_too_few_samples_for_the_folds(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    result = run_cli("run", str(cohort.dataset), "--out", str(tmp_path / "run"), "--folds", "40")
    _one_line_error(result, "fewer than --folds 40")


def test_status_with_a_bad_storage_url(run_cli) -> None:
    _one_line_error(run_cli("status", "--storage", "nonsense://x"), "cannot open storage", "nonsense://x")


def test_status_of_a_run_directory_without_study(run_cli, tmp_path: Path) -> None:
    _one_line_error(run_cli("status", str(tmp_path)), "no study.db")


def test_study_name_taken_by_another_dataset(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    import optuna

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(storage=url, study_name="taken", direction="maximize")
    study.set_user_attr("dataset_hash", "0123456789abcdef")
    study.set_user_attr("task", "binary")
    result = run_cli("run", str(cohort.dataset), "--out", str(tmp_path / "run"), "--storage", url,
                     "--study", "taken", "--n-trials", "1")
    _one_line_error(result, "'taken'", "dataset_hash", "another --study")


def test_study_name_taken_by_another_task(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    import optuna

    from genoml_search.data.dataset import Dataset

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(storage=url, study_name="taken", direction="maximize")
    study.set_user_attr("dataset_hash", Dataset.open(cohort.dataset).content_hash)
    study.set_user_attr("task", "regression")
    result = run_cli("run", str(cohort.dataset), "--out", str(tmp_path / "run"), "--storage", url,
                     "--study", "taken", "--n-trials", "1")
    _one_line_error(result, "task='regression'")


def test_real_subprocess_prints_exactly_one_line(cohort: Cohort, tmp_path: Path) -> None:
    """The console script itself (not the in-process driver): a taken study name, stderr is one line."""
    import os
    import sys

    import optuna

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    optuna.create_study(storage=url, study_name="taken", direction="maximize").set_user_attr("dataset_hash", "x")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "genoml_search.cli", "run", str(cohort.dataset), "--out",
                           str(tmp_path / "run"), "--storage", url, "--study", "taken"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(root)})
    assert proc.returncode == 2
    # (cli.run's progress.stop() on a never-started progress bar adds a blank line before it: reported to the lead)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: study 'taken'"), proc.stderr


# -- the real PostgreSQL server ------------------------------------------------------------------------------------

PG = "127.0.0.1:5432"


@pytest.fixture(scope="module")
def pg_role():
    """A throw-away login role with a password on the local PostgreSQL server."""
    with throwaway_pg_role("hardening", "PASSWORD 'right-secret'") as role:
        yield role


@pytest.mark.postgres
def test_status_database_that_does_not_exist(pg_role: str, run_cli) -> None:
    url = f"postgresql+psycopg://{pg_role}:right-secret@{PG}/no_such_db_{uuid.uuid4().hex[:6]}"
    line = _one_line_error(run_cli("status", "--storage", url), "cannot open storage", "does not exist")
    assert "right-secret" not in line


@pytest.mark.postgres
def test_status_role_that_does_not_exist(pg_role: str, run_cli) -> None:
    url = f"postgresql+psycopg://nobody_{uuid.uuid4().hex[:6]}:pw@{PG}/postgres"
    line = _one_line_error(run_cli("status", "--storage", url), "cannot open storage")
    assert ":pw@" not in line


@pytest.mark.postgres
def test_status_wrong_password(pg_role: str, run_cli) -> None:
    probe = subprocess.run(["psql", f"postgresql://{pg_role}:wrong@127.0.0.1:5432/postgres", "-Atc", "select 1"],
                           capture_output=True, text=True, timeout=20)
    if probe.returncode == 0:
        pytest.skip("this PostgreSQL server trusts 127.0.0.1 (pg_hba 'trust'): any password is accepted")
    url = f"postgresql+psycopg://{pg_role}:wrong-secret@{PG}/postgres"
    line = _one_line_error(run_cli("status", "--storage", url), "cannot open storage", "password")
    assert "wrong-secret" not in line
