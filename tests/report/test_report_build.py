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


def test_report_from_storage_and_study_only(binary_run, tmp_path, monkeypatch):
    from genoml_search.search.storage import open_storage

    opened = []  # the report closes the storage's connections when done, and when it fails

    def spy(url, create=True):
        opened.append(open_storage(url, create))
        return opened[-1]

    monkeypatch.setattr(build_module, "open_storage", spy)
    url = f"sqlite:///{binary_run / 'study.db'}"
    result = build_report(ReportOptions(storage=url, study="synthetic-binary", report_dir=tmp_path / "r", **FAST))
    text = result.html.read_text()
    assert "Leaderboard" in text and "Validation" not in text
    assert (tmp_path / "r" / "leaderboard.csv").is_file()
    with pytest.raises(UserError, match="no study 'nope'"):
        build_report(ReportOptions(storage=url, study="nope", report_dir=tmp_path / "x"))
    assert len(opened) == 2 and [s.engine.pool.checkedin() for s in opened] == [0, 0]


def test_report_reads_metrics_json_through_its_record(binary_run, tmp_path):
    """metrics.json names the study (a storage holding two studies needs no --study) and the task and metric;
    a file of the first version (no schema_version, study, leaderboard or tool_version) still makes the report."""
    import shutil

    import optuna

    run = tmp_path / "run"
    shutil.copytree(binary_run, run, ignore=shutil.ignore_patterns("report"))
    storage = optuna.storages.RDBStorage(f"sqlite:///{run / 'study.db'}")
    optuna.create_study(storage=storage, study_name="other")
    storage.engine.dispose()
    current = json.loads((run / "metrics.json").read_text())
    assert current["study"] == "synthetic-binary" and current["schema_version"] == 1 and current["leaderboard"]
    result = build_report(ReportOptions(run_dir=run, **FAST))
    text = result.html.read_text()
    assert result.notes == [] and "study synthetic-binary · binary · roc_auc" in text
    board = pd.read_csv(run / "report" / "leaderboard.csv")
    assert board.loc[0, "validation"] == pytest.approx(current["leaderboard"][0]["validation"])

    first = {k: v for k, v in current.items() if k not in ("schema_version", "study", "leaderboard", "tool_version")}
    (run / "metrics.json").write_text(json.dumps(first))
    with pytest.raises(UserError, match="holds 2 studies; choose one with --study"):
        build_report(ReportOptions(run_dir=run, **FAST))
    result = build_report(ReportOptions(run_dir=run, study="synthetic-binary", **FAST))
    text = result.html.read_text()
    assert result.notes == [] and "study synthetic-binary · binary · roc_auc" in text
    assert f"{current['validation']['snp_increment']['difference']:+.3f}" in text
    assert pd.read_csv(run / "report" / "leaderboard.csv")["validation"].isna().all()  # v1: no leaderboard record


def test_storage_password_is_masked():
    import optuna

    study = optuna.create_study()
    text = build_module._parameters_html(study, {}, None, "postgresql://user:s3cret@db.example/genoml", None)
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
