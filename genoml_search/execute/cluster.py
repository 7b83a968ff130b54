"""Connecting to Dask: a LocalCluster by default, an existing scheduler, or a dask-jobqueue batch cluster."""
from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from genoml_search.errors import UserError

CONNECT_TIMEOUT = "10s"


@dataclass(frozen=True)
class ClusterOptions:
    """Where trials run: ``workers`` local processes, or a ``scheduler`` address / file, or a jobqueue table."""

    workers: int | None = None
    scheduler: str | None = None
    scheduler_file: str | None = None
    jobqueue: dict[str, Any] | None = None
    memory_limit: str = "auto"


def default_workers() -> int:
    """One single-threaded worker per core."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


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
            from genoml_search.execute.jobqueue import make_jobqueue_cluster

            cluster = make_jobqueue_cluster(options.jobqueue)
            client = Client(cluster)
        else:
            n = options.workers or default_workers()
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                   memory_limit=options.memory_limit, dashboard_address=":0",
                                   silence_logs=logging.ERROR)
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
