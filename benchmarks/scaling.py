"""Execution benchmark: trials/hour with 1 and 2 workers, driver overhead, ask/tell cost vs study size.

Run: ``PYTHONPATH=. python -m benchmarks.scaling [--quick]``. Writes ``benchmarks/results/scaling.json`` and
prints markdown tables. PostgreSQL rows need a server at 127.0.0.1:5432 (trust auth); they are skipped otherwise.

1. Throughput: the real objective (in-fold preprocessing + logistic regression, 3-fold CV, fixed parameters so
   every trial costs the same) on a synthetic dataset sized so a trial takes 1-5 s, run by the central driver
   on a LocalCluster of 1 and 2 single-threaded workers. Overhead = driver time not spent waiting on workers;
   CPU seconds of the driver process (with the LocalCluster's scheduler and nannies) and of the workers are
   recorded. The same
   trials in 1 and 2 plain processes (no Dask, no database) give the ceiling the hardware allows.
2. Storage: a study pre-filled with 100, 1,000 and 10,000 finished trials (bulk SQL insert), then the driver's
   per-trial database work (locked count + ask, 5 fold reports, 3 attributes, tell) with the random sampler,
   and the TPE sampler's ask alone.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data" / "scaling"
RESULTS = ROOT / "results" / "scaling.json"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PARAMS = {"family": "logistic", "logistic__C": 0.05, "logistic__l1_ratio": 0.5, "snp_p_threshold": 1.0}


def make_dataset(n_samples: int, n_snps: int, seed: int = 0) -> Path:
    """A synthetic binary-trait cohort (50 causal SNPs) as a Dataset directory."""
    from genoml_search.data.dataset import Dataset, write_dataset

    out = DATA / f"ds-{n_samples}x{n_snps}"
    if (out / "manifest.json").exists():
        return out
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.05, 0.5, n_snps)
    genotypes = rng.binomial(2, freq, size=(n_samples, n_snps)).astype(np.int8)
    liability = genotypes[:, :50] @ rng.normal(0, 0.3, 50) + rng.normal(0, 1, n_samples)
    pheno = (liability > np.median(liability)).astype(int)
    samples = pd.DataFrame({"ID": [f"s{i}" for i in range(n_samples)], "phenotype": pheno.astype(float)})
    variants = pd.DataFrame({"chrom": "1", "id": [f"rs{i}" for i in range(n_snps)], "cm": 0.0,
                             "pos": np.arange(n_snps) * 1000 + 1, "counted_allele": "A", "other_allele": "G"})
    write_dataset(out, genotypes, samples, variants, {"phenotype": {"task": "binary"},
                                                      "covariates": {}})
    Dataset.open(out)
    return out


def make_spec_factory(dataset: Path, n_folds: int = 3):
    from genoml_search.data.dataset import Dataset
    from genoml_search._run import suggest_trial
    from genoml_search.search.objective import CVSpec, TrialSpec
    from genoml_search.search.registry import get_family

    ds = Dataset.open(dataset)
    index = np.arange(len(ds.phenotype))
    families = [get_family("logistic")]

    def make_spec(trial, pruning):
        family, params, threshold = suggest_trial(trial, families, "binary", True)
        return TrialSpec(trial.number, str(ds.path.resolve()), ds.content_hash, "binary", "roc_auc", family,
                         params, threshold, index, CVSpec(n_folds, 1, 0), pruning=pruning)

    return make_spec


def throughput(dataset: Path, workers: int, n_trials: int, tmp: Path) -> dict:
    """Trials/hour and driver overhead on a LocalCluster of ``workers`` workers (cluster start not counted)."""
    from genoml_search.execute.cluster import ClusterOptions, dask_client
    from genoml_search.execute.driver import run_trials
    from genoml_search.search.storage import open_storage

    url = f"sqlite:///{tmp / f'throughput-{workers}-{uuid.uuid4().hex[:6]}.db'}"
    study = optuna.create_study(storage=open_storage(url), direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(n_trials):
        study.enqueue_trial(PARAMS, skip_if_exists=False)
    make_spec = make_spec_factory(dataset)
    with dask_client(ClusterOptions(workers=workers)) as client:
        client.submit(lambda: None).result()
        client.run(lambda: __import__("genoml_search.core.features").core.features.load_features(
            str(dataset.resolve()), json.loads((dataset / "manifest.json").read_text())["content_hash"]))
        cpu_before = _process_cpu_seconds(client)
        started = time.perf_counter()
        stats = run_trials(study, client, n_trials, make_spec, "none")
        wall = time.perf_counter() - started
        cpu_after = _process_cpu_seconds(client)
    seconds = [t.user_attrs["seconds"] for t in study.get_trials(deepcopy=False)
               if t.state == optuna.trial.TrialState.COMPLETE]
    return {"workers": workers, "n_trials": n_trials, "wall_seconds": round(wall, 2),
            "trials_per_hour": round(3600 * n_trials / wall, 1),
            "trial_seconds_median": round(statistics.median(seconds), 3),
            "driver_overhead_seconds": round(stats.overhead_seconds, 3),
            "overhead_fraction": round(stats.overhead_seconds / stats.seconds_total, 4),
            "overhead_ms_per_trial": round(1000 * stats.overhead_seconds / n_trials, 1),
            "cpu_seconds": {name: round(cpu_after[name] - cpu_before[name], 2) for name in cpu_after}}


def _fixed_specs(dataset: Path, n_trials: int) -> list:
    """``n_trials`` identical trial specs (the fixed PARAMS), built through the same code path as the driver's."""
    from genoml_search.search.objective import PruningContext

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    make_spec = make_spec_factory(dataset)
    specs = []
    for _ in range(n_trials):
        study.enqueue_trial(PARAMS, skip_if_exists=False)
        specs.append(make_spec(study.ask(), PruningContext("none", "maximize", ())))
    return specs


