"""End to end through the real CLI: munge -> run -> status on the bundled example, and resume semantics."""
from __future__ import annotations

import json
import sqlite3

import pytest


@pytest.fixture(scope="module")
def munged(tmp_path_factory):
    from tests.conftest import EXAMPLE, run_cli

    out = tmp_path_factory.mktemp("e2e")
    result = run_cli("munge", "--bfile", str(EXAMPLE / "training"), "--pheno", str(EXAMPLE / "training_pheno.csv"),
                     "--covar", str(EXAMPLE / "training_addit.csv"), "--out", str(out / "dataset"))
    assert result.code == 0, result.stderr
    return out


def finished_trials(db) -> int:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT COUNT(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED')").fetchone()[0]


def test_munge_writes_a_dataset(munged):
    manifest = json.loads((munged / "dataset" / "manifest.json").read_text())
    assert manifest["phenotype"]["task"] == "binary"
    assert manifest["n_samples"] == 500
    assert 0 < manifest["n_variants"] <= 500
    assert manifest["covariates"]["columns"] == ["SEX_COV", "AGE", "UPSIT", "FAMILY_HISTORY"]
    assert (munged / "dataset" / "genotypes.npy").is_file()


@pytest.mark.slow
def test_run_validates_and_resumes(munged, cli, example):
    run_dir = munged / "run"
    args = ["run", str(munged / "dataset"), "--task", "binary", "--out", str(run_dir), "--n-trials", "4",
            "--workers", "1", "--family", "logistic", "--family", "random_forest", "--pruner", "none",
            "--validation-bfile", str(example / "validation"),
            "--validation-pheno", str(example / "validation_pheno.csv"),
            "--validation-covar", str(example / "validation_addit.csv")]
    first = cli(*args)
    assert first.code == 0, first.stderr
    assert finished_trials(run_dir / "study.db") == 4
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["task"] == "binary"
    assert metrics["validation"]["source"] == "cohort" and metrics["validation"]["n_samples"] == 100
    assert 0.5 < metrics["validation"]["roc_auc"] <= 1.0
    assert 0.5 < metrics["cv"]["roc_auc"] <= 1.0
    assert (run_dir / "model" / "model.skops").is_file()

    # (the same target again runs no trial: test_first_ten_minutes.py)
    more = cli(*[a if a != "4" else "6" for a in args])  # larger target: only the difference
    assert more.code == 0, more.stderr
    assert finished_trials(run_dir / "study.db") == 6

    status = cli("status", "--storage", f"sqlite:///{run_dir / 'study.db'}", "--format", "json")
    assert status.code == 0, status.stderr
    report = json.loads(status.stdout)
    (study,) = report["studies"]
    assert study["counts"]["COMPLETE"] + study["counts"]["PRUNED"] == 6
    assert {row["family"] for row in study["best_per_family"]} <= {"logistic", "random_forest"}
    table = cli("status", "--out", str(run_dir))
    assert table.code == 0 and "best overall" in table.stdout


def test_user_errors_are_one_line_with_exit_code_2(tmp_path, cli):
    result = cli("munge", "--bfile", str(tmp_path / "missing"), "--pheno", "x.csv", "--out", str(tmp_path / "d"))
    assert result.code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "missing.bed" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "d").exists()


def test_version_and_help(cli):
    from genoml_search import __version__

    assert __version__ in cli("--version").stdout
    for command in ("munge", "run", "status"):
        assert cli(command, "--help").code == 0
