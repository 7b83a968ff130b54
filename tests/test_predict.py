"""`predict` on new cohorts: reproduces the run's validation metrics, refuses poor overlap and missing covariates."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoml_search.data.dataset import Dataset
from genoml_search.errors import UserError
from genoml_search.core.scoring import prediction_frame
from genoml_search._predict import PredictOptions, predict
from genoml_search.core.metrics import score_all
from genoml_search.core.features import FeatureMatrix

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples" / "genoml2-discrete"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny real run (3 logistic trials on one Dask worker) validated on the bundled validation cohort; no
    ensemble, so the final model is the logistic pipeline these tests inspect."""
    from genoml_search.data.munge import MungeOptions, munge
    from genoml_search.execute.cluster import ClusterOptions
    from genoml_search._run import RunOptions, run

    root = tmp_path_factory.mktemp("predict")
    munge(MungeOptions(out=root / "ds", bfile=str(EX / "training"), pheno=str(EX / "training_pheno.csv"),
                       covar=str(EX / "training_addit.csv")))
    out = root / "run"
    munge(MungeOptions(out=out / "validation_dataset", bfile=str(EX / "validation"),
                       pheno=str(EX / "validation_pheno.csv"), covar=str(EX / "validation_addit.csv"),
                       like=str(root / "ds"), fill_missing=True))
    run(RunOptions(dataset=root / "ds", out=out, n_trials=3, families=["logistic"], n_folds=3,
                   validation_dataset=out / "validation_dataset", cluster=ClusterOptions(workers=1), ensemble="none"))
    return out


def _validation_options(run_dir: Path, out: Path, **kw) -> PredictOptions:
    return PredictOptions(model=run_dir, out=out, bfile=str(EX / "validation"),
                          covar=str(EX / "validation_addit.csv"), **kw)


def test_predicting_the_validation_cohort_reproduces_metrics_exactly(run_dir, tmp_path):
    summary = predict(_validation_options(run_dir, tmp_path / "pred.csv"))
    predictions = pd.read_csv(tmp_path / "pred.csv", dtype={"ID": str})
    assert list(predictions.columns) == ["ID", "FID", "IID", "probability"] and summary.n_samples == 100
    truth = Dataset.open(run_dir / "validation_dataset").samples[["ID", "phenotype"]]
    merged = truth.merge(predictions, on="ID", validate="one_to_one")
    metrics = json.loads((run_dir / "metrics.json").read_text())["validation"]
    recomputed = score_all("binary", merged["phenotype"].to_numpy(), merged["probability"].to_numpy())
    for name, value in recomputed.items():
        assert value == metrics[name], name  # exact: same harmonization, features and model
    assert summary.overlap == 1.0 and summary.harmonization["allele_swapped"] > 0


def test_cli_in_a_fresh_process(run_dir, tmp_path):
    out = tmp_path / "cli.csv"
    done = subprocess.run(
        [sys.executable, "-m", "genoml_search.cli", "predict", "--model", str(run_dir), "--bfile", str(EX / "validation"),
         "--covar", str(EX / "validation_addit.csv"), "--out", str(out)],
        cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "100 samples predicted" in done.stdout
    predict(_validation_options(run_dir, tmp_path / "api.csv"))
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(tmp_path / "api.csv"))


def test_saved_linear_model_has_its_covariates_unpenalized_and_predicts_through_the_allow_list(run_dir):
    """The logistic pipeline saved by `run` carries the covariate weight step (an allow-listed type)."""
    from genoml_search.model_io import load_model
    from genoml_search.search.registry import get_family

    model, info = load_model(run_dir / "model")
    weight = model.named_steps["covariates"]
    n_covariates = len(Dataset.open(run_dir / "validation_dataset").covariate_names)
    assert info["family"] == "logistic" and weight.n_covariates == n_covariates > 0
    assert np.all(weight.factors_[-n_covariates:] == get_family("logistic").covariate_weight) and np.all(weight.factors_[:-n_covariates] == 1.0)


