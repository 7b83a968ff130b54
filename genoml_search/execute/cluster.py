"""Connecting to Dask: a LocalCluster by default, an existing scheduler, or a dask-jobqueue batch cluster."""
from __future__ import annotations

import contextlib
import logging
import os
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from genoml_search.errors import UserError

CONNECT_TIMEOUT = "10s"

LOCAL_WORKER_CONFIG = {
    # The statistical profiler takes the GIL of each worker 100 times a second to sample the trial's stack, and
    # the event-loop watchdog wakes the worker's loop 50 times a second; with one trial per core both steal
    # from the trials (benchmarks/scaling.py measures the difference). The dashboard's task stream,
    # progress and memory pages are unaffected; only its profile page stays empty.
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
}
"""Dask settings for the workers of the default LocalCluster (remote clusters keep their own)."""
_CAPACITY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # client -> planned workers (adaptive)


@dataclass(frozen=True)
class ClusterOptions:
    """Where trials run: ``workers`` local processes, or a ``scheduler`` address / file, or a jobqueue table."""

    workers: int | None = None
    scheduler: str | None = None
    scheduler_file: str | None = None
    jobqueue: dict[str, Any] | None = None
    memory_limit: str = "auto"


def cluster_options(
    workers: int | None = None,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
    config: str | Path | None = None,
) -> ClusterOptions:
    """Cluster options from the `run` flags and the ``[cluster]`` table of a study TOML (``--config``).

    Flags win: ``--scheduler``/``--scheduler-file`` replace the table, ``--workers`` sets local workers.
    """
    from genoml_search.execute.jobqueue import BATCH_KINDS, read_cluster_table

    options = ClusterOptions(workers=workers, scheduler=scheduler, scheduler_file=scheduler_file)
    table = read_cluster_table(config) if config else None
    if table is None or scheduler or scheduler_file:
        return options
    kind = table["kind"]
    if kind in BATCH_KINDS:
        if workers is not None:
            raise UserError(f"--workers is for local clusters; the [cluster] table of {config} is a {kind} "
                            "cluster (set cluster.max_jobs instead)")
        return replace(options, jobqueue=table)
    if kind == "scheduler":
        return replace(options, scheduler=table.get("address"), scheduler_file=table.get("scheduler_file"))
    return replace(options, workers=workers or table.get("workers"),
                   memory_limit=table.get("memory_limit", options.memory_limit))


def capacity(client: Any) -> int:
    """How many workers to keep busy: the workers connected now, or the most an adaptive cluster may start."""
    try:
        now = len(client.scheduler_info().get("workers", {}))
    except Exception:
        now = 0
    return max(1, now, _CAPACITY.get(client, 0))


def default_workers() -> int:
    """One single-threaded worker per core."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def local_worker_memory(options: ClusterOptions) -> int | None:
    """Bytes of memory one worker of the default LocalCluster may use (the machine's memory shared by its
    workers, as Dask's ``memory_limit="auto"``), or None for remote clusters and explicit limits, whose
    workers this process cannot size."""
    if options.scheduler or options.scheduler_file or options.jobqueue or options.memory_limit != "auto":
        return None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system that says
        return None
    return total // (options.workers or default_workers())


@contextlib.contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Ignore SIGINT while child processes start: they inherit SIG_IGN (kept across exec), and Python leaves an
    inherited SIG_IGN alone instead of raising KeyboardInterrupt."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def dask_client(options: ClusterOptions) -> Iterator[Any]:
    """Yield a connected ``distributed.Client``; the cluster it started (if any) is closed afterwards."""
    from distributed import Client, LocalCluster

    quiet = ("distributed", "distributed.worker", "distributed.nanny", "distributed.scheduler", "bokeh", "tornado")
    for name in quiet:
        logging.getLogger(name).setLevel(logging.ERROR)
    cluster = None
    try:
        if options.scheduler or options.scheduler_file:
            try:
                client = Client(address=options.scheduler, scheduler_file=options.scheduler_file,
                                timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as error:
                target = options.scheduler or options.scheduler_file
                raise UserError(f"cannot reach the Dask scheduler {target} within {CONNECT_TIMEOUT} "
                                f"({type(error).__name__}); check the address and that the scheduler runs") from None
        elif options.jobqueue:
            from genoml_search.execute.jobqueue import jobqueue_spec, make_jobqueue_cluster

            cluster = make_jobqueue_cluster(options.jobqueue)
            client = Client(cluster)
            _CAPACITY[client] = jobqueue_spec(options.jobqueue).max_workers
        else:
            import dask

            n = options.workers or default_workers()
            # nannies hand this config to the workers they start; the worker processes ignore SIGINT, so Ctrl-C
            # in a terminal (sent to the whole process group) stops the driver alone, which then closes them
            with dask.config.set(LOCAL_WORKER_CONFIG), _children_ignore_sigint():
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       memory_limit=options.memory_limit, dashboard_address=":0",
                                       silence_logs=logging.CRITICAL)  # trial errors come back as results; a
                # worker's "lost the scheduler" errors while a stopped run closes the cluster are noise
            client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def dashboard_link(client: Any) -> str | None:
    """The Dask dashboard address, when one is served."""
    try:
        return client.dashboard_link
    except Exception:
        return None
