"""Issue #18 through the real CLI: what the SNPs add, the leaderboard, binary counts, labelled cohorts."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, run_cli


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sim")
    done = run_cli("simulate", "--out", str(root / "cohort"), "--n-train", "500", "--n-validation", "250",
                   "--n-snps", "1500", "--n-causal", "20", "--h2", "0.6", "--seed", "3")
    assert done.code == 0, done.stderr
    return root


@pytest.fixture(scope="module")
def munged(simulated) -> tuple[Path, str]:
    c = simulated / "cohort"
    done = run_cli("munge", "--bfile", str(c / "train"), "--pheno", str(c / "train_pheno.csv"),
                   "--covar", str(c / "train_covar.csv"), "--out", str(simulated / "dataset"))
    assert done.code == 0, done.stderr
    return simulated / "dataset", done.stdout + done.stderr


@pytest.fixture(scope="module")
def finished(simulated, munged) -> tuple[Path, str]:
    c, out = simulated / "cohort", simulated / "run"
    done = run_cli("run", str(munged[0]), "--out", str(out), "--n-trials", "5", "--family", "logistic",
                   "--family", "random_forest", "--workers", "1", "--validate-top", "1",
                   "--validation-bfile", str(c / "validation"), "--validation-pheno", str(c / "validation_pheno.csv"),
                   "--validation-covar", str(c / "validation_covar.csv"))
    assert done.code == 0, done.stderr
    return out, done.stdout


def test_munge_prints_case_control_counts(munged, simulated):
    import pandas as pd

    y = pd.read_csv(simulated / "cohort" / "train_pheno.csv")["PHENO"]
    assert f"cases/controls: {int((y == 1).sum())}/{int((y == 0).sum())}" in munged[1]


def test_run_reports_what_the_snps_add(finished):
    out, stdout = finished
    metrics = json.loads((out / "metrics.json").read_text())
    validation = metrics["validation"]
    increment = validation["snp_increment"]
    assert validation["baseline_covariates"]["covariates"] == ["AGE", "SEX"]
    assert increment["with_snps"] == pytest.approx(validation["roc_auc"])
    assert increment["method"] == "paired DeLong" and increment["low"] <= increment["difference"] <= increment["high"]
    assert f"with genotypes {increment['with_snps']:.4f}, covariates only {increment['covariates_only']:.4f}" \
        in " ".join(stdout.split())
    assert validation["n_cases"] + validation["n_controls"] == validation["n_samples"] == 250
    assert set(validation["at_threshold"]) >= {"sensitivity", "specificity", "ppv", "npv"}
    assert validation["odds_ratio_per_sd"]["value"] > 0 and len(validation["risk_by_decile"]) == 10
    assert f"cases/controls: training {metrics['cv']['n_cases']}/{metrics['cv']['n_controls']}" in stdout


def test_run_leaderboard_validates_the_top_k(finished):
    out, _ = finished
    metrics = json.loads((out / "metrics.json").read_text())
    board = metrics["leaderboard"]
    assert {row["family"] for row in board} == {"logistic", "random_forest"}
    assert board[0]["validation"] is not None and board[1]["validation"] is None  # --validate-top 1
    for row in board:
        assert len(row["fold_scores"]) == 5 and row["n_complete"] + row["n_pruned"] + row["n_fail"] >= 1
        assert row["cv_std"] >= 0 and row["seconds"] > 0


def test_report_cli_top_shows_with_and_without_genotypes(finished):
    out, _ = finished
    done = run_cli("report", str(out), "--bootstrap", "100", "--permutations", "1", "--max-features", "5")
    assert done.code == 0, done.stderr
    text = (out / "report" / "report.html").read_text()
    summary = text[text.index('id="summary"'):text.index('id="validation"')]
    assert "what the SNPs add" in summary and "covariates only (ROC-AUC)" in summary
    assert (out / "report" / "risk_by_decile.png").is_file()


@pytest.mark.slow
def test_run_with_a_pgen_validation_cohort(tmp_path):
    pytest.importorskip("pgenlib")
    dataset = tmp_path / "dataset"
    assert run_cli("munge", "--bfile", str(EXAMPLE / "training"), "--pheno", str(EXAMPLE / "training_pheno.csv"),
                   "--out", str(dataset), "--no-kinship", "--pcs", "0").code == 0
    done = run_cli("run", str(dataset), "--out", str(tmp_path / "run"), "--n-trials", "2", "--family", "logistic",
                   "--workers", "1", "--validation-pfile", str(EXAMPLE / "validation"),
                   "--validation-pheno", str(EXAMPLE / "validation_pheno.csv"))
    assert done.code == 0, done.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["validation"]["source"] == "cohort" and metrics["validation"]["n_samples"] == 100
    # no covariates: the baseline is the intercept-only model, i.e. chance
    assert metrics["validation"]["baseline_covariates"]["roc_auc"] == 0.5
    assert "intercept only" in metrics["validation"]["baseline_covariates"]["model"]
    both = run_cli("run", str(dataset), "--out", str(tmp_path / "run2"), "--validation-pfile", "x",
                   "--validation-bfile", "y", "--validation-pheno", "z")
    assert both.code == 2 and "not both" in both.stderr


def test_predict_scores_a_labelled_cohort_like_the_run(finished, simulated, tmp_path):
    out, _ = finished
    c = simulated / "cohort"
    target = tmp_path / "pred.csv"
    done = run_cli("predict", "--model", str(out), "--bfile", str(c / "validation"), "--covar",
                   str(c / "validation_covar.csv"), "--pheno", str(c / "validation_pheno.csv"), "--out", str(target))
    assert done.code == 0, done.stderr
    scored = json.loads((tmp_path / "pred.metrics.json").read_text())
    run_validation = json.loads((out / "metrics.json").read_text())["validation"]
    for key in ("roc_auc", "average_precision", "brier", "n_samples", "n_cases", "n_controls"):
        assert scored[key] == pytest.approx(run_validation[key]), key
    assert scored["intervals"]["roc_auc"]["method"] == "DeLong"
    assert scored["intervals"]["roc_auc"] == pytest.approx(run_validation["intervals"]["roc_auc"])
    assert set(scored) <= set(run_validation) | {"related_to_training"}  # the same JSON shape
    assert "roc_auc:" in done.stdout and "95% CI" in done.stdout
    import pandas as pd

    frame = pd.read_csv(target)
    assert list(frame.columns[:5]) == ["ID", "FID", "IID", "phenotype", "probability"]


@pytest.mark.parametrize("command, words", [
    (["run", "--help"], ["[study]", "[families.NAME]", "[cluster]"]),
    (["cluster-script", "--help"], ["[cluster]"]),
])
def test_help_texts_keep_toml_table_names(command, words):
    done = run_cli(*command, env={"COLUMNS": "200"})
    assert done.code == 0, done.stderr
    for word in words:
        assert word in done.stdout, word


@pytest.mark.slow
def test_status_and_report_take_the_run_directory_positionally(finished, tmp_path):
    out, _ = finished
    positional = run_cli("status", str(out), "--format", "json")
    assert positional.code == 0 and positional.stderr == ""
    old = run_cli("status", "--out", str(out), "--format", "json")
    assert old.code == 0 and json.loads(old.stdout) == json.loads(positional.stdout)
    assert "--out RUN_DIR is deprecated; use RUN_DIR" in old.stderr
    report = run_cli("report", str(out), "--report-dir", str(tmp_path / "r"), "--bootstrap", "50", "--repeats", "1",
                     "--max-features", "3")
    assert report.code == 0, report.stderr
    assert "--repeats is deprecated; use --permutations" in report.stderr
    clash = run_cli("report", str(out), "--permutations", "2", "--repeats", "3")
    assert clash.code == 2 and "give only --permutations" in clash.stderr


def test_indep_pairwise_plink2_two_argument_form(tmp_path):
    args = ["--bfile", str(EXAMPLE / "training"), "--pheno", str(EXAMPLE / "training_pheno.csv"), "--no-kinship",
            "--pcs", "0"]
    two = run_cli("munge", *args, "--out", str(tmp_path / "two"), "--indep-pairwise", "500kb", "0.5")
    three = run_cli("munge", *args, "--out", str(tmp_path / "three"), "--indep-pairwise", "500kb", "1", "0.5")
    assert two.code == 0 and three.code == 0, two.stderr + three.stderr
    a = json.loads((tmp_path / "two" / "manifest.json").read_text())
    b = json.loads((tmp_path / "three" / "manifest.json").read_text())
    assert a["content_hash"] == b["content_hash"]
    assert a["parameters"]["prune"] == b["parameters"]["prune"]
    assert "r2 > 0.5" in two.stdout


def test_families_shows_the_default_search():
    done = run_cli("families", "--format", "json")
    records = {r["name"]: r for r in json.loads(done.stdout)}
    assert records["logistic"]["default_for"] == ["binary", "multiclass"]
    assert records["ridge_h2"]["default_for"] == ["regression"] and records["knn"]["default_for"] == []
    assert "searched by default" in run_cli("families", env={"COLUMNS": "200"}).stdout


def test_munge_warns_when_kinship_has_too_few_snps(munged):
    text = " ".join(munged[1].split())
    assert "SNPs is too noisy for second- or third-degree calls" in text and "independent SNPs" in text
    assert "pairs by degree" not in text  # not the hundreds of chance pairs


def test_a_resumed_run_with_nothing_to_do_says_so(finished, munged, simulated):
    out, _ = finished
    c = simulated / "cohort"
    again = run_cli("run", str(munged[0]), "--out", str(out), "--n-trials", "5", "--family", "logistic",
                    "--family", "random_forest", "--workers", "1", "--validate-top", "1",
                    "--validation-bfile", str(c / "validation"), "--validation-pheno", str(c / "validation_pheno.csv"),
                    "--validation-covar", str(c / "validation_covar.csv"))
    assert again.code == 0, again.stderr
    text = " ".join((again.stdout + again.stderr).split())
    assert "already has 5 finished trials" in text and "--n-trials 55" in text
    with sqlite3.connect(out / "study.db") as connection:  # and it ran none
        assert connection.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 5
