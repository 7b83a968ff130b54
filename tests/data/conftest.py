"""Fixtures for the data tests: a small msprime cohort with real LD, written as a PLINK 1 file set."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "genoml2-discrete" / "training"


def simulate_cohort(prefix: Path, *, n_diploid: int = 300, seed: int = 7, missing: float = 0.01) -> Path:
    """Write PREFIX.bed/.bim/.fam: two chromosomes simulated with msprime, a few missing calls injected."""
    import msprime
    from bed_reader import to_bed

    rng = np.random.default_rng(seed)
    blocks, chroms, positions = [], [], []
    for chrom, length in ((1, 3_000_000), (2, 2_000_000)):
        ts = msprime.sim_ancestry(n_diploid, sequence_length=length, recombination_rate=1e-8,
                                  population_size=10_000, random_seed=seed + chrom)
        ts = msprime.sim_mutations(ts, rate=1.5e-8, random_seed=seed + chrom, discrete_genome=True)
        hap = []
        pos = []
        for var in ts.variants():
            if len(var.alleles) == 2 and var.genotypes.max() == 1:
                hap.append(var.genotypes)
                pos.append(int(var.site.position) + 1)
        hap = np.array(hap, dtype=np.int8)
        blocks.append((hap[:, 0::2] + hap[:, 1::2]).T)
        chroms += [chrom] * len(pos)
        positions += pos
    geno = np.concatenate(blocks, axis=1).astype(np.float32)
    geno[rng.random(geno.shape) < missing] = np.nan
    # A few samples with many missing calls, a few variants with many, and HWE violations.
    geno[:5, rng.random(geno.shape[1]) < 0.15] = np.nan
    geno[rng.random(geno.shape[0]) < 0.08, :40] = np.nan
    geno[:, 100:110] = 1.0
    n = geno.shape[1]
    fam_pheno = rng.integers(1, 3, n_diploid)
    father = np.array(["0"] * n_diploid, dtype=object)
    father[-10:] = "iid0"  # ten non-founders
    to_bed(
        str(prefix) + ".bed",
        geno,
        properties={
            "fid": [f"f{i}" for i in range(n_diploid)],
            "iid": [f"iid{i}" for i in range(n_diploid)],
            "father": father,
            "mother": ["0"] * n_diploid,
            "sex": [1 + i % 2 for i in range(n_diploid)],
            "pheno": fam_pheno.astype(float),
            "chromosome": [str(c) for c in chroms],
            "sid": [f"rs{i}" for i in range(n)],
            "cm_position": [0.0] * n,
            "bp_position": positions,
            "allele_1": ["A"] * n,
            "allele_2": ["G"] * n,
        },
        count_A1=True,
    )
    return prefix


@pytest.fixture(scope="session")
def sim_cohort(tmp_path_factory) -> Path:
    """A 300-sample, two-chromosome msprime cohort with missing calls (prefix)."""
    pytest.importorskip("msprime")
    return simulate_cohort(tmp_path_factory.mktemp("sim") / "cohort")


def run_plink2(bfile: Path, out: Path, *flags: str) -> Path:
    """Run plink2 on a .bed prefix; return the output prefix."""
    subprocess.run(["plink2", "--bfile", str(bfile), "--out", str(out), "--threads", "1", *flags],
                   check=True, capture_output=True)
    return out


@pytest.fixture
def plink2():
    """Skip when plink2 is not installed."""
    if shutil.which("plink2") is None:
        pytest.skip("plink2 is not on PATH; the cross-checks need plink2 2.00a3.5")
    return run_plink2


def simulate_sex_cohort(prefix: Path, *, n: int = 200, seed: int = 5) -> Path:
    """Write PREFIX.bed/.bim/.fam with chr1, chrX (23), chrY (24), chrXY (25) and chrM (26).

    Males, females and unknown-sex samples; LD blocks (columns copied from a block base with 10% noise);
    haploid-coded males on chrX and everyone on chrY/chrM, with a few heterozygous haploid calls; most female
    chrY calls missing but some present; missing calls everywhere and three samples with many.
    """
    from bed_reader import to_bed

    rng = np.random.default_rng(seed)
    sex = rng.permutation(np.array([1] * (n * 2 // 5) + [2] * (n * 9 // 20) + [0] * (n - n * 2 // 5 - n * 9 // 20)))
    male = sex == 1
    blocks, chroms = [], []
    for chrom, m in (("1", 60), ("23", 60), ("24", 15), ("25", 10), ("26", 8)):
        g = np.empty((n, m))
        for j in range(m):
            if j % 4 == 0:
                base = rng.binomial(2, rng.uniform(0.05, 0.5), size=n)
            noise = rng.random(n) < 0.1
            g[:, j] = np.where(noise, rng.integers(0, 3, n), base)
        if chrom in ("23", "24", "26"):
            haploid = male if chrom == "23" else np.ones(n, dtype=bool)
            g[haploid] = 2.0 * (g[haploid] >= 1)
            g[(rng.random(g.shape) < 0.03) & haploid[:, None]] = 1.0
        if chrom == "24":
            g[~male & (rng.random(n) < 0.7)] = np.nan
        blocks.append(g)
        chroms += [chrom] * m
    geno = np.hstack(blocks)
    geno[rng.random(geno.shape) < 0.03] = np.nan
    geno[:3, rng.random(geno.shape[1]) < 0.3] = np.nan
    m = geno.shape[1]
    to_bed(str(prefix) + ".bed", geno, properties={
        "fid": [f"f{i}" for i in range(n)], "iid": [f"s{i}" for i in range(n)], "father": ["0"] * n,
        "mother": ["0"] * n, "sex": sex, "pheno": rng.integers(1, 3, n).astype(float), "chromosome": chroms,
        "sid": [f"v{j}" for j in range(m)], "cm_position": [0.0] * m,
        "bp_position": list(range(1000, 1000 * (m + 1), 1000)), "allele_1": ["A"] * m, "allele_2": ["G"] * m,
    }, count_A1=True)
    return prefix


@pytest.fixture(scope="session")
def sex_cohort(tmp_path_factory) -> Path:
    """A 200-sample cohort with autosome, chrX, chrY, chrXY and chrM variants and mixed sexes (prefix)."""
    return simulate_sex_cohort(tmp_path_factory.mktemp("sexsim") / "cohort")