def _renamed_cohort(tmp_path: Path, fraction: float) -> str:
    prefix = tmp_path / "renamed"
    for ext in ("bed", "fam"):
        shutil.copy(EX / f"validation.{ext}", f"{prefix}.{ext}")
    bim = pd.read_csv(EX / "validation.bim", sep=r"\s+", header=None, dtype=str)
    n = int(len(bim) * fraction)
    bim.loc[: n - 1, 1] = "other_" + bim.loc[: n - 1, 1]
    bim.to_csv(f"{prefix}.bim", sep="\t", header=False, index=False)
    return str(prefix)


def test_low_overlap_is_refused_then_allowed(run_dir, tmp_path):
    prefix = _renamed_cohort(tmp_path, 0.3)
    options = PredictOptions(model=run_dir, out=tmp_path / "p.csv", bfile=prefix,
                             covar=str(EX / "validation_addit.csv"))
    with pytest.raises(UserError, match=r"below --min-overlap 0.9"):
        predict(options)
    assert not (tmp_path / "p.csv").exists()
    options.min_overlap = 0.5
    summary = predict(options)
    assert 0.5 < summary.overlap < 0.9
    assert summary.harmonization["filled_from_training"] == summary.harmonization["absent"] > 0
    assert pd.read_csv(tmp_path / "p.csv")["probability"].between(0, 1).all()


def test_missing_covariates_are_refused(run_dir, tmp_path):
    covar = pd.read_csv(EX / "validation_addit.csv")
    covar.drop(columns=["UPSIT"]).to_csv(tmp_path / "covar.csv", index=False)
    with pytest.raises(UserError, match="UPSIT"):
        predict(PredictOptions(model=run_dir, out=tmp_path / "p.csv", bfile=str(EX / "validation"),
                               covar=str(tmp_path / "covar.csv")))
    with pytest.raises(UserError, match="give --covar"):
        predict(PredictOptions(model=run_dir, out=tmp_path / "p.csv", bfile=str(EX / "validation")))


def test_bad_requests(run_dir, tmp_path):
    with pytest.raises(UserError, match="min-overlap"):
        predict(_validation_options(run_dir, tmp_path / "p.csv", min_overlap=1.5))
    with pytest.raises(UserError, match="no model"):
        predict(_validation_options(tmp_path, tmp_path / "p.csv"))


def test_multiclass_and_regression_columns():
    from sklearn.linear_model import LinearRegression, LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).astype(np.float32)
    y = rng.integers(0, 3, 60).astype(float)
    features = FeatureMatrix(x, y, 3, ["a", "b", "c"], np.array([f"s{i}" for i in range(60)]))
    frame = prediction_frame(LogisticRegression().fit(x, y), {"task": "multiclass"}, features)
    assert list(frame.columns) == ["ID", "probability_0", "probability_1", "probability_2", "prediction"]
    np.testing.assert_allclose(frame.filter(like="probability").sum(axis=1), 1.0)
    assert set(frame["prediction"]) <= {0, 1, 2}
    frame = prediction_frame(LinearRegression().fit(x, y), {"task": "regression"}, features)
    assert list(frame.columns) == ["ID", "prediction"]


