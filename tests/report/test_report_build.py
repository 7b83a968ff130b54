"""The report end to end on synthetic run directories (binary, multiclass, regression)."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from genoml_search.errors import UserError
from genoml_search.report import build as build_module
from genoml_search.report.build import ReportOptions, build_report
from genoml_search.core.metrics import score_all

FAST = {"n_boot": 200, "n_repeats": 2, "max_features": 10}


def _check_self_contained(text: str) -> None:
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", text)  # nothing fetched, opens offline
    assert "<script" not in text


@pytest.mark.parametrize("fixture,plots", [
    ("binary_run", ["roc", "precision_recall", "calibration", "confusion_matrix"]),
    ("multiclass_run", ["roc", "precision_recall", "calibration", "confusion_matrix"]),
    ("regression_run", ["observed_vs_predicted", "residuals"]),
])
def test_report_files_and_validation_reproduced(fixture, plots, request):
    run = request.getfixturevalue(fixture)
    result = build_report(ReportOptions(run_dir=run, **FAST))
    report = run / "report"
    assert result.html == report / "report.html" and result.notes == []
    text = result.html.read_text()
    _check_self_contained(text)
    for name in plots + ["optimization_history", "trial_states", "feature_importance", "param_importance"]:
        assert (report / f"{name}.png").stat().st_size > 1000, name
    assert text.count("data:image/png;base64,") == len(list(report.glob("*.png")))
    metrics = json.loads((run / "metrics.json").read_text())
    predictions = pd.read_csv(report / "validation_predictions.csv", dtype={"ID": str})
    task = metrics["task"]
    scores = (predictions.filter(like="probability").to_numpy() if task == "multiclass" else
              predictions["probability" if task == "binary" else "prediction"].to_numpy())
    recomputed = score_all(task, predictions["y_true"].to_numpy(), scores)
    for name, value in recomputed.items():
        assert value == pytest.approx(metrics["validation"][name], abs=1e-12), name
    intervals = pd.read_csv(report / "validation_metrics.csv")
    assert (intervals["low"] <= intervals["value"]).all() and (intervals["value"] <= intervals["high"]).all()
    board = pd.read_csv(report / "leaderboard.csv")
    assert board.loc[0, "n_pruned"] == 1 and board.loc[0, "cv_mean"] == pytest.approx(metrics["cv"][metrics["metric"]])


def test_top_features_are_the_causal_ones_with_coordinates(binary_run):
    build_report(ReportOptions(run_dir=binary_run, **FAST))
    importance = pd.read_csv(binary_run / "report" / "importance.csv", dtype={"chrom": str})
    top = importance.head(5)
    assert {"rs0", "rs1"} <= set(top["feature"])
    row = importance.set_index("feature").loc["rs0"]
    assert (row["kind"], row["chrom"], row["pos"], row["counted_allele"]) == ("SNP", "1", 1, "A")
    assert importance.set_index("feature").loc["AGE", "kind"] == "covariate"


def test_report_from_storage_and_study_only(binary_run, tmp_path):
    url = f"sqlite:///{binary_run / 'study.db'}"
    result = build_report(ReportOptions(storage=url, study="synthetic-binary", report_dir=tmp_path / "r", **FAST))
    text = result.html.read_text()
    assert "Leaderboard" in text and "Validation" not in text
    assert (tmp_path / "r" / "leaderboard.csv").is_file()
    with pytest.raises(UserError, match="no study 'nope'"):
        build_report(ReportOptions(storage=url, study="nope", report_dir=tmp_path / "x"))


def test_storage_password_is_masked():
    import optuna

    study = optuna.create_study()
    text = build_module._parameters_html(study, {}, {}, "postgresql://user:s3cret@db.example/genoml", None)
    assert "s3cret" not in text and "user:***@db.example" in text


def test_failed_report_leaves_the_previous_one(binary_run, monkeypatch):
    build_report(ReportOptions(run_dir=binary_run, **FAST))
    before = (binary_run / "report" / "report.html").read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(build_module, "permutation_importance", broken)
    with pytest.raises(RuntimeError):
        build_report(ReportOptions(run_dir=binary_run, **FAST))
    assert (binary_run / "report" / "report.html").read_bytes() == before
    assert not [p for p in binary_run.iterdir() if ".tmp-" in p.name]


def test_cli_report(binary_run, tmp_path):
    from genoml_search.cli import app

    result = CliRunner().invoke(app, ["report", "--out", str(binary_run), "--report-dir", str(tmp_path / "cli"),
                                      "--bootstrap", "100", "--repeats", "1", "--max-features", "5"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli" / "report.html").is_file()
    assert "report:" in result.output


def test_missing_run_directory_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        build_report(ReportOptions(run_dir=tmp_path / "absent"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no study.db"):
        build_report(ReportOptions(run_dir=tmp_path / "empty"))
