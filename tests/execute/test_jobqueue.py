"""Batch clusters: the [cluster] table, its validation, the generated job scripts, and the CLI around them."""
from __future__ import annotations

import subprocess

import pytest

from genoml_search.errors import UserError
from genoml_search.execute.cluster import ClusterOptions, cluster_options
from genoml_search.execute.jobqueue import job_script, jobqueue_spec, read_cluster_table, validate_cluster_table

from .conftest import PYTHON, worker_env

BASE = {"cores": 4, "memory": "16GB", "walltime": "02:00:00", "queue": "long",
        "job_script_prologue": ["source /opt/genoml/bin/activate"], "max_jobs": 3}


@pytest.mark.parametrize("kind, expected", [
    ("slurm", ["#SBATCH -p long", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=", "#SBATCH -t 02:00:00",
               "#SBATCH --qos=high"]),
    ("pbs", ["#PBS -q long", "#PBS -l walltime=02:00:00", "ncpus=4", "#PBS -l select=1:ncpus=4" , "--qos=high"]),
    ("sge", ["#$ -q long", "#$ -l h_rt=02:00:00", "--qos=high"]),
])
def test_job_script_per_kind(kind: str, expected: list[str]) -> None:
    table = {"kind": kind, **BASE, "job_extra_directives": ["--qos=high"]}
    if kind == "pbs":
        table["resource_spec"] = "select=1:ncpus=4:mem=16GB"
    script = job_script(table)
    for fragment in expected:
        assert fragment in script, (fragment, script)
    assert "source /opt/genoml/bin/activate" in script
    assert "--nworkers 4" in script and "--nthreads 1" in script  # one single-threaded worker per core


def test_spec_capacity_and_scaling() -> None:
    spec = jobqueue_spec({"kind": "slurm", **BASE, "processes": 2})
    assert (spec.min_jobs, spec.max_jobs, spec.fixed_jobs, spec.max_workers) == (0, 3, None, 6)
    fixed = jobqueue_spec({"kind": "sge", "cores": 2, "memory": "4GB", "jobs": 5})
    assert fixed.max_workers == 10 and fixed.kwargs["processes"] == 2


@pytest.mark.parametrize("table, key", [
    ({"cores": 1, "memory": "1GB"}, "cluster.kind"),
    ({"kind": "lsf", "cores": 1, "memory": "1GB"}, "cluster.kind"),
    ({"kind": "slurm", "cores": 1, "memory": "1GB", "nodes": 2}, "cluster.nodes"),
    ({"kind": "slurm", "cores": "4", "memory": "1GB"}, "cluster.cores"),
    ({"kind": "slurm", "cores": 0, "memory": "1GB"}, "cluster.cores"),
    ({"kind": "slurm", "cores": 4, "memory": "lots"}, "cluster.memory"),
    ({"kind": "slurm", "cores": 4}, "cluster.memory"),
    ({"kind": "pbs", "cores": 4, "memory": "1GB", "walltime": "2 hours"}, "cluster.walltime"),
    ({"kind": "sge", "cores": 4, "memory": "1GB", "min_jobs": 5, "max_jobs": 2}, "cluster.min_jobs"),
    ({"kind": "sge", "cores": 4, "memory": "1GB", "processes": 8}, "cluster.processes"),
    ({"kind": "slurm", "cores": 4, "memory": "1GB", "jobs": 2, "max_jobs": 3}, "cluster.jobs"),
    ({"kind": "slurm", "cores": 4, "memory": "1GB", "job_extra_directives": "--qos=x"}, "cluster.job_extra_directives"),
    ({"kind": "slurm", "cores": 4, "memory": "1GB", "resource_spec": "x"}, "cluster.resource_spec"),
    ({"kind": "local", "cores": 4}, "cluster.cores"),
    ({"kind": "scheduler"}, "cluster.address"),
])
def test_validation_names_the_key(table: dict, key: str) -> None:
    with pytest.raises(UserError) as info:
        validate_cluster_table(table)
    assert str(info.value).startswith(key), str(info.value)
    assert "\n" not in str(info.value)


def test_run_flags_and_toml_merge(tmp_path) -> None:
    toml = tmp_path / "study.toml"
    toml.write_text('[study]\nname = "x"\n\n[cluster]\nkind = "local"\nworkers = 3\nmemory_limit = "2GB"\n')
    assert cluster_options(config=toml) == ClusterOptions(workers=3, memory_limit="2GB")
    assert cluster_options(workers=1, config=toml).workers == 1
    toml.write_text('[cluster]\nkind = "scheduler"\naddress = "tcp://10.0.0.1:8786"\n')
    assert cluster_options(config=toml).scheduler == "tcp://10.0.0.1:8786"
    toml.write_text('[cluster]\nkind = "slurm"\ncores = 2\nmemory = "8GB"\n')
    assert cluster_options(config=toml).jobqueue["kind"] == "slurm"
    assert cluster_options(scheduler="tcp://h:1", config=toml).jobqueue is None  # the flag wins
    with pytest.raises(UserError, match="--workers"):
        cluster_options(workers=2, config=toml)
    toml.write_text('[study]\nname = "x"\n')
    assert read_cluster_table(toml) is None
    toml.write_text('[cluster\n')
    with pytest.raises(UserError, match="not valid TOML"):
        read_cluster_table(toml)


def test_cluster_script_command(tmp_path) -> None:
    toml = tmp_path / "study.toml"
    toml.write_text('[cluster]\nkind = "slurm"\ncores = 2\nmemory = "8GB"\nqueue = "short"\n')
    done = subprocess.run([PYTHON, "-m", "genoml_search.cli", "cluster-script", str(toml)], capture_output=True,
                          text=True, env=worker_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("#!/usr/bin/env bash") and "#SBATCH -p short" in done.stdout
    toml.write_text('[cluster]\nkind = "slurm"\ncores = 2\nmemory = "8GB"\nqeue = "short"\n')
    done = subprocess.run([PYTHON, "-m", "genoml_search.cli", "cluster-script", str(toml)], capture_output=True,
                          text=True, env=worker_env(), timeout=120)
    assert done.returncode == 2
    assert "cluster.qeue" in done.stderr and len(done.stderr.strip().splitlines()) == 1
