"""Benchmark: read + QC + LD pruning of a 10,000 x 100,000 msprime cohort, ours against plink2.

Run ``python -m benchmarks.munge`` from the repository root. Writes ``benchmarks/results/munge.json`` (with a
``summary`` list of what/result/target rows) and prints markdown tables. The cohort is simulated once into
``benchmarks/data/`` (git-ignored) and reused, with a random 0/1 phenotype file. Our command is the real CLI
(``genoml-search munge``), timed with plink2 and a bed-reader read in the same run by
:func:`benchmarks.common.timed_command` (wall time, peak RSS of the process tree).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import DATA, ROOT, WORK, cli, timed_command, venv_python, write_result

PREFIX = DATA / "munge_10k_100k"
PHENO = DATA / "munge_10k_100k.pheno.csv"
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


def write_phenotype(path: Path = PHENO, seed: int = 2) -> Path:
    """A random 0/1 phenotype for every sample of the cohort (the CLI needs one; pruning ignores it)."""
    ids = [line.split()[1] for line in open(str(PREFIX) + ".fam")]
    rng = np.random.default_rng(seed)
    path.write_text("ID,PHENO\n" + "".join(f"{i},{p}\n" for i, p in zip(ids, rng.integers(0, 2, len(ids)))))
    return path


def our_command(bfile: Path, pheno: Path, out: Path) -> list[str]:
    """The real `genoml-search munge` command with the same filters as plink2 (kinship and PCs, which plink2
    does not compute here, are left out; benchmarks/structure.py measures them)."""
    return cli("munge", "--bfile", str(bfile), "--pheno", str(pheno), "--out", str(out), *QC_FLAGS,
               "--indep-pairwise", *PRUNE, "--no-kinship", "--pcs", "0")


def plink2_command(bfile: Path, out: Path) -> list[str]:
    """plink2 doing the same filters and pruning, writing the kept variant list."""
    return ["plink2", "--bfile", str(bfile), *QC_FLAGS, "--indep-pairwise", *PRUNE, "--threads", str(THREADS),
            "--out", str(out)]


def bed_reader_command(bfile: Path, order: str = "C") -> list[str]:
    """Reading the whole .bed with bed-reader (int8): row-major as read_plink does, or column-major as munge."""
    code = ("import sys; from genoml_search.data.plink import PlinkFileSet, read_bed_matrix; "
            "f = PlinkFileSet.from_prefix(sys.argv[1]); n = sum(1 for _ in open(f.fam)); "
            "m = sum(1 for _ in open(f.bim)); "
            f"g = read_bed_matrix(f.bed, n, m, order='{order}'); print(g.shape)")
    return [sys.executable, "-c", code, str(bfile)]


PANDAS_PLINK_VENV = WORK / "venv-pandas-plink"


def pandas_plink_python() -> tuple[str | None, str]:
    """A Python that has pandas-plink (it pins numpy<2 and pandas<3, so it lives in its own venv under
    benchmarks/work/, created here from the package registry on first use), or None and the reason."""
    given = os.environ.get("PANDAS_PLINK_PYTHON")
    python, note = (Path(given), given) if given else venv_python(PANDAS_PLINK_VENV, "pandas-plink")
    if python is None or not python.exists():
        return None, f"no Python: {note}"
    import subprocess

    probe = subprocess.run([str(python), "-c", "import pandas_plink, numpy; print(pandas_plink.__version__, "
                            "numpy.__version__)"], capture_output=True, text=True)
    if probe.returncode:
        return None, f"pandas-plink not importable in {python}: {probe.stderr.strip().splitlines()[-1:]}"
    return str(python), "pandas-plink {} with numpy {} (separate venv)".format(*probe.stdout.split())


def pandas_plink_command(python: str, bfile: Path) -> list[str]:
    """Reading the whole .bed with pandas-plink into memory (its dask array computed: float32)."""
    code = ("import sys; from pandas_plink import read_plink1_bin; p = sys.argv[1]; "
            "g = read_plink1_bin(p + '.bed', p + '.bim', p + '.fam', verbose=False); "
            "x = g.values; print(x.shape, x.dtype)")
    return [python, "-c", code, str(bfile)]


def _drop_output(row: dict) -> None:
    """Drop the captured output of a timed_command row (kept small in the result file)."""
    row.pop("stdout", None)


def main() -> None:
    if not Path(str(PREFIX) + ".bed").exists():
        t = time.perf_counter()
        simulate()
        print(f"simulated in {time.perf_counter() - t:.0f} s", flush=True)
    WORK.mkdir(parents=True, exist_ok=True)
    if not PHENO.exists():
        write_phenotype()
    n_variants = sum(1 for _ in open(str(PREFIX) + ".bim"))
    n_samples = sum(1 for _ in open(str(PREFIX) + ".fam"))
    env = {"PYTHONPATH": str(ROOT)}
    load_start = os.getloadavg()
    rows = {}
    rows["bed-reader read (our read_plink)"] = timed_command(bed_reader_command(PREFIX), env=env, cwd=ROOT)
    rows["bed-reader read, column-major (as munge)"] = timed_command(bed_reader_command(PREFIX, "F"), env=env,
                                                                      cwd=ROOT)
    pp_python, pp_note = pandas_plink_python()
    if pp_python:
        rows["pandas-plink read (float32)"] = timed_command(pandas_plink_command(pp_python, PREFIX), cwd=ROOT)
    shutil.rmtree(WORK / "ours", ignore_errors=True)
    rows["genoml-search munge (CLI)"] = timed_command(our_command(PREFIX, PHENO, WORK / "ours"), env=env, cwd=ROOT)
    have_plink2 = shutil.which("plink2") is not None
    if have_plink2:
        rows[f"plink2 ({THREADS} threads)"] = timed_command(plink2_command(PREFIX, WORK / "plink2"), cwd=ROOT)
    for name, row in rows.items():
        _drop_output(row)
        if row["returncode"]:
            raise RuntimeError(f"{name} failed:\n{row['stderr_tail']}")
    ours_row = rows["genoml-search munge (CLI)"]
    ours = set((WORK / "ours" / "variants.tsv").read_text().split("\n")[1:]) - {""}
    ours = {line.split("\t")[0] for line in ours}
    manifest = json.loads((WORK / "ours" / "manifest.json").read_text())
    int8_mib = n_samples * n_variants / 2**20
    summary = []
    result = {
        "data": {"samples": n_samples, "variants": n_variants, "simulator": "msprime, 10 x 6 Mb, r=1e-8",
                 "int8_matrix_mib": round(int8_mib, 1)},
        "flags": QC_FLAGS + ["--indep-pairwise", *PRUNE],
        "load_avg_at_start": load_start,
        "load_avg_at_end": os.getloadavg(),
        "steps": manifest.get("steps"),
        "timings": rows,
        "pandas_plink": pp_note,
        "summary": summary,
    }
    if have_plink2:
        plink_row = rows[f"plink2 ({THREADS} threads)"]
        expected = set((WORK / "plink2.prune.in").read_text().split())
        ratio = ours_row["seconds"] / plink_row["seconds"]
        result.update(kept_ours=len(ours), kept_plink2=len(expected), kept_set_identical=ours == expected,
                      kept_symmetric_difference=len(ours ^ expected), ratio_to_plink2=round(ratio, 2))
        summary.append({"what": f"munge {n_samples // 1000}k x {n_variants // 1000}k wall time vs plink2",
                        "result": f"{ours_row['seconds']:.1f} s vs {plink_row['seconds']:.1f} s ({ratio:.1f}x)",
                        "target": "<= 2x plink2"})
        summary.append({"what": "kept set identical to plink2",
                        "result": f"{'yes' if ours == expected else 'NO'} ({len(ours)} vs {len(expected)} variants)",
                        "target": "identical"})
    if pp_python:
        ours_read, pp_read = rows["bed-reader read (our read_plink)"], rows["pandas-plink read (float32)"]
        summary.append({"what": "reading the .bed: bed-reader (int8) vs pandas-plink (float32)",
                        "result": f"{ours_read['seconds']:.1f} s / {ours_read['peak_rss_mib']:.0f} MiB vs "
                                  f"{pp_read['seconds']:.1f} s / {pp_read['peak_rss_mib']:.0f} MiB",
                        "target": "recorded"})
    else:
        summary.append({"what": "reading the .bed vs pandas-plink", "result": f"skipped: {pp_note}",
                        "target": "recorded where installable"})
    summary.append({"what": "peak RSS vs int8 matrix",
                    "result": f"{ours_row['peak_rss_mib']:.0f} MiB = {ours_row['peak_rss_mib'] / int8_mib:.2f}x "
                              f"({int8_mib:.0f} MiB)",
                    "target": "<= 3x"})
    path = write_result("munge", result)
    print(f"\n{n_samples} samples x {n_variants} variants (load average {load_start[0]:.1f} at start); "
          f"written {path}\n")
    print("| command | wall (s) | peak RSS (MiB) |\n|---|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | {row['seconds']} | {row['peak_rss_mib']} |")
    print("\n| what | result | target |\n|---|---|---|")
    for row in summary:
        print(f"| {row['what']} | {row['result']} | {row['target']} |")


if __name__ == "__main__":
    main()
