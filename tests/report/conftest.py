"""Synthetic run directories built in-process (no Dask): a dataset with known causal SNPs, a small study
whose trials are evaluated by the real objective, then the real refit_and_validate of `run`."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from genoml_search.data.dataset import Dataset, write_dataset
from genoml_search.data.plink import MISSING

N_SNPS = 60
CAUSAL = [f"rs{i}" for i in range(4)]


def make_dataset(path: Path, task: str, n: int = 300, seed: int = 0) -> Dataset:
    """Genotypes with 4 causal SNPs (rs0..rs3) and two covariates (AGE matters, SEX does not)."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.1, 0.5, N_SNPS)
    genotypes = rng.binomial(2, freq, size=(n, N_SNPS)).astype(np.int8)
    age = rng.normal(60, 8, n).round(1)
    sex = rng.integers(0, 2, n).astype(float)
    signal = genotypes[:, :4] @ np.array([1.0, -0.9, 0.8, 0.7]) + 0.05 * (age - 60)
    noisy = signal + rng.normal(0, 0.6, n)
    if task == "binary":
        y = (noisy > np.median(noisy)).astype(float)
    elif task == "multiclass":
        y = np.digitize(noisy, np.quantile(noisy, [1 / 3, 2 / 3])).astype(float)
    else:
        y = noisy
    genotypes[rng.random((n, N_SNPS)) < 0.01] = MISSING
    samples = pd.DataFrame({"ID": [f"s{i}" for i in range(n)], "phenotype": y, "AGE": age, "SEX": sex})
    variants = pd.DataFrame({"id": [f"rs{i}" for i in range(N_SNPS)], "chrom": ["1"] * 30 + ["2"] * 30,
                             "pos": np.arange(N_SNPS) * 1000 + 1, "counted_allele": "A", "other_allele": "G",
                             "freq": freq.round(4)})
    phenotype = {"task": task, "file": "synthetic"}
    if task == "multiclass":
        phenotype["classes"] = [0, 1, 2]
    manifest = {"kind": "training", "inputs": {"bfile": "synthetic"}, "phenotype": phenotype,
                "covariates": {"columns": ["AGE", "SEX"], "one_hot": {}},
                "steps": [{"step": "input", "unit": "samples", "removed": 0, "remaining": n, "reason": "synthetic"}]}
    write_dataset(path, genotypes, samples, variants, manifest)
    return Dataset.open(path)


def make_run(root: Path, task: str, n_trials: int = 4) -> Path:
    """A run directory like `genoml-search run --family logistic|elastic_net` writes (holdout validation)."""
    from genoml_search.core.metrics import DEFAULT_METRIC, get_metric
    from genoml_search._run import RefitRequest, RunOptions, refit_and_validate, split_search_validation, suggest_trial
    from genoml_search.search.objective import CVSpec, TrialSpec, evaluate_trial
    from genoml_search.search.registry import get_family
    from genoml_search.search.storage import default_storage_url, open_storage
    from genoml_search.search.study import open_study

    import genoml_search.search.families.linear  # noqa: F401  (registers the families)

    dataset = make_dataset(root / "ds", task)
    out = root / "run"
    metric = get_metric(DEFAULT_METRIC[task], task)
    families = [get_family("elastic_net" if task == "regression" else "logistic")]
    options = RunOptions(dataset=dataset.path, out=out, task=task, n_trials=n_trials, holdout=0.25, n_folds=3,
                         families=[f.name for f in families])
    search, holdout = split_search_validation(dataset.phenotype, task, options.holdout, options.seed)
    url = default_storage_url(out)
    identity = {"dataset_hash": dataset.content_hash, "task": task, "metric": metric.name,
                "holdout": options.holdout, "seed": options.seed}
    settings = {"n_folds": options.n_folds, "n_repeats": 1, "families": [f.name for f in families],
                "sampler": "random", "pruner": "none", "dataset": str(dataset.path.resolve())}
    study = open_study(open_storage(url), url, f"synthetic-{task}", metric.direction,
                       optuna.samplers.RandomSampler(seed=0), identity, settings)
    cv = CVSpec(options.n_folds, 1, 0)
    for number in range(n_trials + 1):
        trial = study.ask()
        family, params, threshold = suggest_trial(trial, families, task, True)
        if number == 0:  # one pruned trial, so the report shows every state
            trial.set_user_attr("family", family)
            trial.set_user_attr("seconds", 0.01)
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            continue
        result = evaluate_trial(TrialSpec(trial.number, str(dataset.path.resolve()), dataset.content_hash, task,
                                          metric.name, family, params, max(threshold, 1e-3), search, cv))
        assert result.error is None, result.error
        trial.set_user_attr("family", family)
        trial.set_user_attr("fold_scores", result.fold_scores)
        trial.set_user_attr("seconds", round(result.seconds, 3))
        study.tell(trial, result.value)
    refit_and_validate(RefitRequest(study, dataset, None, families, task, metric.name, search, holdout, options))
    return out


@pytest.fixture(scope="session")
def binary_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("binary"), "binary")


@pytest.fixture(scope="session")
def multiclass_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("multiclass"), "multiclass")


@pytest.fixture(scope="session")
def regression_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("regression"), "regression")