@pytest.fixture(scope="module")
def masked_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny real run on a simulated cohort (LD blocks) whose model uses the LD mask 0.5, not the default 0.9."""
    from genoml_search.data.munge import MungeOptions, munge
    from genoml_search.data.simulate import simulate_tiny
    from genoml_search.execute.cluster import ClusterOptions
    from genoml_search._run import RunOptions, run

    root = tmp_path_factory.mktemp("masked")
    simulate_tiny(root / "sim", n_snps=1500, n_train=300, h2=0.6, seed=8)
    sim = root / "sim"
    munge(MungeOptions(out=root / "ds", bfile=str(sim / "train"), pheno=str(sim / "train_pheno.csv"),
                       covar=str(sim / "train_covar.csv"), kinship=False, pcs=0))
    out = root / "run"
    munge(MungeOptions(out=out / "validation_dataset", bfile=str(sim / "validation"),
                       pheno=str(sim / "validation_pheno.csv"), covar=str(sim / "validation_covar.csv"),
                       like=str(root / "ds")))
    run(RunOptions(dataset=root / "ds", out=out, n_trials=2, families=["logistic"], n_folds=3, ld_r2="0.5",
                   validation_dataset=out / "validation_dataset", cluster=ClusterOptions(workers=1), ensemble="none",
                   validate_top=0))
    return out, sim


@pytest.mark.slow  # a real run on a Dask worker
def test_a_model_on_a_non_default_ld_mask_predicts_and_exports_its_score(masked_run, tmp_path):
    from genoml_search.model_io import load_model

    run_dir, sim = masked_run
    model, info = load_model(run_dir / "model")
    training = Dataset.open(run_dir / "validation_dataset").manifest["like"]["dataset"]
    variants = Dataset.open(training).variants
    mask_ids = set(variants.loc[variants["ld_r2_0.5"], "id"])
    assert info["ld_mask"] == {"name": "0.5", "n_snps": len(mask_ids)} and model.steps[0][0] == "ld_mask"
    assert len(mask_ids) < info["n_snps"]  # the mask leaves SNPs out of the full column space the model takes
    summary = predict(PredictOptions(model=run_dir, out=tmp_path / "p.csv", bfile=str(sim / "validation"),
                                     covar=str(sim / "validation_covar.csv")))
    predictions = pd.read_csv(tmp_path / "p.csv", dtype={"ID": str})
    truth = Dataset.open(run_dir / "validation_dataset").samples[["ID", "phenotype"]]
    merged = truth.merge(predictions, on="ID", validate="one_to_one")
    metrics = json.loads((run_dir / "metrics.json").read_text())["validation"]
    assert score_all("binary", merged["phenotype"].to_numpy(), merged["probability"].to_numpy())["roc_auc"] == \
        metrics["roc_auc"] and summary.overlap == 1.0
    score = pd.read_csv(run_dir / "model" / "score.tsv", sep="\t")  # written only if it reproduces the model
    assert len(score) > 0 and set(score["ID"]) <= mask_ids


def test_a_path_family_model_predicts_from_the_int8_genotypes_and_reproduces_its_validation(tmp_path, monkeypatch):
    """#22: predict scores a lasso_path model from the cohort's int8 genotypes (no float copy, so a biobank-size
    cohort fits), with exactly the run's validation metrics."""
    import genoml_search.core.features as features_module
    from genoml_search.data.munge import MungeOptions, munge
    from genoml_search.execute.cluster import ClusterOptions
    from genoml_search._run import RunOptions, run

    munge(MungeOptions(out=tmp_path / "ds", bfile=str(EX / "training"), pheno=str(EX / "training_pheno.csv"),
                       covar=str(EX / "training_addit.csv")))
    out = tmp_path / "run"
    run(RunOptions(dataset=tmp_path / "ds", out=out, n_trials=1, families=["lasso_path"], n_folds=3,
                   validation_bfile=str(EX / "validation"), validation_pheno=str(EX / "validation_pheno.csv"),
                   validation_covar=str(EX / "validation_addit.csv"), cluster=ClusterOptions(workers=1),
                   ensemble="none", validate_top=1))

    def no_float_copy(*args, **kwargs):
        raise AssertionError("predict built a float copy of the genotypes for a path-family model")

    monkeypatch.setattr(features_module, "float_features", no_float_copy)
    predict(_validation_options(out, tmp_path / "pred.csv"))
    predictions = pd.read_csv(tmp_path / "pred.csv", dtype={"ID": str})
    truth = Dataset.open(out / "validation_dataset").samples[["ID", "phenotype"]]
    merged = truth.merge(predictions, on="ID", validate="one_to_one")
    metrics = json.loads((out / "metrics.json").read_text())["validation"]
    recomputed = score_all("binary", merged["phenotype"].to_numpy(), merged["probability"].to_numpy())
    for name, value in recomputed.items():
        assert value == pytest.approx(metrics[name], abs=1e-12), name
