"""Member refits and predictions in parallel threads (the ensemble step runs after the Dask workers are gone,
so the driver's CPUs are free)."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits

T = TypeVar("T")
R = TypeVar("R")


def available_threads() -> int:
    """The CPUs this process may use (its affinity mask, e.g. a batch job's allocation)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def in_threads(fn: Callable[[T], R], items: Sequence[T], n_threads: int) -> list[R]:
    """``fn`` over ``items`` in up to ``n_threads`` threads, results in order, each with one BLAS/OpenMP
    thread: scikit-learn's tree builders, boosting libraries and predictors release the GIL, and many tiny
    OpenMP regions on a busy machine cost more than they save (thread start-up and spinning)."""
    def one_thread(item: T) -> R:
        # OpenMP's thread count is a per-thread setting: a pool thread does not inherit the caller's limit
        with threadpool_limits(limits=1, user_api="openmp"):
            return fn(item)

    with threadpool_limits(limits=1):  # BLAS: a process-wide setting, limited once around the pool
        if n_threads <= 1 or len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(n_threads, len(items))) as pool:
            return list(pool.map(one_thread, items))
