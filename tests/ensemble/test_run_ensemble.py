"""The ensemble step inside real runs: CLI run -> metrics.json -> predict -> report, resume with old and new
trials (one without readable OOF predictions), every task, and a shuffled phenotype at chance."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoml_search.core.metrics import get_metric
from tests.conftest import run_cli
from tests.search.conftest import make_dataset, noise_genotypes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    from genoml_search.data.simulate import simulate_tiny

    out = tmp_path_factory.mktemp("ens")
    simulate_tiny(out / "cohort", n_train=300, n_validation=120, h2=0.5, seed=3)
    done = run_cli("munge", "--bfile", str(out / "cohort" / "train"), "--pheno", str(out / "cohort" / "train_pheno.csv"),
                   "--covar", str(out / "cohort" / "train_covar.csv"), "--out", str(out / "dataset"), "--no-kinship")
    assert done.code == 0, done.stderr
    return out


def _run_args(cohort: Path, n_trials: int) -> list[str]:
    c = cohort / "cohort"
    return ["run", str(cohort / "dataset"), "--out", str(cohort / "run"), "--n-trials", str(n_trials), "--folds", "3",
            "--workers", "1", "--family", "logistic", "--family", "random_forest", "--pruner", "none",
            "--ensemble", "greedy", "--ensemble-rule", "always", "--validate-top", "0",
            "--validation-bfile", str(c / "validation"), "--validation-pheno", str(c / "validation_pheno.csv"),
            "--validation-covar", str(c / "validation_covar.csv")]


def test_cli_run_saves_an_ensemble_that_predict_and_report_use(cohort):
    done = run_cli(*_run_args(cohort, 6))
    assert done.code == 0, done.stderr
    assert "ensemble (greedy): the final model" in done.stdout
    metrics = json.loads((cohort / "run" / "metrics.json").read_text())
    record, validation = metrics["cv"]["ensemble"], metrics["validation"]
    assert metrics["cv"]["final_model"] == "ensemble" and record["chosen"]
    assert sum(m["weight"] for m in record["members"]) == pytest.approx(1.0)
    assert len(record["members"]) >= 2 and record["n_candidates"] == 6
    assert {"nested", "optimistic", "nested_fold_scores", "best_single"} <= set(record)
    assert len(record["nested_fold_scores"]) == 3
    projection = record["refit_projection"]  # 300 samples: --fidelity auto has no rungs, nothing to project
    assert projection["drift"] is None and "no learning curve" in projection["note"]
    assert validation["roc_auc"] == validation["ensemble"]["roc_auc"]  # the final model is the ensemble
    assert validation["best_single"]["roc_auc"] != validation["roc_auc"]
    assert all(isinstance(m["validation"], float) for m in record["members"])
    info = json.loads((cohort / "run" / "model" / "model.json").read_text())
    assert info["family"] == "ensemble"

    c = cohort / "cohort"
    out = cohort / "predictions.csv"
    done = run_cli("predict", "--model", str(cohort / "run"), "--bfile", str(c / "validation"), "--covar",
                   str(c / "validation_covar.csv"), "--pheno", str(c / "validation_pheno.csv"), "--out", str(out))
    assert done.code == 0, done.stderr
    predicted = json.loads(out.with_name("predictions.metrics.json").read_text())
    assert predicted["roc_auc"] == pytest.approx(validation["roc_auc"], abs=1e-9)  # predict uses the ensemble
    assert {"ID", "probability"} <= set(pd.read_csv(out).columns)

    done = run_cli("report", str(cohort / "run"), "--permutations", "1")
    assert done.code == 0, done.stderr
    page = (cohort / "run" / "report" / "report.html").read_text()
    assert "Ensemble" in page and "ensemble, nested" in page and "Members" in page


def test_resume_uses_old_and_new_trials_and_skips_those_without_oof(cohort):
    artifacts = sorted((cohort / "run" / "artifacts").iterdir())
    assert len(artifacts) == 6
    artifacts[0].unlink()  # a trial whose out-of-fold predictions are gone (or from an older version)
    done = run_cli(*_run_args(cohort, 9))
    assert done.code == 0, done.stderr
    record = json.loads((cohort / "run" / "metrics.json").read_text())["cv"]["ensemble"]
    assert record["n_candidates"] == 8  # 9 complete trials, one without readable OOF predictions
    assert any("no stored out-of-fold predictions" in note for note in record["notes"])


@pytest.mark.parametrize("task,method", [("regression", "greedy"), ("multiclass", "stack")])
def test_other_tasks(task, method, tmp_path, dask_scheduler_address):
    from genoml_search.execute.cluster import ClusterOptions
    from genoml_search.model_io import load_model
    from genoml_search import RunOptions, run

    rng = np.random.default_rng(5)
    g = noise_genotypes(300, 40, 5)
    signal = g[:, :4].sum(axis=1) + rng.normal(size=300)
    y = signal if task == "regression" else np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3])).astype(float)
    dataset = make_dataset(tmp_path / "ds", g, y, task=task)
    families = ["elastic_net", "random_forest"] if task == "regression" else ["logistic", "random_forest"]
    summary = run(RunOptions(dataset=dataset.path, out=tmp_path / "run", task=task, n_trials=5, n_folds=3,
                             families=families, pruner="none", ensemble=method, ensemble_rule="always",
                             validate_top=0, cluster=ClusterOptions(scheduler=dask_scheduler_address)))
    metrics = summary.metrics
    assert metrics["cv"]["final_model"] == "ensemble", metrics["cv"]["ensemble"]
    metric = metrics["metric"]
    assert metrics["validation"][metric] == metrics["validation"]["ensemble"][metric]
    model, info = load_model(tmp_path / "run" / "model")
    assert type(model).__name__ == "EnsembleModel" and info["family"] == "ensemble"
    x = np.column_stack([g[:10].astype(np.float32)])
    if task == "multiclass":
        assert np.allclose(model.predict_proba(x).sum(axis=1), 1.0)
    else:
        assert model.predict(x).shape == (10,)


def test_shuffled_phenotype_gives_chance_level_ensemble(tmp_path, dask_scheduler_address):
    from genoml_search.execute.cluster import ClusterOptions
    from genoml_search import RunOptions, run

    rng = np.random.default_rng(11)
    g = noise_genotypes(500, 200, 11)
    y = (g[:, :5].sum(axis=1) + rng.normal(size=500) > 2.5).astype(float)
    rng.shuffle(y)  # any signal is gone
    dataset = make_dataset(tmp_path / "ds", g, y)
    summary = run(RunOptions(dataset=dataset.path, out=tmp_path / "run", n_trials=8, n_folds=3, holdout=0.3,
                             families=["logistic", "random_forest"], pruner="none", ensemble="greedy",
                             ensemble_rule="always", ensemble_validate=True, validate_top=0,
                             cluster=ClusterOptions(scheduler=dask_scheduler_address)))
    record, validation = summary.metrics["cv"]["ensemble"], summary.metrics["validation"]
    assert abs(record["nested"] - 0.5) < 0.1, record
    assert abs(validation["ensemble"]["roc_auc"] - 0.5) < 0.15, validation["ensemble"]
    assert record["optimistic"] >= record["nested"] - 0.02  # chosen on the same predictions it is scored on
    assert get_metric("roc_auc", "binary").greater_is_better


@pytest.fixture(scope="module")
def dask_scheduler_address():
    import os

    from distributed import LocalCluster

    from tests.search.conftest import worker_env

    os.environ["PYTHONPATH"] = worker_env()["PYTHONPATH"]
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    yield cluster.scheduler_address
    cluster.close()


def test_a_multi_fidelity_run_projects_each_members_gain_at_the_refit(tmp_path, dask_scheduler_address):
    """With rungs (``fidelity="on"``: 33, 100 and 300 samples), every ensemble candidate that reached all
    samples has a learning curve, and metrics.json records each member's projected refit gain and the drift."""
    from genoml_search.execute.cluster import ClusterOptions
    from genoml_search import RunOptions, run

    rng = np.random.default_rng(6)
    g = noise_genotypes(300, 40, 6)
    y = g[:, :4].sum(axis=1) + rng.normal(size=300)
    dataset = make_dataset(tmp_path / "ds", g, y, task="regression")
    summary = run(RunOptions(dataset=dataset.path, out=tmp_path / "run", task="regression", n_trials=9, n_folds=3,
                             families=["elastic_net", "random_forest"], pruner="none", ensemble="greedy",
                             validate_top=0, fidelity="on", cluster=ClusterOptions(scheduler=dask_scheduler_address)))
    record = summary.metrics["cv"]["ensemble"]
    assert record["n_candidates"] >= 2, record
    projection = record["refit_projection"]
    assert isinstance(projection["drift"], float) and "rungs" in projection["note"]
    assert {m["trial"] for m in record["members"]} <= {m["trial"] for m in projection["members"]}
    assert all(isinstance(m["refit_gain"], float) for m in projection["members"])
