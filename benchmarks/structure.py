"""Benchmark: KING-robust kinship and PCA against plink2 on a simulated 10,000 x 100,000 cohort.

Run ``python -m benchmarks.structure`` (``--help`` for sizes). Each measurement runs in its own process so its
peak RSS is its own (read from ``wait4``). The cohort (three Balding-Nichols populations, Fst 0.02, independent
SNPs, no missing calls, samples 100-119 near-duplicates of samples 0-19) is written once under
``benchmarks/data/``. When ``--king-samples`` is below ``--samples``, kinship runs on the first samples only and
the full-size time is extrapolated by the square of the sample ratio (labelled as such in the results).
Results go to ``benchmarks/results/structure.json`` and a markdown table is printed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
RESULTS = ROOT / "results"
PLINK2 = shutil.which("plink2")
STEPS = ["king_ours", "pca_ours", "king_plink2", "pca_plink2"]


def generate(prefix: Path, n: int, m: int, seed: int = 0) -> None:
    """Three populations, independent SNPs, written as a .bed (int8 in memory: n x m bytes)."""
    from bed_reader import to_bed

    rng = np.random.default_rng(seed)
    ancestral = rng.uniform(0.05, 0.95, m)
    fst = 0.02
    a, b = ancestral * (1 - fst) / fst, (1 - ancestral) * (1 - fst) / fst
    freqs = np.stack([rng.beta(a, b) for _ in range(3)]).astype(np.float32)
    pop = np.arange(n) * 3 // n
    genotypes = np.empty((n, m), dtype=np.int8)
    for start in range(0, n, 500):
        rows = slice(start, min(start + 500, n))
        p = freqs[pop[rows]]
        genotypes[rows] = (rng.random(p.shape, dtype=np.float32) < p).astype(np.int8)
        genotypes[rows] += rng.random(p.shape, dtype=np.float32) < p
    dup = genotypes[:20].copy()
    flip = rng.random(dup.shape) < 0.001
    dup[flip] = (dup[flip] + 1) % 3
    genotypes[100:120] = dup
    to_bed(
        prefix.with_suffix(".bed"),
        genotypes,
        properties={
            "fid": [f"s{i}" for i in range(n)], "iid": [f"s{i}" for i in range(n)],
            "chromosome": np.repeat(np.arange(1, 23), -(-m // 22))[:m].astype(str),
            "sid": [f"v{j}" for j in range(m)], "bp_position": np.arange(1, m + 1) * 100,
            "allele_1": ["A"] * m, "allele_2": ["G"] * m,
        },
    )


def child(step: str, prefix: str, n: int, k: int) -> None:
    """Run one of our steps in this (child) process and print its timings as JSON."""
    from genoml_search.data.kinship import king_kinship, related_pairs
    from genoml_search.data.pca import fit_pca
    from genoml_search.data.plink import read_plink

    start = time.perf_counter()
    data = read_plink(prefix)
    out: dict = {"read_s": time.perf_counter() - start}
    g = data.genotypes[:n]
    start = time.perf_counter()
    if step == "king":
        kinship = king_kinship(g)
        out["compute_s"] = time.perf_counter() - start
        pairs = related_pairs(kinship, ids_a=data.samples["iid"].to_numpy()[:n])
        out["pairs"] = pairs[["id1", "id2", "kinship"]].values.tolist()
    else:
        model = fit_pca(g, k)
        out["compute_s"] = time.perf_counter() - start
        start = time.perf_counter()
        scores = model.transform(g)
        out["transform_s"] = time.perf_counter() - start
        out["pc1"] = scores[:, 0].tolist()
        out["pc2"] = scores[:, 1].tolist()
    print(json.dumps(out))


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    stdout = proc.stdout.read()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({proc.returncode}): {stderr[-2000:]}")
    return wall, usage.ru_maxrss / 1024, stdout


def machine_info() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    mem = next((int(line.split()[1]) // 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    plink2_version = subprocess.run([PLINK2, "--version"], capture_output=True, text=True).stdout.strip() if PLINK2 else None
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_mb": mem, "python": platform.python_version(),
        "numpy": np.__version__, "plink2": plink2_version, "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--snps", type=int, default=100_000)
    parser.add_argument("--king-samples", type=int, default=None, help="run kinship on the first N samples only")
    parser.add_argument("--pcs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip", nargs="*", default=[], choices=["king", "pca", "plink2"])
    parser.add_argument("--only", nargs="*", default=None, choices=STEPS, help="run only these steps")
    parser.add_argument("--output", default="structure", help="results file name (without .json)")
    parser.add_argument("--child", choices=["king", "pca"], help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.prefix, args.king_samples or args.samples, args.pcs)
        return

    n, m = args.samples, args.snps
    n_king = min(args.king_samples or n, n)
    DATA.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    prefix = DATA / f"structure_{n}x{m}"
    results: dict = {
        "benchmark": "structure", "date": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine_info(),
        "data": {"samples": n, "snps": m, "model": "3 Balding-Nichols populations, Fst 0.02, independent SNPs, "
                 "no missing calls, 20 near-duplicates", "file": str(prefix.relative_to(ROOT.parent)) + ".bed"},
        "threads": args.threads, "load_average_start": os.getloadavg(), "steps": {},
    }
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads),
               PYTHONPATH=str(ROOT.parent))
    if not prefix.with_suffix(".bed").exists():
        # In a child: a child's peak RSS starts at its parent's at exec, so the parent must stay small.
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"from benchmarks.structure import generate; from pathlib import Path; "
                        f"generate(Path({str(prefix)!r}), {n}, {m})"], check=True, env=env)
        results["data"]["generate_s"] = round(time.perf_counter() - start, 1)
    ours = [sys.executable, "-m", "benchmarks.structure", "--prefix", str(prefix), "--pcs", str(args.pcs)]
    scale = (n / n_king) ** 2
    steps = results["steps"]
    outputs: dict = {}
    wanted = set(args.only if args.only is not None else STEPS)
    for what in args.skip:
        wanted -= {f"{what}_ours", f"{what}_plink2"} if what != "plink2" else {"king_plink2", "pca_plink2"}

    if "king_ours" in wanted:
        wall, rss, stdout = run_measured(ours + ["--child", "king", "--king-samples", str(n_king)], env)
        out = json.loads(stdout)
        outputs["king"] = out
        steps["king_ours"] = {"samples": n_king, "wall_s": round(wall, 1), "read_s": round(out["read_s"], 1),
                              "compute_s": round(out["compute_s"], 1), "peak_rss_mb": round(rss)}
        if n_king < n:
            steps["king_ours"]["extrapolated_compute_s_full"] = round(out["compute_s"] * scale, 1)
    if "pca_ours" in wanted:
        wall, rss, stdout = run_measured(ours + ["--child", "pca", "--king-samples", str(n)], env)
        out = json.loads(stdout)
        outputs["pca"] = out
        steps["pca_ours"] = {"samples": n, "pcs": args.pcs, "wall_s": round(wall, 1), "read_s": round(out["read_s"], 1),
                             "fit_s": round(out["compute_s"], 1), "transform_s": round(out["transform_s"], 1),
                             "peak_rss_mb": round(rss)}
    if PLINK2 and wanted & {"king_plink2", "pca_plink2"}:
        work = DATA / "structure_plink2"
        work.mkdir(exist_ok=True)
        base = [PLINK2, "--bfile", str(prefix), "--threads", str(args.threads), "--memory", "8000"]
        if "king_plink2" in wanted:
            keep = []
            if n_king < n:
                keep_file = work / f"keep_{n_king}.txt"
                keep_file.write_text("".join(f"s{i}\ts{i}\n" for i in range(n_king)))
                keep = ["--keep", str(keep_file)]
            wall, rss, _ = run_measured(base + keep + ["--make-king-table", "--king-table-filter", "0.0884",
                                                       "--out", str(work / "king")])
            steps["king_plink2"] = {"samples": n_king, "wall_s": round(wall, 1), "peak_rss_mb": round(rss),
                                    "command": "--make-king-table --king-table-filter 0.0884"}
            if n_king < n:
                steps["king_plink2"]["extrapolated_wall_s_full"] = round(wall * scale, 1)
            import pandas as pd

            table = pd.read_csv(work / "king.kin0", sep="\t")
            theirs = {frozenset((a, b)): v for a, b, v in table[["IID1", "IID2", "KINSHIP"]].itertuples(index=False)}
            mine = {frozenset((a, b)): v for a, b, v in outputs.get("king", {}).get("pairs", [])}
            same = set(theirs) == set(mine)
            diff = max((abs(theirs[p] - mine[p]) for p in theirs if p in mine), default=float("nan"))
            if mine:
                results["king_check"] = {"pairs_plink2": len(theirs), "pairs_ours": len(mine), "same_pairs": same,
                                         "max_abs_diff": diff}
        if "pca_plink2" in wanted:
            wall, rss, _ = run_measured(base + ["--pca", "approx", str(args.pcs), "--out", str(work / "pca")])
            steps["pca_plink2"] = {"samples": n, "pcs": args.pcs, "wall_s": round(wall, 1), "peak_rss_mb": round(rss),
                                   "command": f"--pca approx {args.pcs}"}
            import pandas as pd

            vec = pd.read_csv(work / "pca.eigenvec", sep="\t")
            if "pca" in outputs:
                results["pca_check"] = {
                    f"abs_corr_pc{k}": abs(float(np.corrcoef(outputs["pca"][f"pc{k}"], vec[f"PC{k}"])[0, 1]))
                    for k in (1, 2)
                }
    results["load_average_end"] = os.getloadavg()
    (RESULTS / f"{args.output}.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


def print_table(results: dict) -> None:
    d = results["data"]
    print(f"\nStructure benchmark: {d['samples']:,} samples x {d['snps']:,} SNPs, {results['threads']} threads, "
          f"load average at start {results['load_average_start'][0]:.1f}\n")
    print("| step | tool | samples | compute s | wall s (incl. read) | peak RSS MB | note |")
    print("|---|---|---|---|---|---|---|")
    for name, s in results["steps"].items():
        what, tool = name.rsplit("_", 1)
        compute = s.get("compute_s", s.get("fit_s", "-"))
        note = s.get("command", "")
        if "extrapolated_compute_s_full" in s:
            note += f"extrapolated to {d['samples']:,} samples: {s['extrapolated_compute_s_full']} s compute"
        if "extrapolated_wall_s_full" in s:
            note += f"; extrapolated to {d['samples']:,} samples: {s['extrapolated_wall_s_full']} s"
        if "transform_s" in s:
            note += f"transform {s['transform_s']} s"
        print(f"| {what} | {tool} | {s['samples']:,} | {compute} | {s['wall_s']} | {s['peak_rss_mb']} | {note} |")
    for key in ("king_check", "pca_check"):
        if key in results:
            print(f"\n{key}: {results[key]}")


if __name__ == "__main__":
    main()
