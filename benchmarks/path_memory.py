"""Where a `lasso_path` trial's memory goes (#22 item 2: peak per worker <= 1.5x the int8 matrix).

Runs what a worker runs for one trial (``cross_validate_path`` over 5 folds, then the refit on all rows) in
a fresh process on the first ``--snps`` SNPs of a munged dataset, and samples ``/proc/self/status`` every
10 ms: ``RssAnon`` (memory the process allocated: adelie's matrix, buffers) and ``RssFile`` (pages of the
int8 memory map the process touched; clean file pages, shared with every worker on the machine through the
page cache and dropped by the kernel under pressure). Each sample is tagged with the phase the worker is in
(``convert``: building adelie's SNP matrix, ``solve``: the path, ``score``: scoring held-out rows), so the
peak of each part is known. Every figure is in units of the int8 matrix the trial uses.

    nice -n 5 python -m benchmarks.path_memory --dataset DIR --snps 20000 --label NAME

Writes ``benchmarks/work/scale/path_memory/NAME.json`` (collected into ``benchmarks/results/scale.json``).
"""
from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import WORK

OUT = WORK / "scale" / "path_memory"


def status_mib() -> dict[str, float]:
    """VmRSS, RssAnon and RssFile of this process (MiB)."""
    values = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon", "RssFile"):
                values[key] = int(line.split()[1]) / 1024
    return values


class Sampler:
    """A thread recording, per phase, the peak of RssAnon, RssFile and VmRSS."""

    def __init__(self) -> None:
        self.phase = "setup"
        self.peaks: dict[str, dict[str, float]] = {}
        self.seconds: dict[str, float] = {}  # wall time inside each tagged call (solve includes its scoring)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(0.01)

    def sample(self) -> None:
        now = status_mib()
        peak = self.peaks.setdefault(self.phase, {k: 0.0 for k in now})
        for key, value in now.items():
            peak[key] = max(peak[key], value)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def instrument(sampler: Sampler) -> None:
    """Tag adelie's matrix conversion, the solver and the scoring of held-out rows with a phase."""
    import genoml_search.search.path_cv as path_cv
    import genoml_search.search.paths as paths

    def tagged(function: Any, phase: str) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            previous = sampler.phase
            sampler.sample()
            sampler.phase = phase
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                sampler.seconds[phase] = sampler.seconds.get(phase, 0.0) + time.perf_counter() - started
                sampler.sample()
                sampler.phase = previous
        return wrapper

    original_init = paths.AdelieMatrix.__init__
    paths.AdelieMatrix.__init__ = tagged(original_init, "convert")  # type: ignore[method-assign]
    ad = paths.import_adelie()
    ad.grpnet = tagged(ad.grpnet, "solve")
    path_cv.linear_predictor = tagged(path_cv.linear_predictor, "score")


def measure(dataset: str, n_snps: int, l1_ratio: float, share_matrix: bool, n_rows: int = 0) -> dict[str, Any]:
    from genoml_search.core.features import features_from_dataset
    from genoml_search.core.metrics import get_metric
    from genoml_search.data.dataset import Dataset
    from genoml_search.search.families.paths import PenalizedPathModel
    from genoml_search.search.objective import CVSpec, make_folds
    from genoml_search.search.path_cv import cross_validate_path
    from genoml_search.search.paths import Design

    data = features_from_dataset(Dataset.open(dataset))
    genotypes = data.genotypes[:, :n_snps] if n_snps else data.genotypes
    y, task, covariates = data.y, "binary", data.covariates
    if n_rows:  # the first n_rows samples: how a trial's cost grows with n at a fixed number of SNPs
        genotypes, y, covariates = genotypes[:n_rows], y[:n_rows], covariates[:n_rows]
    metric = get_metric("roc_auc", task)
    int8_mib = genotypes.shape[0] * genotypes.shape[1] / 2**20
    sampler = Sampler()
    instrument(sampler)
    before = status_mib()
    cpu_before = time.process_time()
    with sampler:
        design = Design(genotypes, covariates, np.arange(len(y)))
        folds = make_folds(y, task, CVSpec(5, 1, 0))
        sampler.phase = "cv"
        started = time.perf_counter()
        cv = cross_validate_path(design, y, folds, task, metric.compute, True, l1_ratio, share_matrix=share_matrix)
        cv_seconds = time.perf_counter() - started
        sampler.phase = "refit"
        model = PenalizedPathModel(task=task, lambda_index=cv.lambda_index, n_covariates=covariates.shape[1])
        model.fit(design, y)
        sampler.phase = "end"
        sampler.sample()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_before  # all threads of this process: load-proof
    peaks = sampler.peaks

    def ratio(value: float) -> float:
        return round(value / int8_mib, 3)

    overall = {k: max(p[k] for p in peaks.values()) for k in ("VmRSS", "RssAnon", "RssFile")}
    return {
        "dataset": dataset, "n_samples": int(genotypes.shape[0]), "n_snps": int(genotypes.shape[1]),
        "int8_mib": round(int8_mib, 1), "cv_seconds": round(cv_seconds, 2), "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "cv_score": round(cv.value, 4), "lambda_index": cv.lambda_index,
        "baseline_mib": {k: round(v, 1) for k, v in before.items()},
        "peak_mib": {k: round(v, 1) for k, v in overall.items()},
        "peak_over_int8": {"rss_total": ratio(overall["VmRSS"]), "anon": ratio(overall["RssAnon"]),
                           "anon_beyond_baseline": ratio(overall["RssAnon"] - before["RssAnon"]),
                           "file_pages": ratio(overall["RssFile"])},
        "seconds_in": {phase: round(v, 2) for phase, v in sampler.seconds.items()},
        "by_phase_mib": {phase: {k: round(v, 1) for k, v in p.items()} for phase, p in peaks.items()},
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--snps", type=int, default=20_000, help="first SNPs used (0: all)")
    parser.add_argument("--l1-ratio", type=float, default=1.0)
    parser.add_argument("--label", required=True)
    parser.add_argument("--rows", type=int, default=0, help="first samples used (0: all)")
    parser.add_argument("--shared", action="store_true", help="one matrix for all folds (share_matrix=True)")
    args = parser.parse_args()
    record = {"label": args.label, "scheme": "shared" if args.shared else "per-fold",
              **measure(args.dataset, args.snps, args.l1_ratio, args.shared, args.rows)}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{args.label}.json").write_text(json.dumps(record, indent=1))
    print(json.dumps(record))


if __name__ == "__main__":
    main()
