"""The report's first answers: with and without genotypes, the leaderboard, binary-trait statistics."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from genoml_search.report.build import ReportOptions, build_report

FAST = {"n_boot": 200, "n_repeats": 2, "max_features": 10}


@pytest.fixture(scope="module")
def binary_report(binary_run):
    """The binary run's report, built once for the tests below (they only read it)."""
    return build_report(ReportOptions(run_dir=binary_run, **FAST))


def test_report_top_shows_score_with_and_without_genotypes(binary_run, binary_report):
    text = binary_report.html.read_text()
    metrics = json.loads((binary_run / "metrics.json").read_text())
    increment = metrics["validation"]["snp_increment"]
    summary = text[text.index('id="summary"'):text.index('id="validation"')]
    assert "with genotypes (ROC-AUC)" in summary and "covariates only (ROC-AUC)" in summary
    assert f"{increment['with_snps']:.3f}" in summary and f"{increment['covariates_only']:.3f}" in summary
    assert f"{increment['difference']:+.3f}" in summary and "paired DeLong" in summary
    assert "Covariates alone</strong> (AGE, SEX)" in summary
    csv = pd.read_csv(binary_run / "report" / "snp_increment.csv")
    assert set(csv["metric"]) == {"roc_auc", "average_precision", "balanced_accuracy", "log_loss", "brier"}


def test_report_leaderboard_has_folds_and_validation(binary_run, binary_report):
    board = pd.read_csv(binary_run / "report" / "leaderboard.csv")
    metrics = json.loads((binary_run / "metrics.json").read_text())
    row = board.iloc[0]
    assert row["family"] == "logistic" and int(row["best_trial"]) == metrics["cv"]["best_trial"]
    assert len(str(row["fold_scores"]).split()) == 3
    assert row["validation"] == pytest.approx(metrics["validation"]["roc_auc"])
    assert str(row["n_pruned"]) == "1"  # integers stay integers
    text = (binary_run / "report" / "report.html").read_text()
    assert "fold scores" in text and "validation roc_auc" in text


def test_report_binary_statistics_and_risk_deciles(binary_run, binary_report):
    text = (binary_run / "report" / "report.html").read_text()
    validation = json.loads((binary_run / "metrics.json").read_text())["validation"]
    assert (binary_run / "report" / "risk_by_decile.png").stat().st_size > 1000
    for words in ("sensitivity", "specificity", "PPV", "NPV", "odds ratio per SD", "cases / controls"):
        assert words in text, words
    assert f"validation {validation['n_cases']}/{validation['n_controls']}" in text
    assert validation["n_cases"] + validation["n_controls"] == validation["n_samples"]


def test_regression_report_has_no_binary_parts(regression_run):
    build_report(ReportOptions(run_dir=regression_run, **FAST))
    text = (regression_run / "report" / "report.html").read_text()
    assert "with genotypes (R²)" in text and "sensitivity" not in text
    assert not (regression_run / "report" / "risk_by_decile.png").exists()
