"""Simulated cohorts with a known genetic architecture, for demos, tests and benchmarks.

:func:`simulate_cohorts` writes a training and an independent validation cohort (PLINK .bed/.bim/.fam,
phenotype and covariate CSVs) and ``truth.json`` with the causal variants, their effects, the realized
heritability and the theoretical accuracy limits (Wray et al. 2010; Daetwyler et al. 2008). The model and
formulas are documented in ``docs/simulate.md``.

Example::

    from genoml_search.data.simulate import SimulationSpec, simulate_cohorts
    truth = simulate_cohorts(SimulationSpec(n_train=200, n_validation=50, n_snps=500), Path("sim"))
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from genoml_search.errors import UserError
from genoml_search.tasks import TASKS, Task

MISSING: int = -127  # same sentinel as genoml_search.data.plink.MISSING

FORMAT_VERSION = 1
EFFECT_DISTRIBUTIONS = ("normal", "laplace")
LD_MODELS = ("blocks", "msprime")

# "blocks" LD model constants (see docs/simulate.md for the LD decay they give).
BLOCK_MEAN_SNPS = 50  # mean number of SNPs per LD block (negative binomial, shape 2)
SNP_SPACING_BP = 3_000  # mean distance between adjacent SNPs (exponential), also across block boundaries
SWITCHES_PER_BLOCK = 4.0  # expected founder switches (historical recombinations) along an average block
MIN_FOUNDERS, MAX_FOUNDERS = 16, 32  # founder haplotypes per block (bits of a uint32 pattern)
FOUNDER_DIRICHLET_ALPHA = 0.5  # founder frequencies ~ Dirichlet(alpha): small alpha -> rare haplotypes
MIN_MAF = 0.01
LUT_SIZE = 1 << 16  # resolution of categorical draws by table lookup

# "msprime" model constants.
MSPRIME_NE = 10_000
MSPRIME_RECOMBINATION_RATE = 1e-8
MSPRIME_BP_PER_SNP = 5_000  # chromosome length = SNPs per chromosome x this

# Sample subset and window used to estimate the effective number of independent segments M_e.
ME_SAMPLES = 1_000
ME_WINDOW_SNPS = 100

DEFAULT_COVARIATES: tuple[tuple[str, float], ...] = (("AGE", 0.01), ("SEX", 0.2))


@dataclass(frozen=True)
class SimulationSpec:
    """What to simulate. Every field is recorded in ``truth.json``.

    ``covariate_effects`` are ``(name, effect)`` pairs on the liability scale (total liability variance 1):
    ``AGE`` is drawn uniform on the integers 40..79 (effect per year), ``SEX`` is 0 (female) / 1 (male)
    with probability 1/2 (effect of being male); any other name is a standard normal covariate (effect per
    standard deviation). The covariates explain ``sum(effect^2 * variance)`` of the liability, which must
    leave room for ``h2`` and some noise.
    """

    n_train: int = 2000
    n_validation: int = 500
    n_snps: int = 10000
    n_chromosomes: int = 2
    h2: float = 0.3
    n_causal: int = 100
    effect_distribution: str = "normal"
    task: str = "binary"
    prevalence: float = 0.3
    n_classes: int = 3
    covariate_effects: tuple[tuple[str, float], ...] = field(default=DEFAULT_COVARIATES)
    ld_model: str = "blocks"
    missing_rate: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        # Accept lists (e.g. from JSON/TOML) but keep the dataclass hashable.
        object.__setattr__(
            self, "covariate_effects", tuple((str(name), float(effect)) for name, effect in self.covariate_effects)
        )
        problems = []
        if self.n_train < 10 or self.n_validation < 1:
            problems.append("n_train must be >= 10 and n_validation >= 1")
        if self.n_chromosomes < 1 or self.n_snps < 2 * self.n_chromosomes:
            problems.append("n_chromosomes must be >= 1 with at least 2 SNPs per chromosome")
        if not 0.0 < self.h2 < 1.0:
            problems.append(f"h2 must be in (0, 1), got {self.h2}")
        if not 1 <= self.n_causal <= self.n_snps:
            problems.append(f"n_causal must be in 1..n_snps ({self.n_snps}), got {self.n_causal}")
        if self.effect_distribution not in EFFECT_DISTRIBUTIONS:
            problems.append(f"effect_distribution must be one of {EFFECT_DISTRIBUTIONS}")
        if self.task not in TASKS:
            problems.append(f"task must be one of {tuple(str(t) for t in TASKS)}, got {self.task!r}")
        if not 0.0 < self.prevalence < 1.0:
            problems.append(f"prevalence must be in (0, 1), got {self.prevalence}")
        if self.n_classes < 2:
            problems.append(f"n_classes must be >= 2, got {self.n_classes}")
        if self.ld_model not in LD_MODELS:
            problems.append(f"ld_model must be one of {LD_MODELS}, got {self.ld_model!r}")
        if not 0.0 <= self.missing_rate < 1.0:
            problems.append(f"missing_rate must be in [0, 1), got {self.missing_rate}")
        names = [name for name, _ in self.covariate_effects]
        if len(set(names)) != len(names) or any(not n or n in ("ID", "PHENO") for n in names):
            problems.append("covariate names must be unique, non-empty and not ID or PHENO")
        if 1.0 - self.h2 - covariate_variance(self.covariate_effects) <= 0.01:
            problems.append("h2 plus the variance explained by covariate_effects must stay below 0.99")
        if problems:
            raise UserError("invalid simulation spec: " + "; ".join(problems))


def tiny_spec(**changes) -> SimulationSpec:
    """A small spec (200 + 50 samples, 500 SNPs, 20 causal) for tests: simulates in well under a second."""
    base = {"n_train": 200, "n_validation": 50, "n_snps": 500, "n_causal": 20}
    return SimulationSpec(**{**base, **changes})


def simulate_tiny(out_dir: Path, **changes) -> dict:
    """``simulate_cohorts(tiny_spec(**changes), out_dir)``: a quick cohort pair for tests and demos."""
    return simulate_cohorts(tiny_spec(**changes), out_dir)


def covariate_variance(covariate_effects: tuple[tuple[str, float], ...]) -> float:
    """Liability variance explained by the simulated covariates (they are independent of each other)."""
    return float(sum(effect**2 * _covariate_moments(name)[1] for name, effect in covariate_effects))


def _covariate_moments(name: str) -> tuple[float, float]:
    if name == "AGE":
        return 59.5, (40**2 - 1) / 12.0  # discrete uniform on 40..79
    if name == "SEX":
        return 0.5, 0.25
    return 0.0, 1.0


# --------------------------------------------------------------------------------------------------------
# Theoretical limits


def wray_auc(r2_liability: float, prevalence: float) -> float:
    """AUC of a predictor explaining ``r2_liability`` of liability variance (Wray et al. 2010, PLoS Genet).

    With the genetic value known exactly (``r2_liability = h2``) this is the maximum AUC of the trait.
    """
    if r2_liability <= 0:
        return 0.5
    k = prevalence
    t = stats.norm.isf(k)
    i = stats.norm.pdf(t) / k  # mean liability of cases
    v = -i * k / (1.0 - k)  # mean liability of controls
    h = r2_liability
    denominator = h * (1.0 - h * i * (i - t)) + h * (1.0 - h * v * (v - t))
    return float(stats.norm.cdf((i - v) * h / math.sqrt(denominator)))


def daetwyler_r2(h2: float, n: int, m_e: float) -> float:
    """Expected R2 of a linear genomic predictor trained on ``n`` records (Daetwyler et al. 2008, PLoS ONE)."""
    return float(h2 / (1.0 + m_e / (n * h2)))


def daetwyler_auc(h2_liability: float, prevalence: float, n: int, m_e: float) -> float:
    """Expected AUC for a binary trait: Daetwyler on the observed 0/1 scale, then back to liability and Wray.

    ``h2_obs = h2_l z^2 / (K(1-K))`` (Dempster & Lerner 1950), ``R2_obs = daetwyler_r2(h2_obs, n, m_e)``,
    ``R2_l = R2_obs K(1-K) / z^2`` (Lee et al. 2012 with P = K), AUC = ``wray_auc(R2_l, K)``.
    """
    k = prevalence
    z2 = stats.norm.pdf(stats.norm.isf(k)) ** 2
    h2_obs = h2_liability * z2 / (k * (1.0 - k))
    r2_liability = daetwyler_r2(h2_obs, n, m_e) * k * (1.0 - k) / z2
    return wray_auc(r2_liability, k)


# --------------------------------------------------------------------------------------------------------
# Genotypes


@dataclass
class _Genotypes:
    train: np.ndarray  # int8, Fortran order, n_train x n_snps
    validation: np.ndarray
    chrom: np.ndarray
    pos: np.ndarray
    block_starts: list[int] | None  # index of each LD block's first SNP (blocks model)
    sum_r2: float  # sum over SNP pairs (both orders and diagonal) of r^2, for M_e


def _snps_per_chromosome(spec: SimulationSpec) -> list[int]:
    base, extra = divmod(spec.n_snps, spec.n_chromosomes)
    return [base + (c < extra) for c in range(spec.n_chromosomes)]


def _random_clades(rng: np.random.Generator, n_founders: int) -> tuple[np.ndarray, np.ndarray]:
    """Clades (bitmask over founders) of a random coalescent tree and their branch lengths."""
    masks = [1 << f for f in range(n_founders)]
    active = list(range(n_founders))
    branch = [0.0] * n_founders
    while len(active) > 1:
        k = len(active)
        dt = rng.exponential(2.0 / (k * (k - 1)))
        for node in active:
            branch[node] += dt
        a, b = rng.choice(k, 2, replace=False)
        node_a, node_b = active[a], active[b]
        masks.append(masks[node_a] | masks[node_b])
        branch.append(0.0)
        active = [n for n in active if n not in (node_a, node_b)] + [len(masks) - 1]
    # The root (last node) carries no mutation.
    return np.array(masks[:-1], dtype=np.uint32), np.array(branch[:-1])


def _categorical_table(p: np.ndarray) -> np.ndarray:
    """Lookup table: ``table[u]`` for ``u`` uniform on 0..2^16-1 is category i with probability ~p[i]."""
    edges = np.rint(np.cumsum(p) / np.sum(p) * LUT_SIZE).astype(np.int64)
    edges[-1] = LUT_SIZE
    return np.repeat(np.arange(len(p)), np.diff(edges, prepend=0))


def _block_genotypes(
    rng: np.random.Generator, n_samples: int, rel_pos: np.ndarray, switch_rate: float
) -> np.ndarray:
    """Genotypes (SNPs x samples, int8) of one LD block: mosaics of a few founder haplotypes.

    Founder alleles come from mutations on a random coalescent tree over the founders (so many SNPs share
    a pattern); each haplotype copies founders drawn by their frequency and switches founder at
    historical recombination points (a Poisson process of rate ``switch_rate`` per bp), so r^2 decays
    with distance within the block.
    """
    n_snps = len(rel_pos)
    n_founders = int(rng.integers(MIN_FOUNDERS, MAX_FOUNDERS + 1))
    weights = rng.dirichlet(np.full(n_founders, FOUNDER_DIRICHLET_ALPHA))
    masks, branch = _random_clades(rng, n_founders)
    bits = (masks[:, None] >> np.arange(n_founders, dtype=np.uint32)) & 1
    freq = bits @ weights
    ok = np.minimum(freq, 1 - freq) >= MIN_MAF
    p = branch * ok if ok.any() else branch
    codes = masks[rng.choice(len(masks), n_snps, p=p / p.sum())]
    # Counted allele is the derived one for a random half of the SNPs.
    all_founders = np.uint32((1 << n_founders) - 1)
    codes = np.where(rng.random(n_snps) < 0.5, codes, ~codes & all_founders).astype(np.uint32)

    n_hap = 2 * n_samples
    founder_table = _categorical_table(weights).astype(np.uint8)
    founder = np.zeros((n_snps, n_hap), dtype=np.uint8)
    founder[0] = founder_table[rng.integers(0, LUT_SIZE, n_hap)]
    gaps = np.diff(rel_pos)
    # Switch points: haplotype and the SNP interval they fall in (by its length); several switches in
    # one interval are one switch. Founder changes are stored as XOR deltas and accumulated along SNPs.
    n_switches = rng.poisson(n_hap * switch_rate * float(gaps.sum())) if n_snps > 1 and gaps.sum() > 0 else 0
    if n_switches > 0:  # none happens in short blocks now and then
        interval = _categorical_table(gaps.astype(np.float64)) + 1
        key = rng.integers(0, n_hap, n_switches) * n_snps + interval[rng.integers(0, LUT_SIZE, n_switches)]
        key.sort()
        key = key[np.r_[key[1:] != key[:-1], True]]
        hap, snp = np.divmod(key, n_snps)
        new = founder_table[rng.integers(0, LUT_SIZE, len(key))]
        previous = np.empty_like(new)
        previous[1:] = new[:-1]
        first = np.r_[True, hap[1:] != hap[:-1]]
        previous[first] = founder[0, hap[first]]
        founder[snp, hap] = new ^ previous
        np.bitwise_xor.accumulate(founder, axis=0, out=founder)
    alleles = codes[:, None] >> founder
    alleles &= 1
    genotypes = alleles[:, :n_samples].astype(np.int8)
    genotypes += alleles[:, n_samples:].astype(np.int8)
    return genotypes


def _sum_r2(z_blocks: list[np.ndarray], n: int) -> float:
    """Sum of bias-corrected r^2 over all ordered pairs within the given standardized blocks."""
    total = 0.0
    for z in z_blocks:
        r2 = np.square(z.T @ z / n)
        # E[r2_hat] ~ r2 + (1 - r2) / n for unlinked pairs; keep the diagonal at 1.
        r2 = np.clip((r2 * (n - 1) - 1) / (n - 2), 0, 1)
        np.fill_diagonal(r2, 1.0)
        total += float(r2.sum())
    return total


def _standardize(g: np.ndarray) -> np.ndarray:
    x = g.astype(np.float32)
    x -= x.mean(axis=0)
    sd = x.std(axis=0)
    sd[sd == 0] = np.inf
    x /= sd
    return x


def _simulate_blocks(spec: SimulationSpec, rng: np.random.Generator) -> _Genotypes:
    n_total = spec.n_train + spec.n_validation
    train = np.empty((spec.n_train, spec.n_snps), dtype=np.int8, order="F")
    validation = np.empty((spec.n_validation, spec.n_snps), dtype=np.int8, order="F")
    chrom = np.empty(spec.n_snps, dtype=np.int64)
    pos = np.empty(spec.n_snps, dtype=np.int64)
    switch_rate = SWITCHES_PER_BLOCK / (BLOCK_MEAN_SNPS * SNP_SPACING_BP)
    n_sub = min(ME_SAMPLES, spec.n_train)
    block_starts: list[int] = []
    sum_r2 = 0.0
    start = 0
    for c, n_chr in enumerate(_snps_per_chromosome(spec), start=1):
        chr_pos = np.cumsum(1 + rng.exponential(SNP_SPACING_BP, n_chr).astype(np.int64))
        sizes: list[int] = []
        while sum(sizes) < n_chr:
            sizes.append(1 + int(rng.negative_binomial(2, 2.0 / (2.0 + BLOCK_MEAN_SNPS - 1))))
        sizes[-1] -= sum(sizes) - n_chr
        chrom[start : start + n_chr] = c
        pos[start : start + n_chr] = chr_pos
        offset = 0
        for size in sizes:
            rel = chr_pos[offset : offset + size] - chr_pos[offset]
            g = _block_genotypes(rng, n_total, rel, switch_rate)
            cols = slice(start + offset, start + offset + size)
            train[:, cols] = g[:, : spec.n_train].T  # contiguous: the matrices are Fortran-ordered
            validation[:, cols] = g[:, spec.n_train :].T
            sum_r2 += _sum_r2([_standardize(g[:, :n_sub].T)], n_sub)
            block_starts.append(start + offset)
            offset += size
        start += n_chr
    return _Genotypes(train, validation, chrom, pos, block_starts, sum_r2)


def _simulate_msprime(spec: SimulationSpec, rng: np.random.Generator) -> _Genotypes:
    try:
        import msprime
    except ImportError:
        raise UserError(
            "ld_model 'msprime' needs the msprime package: pip install 'genoml-search[simulate]', "
            "or use ld_model 'blocks'"
        ) from None
    n_total = spec.n_train + spec.n_validation
    train = np.empty((spec.n_train, spec.n_snps), dtype=np.int8, order="F")
    validation = np.empty((spec.n_validation, spec.n_snps), dtype=np.int8, order="F")
    chrom = np.empty(spec.n_snps, dtype=np.int64)
    pos = np.empty(spec.n_snps, dtype=np.int64)
    n_sub = min(ME_SAMPLES, spec.n_train)
    sum_r2 = 0.0
    start = 0
    for c, n_chr in enumerate(_snps_per_chromosome(spec), start=1):
        length = n_chr * MSPRIME_BP_PER_SNP
        # Aim at ~2x the SNPs needed with MAF >= 0.01: E[#sites with freq in [0.01, 0.99]] = 4 Ne mu L ln(99).
        mutation_rate = 2.0 * n_chr / (4 * MSPRIME_NE * length * math.log(99))
        seeds = rng.integers(1, 2**31 - 1, 2)
        ts = msprime.sim_ancestry(
            samples=n_total, ploidy=2, population_size=MSPRIME_NE, sequence_length=length,
            recombination_rate=MSPRIME_RECOMBINATION_RATE, random_seed=int(seeds[0]),
        )
        ts = msprime.sim_mutations(ts, rate=mutation_rate, random_seed=int(seeds[1]), discrete_genome=False)
        # Pass 1: derived allele counts, site by site (tskit decodes in C; this model is the slow option).
        counts = np.fromiter((v.genotypes.sum() for v in ts.variants(copy=False)), dtype=np.int64, count=ts.num_sites)
        site_pos = np.floor(ts.tables.sites.position).astype(np.int64) + 1
        freq = counts / (2 * n_total)
        ok = (np.minimum(freq, 1 - freq) >= MIN_MAF) & np.r_[True, np.diff(site_pos) > 0]
        candidates = np.flatnonzero(ok)
        if len(candidates) < n_chr:
            raise UserError(f"msprime gave only {len(candidates)} usable SNPs on chromosome {c}; need {n_chr}")
        keep = np.sort(rng.choice(candidates, n_chr, replace=False))
        kept = ts.delete_sites(np.setdiff1d(np.arange(ts.num_sites), keep))
        for j, variant in enumerate(kept.variants(copy=False), start=start):
            h = variant.genotypes
            dosage = h[0::2] + h[1::2]  # msprime lists the two haplotypes of an individual together
            train[:, j] = dosage[: spec.n_train]
            validation[:, j] = dosage[spec.n_train :]
        flip = start + np.flatnonzero(rng.random(n_chr) < 0.5)  # counted allele: derived or ancestral
        train[:, flip] = 2 - train[:, flip]
        validation[:, flip] = 2 - validation[:, flip]
        cols = slice(start, start + n_chr)
        chrom[cols] = c
        pos[cols] = site_pos[keep]
        z = _standardize(train[:n_sub, cols])
        sum_r2 += _sum_r2_banded(z, n_sub)
        start += n_chr
    return _Genotypes(train, validation, chrom, pos, None, sum_r2)


def _sum_r2_banded(z: np.ndarray, n: int) -> float:
    """Sum of r^2 over ordered pairs closer than ~ME_WINDOW_SNPS (windows plus adjacent-window pairs)."""
    m = z.shape[1]
    edges = list(range(0, m, ME_WINDOW_SNPS)) + [m]
    windows = [z[:, a:b] for a, b in zip(edges[:-1], edges[1:])]
    total = _sum_r2(windows, n)
    for left, right in zip(windows[:-1], windows[1:]):
        r2 = np.square(left.T @ right / n)
        total += 2.0 * float(np.clip((r2 * (n - 1) - 1) / (n - 2), 0, 1).sum())
    return total


# --------------------------------------------------------------------------------------------------------
# Phenotypes


def _covariates(spec: SimulationSpec, rng: np.random.Generator, n: int) -> pd.DataFrame:
    columns = {}
    for name, _ in spec.covariate_effects:
        if name == "AGE":
            columns[name] = rng.integers(40, 80, n)
        elif name == "SEX":
            columns[name] = rng.integers(0, 2, n)
        else:
            columns[name] = np.round(rng.standard_normal(n), 6)
    return pd.DataFrame(columns, index=range(n))


def _observed(spec: SimulationSpec, liability: np.ndarray) -> tuple[np.ndarray, dict]:
    if spec.task == Task.BINARY:
        threshold = float(stats.norm.isf(spec.prevalence))
        return (liability > threshold).astype(np.int64), {"liability_threshold": threshold}
    if spec.task == Task.MULTICLASS:
        thresholds = stats.norm.ppf(np.arange(1, spec.n_classes) / spec.n_classes)
        return np.searchsorted(thresholds, liability).astype(np.int64), {"class_thresholds": thresholds.tolist()}
    return liability, {}


# --------------------------------------------------------------------------------------------------------
# Writing


def simulate_cohorts(spec: SimulationSpec, out_dir: Path, *, overwrite: bool = False) -> dict:
    """Simulate a training and an independent validation cohort into ``out_dir``; return the truth dict.

    Writes ``train.bed/.bim/.fam``, ``validation.bed/.bim/.fam``, ``{train,validation}_pheno.csv`` (ID,PHENO),
    ``{train,validation}_covar.csv`` (ID + covariates) and ``truth.json`` (also returned). The directory is
    built beside ``out_dir`` and renamed into place; an existing non-empty ``out_dir`` is refused unless
    ``overwrite`` is true.
    """
    from genoml_search.outputs import OutputKind, check_output, output_directory

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError("exists and is not a directory; choose another --out", out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise UserError("directory is not empty; choose another --out or pass --overwrite", out_dir)
    check_output(out_dir, OutputKind.SIMULATION)  # --overwrite replaces only a simulation of ours
    with output_directory(out_dir, OutputKind.SIMULATION) as tmp:
        truth = _simulate_into(spec, tmp)
    return truth


def _simulate_into(spec: SimulationSpec, out: Path) -> dict:
    started = time.perf_counter()
    rng = np.random.default_rng(spec.seed)
    geno_rng, pheno_rng, missing_rng = (np.random.default_rng(s) for s in rng.spawn(3))
    with _single_threaded_blas():
        genotypes = (_simulate_blocks if spec.ld_model == "blocks" else _simulate_msprime)(spec, geno_rng)
    t_genotypes = time.perf_counter() - started
    n_train, m = spec.n_train, spec.n_snps
    n_total = n_train + spec.n_validation

    ids = np.char.add(np.char.add("chr", genotypes.chrom.astype(str)), np.char.add(":", genotypes.pos.astype(str)))
    bases = np.array(list("ACGT"))
    a1 = geno_rng.integers(0, 4, m)
    a2 = (a1 + geno_rng.integers(1, 4, m)) % 4

    causal, p, effects, genetic = _causal_effects(spec, genotypes, pheno_rng)
    covariates = _covariates(spec, pheno_rng, n_total)
    covar_var = covariate_variance(spec.covariate_effects)
    covar_part = np.zeros(n_total)
    for name, effect in spec.covariate_effects:
        covar_part += effect * (covariates[name].to_numpy(dtype=np.float64) - _covariate_moments(name)[0])
    noise = pheno_rng.standard_normal(n_total) * math.sqrt(1.0 - spec.h2 - covar_var)
    liability = genetic + covar_part + noise
    observed, thresholds = _observed(spec, liability)
    intercept = -float(effects @ (2 * p)) - sum(e * _covariate_moments(n)[0] for n, e in spec.covariate_effects)

    if spec.missing_rate > 0:
        for matrix in (genotypes.train, genotypes.validation):
            _set_missing(matrix, spec.missing_rate, missing_rng)

    train_ids = np.char.add("train_", np.char.zfill(np.arange(1, n_train + 1).astype(str), 6))
    val_ids = np.char.add("val_", np.char.zfill(np.arange(1, spec.n_validation + 1).astype(str), 6))
    variant_props = {
        "chromosome": genotypes.chrom.astype(str), "sid": ids, "cm_position": np.zeros(m),
        "bp_position": genotypes.pos, "allele_1": bases[a1], "allele_2": bases[a2],
    }
    _write_cohorts(out, spec, genotypes, (train_ids, val_ids), covariates, observed, variant_props)

    train_rows = slice(0, n_train)
    val_rows = slice(n_train, n_total)
    m_e = (m * m) / genotypes.sum_r2
    truth = {
        "format_version": FORMAT_VERSION,
        "spec": asdict(spec),
        "counted_allele": "bim column 5 (allele 1, plink2 ALT)",
        "causal_snps": ids[causal].tolist(),
        "causal_effects": effects.tolist(),
        "causal_allele_freq": p.tolist(),
        "liability_intercept": intercept,
        "covariate_effects": dict(spec.covariate_effects),
        "covariate_variance_explained": covar_var,
        "noise_variance": 1.0 - spec.h2 - covar_var,
        **thresholds,
        "realized": _realized(spec, genetic, covar_part, liability, observed, train_rows, val_rows),
        "ld_model": spec.ld_model,
        "n_ld_blocks": None if genotypes.block_starts is None else len(genotypes.block_starts),
        "ld_block_starts": genotypes.block_starts,
        "m_effective": m_e,
        "m_effective_method": _m_effective_method(genotypes.block_starts is not None, min(ME_SAMPLES, n_train)),
        "expected": _expected(spec, m_e, covar_var),
        "seconds": {"genotypes": round(t_genotypes, 3), "total": round(time.perf_counter() - started, 3)},
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    return truth


def _causal_effects(spec: SimulationSpec, genotypes: _Genotypes,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Causal SNPs (drawn among the common ones), their allele frequencies, per-allele effects scaled to
    ``h2``, and every sample's genetic value (train rows, then validation rows)."""
    n_total = spec.n_train + spec.n_validation
    # Pooled (train + validation) counted-allele frequencies: the simulated population.
    counts = genotypes.train.sum(axis=0, dtype=np.int64) + genotypes.validation.sum(axis=0, dtype=np.int64)
    freq = counts / (2.0 * n_total)
    maf = np.minimum(freq, 1 - freq)
    eligible = np.flatnonzero(maf >= MIN_MAF)
    if len(eligible) < spec.n_causal:
        eligible = np.flatnonzero(maf > 0)
    if len(eligible) < spec.n_causal:
        raise UserError(f"only {len(eligible)} polymorphic SNPs for n_causal={spec.n_causal}; simulate more SNPs")
    causal = np.sort(rng.choice(eligible, spec.n_causal, replace=False))
    if spec.effect_distribution == "normal":
        standardized = rng.standard_normal(spec.n_causal)
    else:
        standardized = rng.laplace(0.0, 1.0 / math.sqrt(2.0), spec.n_causal)
    p = freq[causal]
    x = np.vstack([genotypes.train[:, causal], genotypes.validation[:, causal]]).astype(np.float64)
    effects = standardized / np.sqrt(2 * p * (1 - p))
    raw = (x - 2 * p) @ effects
    scale = math.sqrt(spec.h2 / raw.var())
    effects *= scale
    return causal, p, effects, raw * scale


