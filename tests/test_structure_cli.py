"""Sample structure through the CLI on the bundled example: its validation cohort duplicates training samples."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import EXAMPLE, run_cli

RUN = ["--n-trials", "2", "--workers", "1", "--family", "logistic", "--pruner", "none", "--no-snp-filter"]
VALIDATION = ["--validation-bfile", str(EXAMPLE / "validation"),
              "--validation-pheno", str(EXAMPLE / "validation_pheno.csv"),
              "--validation-covar", str(EXAMPLE / "validation_addit.csv")]


@pytest.fixture(scope="module")
def munged(tmp_path_factory):
    out = tmp_path_factory.mktemp("structure")
    result = run_cli("munge", "--bfile", str(EXAMPLE / "training"), "--pheno", str(EXAMPLE / "training_pheno.csv"),
                     "--covar", str(EXAMPLE / "training_addit.csv"), "--out", str(out / "dataset"))
    assert result.code == 0, result.stderr
    assert "kinship (KING, 496 SNPs)" in result.stdout and "genetic PCs: 10 fitted" in result.stdout
    assert "too noisy for second- or third-degree calls" in " ".join(result.stderr.split())  # 496 SNPs: chance pairs
    return out


def test_munge_like_warns_that_every_validation_sample_duplicates_training(munged):
    result = run_cli("munge", "--bfile", str(EXAMPLE / "validation"), "--pheno", str(EXAMPLE / "validation_pheno.csv"),
                     "--covar", str(EXAMPLE / "validation_addit.csv"), "--like", str(munged / "dataset"),
                     "--out", str(munged / "validation"))
    assert result.code == 0, result.stderr
    assert "warning: 100 of 100 cohort samples are related to a training sample" in result.stderr
    assert "100 of them duplicates" in result.stderr
    manifest = json.loads((munged / "validation" / "manifest.json").read_text())
    assert manifest["related_to_training"]["n_duplicates"] == 100
    assert manifest["pca"] == {"computed": True, "projected": True, "n_components": 10}
    related = pd.read_csv(munged / "validation" / "related_to_training.tsv", sep="\t")
    assert len(related) == 100 and related["closest_training_ID"].nunique() == 100


@pytest.mark.slow
def test_run_records_related_validation_and_predict_reproduces_with_pcs(munged):
    from sklearn.metrics import roc_auc_score

    run_dir = munged / "run_pcs"
    result = run_cli("run", str(munged / "dataset"), "--out", str(run_dir), *RUN, "--pcs", "3", *VALIDATION)
    assert result.code == 0, result.stderr
    assert "warning: 100 of 100 validation samples are related to a training sample" in result.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    related = metrics["validation"]["related_to_training"]
    assert {k: related[k] for k in ("n_samples", "n_duplicates", "n_related", "dropped", "n_scored")} == {
        "n_samples": 100, "n_duplicates": 100, "n_related": 100, "dropped": False, "n_scored": 100}
    info = json.loads((run_dir / "model" / "model.json").read_text())
    assert info["feature_names"][-3:] == ["PC1", "PC2", "PC3"] and info["n_pcs"] == 3
    assert (run_dir / "model" / "pca.npz").is_file()

    predicted = run_cli("predict", "--model", str(run_dir), "--out", str(munged / "pred.csv"),
                        "--bfile", str(EXAMPLE / "validation"), "--covar", str(EXAMPLE / "validation_addit.csv"))
    assert predicted.code == 0, predicted.stderr
    assert "warning: 100 of 100 predicted samples are related" in predicted.stderr
    frame = pd.read_csv(munged / "pred.csv")
    pheno = pd.read_csv(EXAMPLE / "validation_pheno.csv", encoding="utf-8-sig").set_index("ID")["PHENO"]
    auc = roc_auc_score(pheno.reindex(frame["ID"]).to_numpy(), frame["probability"].to_numpy())
    assert np.isclose(auc, metrics["validation"]["roc_auc"], atol=1e-9)


def test_drop_related_validation_refuses_when_nothing_is_left(munged):
    result = run_cli("run", str(munged / "dataset"), "--out", str(munged / "run_drop"), *RUN,
                     "--drop-related-validation", *VALIDATION)
    assert result.code == 2
    assert "all 100 validation samples are related to training samples; nothing left to score" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_drop_related_validation_scores_only_unrelated_holdout_samples(munged):
    run_dir = munged / "run_holdout"
    result = run_cli("run", str(munged / "dataset"), "--out", str(run_dir), *RUN, "--drop-related-validation")
    assert result.code == 0, result.stderr
    validation = json.loads((run_dir / "metrics.json").read_text())["validation"]
    related = validation["related_to_training"]
    assert validation["source"] == "holdout" and related["dropped"] and related["n_samples"] == 100
    assert 0 < related["n_related"] < 100  # noisy second-degree calls on 496 SNPs
    assert validation["n_samples"] == related["n_scored"] == 100 - related["n_related"]
    excluded = (run_dir / "validation_excluded_related.txt").read_text().split()[1:]
    assert len(excluded) == related["n_related"]
    assert f"left out; {related['n_scored']} scored" in result.stderr


@pytest.mark.slow
def test_group_by_relatedness_keeps_relatives_out_of_the_holdout(munged):
    run_dir = munged / "run_grouped"
    result = run_cli("run", str(munged / "dataset"), "--out", str(run_dir), *RUN, "--group-by-relatedness")
    assert result.code == 0, result.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["cv"]["grouped"] and metrics["cv"]["n_groups"] < metrics["cv"]["n_samples"]
    assert metrics["validation"]["related_to_training"]["n_related"] == 0  # relatives stay on one side
    report = run_cli("report", "--out", str(run_dir), "--bootstrap", "50", "--repeats", "1", "--max-features", "3")
    assert report.code == 0, report.stderr
    html = (run_dir / "report" / "report.html").read_text()
    n = metrics["validation"]["n_samples"]
    assert f"0 of {n} validation samples are related" in html and "differ from metrics.json" not in html


@pytest.mark.parametrize("args, message", [
    (["run", "{ds}", "--pcs", "11"], "--pcs 11: this dataset has 10 genetic PCs"),
    (["run", "{ds}", "--pcs", "-1"], "Invalid value for '--pcs': -1"),  # a usage error (range check)
    (["run", "{nokin}", "--group-by-relatedness"], "--group-by-relatedness: the dataset has no kinship estimate"),
    (["munge", "--pcs", "600"], "--pcs 600 is too many for 500 samples x 470 SNPs used for PCA; choose at most 469"),
    (["munge", "--pcs", "3", "--extract", "{few}"], "--pcs 3: PCA needs at least 100 SNPs; the dataset has 48 after QC"),
])
def test_bad_structure_requests_are_one_line_errors(munged, tmp_path, args, message):
    few = tmp_path / "few.txt"
    few.write_text("".join(f"snp{i}\n" for i in range(50)))
    if args[0] == "munge" or "{nokin}" in args:
        base = ["munge", "--bfile", str(EXAMPLE / "training"), "--pheno", str(EXAMPLE / "training_pheno.csv"),
                "--out", str(tmp_path / "ds")]
        if args[0] == "run":
            assert run_cli(*base, "--no-kinship", "--pcs", "0").code == 0
        else:
            args = base + args[1:]
    args = [a.format(ds=munged / "dataset", nokin=tmp_path / "ds", few=few) for a in args]
    if args[0] == "run":
        args += ["--out", str(tmp_path / "run"), *RUN]
    result = run_cli(*args)
    assert result.code == 2, result.stderr
    usage_error = "Try 'genoml-search run --help' for help." in result.stderr  # click's three-line usage message
    assert message in result.stderr and (usage_error or len(result.stderr.strip().splitlines()) == 1)