def _warm_process(dataset: str, content_hash: str) -> None:
    from genoml_search.core.features import load_features

    load_features(dataset, content_hash)


def bare_processes(dataset: Path, processes: int, n_trials: int) -> dict:
    """The same trials in plain worker processes without Dask, driver or database: the machine's ceiling.

    Comparing 1 and 2 processes shows how much two trials at once slow each other down on this hardware
    (shared caches, memory bandwidth, frequency), which no scheduler can remove.
    """
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    from genoml_search.search.objective import evaluate_trial

    specs = _fixed_specs(dataset, n_trials)
    content_hash = json.loads((dataset / "manifest.json").read_text())["content_hash"]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context, initializer=_warm_process,
                             initargs=(str(dataset.resolve()), content_hash)) as pool:
        list(pool.map(_warm_process, [str(dataset.resolve())] * processes, [content_hash] * processes))
        started = time.perf_counter()
        results = list(pool.map(evaluate_trial, specs))
        wall = time.perf_counter() - started
    return {"processes": processes, "n_trials": n_trials, "wall_seconds": round(wall, 2),
            "trials_per_hour": round(3600 * n_trials / wall, 1),
            "trial_seconds_median": round(statistics.median(r.seconds for r in results), 3)}


def _process_cpu_seconds(client) -> dict:
    """CPU seconds used so far by this process (the driver, and in a LocalCluster also the scheduler and the
    nannies, which live in the process that starts the cluster) and by the worker processes."""
    import psutil

    workers = client.run(lambda: __import__("psutil").Process().cpu_times())
    total = lambda times: times.user + times.system  # noqa: E731
    return {"driver_scheduler_nannies": total(psutil.Process().cpu_times()),
            "workers": sum(total(t) for t in workers.values())}


