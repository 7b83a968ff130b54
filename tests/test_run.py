"""`run` end to end: metrics.json shape, the hold-out split kept out of the search, grouped CV, `status`."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from genoml_search.data.dataset import Dataset, write_dataset
from genoml_search.execute.cluster import ClusterOptions
from genoml_search.model_io import load_model
from genoml_search._run import RunOptions, run, split_search_validation

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scheduler():
    from distributed import LocalCluster

    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Dataset:
    rng = np.random.default_rng(11)
    n, m = 160, 40
    g = rng.binomial(2, rng.uniform(0.1, 0.5, m), (n, m)).astype(np.int8)
    y = (rng.random(n) < 1 / (1 + np.exp(-(g[:, :4].sum(1) - g[:, :4].sum(1).mean())))).astype(float)
    samples = pd.DataFrame({"ID": [f"s{i}" for i in range(n)], "phenotype": y})
    variants = pd.DataFrame({"id": [f"rs{j}" for j in range(m)], "chrom": "1", "pos": np.arange(m) + 1,
                             "counted_allele": "A", "other_allele": "G", "freq": 0.3})
    path = tmp_path_factory.mktemp("ds") / "dataset"
    write_dataset(path, g, samples, variants, {"phenotype": {"task": "binary"}, "covariates": {"columns": []}})
    return Dataset.open(path)


@pytest.fixture(scope="module")
def finished_run(dataset, scheduler, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    summary = run(RunOptions(dataset=dataset.path, out=out, n_trials=3, families=["logistic"], n_folds=3,
                             cluster=ClusterOptions(scheduler=scheduler)))
    return out, summary


def test_metrics_json_shape(finished_run):
    out, summary = finished_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "binary" and metrics["metric"] == "roc_auc"
    cv = metrics["cv"]
    assert 0.0 <= cv["roc_auc"] <= 1.0 and len(cv["fold_scores"]) == 3 and cv["n_folds"] == 3
    assert cv["best_family"] == "logistic" and cv["grouped"] is False
    validation = metrics["validation"]
    assert validation["source"] == "holdout" and validation["n_samples"] == 32
    for key in ("roc_auc", "average_precision", "balanced_accuracy", "log_loss", "brier"):
        assert 0.0 <= validation[key] <= 10.0
    assert summary.n_finished == 3


def test_holdout_samples_are_never_searched(finished_run, dataset):
    out, _ = finished_run
    holdout_ids = set(pd.read_csv(out / "holdout_samples.txt")["ID"])
    search, holdout = split_search_validation(dataset.phenotype, "binary", 0.2, 0)
    assert not set(search) & set(holdout) and len(search) + len(holdout) == 160
    assert holdout_ids == {f"s{i}" for i in holdout}
    pipeline, info = load_model(out / "model")
    assert pipeline.named_steps["scale"].n_samples_seen_ == len(search) == 128  # refitted on search samples only
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["cv"]["n_samples"] == 128


def test_split_is_stratified_fixed_by_seed_and_keeps_groups_whole():
    y = np.array([0] * 150 + [1] * 50)
    search, holdout = split_search_validation(y, "binary", 0.2, 3)
    assert y[holdout].sum() == 10 and len(holdout) == 40
    assert np.array_equal(holdout, split_search_validation(y, "binary", 0.2, 3)[1])
    groups = np.repeat(np.arange(50), 4)
    search, holdout = split_search_validation(y, "binary", 0.2, 0, groups)
    assert not set(groups[search]) & set(groups[holdout])


def test_grouped_run_from_a_groups_file(dataset, scheduler, tmp_path):
    groups = tmp_path / "families.tsv"
    groups.write_text("ID\tFAMILY\n" + "".join(f"s{i}\tf{i // 4}\n" for i in range(0, 160, 2)))
    summary = run(RunOptions(dataset=dataset.path, out=tmp_path / "out", n_trials=1, families=["logistic"],
                             n_folds=3, groups_file=groups, group_col="FAMILY",
                             cluster=ClusterOptions(scheduler=scheduler)))
    cv = summary.metrics["cv"]
    assert cv["grouped"] is True
    # 40 families of 2 listed samples + 80 unlisted singletons, minus those held out
    assert 80 <= cv["n_groups"] <= 120


def test_status_table_and_json(finished_run):
    from genoml_search.cli import app

    out, summary = finished_run
    result = CliRunner().invoke(app, ["status", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    study = report["studies"][0]
    assert study["study"] == summary.study_name and study["task"] == "binary"
    assert study["counts"]["COMPLETE"] + study["counts"]["PRUNED"] == 3 and study["counts"]["RUNNING"] == 0
    assert study["best"]["family"] == "logistic" and study["best_per_family"][0] == study["best"]
    table = CliRunner().invoke(app, ["status", str(out)])
    assert table.exit_code == 0
    assert summary.study_name in table.output and "best overall: trial" in table.output
    assert "logistic" in table.output and "complete 3" in table.output


def test_fidelity_study_resumes_to_exactly_n_trials_and_keeps_its_rungs(dataset, scheduler, tmp_path):
    """Multi-fidelity (search/fidelity.py): a run stopped by its time limit, resumed, then extended, ends at
    exactly --n-trials finished trials, all on the rungs the study was made with; `auto` is off at small n."""
    import contextlib
    import dataclasses

    import optuna

    from genoml_search._run import prepare
    from genoml_search.errors import StudyError

    assert not prepare(RunOptions(dataset=dataset.path, out=tmp_path / "auto")).fidelity.enabled  # 128 samples
    options = RunOptions(dataset=dataset.path, out=tmp_path / "out", n_trials=6, families=["logistic"], n_folds=3,
                         fidelity="on", ensemble="none", validate_top=0, timeout=2.0,
                         cluster=ClusterOptions(scheduler=scheduler))
    with contextlib.suppress(StudyError):  # stopped by its 2 s limit, maybe before any trial completed
        run(options)
    assert run(dataclasses.replace(options, timeout=None)).n_finished == 6
    assert run(dataclasses.replace(options, timeout=None, n_trials=8)).n_finished == 8
    storage = f"sqlite:///{tmp_path / 'out' / 'study.db'}"
    study = optuna.load_study(study_name=optuna.study.get_all_study_summaries(storage)[0].study_name,
                              storage=storage)
    finished = study.get_trials(states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))
    assert len(finished) == 8 and study.user_attrs["fidelity_rungs"] == [42, 128]
    assert all(t.user_attrs["fidelity"]["rungs"] == [42, 128] for t in finished)
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
    with pytest.raises(StudyError, match="multi-fidelity"):
        run(dataclasses.replace(options, timeout=None, n_trials=9, fidelity="off"))


def test_a_timeout_spent_before_any_trial_finished_still_ends_with_a_model(dataset, scheduler, tmp_path):
    """--timeout shorter than any trial: the first trials run on until one completes, the run refits it; a
    resumed run (its study has a complete trial) keeps its budget without grace."""
    from genoml_search.status import study_status

    options = RunOptions(dataset=dataset.path, out=tmp_path / "out", n_trials=20, families=["logistic"], n_folds=3,
                         ensemble="none", validate_top=0, timeout=0.01, cluster=ClusterOptions(scheduler=scheduler))
    summary = run(options)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert summary.stats.completed == 1 and summary.n_finished == 1
    search = metrics["search"]
    assert search["timeout"] == 0.01 and search["completed"] == 1
    assert 0.0 < search["timeout_grace_seconds"] <= search["seconds"]
    assert load_model(tmp_path / "out" / "model") is not None
    assert study_status(out=tmp_path / "out").studies[0].timeout_grace_seconds == search["timeout_grace_seconds"]
    from genoml_search.cli import app

    table = CliRunner().invoke(app, ["status", str(tmp_path / "out")])
    assert table.exit_code == 0 and "--timeout spent before any trial finished" in table.output, table.output

    again = run(options)  # resumed: one complete trial already, so no grace and no new complete trial
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert again.stats.completed == 0 and again.stats.timeout_grace_seconds == 0.0
    assert metrics["search"]["timeout_grace_seconds"] == 0.0 and metrics["cv"]["best_trial"] == summary.metrics[
        "cv"]["best_trial"]
    assert study_status(out=tmp_path / "out").studies[0].timeout_grace_seconds == 0.0


def test_ridge_path_stays_in_the_defaults_at_biobank_size_when_the_budget_allows_its_passes():
    """Above KRYLOV_FROM rows per fold ridge_path keeps no n x n matrix (Lanczos passes), so size alone no longer
    removes it: a 60-minute search at 50,000 x 100,000 keeps it, a 5-minute one does not."""
    from genoml_search._run import DEFAULT_FAMILIES, _without_oversized_kernels
    from genoml_search.search.registry import get_family

    families = [get_family(name) for name in DEFAULT_FAMILIES]
    hour = RunOptions(dataset=Path("d"), out=Path("o"), timeout=3_600)
    assert [f.name for f in _without_oversized_kernels(families, 50_000, 100_000, hour)] == list(DEFAULT_FAMILIES)
    minutes = RunOptions(dataset=Path("d"), out=Path("o"), timeout=300)
    assert "ridge_path" not in [f.name for f in _without_oversized_kernels(families, 50_000, 100_000, minutes)]


def test_ridge_path_leaves_the_defaults_when_a_trial_would_outlast_the_timeout(caplog):
    """A ridge_path trial that would not end within --timeout would hold a worker for the whole search: it is not
    searched by default then; with a longer --timeout, without one, or named, it is."""
    from genoml_search._run import DEFAULT_FAMILIES, _without_oversized_kernels
    from genoml_search.search.ridge_cv import estimated_trial_seconds
    from genoml_search.search.registry import get_family

    families = [get_family(name) for name in DEFAULT_FAMILIES]
    n_search, n_snps = 10_000, 50_000
    seconds = estimated_trial_seconds(8_000, n_search, n_snps, 5)
    # with --fidelity auto a trial at 10,000 samples also runs rungs of 1,111 and 3,333 samples
    rungs = seconds + sum(estimated_trial_seconds(n * 4 // 5, n, n_snps, 5) for n in (1_111, 3_333))
    without = [name for name in DEFAULT_FAMILIES if name != "ridge_path"]

    def kept(**flags: object) -> list[str]:
        options = RunOptions(dataset=Path("d"), out=Path("o"), **flags)  # type: ignore[arg-type]
        return [f.name for f in _without_oversized_kernels(families, n_search, n_snps, options)]

    assert kept(timeout=seconds * 0.9, fidelity="off") == without
    assert "more than --timeout" in caplog.text
    assert kept(timeout=seconds * 1.1, fidelity="off") == list(DEFAULT_FAMILIES)
    assert rungs > seconds * 1.1 and kept(timeout=seconds * 1.1) == without
    assert kept(timeout=rungs * 1.01) == list(DEFAULT_FAMILIES)
    assert kept() == list(DEFAULT_FAMILIES)
    assert kept(timeout=1.0, families=["ridge_path"]) == list(DEFAULT_FAMILIES)


def test_families_needing_a_float_genotype_copy_leave_the_defaults_when_it_would_not_fit(caplog, monkeypatch):
    """#22: when a float copy of the genotypes would take more than half of a local worker's memory, only the
    path families (which read the int8 matrix) are searched by default; named families, remote clusters and
    explicit memory limits are left alone."""
    import types

    import genoml_search.execute.cluster as cluster
    from genoml_search._run import DEFAULT_FAMILIES, _without_oversized_float_copies
    from genoml_search.execute.cluster import ClusterOptions
    from genoml_search.search.registry import get_family

    families = [get_family(name) for name in DEFAULT_FAMILIES]
    dataset = types.SimpleNamespace(samples=range(50_000), variants=range(100_000))  # a 20 GB float copy
    monkeypatch.setattr(cluster.os, "sysconf", lambda name: {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 6 * 2**20}[name])
    local = RunOptions(dataset=Path("d"), out=Path("o"), cluster=ClusterOptions(workers=2))  # 12 GiB per worker
    kept = [f.name for f in _without_oversized_float_copies(families, dataset, local)]
    assert kept == ["lasso_path", "ridge_path"] and "not searching logistic" in caplog.text
    small = types.SimpleNamespace(samples=range(10_000), variants=range(100_000))  # 4 GB: fits in 6 GiB
    assert len(_without_oversized_float_copies(families, small, local)) == len(families)
    for options in (RunOptions(dataset=Path("d"), out=Path("o"), families=["xgboost"],
                               cluster=ClusterOptions(workers=2)),
                    RunOptions(dataset=Path("d"), out=Path("o"), cluster=ClusterOptions(scheduler="tcp://h:8786")),
                    RunOptions(dataset=Path("d"), out=Path("o"), cluster=ClusterOptions(memory_limit="64GB"))):
        assert len(_without_oversized_float_copies(families, dataset, options)) == len(families)


def _study_trials(out: Path, study_name: str) -> list:
    import optuna

    return optuna.load_study(study_name=study_name, storage=f"sqlite:///{out / 'study.db'}").get_trials(deepcopy=False)


def test_a_table_only_run_starts_from_library_defaults_with_width_fitted_fractions(scheduler, tmp_path):
    """#20: 8 numeric table columns, no genotypes: the first trials are random_forest's and xgboost's library
    defaults, and their feature fractions are searched from one column (1/8) up to all of them."""
    from genoml_search.data.munge import MungeOptions, munge

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(150, 8)), columns=[f"x{i}" for i in range(8)])
    frame.insert(0, "ID", [f"r{i}" for i in range(150)])
    frame["target"] = frame["x0"] + frame["x1"] ** 2 + rng.normal(scale=0.3, size=150)
    frame.to_csv(tmp_path / "table.csv", index=False)
    munge(MungeOptions(out=tmp_path / "ds", tables=[str(tmp_path / "table.csv")], pheno_name="target",
                       task="regression"))
    summary = run(RunOptions(dataset=tmp_path / "ds", out=tmp_path / "out", task="regression", n_trials=3,
                             families=["elastic_net", "random_forest", "xgboost"], n_folds=3, ensemble="none",
                             validate_top=0, cluster=ClusterOptions(scheduler=scheduler)))
    trials = sorted(_study_trials(tmp_path / "out", summary.study_name), key=lambda t: t.number)
    first = [t for t in trials if t.user_attrs.get("library_defaults")]
    assert [t.params["family"] for t in first[:2]] == ["random_forest", "xgboost"]
    assert [t.number for t in first[:2]] == [0, 1]
    assert first[0].params["random_forest__max_features"] == 1.0  # regression: all features, as scikit-learn
    forest = first[0].distributions["random_forest__max_features"]
    assert (forest.low, forest.high) == (pytest.approx(1 / 8), 1.0)
    xgb = first[1].distributions["xgboost__colsample_bytree"]
    assert (xgb.low, xgb.high) == (pytest.approx(1 / 8), 1.0)


def test_a_genotype_run_queues_no_library_defaults(dataset, scheduler, tmp_path):
    summary = run(RunOptions(dataset=dataset.path, out=tmp_path / "out", n_trials=2, families=["random_forest"],
                             n_folds=3, ensemble="none", validate_top=0, cluster=ClusterOptions(scheduler=scheduler)))
    trials = _study_trials(tmp_path / "out", summary.study_name)
    assert trials and not any(t.user_attrs.get("library_defaults") for t in trials)
    # 40 SNP columns: the forest's max_features is fitted to them (declared 0.001..0.5 is for ~100,000 SNPs)
    fitted = trials[0].distributions["random_forest__max_features"]
    assert (fitted.low, fitted.high) == (pytest.approx(1 / 40), 1.0)


def test_path_families_start_on_every_snp_and_other_families_on_the_default_ld_mask(scheduler, tmp_path):
    """#22: a dataset with LD masks (default 0.9): the queued lasso_path trial uses all QC'd SNPs (``ld_r2``
    none), the queued logistic (ridge-like) points the default mask."""
    from genoml_search.data.dataset import mask_column
    from genoml_search.search.registry import get_family

    if get_family("lasso_path").missing_dependency():
        pytest.skip(get_family("lasso_path").missing_dependency())
    rng = np.random.default_rng(4)
    n, m = 150, 30
    g = rng.binomial(2, 0.3, (n, m)).astype(np.int8)
    y = (g[:, :3].sum(1) + rng.normal(0, 1, n) > 1.8).astype(float)
    samples = pd.DataFrame({"ID": [f"s{i}" for i in range(n)], "phenotype": y})
    variants = pd.DataFrame({"id": [f"rs{j}" for j in range(m)], "chrom": "1", "pos": np.arange(m) * 1000 + 1,
                             "counted_allele": "A", "other_allele": "G", "freq": 0.3})
    variants[mask_column("0.9")] = np.arange(m) % 3 > 0
    variants[mask_column("0.5")] = np.arange(m) % 2 > 0
    write_dataset(tmp_path / "ds", g, samples, variants,
                  {"phenotype": {"task": "binary"}, "covariates": {"columns": []},
                   "ld_masks": {"masks": ["0.9", "0.5"], "default": "0.9", "window": 50, "step": 5}})
    summary = run(RunOptions(dataset=tmp_path / "ds", out=tmp_path / "out", n_trials=4,
                             families=["logistic", "lasso_path"], n_folds=3, ensemble="none", validate_top=0,
                             cluster=ClusterOptions(scheduler=scheduler)))
    queued = [t for t in _study_trials(tmp_path / "out", summary.study_name) if t.user_attrs.get("starting_point")]
    masks = {(t.params["family"], t.params["ld_r2"]) for t in queued}
    assert len(queued) == 4 and masks == {("lasso_path", "none"), ("logistic", "0.9")}
    # the lasso path is the reference model the final choice falls back to (search/final_choice.py)
    assert all(bool(t.user_attrs.get("reference_model")) == (t.params["family"] == "lasso_path") for t in queued)
    selection = summary.metrics["cv"]["selection"]
    assert selection["rule"] == "reference" and selection["trial"] == summary.metrics["cv"]["best_trial"]
    assert selection["best_cv_trial"] in {t.number for t in queued} | {selection["trial"]}


def test_a_path_family_is_refitted_with_every_cpu_of_the_driver(dataset, scheduler, tmp_path):
    """The final refit runs after the workers are gone: adelie gets every CPU of the process (one thread
    before: 8 of the 73 minutes of the 50,000-sample run, docs/scale.md)."""
    from genoml_search.ensemble.parallel import available_threads
    from genoml_search.search.registry import get_family

    if get_family("lasso_path").missing_dependency():
        pytest.skip(get_family("lasso_path").missing_dependency())
    run(RunOptions(dataset=dataset.path, out=tmp_path / "out", n_trials=1, families=["lasso_path"], n_folds=3,
                   ensemble="none", validate_top=0, cluster=ClusterOptions(scheduler=scheduler)))
    pipeline, info = load_model(tmp_path / "out" / "model")
    assert info["family"] == "lasso_path"
    assert pipeline.named_steps["model"].n_jobs == available_threads()