def _write_cohorts(out: Path, spec: SimulationSpec, genotypes: _Genotypes, sample_ids: tuple[np.ndarray, np.ndarray],
                   covariates: pd.DataFrame, observed: np.ndarray, variant_props: dict[str, object]) -> None:
    """train/validation .bed/.bim/.fam (sex and phenotype in the .fam as PLINK codes), phenotype and covariates."""
    n_train, n_total = spec.n_train, spec.n_train + spec.n_validation
    sex = covariates["SEX"].to_numpy() if "SEX" in covariates else np.zeros(n_total, dtype=int)
    fam_sex = np.where(sex == 1, 1, 2) if "SEX" in covariates else np.zeros(n_total, dtype=int)
    if spec.task == Task.BINARY:
        fam_pheno = (observed + 1).astype(str)  # PLINK: 1 control, 2 case
    elif spec.task == Task.REGRESSION:
        fam_pheno = np.array([f"{v:.6f}" for v in observed])
    else:
        fam_pheno = np.full(n_total, "-9")
    for name, matrix, ids, rows in (
        ("train", genotypes.train, sample_ids[0], slice(0, n_train)),
        ("validation", genotypes.validation, sample_ids[1], slice(n_train, n_total)),
    ):
        _write_bed(out / f"{name}.bed", matrix, ids, fam_sex[rows], fam_pheno[rows], variant_props)
        pheno = pd.DataFrame({"ID": ids, "PHENO": observed[rows]})
        pheno.to_csv(out / f"{name}_pheno.csv", index=False, float_format="%.6f")
        covar = covariates.iloc[rows].reset_index(drop=True)
        covar.insert(0, "ID", ids)
        covar.to_csv(out / f"{name}_covar.csv", index=False)


