"""Benchmark of genoml_search.data.simulate: time, memory and LD structure of both LD models.

    python -m benchmarks.simulate                # LD decay at 1,000 x 4,000 and timings up to 5,000 x 20,000
    python -m benchmarks.simulate --full         # adds the 10,000 x 100,000 blocks timing (and msprime if --msprime-full)

Writes benchmarks/results/simulate.json and prints markdown tables. Each timing runs in a child process so
its peak RSS is its own; CPU time (user+sys) is reported beside wall time because the machine is shared.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

DATA = Path("benchmarks/data/simulate")
RESULTS = Path("benchmarks/results/simulate.json")
DISTANCE_BINS_KB = [0, 5, 10, 20, 50, 100, 200, 500]
MAF_BINS = [0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5001]


def _child(n: int, m: int, model: str, out: str) -> None:
    from genoml_search.data.simulate import SimulationSpec, simulate_cohorts

    n_train = int(n * 0.8)
    started = time.perf_counter()
    truth = simulate_cohorts(
        SimulationSpec(n_train=n_train, n_validation=n - n_train, n_snps=m, ld_model=model), Path(out), overwrite=True
    )
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024), "m_effective": round(truth["m_effective"], 1),
        "seconds_genotypes": truth["seconds"]["genotypes"],
    }))


def timing(n: int, m: int, model: str) -> dict:
    out = DATA / f"{model}_{n}x{m}"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.simulate", "--child", str(n), str(m), model, str(out)],
        capture_output=True, text=True, check=True,
    )
    shutil.rmtree(out, ignore_errors=True)
    return {"model": model, "n_samples": n, "n_snps": m, **json.loads(proc.stdout.strip().splitlines()[-1])}


def ld_profile(model: str, n: int = 1000, m: int = 4000) -> dict:
    """r^2 against distance (pairs up to 100 SNPs apart on the same chromosome), MAF spectrum, M_e/M."""
    from genoml_search.data.plink import read_plink
    from genoml_search.data.simulate import SimulationSpec, simulate_cohorts

    out = DATA / f"ld_{model}"
    truth = simulate_cohorts(SimulationSpec(n_train=n, n_validation=10, n_snps=m, ld_model=model), out, overwrite=True)
    data = read_plink(out / "train")
    shutil.rmtree(out, ignore_errors=True)
    g = data.genotypes.astype(np.float32)
    sd = g.std(0)
    z = (g - g.mean(0)) / np.where(sd == 0, np.inf, sd)
    pos, chrom = data.variants["pos"].to_numpy(), data.variants["chrom"].to_numpy()
    distances, r2 = [], []
    for lag in range(1, 101):  # a loop over lags, each vectorized over all SNPs
        same = chrom[lag:] == chrom[:-lag]
        r = (z[:, lag:] * z[:, :-lag]).mean(0)
        distances.append((pos[lag:] - pos[:-lag])[same])
        r2.append((r**2)[same])
    distances, r2 = np.concatenate(distances) / 1000, np.concatenate(r2)
    which = np.digitize(distances, DISTANCE_BINS_KB)
    decay = {
        f"{lo}-{hi} kb": round(float(r2[which == i].mean()), 3)
        for i, (lo, hi) in enumerate(zip(DISTANCE_BINS_KB[:-1], DISTANCE_BINS_KB[1:]), start=1)
        if (which == i).any()
    }
    freq = g.mean(0) / 2
    maf = np.minimum(freq, 1 - freq)
    counts = np.histogram(maf, bins=MAF_BINS)[0]
    return {
        "model": model, "n_samples": n, "n_snps": m, "r2_by_distance": decay,
        "adjacent_r2_mean": round(float(r2[: int((chrom[1:] == chrom[:-1]).sum())].mean()), 3),
        "maf_histogram": {f"{lo}-{min(hi, 0.5)}": int(c) for lo, hi, c in zip(MAF_BINS[:-1], MAF_BINS[1:], counts)},
        "m_effective_over_m": round(truth["m_effective"] / m, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="also time 10,000 x 100,000 with the blocks model")
    parser.add_argument("--msprime-full", action="store_true", help="also time 10,000 x 100,000 with msprime")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        n, m, model, out = args.child
        _child(int(n), int(m), model, out)
        return
    DATA.mkdir(parents=True, exist_ok=True)
    ld = [ld_profile("blocks"), ld_profile("msprime")]
    sizes = [(1000, 10_000), (5000, 20_000)] + ([(10_000, 100_000)] if args.full else [])
    timings = [timing(n, m, model) for n, m in sizes for model in ("blocks", "msprime") if not (model == "msprime" and n * m > 10**8)]
    if args.msprime_full:
        timings.append(timing(10_000, 100_000, "msprime"))
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": __import__("os").cpu_count(),
                    "load_average": __import__("os").getloadavg()},
        "versions": {p: metadata.version(p) for p in ("numpy", "bed-reader", "msprime", "tskit")},
        "ld": ld, "timings": timings,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    print("| model | " + " | ".join(ld[0]["r2_by_distance"]) + " | adjacent r2 | M_e/M |")
    print("|---" * (len(ld[0]["r2_by_distance"]) + 3) + "|")
    for row in ld:
        cells = [str(row["r2_by_distance"].get(k, "")) for k in ld[0]["r2_by_distance"]]
        print(f"| {row['model']} | " + " | ".join(cells) + f" | {row['adjacent_r2_mean']} | {row['m_effective_over_m']} |")
    print()
    print("| model | samples x SNPs | wall s | CPU s | peak RSS MB | M_e |")
    print("|---|---|---|---|---|---|")
    for t in timings:
        print(f"| {t['model']} | {t['n_samples']:,} x {t['n_snps']:,} | {t['wall_s']} | {t['cpu_s']} | {t['peak_rss_mb']} | {t['m_effective']} |")


if __name__ == "__main__":
    main()
