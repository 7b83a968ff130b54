"""Batch clusters (SLURM, PBS, SGE) through dask-jobqueue, described by the ``[cluster]`` table of a study TOML.

```toml
[cluster]
kind = "slurm"                 # slurm | pbs | sge (or "local" / "scheduler", see read_cluster_table)
cores = 8                      # cores per batch job
processes = 8                  # Dask worker processes per job (default: cores, one thread each)
memory = "32GB"                # memory per job
walltime = "04:00:00"
queue = "normal"
account = "my-project"
job_extra_directives = ["--qos=long"]
job_script_prologue = ["module load python/3.11", "source ~/genoml/bin/activate"]
min_jobs = 0                   # adaptive scaling between min_jobs and max_jobs
max_jobs = 10
```

Every error names the offending key (``cluster.kind``, ``cluster.memory``, ...).
"""
from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genoml_search.errors import InputFileError, UserError
from genoml_search.search.space_config import read_study_toml
from genoml_search.signals import handlers_kept

BATCH_KINDS = ("slurm", "pbs", "sge")
KINDS = BATCH_KINDS + ("local", "scheduler")
_STR = (str,)
_LIST = (list,)
_INT = (int,)
# key -> (types, which kinds accept it, dask-jobqueue argument or None for our own keys)
_KEYS: dict[str, tuple[tuple[type, ...], tuple[str, ...], str | None]] = {
    "kind": (_STR, KINDS, None),
    "cores": (_INT, BATCH_KINDS, "cores"),
    "processes": (_INT, BATCH_KINDS, "processes"),
    "memory": (_STR, BATCH_KINDS, "memory"),
    "walltime": (_STR, BATCH_KINDS, "walltime"),
    "queue": (_STR, BATCH_KINDS, "queue"),
    "account": (_STR, BATCH_KINDS, "account"),
    "job_name": (_STR, BATCH_KINDS, "job_name"),
    "job_extra_directives": (_LIST, BATCH_KINDS, "job_extra_directives"),
    "job_directives_skip": (_LIST, BATCH_KINDS, "job_directives_skip"),
    "job_script_prologue": (_LIST, BATCH_KINDS, "job_script_prologue"),
    "worker_extra_args": (_LIST, BATCH_KINDS, "worker_extra_args"),
    "interface": (_STR, BATCH_KINDS, "interface"),
    "local_directory": (_STR, BATCH_KINDS, "local_directory"),
    "log_directory": (_STR, BATCH_KINDS, "log_directory"),
    "python": (_STR, BATCH_KINDS, "python"),
    "resource_spec": (_STR, ("pbs", "sge"), "resource_spec"),
    "death_timeout": (_INT, BATCH_KINDS, "death_timeout"),
    "scheduler_options": ((dict,), BATCH_KINDS, "scheduler_options"),
    "min_jobs": (_INT, BATCH_KINDS, None),
    "max_jobs": (_INT, BATCH_KINDS, None),
    "jobs": (_INT, BATCH_KINDS, None),
    "workers": (_INT, ("local",), None),
    "memory_limit": (_STR, ("local",), None),
    "address": (_STR, ("scheduler",), None),
    "scheduler_file": (_STR, ("scheduler",), None),
}
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*([KMGTP]i?B|[KMGTP])?\s*$", re.IGNORECASE)
_WALLTIME = re.compile(r"^(\d+-)?\d{1,3}(:\d{2}){0,2}$")


@dataclass(frozen=True)
class JobqueueSpec:
    """A validated ``[cluster]`` table of a batch kind: the dask-jobqueue class, its arguments and scaling."""

    kind: str
    kwargs: dict[str, Any]
    min_jobs: int
    max_jobs: int
    fixed_jobs: int | None

    @property
    def processes(self) -> int:
        """Dask workers per batch job."""
        return int(self.kwargs.get("processes") or 1)

    @property
    def max_workers(self) -> int:
        """The most workers the cluster may have (what the driver keeps busy)."""
        return self.processes * (self.fixed_jobs if self.fixed_jobs is not None else self.max_jobs)


def _error(key: str, message: str, source: str | Path | None) -> UserError:
    return (InputFileError if source else UserError)(f"cluster.{key}: {message}", source)