def bulk_fill(storage: optuna.storages.RDBStorage, study: optuna.Study, n: int, seed: int = 0) -> None:
    """Insert ``n`` finished trials (realistic params, 5 fold values) with a few SQL statements."""
    from optuna.distributions import distribution_to_json
    from optuna.storages._rdb import models

    from genoml_search._run import choose_families, RunOptions, suggest_trial

    families = choose_families(RunOptions(dataset=Path("."), out=Path(".")), "binary")
    sampler_study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    rng = np.random.default_rng(seed)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with storage.engine.begin() as connection:
        first = connection.execute(models.TrialModel.__table__.select().with_only_columns(
            models.TrialModel.trial_id).order_by(models.TrialModel.trial_id.desc()).limit(1)).scalar() or 0
        trials, params, values, steps = [], [], [], []
        for i in range(n):
            trial = sampler_study.ask()
            suggest_trial(trial, families, "binary", True)
            trial_id = first + 1 + i
            pruned = rng.random() < 0.3
            n_steps = 2 if pruned else 5
            fold = rng.uniform(0.5, 0.9, n_steps)
            trials.append({"trial_id": trial_id, "number": i, "study_id": study._study_id,
                           "state": "PRUNED" if pruned else "COMPLETE", "datetime_start": now,
                           "datetime_complete": now})
            for name, dist in trial.distributions.items():
                params.append({"trial_id": trial_id, "param_name": name,
                               "param_value": dist.to_internal_repr(trial.params[name]),
                               "distribution_json": distribution_to_json(dist)})
            if not pruned:
                values.append({"trial_id": trial_id, "objective": 0, "value": float(fold.mean()),
                               "value_type": "FINITE"})
            steps.extend({"trial_id": trial_id, "step": s, "intermediate_value": float(v),
                          "intermediate_value_type": "FINITE"} for s, v in enumerate(fold))
            sampler_study.tell(trial, 0.0)
        connection.execute(models.TrialModel.__table__.insert(), trials)
        connection.execute(models.TrialParamModel.__table__.insert(), params)
        if values:
            connection.execute(models.TrialValueModel.__table__.insert(), values)
        connection.execute(models.TrialIntermediateValueModel.__table__.insert(), steps)
        if connection.dialect.name == "postgresql":
            import sqlalchemy

            for table, column in (("trials", "trial_id"), ("trial_params", "param_id"),
                                  ("trial_values", "trial_value_id"),
                                  ("trial_intermediate_values", "trial_intermediate_value_id")):
                connection.execute(sqlalchemy.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                    f"(SELECT coalesce(max({column}), 1) FROM {table}))"))


def storage_latency(url: str, sizes: list[int], repeats: int, tpe_repeats: int) -> list[dict]:
    """Per-trial driver database work and TPE ask time in studies of each size."""
    from genoml_search.execute.driver import ask_lock, count_finished, count_states
    from genoml_search._run import choose_families, RunOptions, suggest_trial
    from genoml_search.search.storage import open_storage
    from genoml_search.search.study import make_sampler

    families = choose_families(RunOptions(dataset=Path("."), out=Path(".")), "binary")
    storage = open_storage(url)
    rows = []
    for n in sizes:
        study = optuna.create_study(storage=storage, study_name=f"latency-{n}-{uuid.uuid4().hex[:6]}",
                                    direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
        started = time.perf_counter()
        bulk_fill(storage, study, n)
        fill = time.perf_counter() - started
        assert count_finished(study) == n
        timings = []
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            with ask_lock(study):
                count_finished(study)
                count_states(study, (optuna.trial.TrialState.RUNNING,))
                trial = study.ask()
            suggest_trial(trial, families, "binary", True)
            for step in range(5):
                trial.report(0.7, step)
            for key, value in (("family", "logistic"), ("fold_scores", [0.7] * 5), ("seconds", 1.0)):
                trial.set_user_attr(key, value)
            study.tell(trial, 0.7)
            timings.append(time.perf_counter() - t0)
        tpe = optuna.load_study(study_name=study.study_name, storage=storage, sampler=make_sampler("tpe", 0))
        tpe_times = []
        for _ in range(tpe_repeats + 1):
            t0 = time.perf_counter()
            trial = tpe.ask()
            suggest_trial(trial, families, "binary", True)
            tpe_times.append(time.perf_counter() - t0)
            tpe.tell(trial, 0.7)
        rows.append({"backend": url.split(":", 1)[0], "trials_in_study": n, "fill_seconds": round(fill, 1),
                     "driver_db_ms_per_trial": round(1000 * statistics.median(timings[1:]), 1),
                     "tpe_ask_ms": round(1000 * statistics.median(tpe_times[1:]), 1)})
        print(rows[-1], flush=True)
    return rows


def postgres_url() -> tuple[str, str] | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3, autocommit=True) as admin:
            name = f"genoml_bench_{uuid.uuid4().hex[:8]}"
            admin.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:5432/{name}", name
    except Exception as error:
        print(f"PostgreSQL skipped: {type(error).__name__}")
        return None


