"""Benchmark: read + QC + LD pruning of a 10,000 x 100,000 msprime cohort, ours against plink2.

Run ``python -m benchmarks.munge`` from the repository root. Writes ``benchmarks/results/munge.json`` and
prints a markdown table. The cohort is simulated once into ``benchmarks/data/`` (git-ignored) and reused.
Every timed command runs in its own subprocess under ``/usr/bin/time -v`` (wall time and peak RSS).
To time the real CLI later, replace :func:`our_command` (one command line).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results" / "munge.json"
PREFIX = DATA / "munge_10k_100k"
N_DIPLOID, N_CHROM, SNPS_PER_CHROM = 10_000, 10, 10_000
QC_FLAGS = ["--mind", "0.1", "--geno", "0.05", "--hwe", "1e-6", "--maf", "0.01"]
PRUNE = ("1000", "50", "0.5")
THREADS = 2


def simulate(prefix: Path = PREFIX, seed: int = 1) -> Path:
    """Simulate the cohort with msprime (10 chromosomes of 6 Mb, recombination 1e-8) and write bed/bim/fam."""
    import msprime
    from bed_reader import to_bed

    rng = np.random.default_rng(seed)
    geno = np.empty((N_DIPLOID, N_CHROM * SNPS_PER_CHROM), dtype=np.int8)
    chroms, positions = [], []
    for c in range(N_CHROM):
        ts = msprime.sim_ancestry(N_DIPLOID, sequence_length=6_000_000, recombination_rate=1e-8,
                                  population_size=10_000, random_seed=seed + c)
        ts = msprime.sim_mutations(ts, rate=2e-8, random_seed=seed + c, discrete_genome=True)
        keep_sites, cols = [], []
        for var in ts.variants(copy=False):
            g = var.genotypes
            if len(var.alleles) != 2 or g.max() > 1:
                continue
            freq = g.mean()
            if 0.004 <= freq <= 0.996:
                keep_sites.append(int(var.site.position) + 1)
                cols.append((g[0::2] + g[1::2]).astype(np.int8))
        chosen = np.sort(rng.choice(len(cols), size=min(SNPS_PER_CHROM, len(cols)), replace=False))
        block = np.stack([cols[i] for i in chosen], axis=1)
        geno[:, c * SNPS_PER_CHROM : c * SNPS_PER_CHROM + block.shape[1]] = block
        chroms += [str(c + 1)] * len(chosen)
        positions += [keep_sites[i] for i in chosen]
        print(f"chromosome {c + 1}: {len(cols)} common sites, kept {len(chosen)}", flush=True)
    geno = geno[:, : len(positions)]
    # Missing calls: 0.5% at random, a few bad samples and bad variants.
    geno[rng.random(geno.shape) < 0.005] = -127
    geno[rng.choice(N_DIPLOID, 50, replace=False)[:, None], rng.random(geno.shape[1]) < 0.2] = -127
    bad = rng.choice(geno.shape[1], 300, replace=False)
    geno[np.ix_(rng.random(N_DIPLOID) < 0.08, bad)] = -127
    n = geno.shape[1]
    DATA.mkdir(parents=True, exist_ok=True)
    to_bed(str(prefix) + ".bed", geno, count_A1=True, properties={
        "fid": [f"s{i}" for i in range(N_DIPLOID)], "iid": [f"s{i}" for i in range(N_DIPLOID)],
        "father": ["0"] * N_DIPLOID, "mother": ["0"] * N_DIPLOID, "sex": [1 + i % 2 for i in range(N_DIPLOID)],
        "pheno": rng.integers(1, 3, N_DIPLOID).astype(float),
        "chromosome": chroms, "sid": [f"rs{i}" for i in range(n)], "cm_position": [0.0] * n,
        "bp_position": positions, "allele_1": ["A"] * n, "allele_2": ["G"] * n,
    })
    return prefix


def our_command(bfile: Path, out: Path) -> list[str]:
    """The timed command line of genoml-search (replace by the ``genoml-search munge`` CLI later)."""
    return [sys.executable, "-m", "benchmarks.munge", "_ours", str(bfile), str(out)]


def plink2_command(bfile: Path, out: Path) -> list[str]:
    """plink2 doing the same filters and pruning, writing the kept variant list."""
    return ["plink2", "--bfile", str(bfile), *QC_FLAGS, "--indep-pairwise", *PRUNE, "--threads", str(THREADS),
            "--out", str(out)]


def bed_reader_command(bfile: Path) -> list[str]:
    """Reading the whole .bed with bed-reader (int8), as our read_plink does."""
    code = ("import sys; from genoml_search.data.plink import read_plink; "
            "d = read_plink(sys.argv[1]); print(d.genotypes.shape)")
    return [sys.executable, "-c", code, str(bfile)]


def _ours(bfile: str, out: str) -> None:
    """What our_command runs: read, QC, prune; writes OUT.prune.in and stage timings to OUT.stages.json."""
    from genoml_search.data.ld import indep_pairwise
    from genoml_search.data.plink import read_plink
    from genoml_search.data.qc import QCParams, founders_from_samples, run_qc

    stages = {}
    t0 = time.perf_counter()
    data = read_plink(bfile)
    stages["read_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    founders = founders_from_samples(data.samples)
    qc = run_qc(data.genotypes, QCParams(mind=0.1, geno=0.05, maf=0.01, hwe=1e-6), founders=founders,
                chrom=data.variants.chrom.to_numpy())
    stages["qc_s"] = time.perf_counter() - t
    t = time.perf_counter()
    g = data.genotypes[qc.sample_keep][:, qc.variant_keep] if not qc.sample_keep.all() else \
        data.genotypes[:, qc.variant_keep]
    del data.genotypes
    v = data.variants[qc.variant_keep]
    stages["subset_s"] = time.perf_counter() - t
    t = time.perf_counter()
    keep = indep_pairwise(g, v.chrom.to_numpy(), v.pos.to_numpy(), int(PRUNE[0]), int(PRUNE[1]), float(PRUNE[2]),
                          founders=founders[qc.sample_keep])
    stages["prune_s"] = time.perf_counter() - t
    Path(out + ".prune.in").write_text("\n".join(v.id[keep]) + "\n")
    stages["steps"] = qc.steps
    Path(out + ".stages.json").write_text(json.dumps(stages, indent=1))


def timed(cmd: list[str]) -> dict:
    """Run ``cmd`` under /usr/bin/time -v; return wall seconds and peak RSS (MB)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{cmd[0]} failed:\n{proc.stderr[-2000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(rss_kb / 1024, 1)}


def main() -> None:
    if not Path(str(PREFIX) + ".bed").exists():
        t = time.perf_counter()
        simulate()
        print(f"simulated in {time.perf_counter() - t:.0f} s", flush=True)
    WORK.mkdir(parents=True, exist_ok=True)
    n_variants = sum(1 for _ in open(str(PREFIX) + ".bim"))
    n_samples = sum(1 for _ in open(str(PREFIX) + ".fam"))
    rows = {}
    rows["bed-reader read"] = timed(bed_reader_command(PREFIX))
    rows["genoml-search read+QC+prune"] = timed(our_command(PREFIX, WORK / "ours"))
    stages = json.loads((WORK / "ours.stages.json").read_text())
    ours = set((WORK / "ours.prune.in").read_text().split())
    result = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_at_start": os.getloadavg()},
        "versions": {"numpy": np.__version__},
        "data": {"samples": n_samples, "variants": n_variants, "simulator": "msprime, 10 x 6 Mb, r=1e-8"},
        "flags": QC_FLAGS + ["--indep-pairwise", *PRUNE],
        "our_stages_s": {k: round(v, 2) for k, v in stages.items() if k.endswith("_s")},
        "qc_steps": stages["steps"],
        "timings": rows,
    }
    if shutil.which("plink2"):
        rows["plink2 (2 threads)"] = timed(plink2_command(PREFIX, WORK / "plink2"))
        expected = set((WORK / "plink2.prune.in").read_text().split())
        result["kept_ours"] = len(ours)
        result["kept_plink2"] = len(expected)
        result["kept_set_identical"] = ours == expected
        result["kept_symmetric_difference"] = len(ours ^ expected)
        result["ratio_to_plink2"] = round(rows["genoml-search read+QC+prune"]["wall_s"]
                                          / rows["plink2 (2 threads)"]["wall_s"], 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\n{n_samples} samples x {n_variants} variants; identical kept set: "
          f"{result.get('kept_set_identical')}\n")
    print("| command | wall (s) | peak RSS (MB) |\n|---|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | {row['wall_s']} | {row['peak_rss_mb']} |")
    print("\nour stages (s):", result["our_stages_s"])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_ours":
        _ours(sys.argv[2], sys.argv[3])
    else:
        main()