def _m_effective_method(blocks: bool, n_samples: int) -> str:
    pairs = "pairs within LD blocks" if blocks else f"pairs less than {ME_WINDOW_SNPS}-{2 * ME_WINDOW_SNPS} SNPs apart"
    return f"M^2 / sum of bias-corrected r^2 over {pairs}, first {n_samples} training samples (Goddard et al. 2011)"


def _single_threaded_blas():
    """Small r^2 matrix products lose more to BLAS threads spinning than they gain; use one thread."""
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _set_missing(matrix: np.ndarray, rate: float, rng: np.random.Generator) -> None:
    flat = matrix.reshape(-1, order="F")  # a view: the matrix is Fortran-ordered
    chunk = 1 << 24
    for start in range(0, flat.size, chunk):
        n = min(chunk, flat.size - start)
        k = rng.binomial(n, rate)
        flat[start + rng.choice(n, k, replace=False)] = MISSING


def _write_bed(path: Path, matrix: np.ndarray, ids: np.ndarray, sex: np.ndarray, pheno: np.ndarray, variants: dict) -> None:
    from bed_reader import to_bed

    properties = {
        "fid": ids, "iid": ids, "father": np.full(len(ids), "0"), "mother": np.full(len(ids), "0"),
        "sex": sex, "pheno": pheno, **variants,
    }
    to_bed(path, matrix, properties=properties, count_A1=True)


