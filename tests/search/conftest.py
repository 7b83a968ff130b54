"""Fixtures of the study-engine tests: datasets, a shared Dask cluster, and the three storage back-ends.

The storage fixture runs every storage test against SQLite, the real PostgreSQL and the real MariaDB of this
machine (a throwaway database per test session, dropped afterwards), skipping a back-end with a clear reason
only when its server is down.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoml_search.data.dataset import Dataset, write_dataset

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "genoml2-discrete"
PG_HOST, PG_PORT = "127.0.0.1", 5432
MYSQL_HOST, MYSQL_PORT = "127.0.0.1", 3306


def worker_env() -> dict[str, str]:
    """Environment in which subprocesses and Dask workers import this worktree's genoml_search."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def make_dataset(path: Path, genotypes: np.ndarray, y: np.ndarray, task: str = "binary",
                 covariates: dict[str, np.ndarray] | None = None) -> Dataset:
    """Write a small Dataset directory from arrays (IDs s0, s1, ...)."""
    n, m = genotypes.shape
    samples = pd.DataFrame({"ID": [f"s{i}" for i in range(n)], "phenotype": y.astype(float)})
    for name, values in (covariates or {}).items():
        samples[name] = values
    variants = pd.DataFrame({"id": [f"rs{j}" for j in range(m)], "chrom": "1", "pos": np.arange(m) * 1000 + 1,
                             "counted_allele": "A", "other_allele": "G", "freq": 0.3})
    manifest = {"phenotype": {"task": task}, "covariates": {"columns": list(covariates or {})}}
    write_dataset(path, genotypes.astype(np.int8), samples, variants, manifest)
    return Dataset.open(path)


def noise_genotypes(n: int, m: int, seed: int) -> np.ndarray:
    """Independent SNPs with allele frequencies 0.1-0.5 (int8 dosages)."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.1, 0.5, m)
    return rng.binomial(2, freq, size=(n, m)).astype(np.int8)


@pytest.fixture(scope="session")
def example_dataset(tmp_path_factory) -> Dataset:
    """The bundled GenoML2 example munged with the defaults (500 samples, binary)."""
    from genoml_search.data.munge import MungeOptions, munge

    out = tmp_path_factory.mktemp("example") / "dataset"
    munge(MungeOptions(out=out, bfile=str(EXAMPLE / "training"), pheno=str(EXAMPLE / "training_pheno.csv"),
                       covar=str(EXAMPLE / "training_addit.csv")))
    return Dataset.open(out)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Dataset:
    """200 samples x 60 SNPs with a real signal in 5 SNPs: fast trials for run/resume/storage tests."""
    rng = np.random.default_rng(7)
    g = noise_genotypes(200, 60, 7)
    risk = g[:, :5].sum(axis=1) - g[:, :5].sum(axis=1).mean()
    y = (rng.random(200) < 1 / (1 + np.exp(-1.2 * risk))).astype(float)
    return make_dataset(tmp_path_factory.mktemp("small") / "dataset", g, y,
                        covariates={"AGE": rng.normal(60, 8, 200).round()})


@pytest.fixture(scope="session")
def dask_scheduler() -> str:
    """Address of one LocalCluster (1 single-thread worker process) shared by the session's run() calls."""
    from distributed import LocalCluster

    os.environ["PYTHONPATH"] = worker_env()["PYTHONPATH"]
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    yield cluster.scheduler_address
    cluster.close()


def _pg_admin():
    import psycopg

    errors = []
    for user in ("postgres", "root"):
        try:
            return psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname="test", connect_timeout=3,
                                   autocommit=True), user
        except Exception as error:  # noqa: BLE001 - try the next user, report all
            errors.append(f"{user}: {type(error).__name__}: {str(error).strip()[:100]}")
    pytest.skip(f"PostgreSQL at {PG_HOST}:{PG_PORT} is not usable ({'; '.join(errors)})")


def _mysql_admin():
    import pymysql

    try:
        return pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", database="test", connect_timeout=3,
                               autocommit=True)
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"MariaDB/MySQL at {MYSQL_HOST}:{MYSQL_PORT} is not usable ({type(error).__name__}: {error})")


@contextlib.contextmanager
def throwaway_postgresql_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); yields its URL."""
    admin, user = _pg_admin()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextlib.contextmanager
def throwaway_mysql_database(prefix: str) -> Iterator[str]:
    """A new, empty MariaDB/MySQL database (dropped afterwards); yields its URL."""
    admin = _mysql_admin()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
    try:
        yield f"mysql+pymysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture(scope="session")
def postgresql_url():
    """A throwaway PostgreSQL database for this session."""
    with throwaway_postgresql_database("gs_test") as url:
        yield url


@pytest.fixture(scope="session")
def mysql_url():
    """A throwaway MariaDB/MySQL database for this session."""
    with throwaway_mysql_database("gs_test") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
                        pytest.param("mysql", marks=pytest.mark.mysql)])
def storage_url(request, tmp_path) -> str:
    """Every storage test runs on SQLite, PostgreSQL and MariaDB."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def study_name() -> str:
    """A unique study name, so tests sharing a database never collide."""
    return f"study-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def clean_registry():
    """Restore the registry after a test that registers families."""
    from genoml_search.search import registry

    registry.family_names()
    saved, loaded = dict(registry._REGISTRY), registry._loaded
    yield registry
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)
    registry._loaded = loaded


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
                        pytest.param("mysql", marks=pytest.mark.mysql)])
def empty_database_url(request, tmp_path) -> str:
    """A brand-new database without any table, one per test (for tests of creating Optuna's tables)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'study.db'}"
        return
    throwaway = throwaway_postgresql_database if request.param == "postgresql" else throwaway_mysql_database
    with throwaway("gs_empty") as url:
        yield url