def validate_cluster_table(table: dict[str, Any], source: str | Path | None = None) -> dict[str, Any]:
    """Check a ``[cluster]`` table (keys, types, kind-specific keys, value formats); returns a copy."""
    if not isinstance(table, dict):
        raise _error("kind", "[cluster] must be a table", source)
    kind = table.get("kind")
    if kind is None:
        raise _error("kind", f"missing; set kind to one of {', '.join(KINDS)}", source)
    if kind not in KINDS:
        raise _error("kind", f"{kind!r} is not one of {', '.join(KINDS)}", source)
    for key, value in table.items():
        if key not in _KEYS:
            known = sorted(k for k, (_, kinds, _) in _KEYS.items() if kind in kinds)
            raise _error(key, f"unknown key for kind {kind!r}; known keys: {', '.join(known)}", source)
        types, kinds, _ = _KEYS[key]
        if kind not in kinds:
            raise _error(key, f"not used by kind {kind!r} (only by {', '.join(kinds)})", source)
        if isinstance(value, bool) or not isinstance(value, types):
            raise _error(key, f"expected {types[0].__name__}, got {type(value).__name__} {value!r}", source)
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise _error(key, "expected a list of strings", source)
        if isinstance(value, int) and value < (0 if key == "min_jobs" else 1):
            raise _error(key, f"must be {'>= 0' if key == 'min_jobs' else '>= 1'}, got {value}", source)
    if "memory" in table and not _MEMORY.match(table["memory"]):
        raise _error("memory", f"{table['memory']!r} is not a size like '16GB' or '4GiB'", source)
    if "walltime" in table and not _WALLTIME.match(table["walltime"]):
        raise _error("walltime", f"{table['walltime']!r} is not HH:MM:SS (or D-HH:MM:SS)", source)
    if kind in BATCH_KINDS:
        for key in ("cores", "memory"):
            if key not in table:
                raise _error(key, f"required for kind {kind!r}", source)
        if "processes" in table and table["processes"] > table["cores"]:
            raise _error("processes", f"{table['processes']} worker processes exceed cores = {table['cores']}",
                         source)
        if table.get("min_jobs", 0) > table.get("max_jobs", max(1, table.get("min_jobs", 0))):
            raise _error("min_jobs", f"{table['min_jobs']} exceeds max_jobs = {table['max_jobs']}", source)
        if "jobs" in table and ("min_jobs" in table or "max_jobs" in table):
            raise _error("jobs", "give either jobs (fixed) or min_jobs/max_jobs (adaptive), not both", source)
    if kind == "scheduler" and ("address" in table) == ("scheduler_file" in table):
        raise _error("address", "kind 'scheduler' needs exactly one of address or scheduler_file", source)
    return dict(table)


def jobqueue_spec(table: dict[str, Any], source: str | Path | None = None) -> JobqueueSpec:
    """The dask-jobqueue arguments of a batch ``[cluster]`` table (validated)."""
    table = validate_cluster_table(table, source)
    if table["kind"] not in BATCH_KINDS:
        raise _error("kind", f"{table['kind']!r} is not a batch system ({', '.join(BATCH_KINDS)})", source)
    kwargs = {name: v for k, v in table.items() if (name := _KEYS[k][2]) is not None}
    kwargs.setdefault("processes", table["cores"])  # one single-threaded worker per core, as locally
    kwargs.setdefault("job_name", "genoml-search")
    fixed = table.get("jobs")
    max_jobs = table.get("max_jobs", max(1, table.get("min_jobs", 0)))
    return JobqueueSpec(table["kind"], kwargs, table.get("min_jobs", 0), max_jobs, fixed)


def _cluster_class(kind: str) -> Any:
    # dask_jobqueue.runner replaces the SIGINT handler at import time (with sys.exit); keep ours, so that
    # Ctrl-C still fails and re-queues the driver's running trials.
    try:
        with handlers_kept((signal.SIGINT,)):
            import dask_jobqueue
    except ModuleNotFoundError:
        raise UserError("cluster.kind: batch clusters need dask-jobqueue; pip install 'genoml-search[jobqueue]'"
                        ) from None
    return {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster,
            "sge": dask_jobqueue.SGECluster}[kind]


def make_jobqueue_cluster(table: dict, scale: bool = True) -> Any:
    """A dask-jobqueue cluster from a ``[cluster]`` table; scaled adaptively (``min_jobs``..``max_jobs``) or to
    ``jobs`` fixed jobs unless ``scale`` is False (e.g. only to print its job script)."""
    spec = jobqueue_spec(table)
    cluster = _cluster_class(spec.kind)(**spec.kwargs)
    if scale:
        if spec.fixed_jobs is not None:
            cluster.scale(jobs=spec.fixed_jobs)
        else:
            cluster.adapt(minimum_jobs=spec.min_jobs, maximum_jobs=spec.max_jobs)
    return cluster


def job_script(table: dict) -> str:
    """The batch script one job of this ``[cluster]`` table would submit (no job is submitted)."""
    import logging

    for name in ("distributed", "distributed.scheduler", "distributed.http.proxy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    table = {**table, "scheduler_options": {"dashboard_address": ":0", **table.get("scheduler_options", {})}}
    cluster = make_jobqueue_cluster(table, scale=False)
    try:
        return cluster.job_script()
    finally:
        cluster.close()


def read_cluster_table(path: str | Path) -> dict[str, Any] | None:
    """The validated ``[cluster]`` table of a study TOML file, or None when it has none."""
    path = Path(path)
    table = read_study_toml(path).get("cluster")
    return None if table is None else validate_cluster_table(table, path)
