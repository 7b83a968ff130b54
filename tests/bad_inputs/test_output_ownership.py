"""Class 2 of issue #17: a command never deletes or overwrites what it did not create.

One rule (genoml_search/outputs.py), applied by munge, run, report and predict: an output path is absent, or an
output of the same kind this tool wrote (marker ``.genoml-search.json``, or the files of an older version), or
the command refuses with exit 2; an output never equals or contains an input; study names are sanitised.
Refusals run through ``cli.main()`` in this process (``run_cli``); commands that succeed, and those that need
their own working directory, run as real subprocesses.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.bad_inputs.conftest import (RUN_FLAGS, Cohort, FinishedRun, one_line_error, subprocess_cli,
                                       tree_digest)


def _user_folder(path: Path) -> dict[str, str]:
    path.mkdir(parents=True, exist_ok=True)
    (path / "thesis.txt").write_text("three years of work")
    return tree_digest(path)


# -- munge --------------------------------------------------------------------------------------------------------

def test_munge_refuses_a_users_folder(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    before = _user_folder(tmp_path / "mine")
    one_line_error(run_cli("munge", "--bfile", cohort.prefix, "--pheno", cohort.pheno, "--out", tmp_path / "mine"),
                   "not an output of genoml-search")
    assert tree_digest(tmp_path / "mine") == before


def test_munge_refuses_a_dataset_holding_a_users_file(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    target = tmp_path / "ds"
    shutil.copytree(cohort.dataset, target)
    (target / "notes.txt").write_text("mine")
    before = tree_digest(target)
    one_line_error(run_cli("munge", "--bfile", cohort.prefix, "--pheno", cohort.pheno, "--out", target),
                   "did not write", "notes.txt")
    assert tree_digest(target) == before


@pytest.mark.parametrize("inside", ["", "model"])
def test_munge_refuses_a_run_directory_and_its_model(finished_run: FinishedRun, run_cli, inside: str) -> None:
    target = finished_run.out / inside if inside else finished_run.out
    before = tree_digest(finished_run.out)
    cohort = finished_run.cohort
    line = one_line_error(run_cli("munge", "--bfile", cohort.prefix, "--pheno", cohort.pheno, "--out", target))
    assert "run directory" in line or "model directory" in line
    assert tree_digest(finished_run.out) == before


@pytest.mark.parametrize("which", ["pheno", "bfile"])
def test_munge_output_never_contains_an_input(cohort: Cohort, run_cli, tmp_path: Path, which: str) -> None:
    folder = tmp_path / "inputs"
    prefix = cohort.copy_bfile(folder / "cohort")
    shutil.copy(cohort.pheno, folder / "pheno.csv")
    before = tree_digest(folder)
    result = run_cli("munge", "--bfile", prefix, "--pheno", folder / "pheno.csv", "--out", folder)
    one_line_error(result, "contains the input")
    assert tree_digest(folder) == before


def test_munge_replaces_a_dataset_of_an_older_version(cohort: Cohort, tmp_path: Path) -> None:
    """Datasets written before markers existed (no .genoml-search.json) are still recognised and replaced."""
    target = tmp_path / "old"
    shutil.copytree(cohort.dataset, target)
    (target / ".genoml-search.json").unlink()
    result = subprocess_cli("munge", "--bfile", cohort.prefix, "--pheno", cohort.pheno, "--out", target)
    assert result.code == 0, result.stderr
    assert json.loads((target / ".genoml-search.json").read_text())["kind"] == "dataset"


# -- run ------------------------------------------------------------------------------------------------------------

def test_run_out_equal_to_the_dataset_is_refused(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    dataset = tmp_path / "ds"
    shutil.copytree(cohort.dataset, dataset)
    before = tree_digest(dataset)
    one_line_error(run_cli("run", dataset, "--out", dataset, *RUN_FLAGS), "also an input")
    assert tree_digest(dataset) == before


def test_run_out_inside_the_dataset_is_refused(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    dataset = tmp_path / "ds"
    shutil.copytree(cohort.dataset, dataset)
    one_line_error(run_cli("run", dataset, "--out", dataset / "run", *RUN_FLAGS), "lies inside", "dataset")
    assert not (dataset / "run").exists()


def test_run_refuses_a_users_folder(cohort: Cohort, run_cli, tmp_path: Path) -> None:
    before = _user_folder(tmp_path / "results")
    one_line_error(run_cli("run", cohort.dataset, "--out", tmp_path / "results", *RUN_FLAGS),
                   "not an output of genoml-search")
    assert tree_digest(tmp_path / "results") == before


def test_run_refuses_a_model_directory_holding_a_users_file(finished_run: FinishedRun, run_cli, tmp_path: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(finished_run.out, out)
    (out / "model" / "README").write_text("my notes on this model")
    before = tree_digest(out)
    one_line_error(run_cli("run", finished_run.cohort.dataset, "--out", out, *RUN_FLAGS), "README")
    assert tree_digest(out) == before


@pytest.mark.slow
def test_run_resumes_a_run_directory_of_an_older_version(finished_run: FinishedRun, tmp_path: Path) -> None:
    out = tmp_path / "old run"
    shutil.copytree(finished_run.out, out)
    for marker in out.rglob(".genoml-search.json"):
        marker.unlink()
    result = subprocess_cli("run", finished_run.cohort.dataset, "--out", out, "--study", "../../[final] esc[/]ape",
                            *RUN_FLAGS)
    assert result.code == 0, result.stderr
    assert "2 finished trials" in result.stdout


# -- report ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["users", "run", "model", "parent"])
def test_report_dir_never_replaces_what_it_did_not_write(finished_run: FinishedRun, run_cli, tmp_path: Path,
                                                          where: str) -> None:
    target = {"users": tmp_path / "mine", "run": finished_run.out, "model": finished_run.out / "model",
              "parent": finished_run.out.parent}[where]
    if where == "users":
        _user_folder(target)
    before = tree_digest(target)
    result = run_cli("report", finished_run.out, "--report-dir", target, "--bootstrap", "20",
                     "--permutations", "1", "--max-features", "2")
    one_line_error(result, "--report-dir")
    assert tree_digest(target) == before


def test_report_name_from_the_study_is_sanitised(finished_run: FinishedRun, tmp_path: Path) -> None:
    """A study named ``../../[final] esc[/]ape``: the default report directory stays in the working directory."""
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    url = f"sqlite:///{finished_run.out / 'study.db'}"
    result = subprocess_cli("report", "--storage", url, "--study", "../../[final] esc[/]ape", "--bootstrap", "20",
                            "--permutations", "1", "--max-features", "2", cwd=work)
    assert result.code == 0, result.stderr
    created = [p for p in tmp_path.rglob("*") if p.is_dir() and p.name.endswith("-report")]
    assert [p.parent for p in created] == [work], created
    assert "/" not in created[0].name and ".." not in created[0].name


# -- predict --------------------------------------------------------------------------------------------------------

def _predict(finished_run: FinishedRun, out: Path, covar: Path | None = None, cli=subprocess_cli):
    cohort = finished_run.cohort
    return cli("predict", "--model", finished_run.out, "--bfile", cohort.prefix, "--covar", covar or cohort.covar,
               "--out", out)


def test_predict_out_is_not_the_covariate_file(finished_run: FinishedRun, run_cli, tmp_path: Path) -> None:
    covar = tmp_path / "covar.csv"
    shutil.copy(finished_run.cohort.covar, covar)
    before = covar.read_bytes()
    one_line_error(_predict(finished_run, covar, covar, run_cli), "--out must differ from --covar")
    assert covar.read_bytes() == before


@pytest.mark.parametrize("name", ["model/model.json", "model/predictions.csv", "metrics.json"])
def test_predict_out_never_replaces_run_files(finished_run: FinishedRun, run_cli, name: str) -> None:
    before = tree_digest(finished_run.out)
    one_line_error(_predict(finished_run, finished_run.out / name, cli=run_cli))
    assert tree_digest(finished_run.out) == before


def test_predict_replaces_its_own_predictions(finished_run: FinishedRun, tmp_path: Path) -> None:
    out = tmp_path / "pred.csv"
    assert _predict(finished_run, out).code == 0
    first = out.read_text()
    again = _predict(finished_run, out)
    assert again.code == 0, again.stderr
    assert out.read_text() == first


# -- simulate ---------------------------------------------------------------------------------------------------------

def test_simulate_overwrite_replaces_only_a_simulation(tmp_path: Path) -> None:
    before = _user_folder(tmp_path / "mine")
    small = ["--n-train", "40", "--n-validation", "20", "--n-snps", "50", "--n-causal", "5"]
    one_line_error(subprocess_cli("simulate", "--out", tmp_path / "mine", "--overwrite", *small),
                   "not an output of genoml-search")
    assert tree_digest(tmp_path / "mine") == before
    assert subprocess_cli("simulate", "--out", tmp_path / "sim", *small).code == 0
    again = subprocess_cli("simulate", "--out", tmp_path / "sim", "--overwrite", "--seed", "1", *small)
    assert again.code == 0, again.stderr
