"""Member refits and predictions in threads: results in order, one OpenMP/BLAS thread in every thread."""
from __future__ import annotations

import threading

from threadpoolctl import threadpool_info

from genoml_search.ensemble.parallel import available_threads, in_threads


def _openmp_threads() -> int:
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    return _openmp_effective_n_threads()


def test_results_keep_the_order_of_the_items():
    assert in_threads(lambda i: i * i, list(range(7)), 3) == [i * i for i in range(7)]
    assert in_threads(lambda i: i, [], 2) == []


def test_every_pool_thread_runs_with_one_openmp_thread():
    """A pool thread does not inherit the caller's OpenMP limit (a per-thread setting): each sets its own."""
    seen = in_threads(lambda _: (_openmp_threads(), threading.get_ident()), list(range(6)), 2)
    assert {threads for threads, _ in seen} == {1}
    assert in_threads(lambda _: _openmp_threads(), [0], 1) == [1]  # the caller's own thread too


def test_the_limits_are_restored_afterwards():
    before = [(i["user_api"], i["num_threads"]) for i in threadpool_info()]
    in_threads(lambda i: i, list(range(4)), 2)
    assert [(i["user_api"], i["num_threads"]) for i in threadpool_info()] == before
    assert available_threads() >= 1
