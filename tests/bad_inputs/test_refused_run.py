"""Class 3 of issue #17: validate everything first, then lock, then write: a refused `run` changes nothing.

On a finished run (resumed with conflicting settings: OUT stays byte-identical, including
``holdout_samples.txt``) and on a fresh OUT (refused: OUT is not created at all). The refusals run through
``cli.main()`` in this process (the ``run_cli`` fixture: the console script's code, its exit code and output,
without paying a fresh interpreter's imports per case); the console script itself in a real subprocess is
checked by the cases that need a second process (the SQLite lock below) and by
test_run_status_corpus.py::test_real_subprocess_prints_exactly_one_line.
"""
from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest
from tests.bad_inputs.conftest import (RUN_FLAGS, STRANGE_STUDY, Cohort, FinishedRun, one_line_error,
                                       subprocess_cli, tree_digest)


@pytest.fixture
def run_copy(finished_run: FinishedRun, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(finished_run.out, out)
    return out


@pytest.mark.parametrize(("flags", "fragment"), [
    (["--seed", "7"], "seed=0"),
    (["--holdout", "0.3"], "holdout=0.2"),
    (["--folds", "3"], "n_folds=5"),
    (["--task", "multiclass"], "task="),
])
def test_resuming_with_other_settings_changes_nothing(finished_run: FinishedRun, run_copy: Path, run_cli,
                                                       flags: list[str], fragment: str) -> None:
    before = tree_digest(run_copy)
    result = run_cli("run", finished_run.cohort.dataset, "--out", run_copy, "--study", STRANGE_STUDY,
                     *RUN_FLAGS, *flags)
    one_line_error(result, fragment)
    assert tree_digest(run_copy) == before  # holdout_samples.txt in particular: the report stays honest


def test_another_dataset_changes_nothing(finished_run: FinishedRun, run_copy: Path, run_cli, tmp_path: Path) -> None:
    cohort = finished_run.cohort
    keep = tmp_path / "keep.txt"
    keep.write_text("".join(f"s{i}\n" for i in range(1, 51)))
    other = tmp_path / "other"
    assert run_cli("munge", "--bfile", cohort.prefix, "--pheno", cohort.pheno, "--covar", cohort.covar,
                   "--keep", keep, "--out", other).code == 0
    before = tree_digest(run_copy)
    result = run_cli("run", other, "--out", run_copy, "--study", STRANGE_STUDY, *RUN_FLAGS)
    one_line_error(result, "dataset_hash")
    assert tree_digest(run_copy) == before


@pytest.mark.parametrize(("flags", "fragment"), [
    (["--sampler", "bogus"], "unknown sampler 'bogus'"),
    (["--pruner", "bogus"], "unknown pruner 'bogus'"),
    (["--metric", "bogus"], "bogus"),
    (["--family", "no_such_family"], "no_such_family"),
    (["--storage", "sqlite:////proc/genoml-search/study.db"], "SQLite"),
    (["--storage", "postgresql://user:pw@127.0.0.1:abc/db"], "port"),
    (["--storage", "sqlite://"], "names no SQLite file"),
    (["--validation-pheno", "{pheno}"], "go together"),
])
def test_refused_run_leaves_no_output_directory(cohort: Cohort, run_cli, tmp_path: Path, flags: list[str],
                                                fragment: str) -> None:
    out = tmp_path / "fresh"
    flags = [f.format(pheno=cohort.pheno) for f in flags]
    one_line_error(run_cli("run", cohort.dataset, "--out", out, *RUN_FLAGS[:4], *flags), fragment)
    assert not out.exists()


@pytest.mark.parametrize("flags", [["--n-trials", "0"], ["--timeout", "-1"], ["--workers", "-1"], ["--repeats", "0"]])
def test_out_of_range_counts_leave_no_output_directory(cohort: Cohort, run_cli, tmp_path: Path, flags: list[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # as subprocess_cli: click's usage box unwrapped
    result = run_cli("run", cohort.dataset, "--out", tmp_path / "fresh", *flags)
    assert result.code == 2 and f"Invalid value for '{flags[0]}'" in result.stderr, result.stderr
    assert not (tmp_path / "fresh").exists()


def test_bad_family_with_a_validation_cohort_munges_nothing(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    out = tmp_path / "fresh"
    result = run_cli("run", cohort.dataset, "--out", out, "--family", "no_such_family",
                     "--validation-bfile", cohort.prefix, "--validation-pheno", cohort.pheno,
                     "--validation-covar", cohort.covar)
    one_line_error(result, "no_such_family")
    assert not out.exists()


def test_bad_validation_cohort_after_the_lock_leaves_nothing(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad_pheno.csv"
    bad.write_text("ID,PHENO\n" + "".join(f"s{i},case\n" for i in range(1, 61)))
    out = tmp_path / "fresh"
    result = run_cli("run", cohort.dataset, "--out", out, *RUN_FLAGS, "--validation-bfile", cohort.prefix,
                     "--validation-pheno", bad)
    one_line_error(result, "bad_pheno.csv")
    assert not out.exists()


def test_bad_validation_cohort_on_an_existing_run_changes_nothing(finished_run: FinishedRun, run_copy: Path,
                                                                  run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad_pheno.csv"
    bad.write_text("ID,PHENO\n" + "".join(f"s{i},case\n" for i in range(1, 61)))
    before = tree_digest(run_copy)
    result = run_cli("run", finished_run.cohort.dataset, "--out", run_copy, "--study", STRANGE_STUDY,
                     *RUN_FLAGS, "--validation-bfile", finished_run.cohort.prefix, "--validation-pheno", bad)
    assert result.code == 2, result.stderr
    assert tree_digest(run_copy) == before
    assert not [p for p in run_copy.iterdir() if p.name.startswith(".genoml-run-")]


def test_a_second_run_on_the_same_sqlite_study_is_refused_cleanly(finished_run: FinishedRun, run_copy: Path,
                                                                   tmp_path: Path) -> None:
    """Two runs with different --out on one SQLite file: the second one (here: the lock held by this test, as
    a running `run` holds it) is refused at once and leaves nothing behind."""
    database = run_copy / "study.db"
    before = tree_digest(run_copy)
    fd = os.open(database, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        other = tmp_path / "other-out"
        result = subprocess_cli("run", finished_run.cohort.dataset, "--out", other, "--storage",
                                f"sqlite:///{database}", "--study", STRANGE_STUDY, *RUN_FLAGS)
        one_line_error(result, "another `genoml-search run` is using the SQLite study")
        assert not other.exists()
        same = subprocess_cli("run", finished_run.cohort.dataset, "--out", run_copy, "--study", STRANGE_STUDY,
                              *RUN_FLAGS)
        one_line_error(same, "another `genoml-search run`")
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert tree_digest(run_copy) == before
    assert not (run_copy / ".run.lock").exists()
