"""The default LocalCluster: workers get the settings that keep Dask's own threads off the trials' cores."""
from __future__ import annotations

from genoml_search.execute.cluster import LOCAL_WORKER_CONFIG, ClusterOptions, dask_client


def _worker_settings() -> dict:
    import dask

    return {key: dask.config.get(key) for key in LOCAL_WORKER_CONFIG}


def _busy(seconds: float) -> int:
    import time

    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
    return n


def test_local_workers_run_without_the_statistical_profiler():
    import dask

    with dask_client(ClusterOptions(workers=1)) as client:
        settings = list(client.run(_worker_settings).values())
        assert client.submit(_busy, 1.5).result() > 0
        profile = client.profile()  # what the workers' profilers sampled while the task ran
    assert settings == [{"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s"}]
    assert profile.get("count", 0) == 0
    assert dask.config.get("distributed.worker.profile.enabled") is True  # the caller's config is untouched