def drop_postgres(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def markdown(results: dict) -> str:
    lines = ["| workers | trials | median trial s | wall s | trials/hour | speed-up | driver overhead ms/trial | "
             "overhead % of wall |", "|---|---|---|---|---|---|---|---|"]
    for row in results["throughput"]:
        base = next(r["trials_per_hour"] for r in results["throughput"]
                    if r["workers"] == 1 and r.get("dataset") == row.get("dataset"))
        lines.append(f"| {row['workers']} | {row['n_trials']} | {row['trial_seconds_median']} | {row['wall_seconds']} "
                     f"| {row['trials_per_hour']} | {row['trials_per_hour'] / base:.2f}x | "
                     f"{row['overhead_ms_per_trial']} | {100 * row['overhead_fraction']:.1f} |")
    lines += ["", "Ceiling without Dask (the same trials in plain processes):", "",
              "| dataset | processes | median trial s | wall s | trials/hour | speed-up |", "|---|---|---|---|---|---|"]
    for row in results.get("bare", []):
        base = next(r["trials_per_hour"] for r in results["bare"]
                    if r["processes"] == 1 and r["dataset"] == row["dataset"])
        lines.append(f"| {row['dataset']} | {row['processes']} | {row['trial_seconds_median']} | "
                     f"{row['wall_seconds']} | {row['trials_per_hour']} | {row['trials_per_hour'] / base:.2f}x |")
    lines += ["", "| storage | finished trials in study | driver DB work ms/trial (random sampler) | TPE ask ms |",
              "|---|---|---|---|"]
    for row in results["storage"]:
        lines.append(f"| {row['backend']} | {row['trials_in_study']:,} | {row['driver_db_ms_per_trial']} | "
                     f"{row['tpe_ask_ms']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials and sizes (a smoke run)")
    parser.add_argument("--throughput-only", action="store_true",
                        help="measure throughput and the ceiling only; keep the storage rows of the last result")
    parser.add_argument("--sizes", default="2400x1400,3000x2000",
                        help="datasets SAMPLESxSNPS, one per trial length (about 3 s and 7 s trials here)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    tmp = DATA / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    sizes_of_data = [tuple(int(v) for v in size.split("x")) for size in args.sizes.split(",")]
    n_trials = 6 if args.quick else 16
    sizes = [100, 1000] if args.quick else [100, 1000, 10_000]
    load_before = os.getloadavg()
    results: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                 "python": platform.python_version(), "loadavg_before": load_before},
                     "versions": {"optuna": optuna.__version__, "distributed": __import__("distributed").__version__,
                                  "numpy": np.__version__},
                     "dataset": {"sizes": args.sizes, "params": PARAMS, "folds": 3}}
    results["throughput"], results["bare"] = [], []
    for samples, snps in sizes_of_data:
        dataset = make_dataset(samples, snps)
        for workers in (1, 2):
            row = throughput(dataset, workers, n_trials, tmp)
            results["throughput"].append({"dataset": f"{samples}x{snps}", **row})
            results["bare"].append({"dataset": f"{samples}x{snps}", **bare_processes(dataset, workers, n_trials)})
    print(results["throughput"], results["bare"], sep="\n", flush=True)
    if args.throughput_only:
        previous = json.loads(RESULTS.read_text())
        results["storage"] = previous["storage"]
        results["storage_measured"] = previous.get("storage_measured", previous["date"])
    else:
        results["storage"] = storage_latency(f"sqlite:///{tmp / f'latency-{uuid.uuid4().hex[:6]}.db'}", sizes,
                                             10, 3)
        results["storage_measured"] = results["date"]
    pg = postgres_url() if not args.throughput_only else None
    if pg is not None:
        try:
            results["storage"] += storage_latency(pg[0], sizes, 10, 3)
        finally:
            drop_postgres(pg[1])
    results["machine"]["loadavg_after"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