def _realized(
    spec: SimulationSpec, genetic: np.ndarray, covar_part: np.ndarray, liability: np.ndarray,
    observed: np.ndarray, train: slice, validation: slice,
) -> dict:
    realized: dict = {}
    for name, rows in (("train", train), ("validation", validation)):
        total = liability[rows].var()
        realized[f"h2_{name}"] = float(genetic[rows].var() / total)
        realized[f"covariate_r2_{name}"] = float(covar_part[rows].var() / total)
        if spec.task == Task.BINARY:
            realized[f"prevalence_{name}"] = float(observed[rows].mean())
        elif spec.task == Task.MULTICLASS:
            realized[f"class_frequencies_{name}"] = (np.bincount(observed[rows], minlength=spec.n_classes) / len(observed[rows])).tolist()
    return realized


def _expected(spec: SimulationSpec, m_e: float, covar_var: float) -> dict:
    """Accuracy limits of a genetic-only predictor, and of genetics plus the (exactly known) covariates."""
    n, h2 = spec.n_train, spec.h2
    r2 = daetwyler_r2(h2, n, m_e)
    expected: dict = {
        "max_r2_liability": h2,
        "expected_r2_liability": r2,
        "max_r2_liability_with_covariates": h2 + covar_var,
        "expected_r2_liability_with_covariates": r2 + covar_var,
    }
    if spec.task == Task.REGRESSION:
        expected.update(
            max_r2=h2, expected_r2=r2, max_r2_with_covariates=h2 + covar_var,
            expected_r2_with_covariates=r2 + covar_var,
        )
    elif spec.task == Task.BINARY:
        k = spec.prevalence
        z2 = stats.norm.pdf(stats.norm.isf(k)) ** 2
        r2_l = daetwyler_r2(h2 * z2 / (k * (1 - k)), n, m_e) * k * (1 - k) / z2
        expected.update(
            max_auc=wray_auc(h2, k),
            expected_auc=daetwyler_auc(h2, k, n, m_e),
            max_auc_with_covariates=wray_auc(h2 + covar_var, k),
            expected_auc_with_covariates=wray_auc(r2_l + covar_var, k),
            expected_r2_liability_binary=r2_l,
        )
    return expected
