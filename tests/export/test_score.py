"""The plink2 --score export reproduces the pipeline: SNP weights + covariates + intercept = linear predictor."""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from genoml_search.data.dataset import Dataset
from genoml_search.export.score import linear_predictor
from genoml_search.model_io import load_model
from genoml_search.core.features import features_from_dataset
from tests.conftest import run_cli


def _eta_from_files(model_dir, features) -> np.ndarray:
    snps = pd.read_csv(model_dir / "score.tsv", sep="\t")
    covariates = pd.read_csv(model_dir / "score_covariates.tsv", sep="\t").set_index("term")
    names = features.feature_names
    x = pd.DataFrame(features.x, columns=names)
    eta = np.full(len(x), covariates.loc["intercept", "weight"])
    # dosages of the counted allele; missing -> training mean dosage (= 2 * training frequency)
    variants = pd.read_csv(model_dir / "variants.tsv", sep="\t").set_index("id")
    for snp, weight in zip(snps["ID"], snps["WEIGHT"]):
        column = x[snp].fillna(2 * variants.loc[snp, "freq"])
        eta += weight * column.to_numpy()
    for term in covariates.index[1:]:
        eta += covariates.loc[term, "weight"] * x[term].fillna(covariates.loc[term, "missing_value"]).to_numpy()
    return eta


@pytest.mark.parametrize("fixture, task", [("binary_run", "binary"), ("regression_run", "regression")])
def test_score_files_reproduce_the_linear_predictor(fixture, task, request):
    run = request.getfixturevalue(fixture)
    model_dir = run / "model"
    model, info = load_model(model_dir)
    dataset = Dataset.open(json.loads((model_dir / "model.json").read_text())["dataset_path"])
    features = features_from_dataset(dataset)
    snps = pd.read_csv(model_dir / "score.tsv", sep="\t")
    assert list(snps.columns) == ["ID", "ALLELE", "WEIGHT"] and set(snps["ALLELE"]) <= {"A"}
    assert (snps["WEIGHT"] != 0).all()  # only the SNPs the model uses (an L1 penalty may leave none)
    ours, theirs = _eta_from_files(model_dir, features), linear_predictor(model, features.x, task)
    # the training means the pipeline imputes with differ slightly from 2 * freq (1% missing calls)
    assert np.corrcoef(ours, theirs)[0, 1] > 0.999
    complete = ~np.isnan(features.x).any(axis=1)
    assert np.allclose(ours[complete], theirs[complete], atol=1e-6 * np.ptp(theirs))


def test_no_score_file_for_multiclass(multiclass_run):
    assert not (multiclass_run / "model" / "score.tsv").exists()
    assert (multiclass_run / "model" / "MODEL_CARD.md").is_file()


@pytest.mark.plink2
def test_plink2_score_matches_the_snp_part(tmp_path):
    plink2 = shutil.which("plink2")
    if plink2 is None:
        pytest.skip("plink2 is not installed (Debian package plink2; .ci/run installs it)")
    cohort = tmp_path / "cohort"
    assert run_cli("simulate", "--out", str(cohort), "--n-train", "400", "--n-validation", "100", "--n-snps", "1200",
                   "--n-causal", "30", "--h2", "0.6", "--seed", "5").code == 0
    assert run_cli("munge", "--bfile", str(cohort / "train"), "--pheno", str(cohort / "train_pheno.csv"),
                   "--covar", str(cohort / "train_covar.csv"), "--out", str(tmp_path / "ds"),
                   "--no-kinship").code == 0
    done = run_cli("run", str(tmp_path / "ds"), "--out", str(tmp_path / "run"), "--n-trials", "2",
                   "--family", "logistic", "--workers", "1", "--no-snp-filter")
    assert done.code == 0, done.stderr
    model_dir = tmp_path / "run" / "model"
    subprocess.run([plink2, "--bfile", str(cohort / "train"), "--score", str(model_dir / "score.tsv"), "1", "2", "3",
                    "header", "cols=+scoresums", "--out", str(tmp_path / "plink")], check=True, capture_output=True)
    theirs = pd.read_csv(tmp_path / "plink.sscore", sep="\t").set_index("IID")["SCORE1_SUM"]
    features = features_from_dataset(Dataset.open(tmp_path / "ds"))
    snps = pd.read_csv(model_dir / "score.tsv", sep="\t")
    index = {name: i for i, name in enumerate(features.feature_names)}
    ours = features.x[:, [index[s] for s in snps["ID"]]].astype(float) @ snps["WEIGHT"].to_numpy()
    theirs = theirs.reindex(features.sample_ids).to_numpy()
    assert np.corrcoef(ours, theirs)[0, 1] > 0.9999
    assert np.allclose(ours, theirs, atol=1e-3 * np.ptp(ours))
