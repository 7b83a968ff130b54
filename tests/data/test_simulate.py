from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from genoml_search.data import simulate as sim
from genoml_search.data.plink import MISSING, read_plink
from genoml_search.data.simulate import (
    SimulationSpec,
    daetwyler_auc,
    daetwyler_r2,
    simulate_cohorts,
    simulate_tiny,
    wray_auc,
)
from genoml_search.errors import UserError

TINY = SimulationSpec(n_train=200, n_validation=50, n_snps=500)


def r2_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    za = (a - a.mean(0)) / a.std(0)
    zb = (b - b.mean(0)) / b.std(0)
    return (za.T @ zb / len(a)) ** 2


def adjacent_r2(g: np.ndarray) -> np.ndarray:
    """r^2 between each SNP and the next one (nan next to a monomorphic SNP)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (g - g.mean(0)) / g.std(0)
    return np.mean(z[:, :-1] * z[:, 1:], axis=0) ** 2


def test_tiny_cohort_is_fast_and_consistent(tmp_path: Path) -> None:
    started = time.perf_counter()
    truth = simulate_cohorts(TINY, tmp_path / "sim")
    assert time.perf_counter() - started < 5.0  # ~0.2 s on an idle machine
    out = tmp_path / "sim"
    expected = {f"{c}{s}" for c in ("train", "validation") for s in (".bed", ".bim", ".fam", "_pheno.csv", "_covar.csv")}
    assert {p.name for p in out.iterdir()} == expected | {"truth.json", ".genoml-search.json"}  # marker: ours
    train, val = read_plink(out / "train"), read_plink(out / "validation")
    assert train.genotypes.shape == (200, 500) and val.genotypes.shape == (50, 500)
    assert set(np.unique(train.genotypes)) <= {0, 1, 2}
    pd.testing.assert_frame_equal(train.variants, val.variants)
    variants = train.variants
    assert variants["id"].is_unique
    assert sorted(variants["chrom"].astype(int).unique()) == [1, 2]
    for _, group in variants.groupby("chrom"):
        assert (np.diff(group["pos"].to_numpy()) > 0).all()
    assert (variants["counted_allele"] != variants["other_allele"]).all()
    assert not set(train.samples["iid"]) & set(val.samples["iid"])
    for name, data in (("train", train), ("validation", val)):
        pheno = pd.read_csv(out / f"{name}_pheno.csv")
        covar = pd.read_csv(out / f"{name}_covar.csv")
        assert list(pheno.columns) == ["ID", "PHENO"] and list(covar.columns) == ["ID", "AGE", "SEX"]
        assert (pheno["ID"] == data.samples["iid"]).all() and (covar["ID"] == data.samples["iid"]).all()
        assert set(pheno["PHENO"]) <= {0, 1}
        assert (data.samples["pheno"].astype(int) == pheno["PHENO"] + 1).all()  # .fam: 1 control, 2 case
        assert (data.samples["sex"].astype(int) == np.where(covar["SEX"] == 1, 1, 2)).all()
    on_disk = json.loads((out / "truth.json").read_text())
    assert on_disk["causal_snps"] == truth["causal_snps"]
    assert len(truth["causal_snps"]) == len(truth["causal_effects"]) == 100
    assert set(truth["causal_snps"]) <= set(variants["id"])
    assert SimulationSpec(**on_disk["spec"]) == TINY
    assert 0.5 < truth["expected"]["expected_auc"] < truth["expected"]["max_auc"] < 1


def test_simulate_tiny(tmp_path: Path) -> None:
    truth = simulate_tiny(tmp_path / "t", task="regression", seed=2)
    assert truth["spec"]["n_snps"] == 500 and truth["spec"]["task"] == "regression"
    assert len(truth["causal_snps"]) == 20
    assert read_plink(tmp_path / "t" / "validation").genotypes.shape == (50, 500)


def test_effects_are_per_counted_allele_and_h2_is_realized(tmp_path: Path) -> None:
    spec = SimulationSpec(n_train=3000, n_validation=500, n_snps=1000, h2=0.4, n_causal=30, task="regression",
                          covariate_effects=(), seed=3)
    truth = simulate_cohorts(spec, tmp_path / "sim")
    data = read_plink(tmp_path / "sim" / "train")
    columns = data.variants.set_index("id").index.get_indexer(truth["causal_snps"])
    genetic = truth["liability_intercept"] + data.genotypes[:, columns] @ np.array(truth["causal_effects"])
    y = pd.read_csv(tmp_path / "sim" / "train_pheno.csv")["PHENO"].to_numpy()
    assert abs(genetic.mean()) < 0.05
    # Without covariates the phenotype is the genetic value rebuilt from truth.json plus noise.
    assert np.var(genetic) / np.var(y) == pytest.approx(truth["realized"]["h2_train"], rel=1e-6)
    assert np.var(y - genetic) == pytest.approx(truth["noise_variance"], rel=0.1)
    assert truth["realized"]["h2_train"] == pytest.approx(0.4, abs=0.05)
    assert np.var(y) == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("prevalence", [0.1, 0.5])
def test_prevalence_is_close_to_k(tmp_path: Path, prevalence: float) -> None:
    spec = SimulationSpec(n_train=3000, n_validation=200, n_snps=300, n_causal=20, prevalence=prevalence, seed=1)
    truth = simulate_cohorts(spec, tmp_path / "sim")
    y = pd.read_csv(tmp_path / "sim" / "train_pheno.csv")["PHENO"]
    tolerance = 4 * np.sqrt(prevalence * (1 - prevalence) / 3000)
    assert y.mean() == pytest.approx(prevalence, abs=tolerance)
    assert truth["realized"]["prevalence_train"] == pytest.approx(y.mean())
    assert truth["realized"]["h2_train"] == pytest.approx(0.3, abs=0.05)


def test_multiclass_has_equal_frequency_classes(tmp_path: Path) -> None:
    spec = SimulationSpec(n_train=3000, n_validation=100, n_snps=300, n_causal=20, task="multiclass", n_classes=4)
    truth = simulate_cohorts(spec, tmp_path / "sim")
    y = pd.read_csv(tmp_path / "sim" / "train_pheno.csv")["PHENO"]
    assert sorted(y.unique()) == [0, 1, 2, 3]
    assert np.allclose(y.value_counts(normalize=True).sort_index(), 0.25, atol=0.04)
    assert len(truth["class_thresholds"]) == 3


def test_ld_within_blocks_none_across(tmp_path: Path) -> None:
    spec = SimulationSpec(n_train=1000, n_validation=10, n_snps=2000, seed=5)
    truth = simulate_cohorts(spec, tmp_path / "sim")
    data = read_plink(tmp_path / "sim" / "train")
    g = data.genotypes.astype(np.float64)
    keep = g.std(0) > 0
    block = np.searchsorted(truth["ld_block_starts"], np.arange(g.shape[1]), side="right")
    both = keep[:-1] & keep[1:]
    adjacent = adjacent_r2(g)[both]
    same_block = (block[:-1] == block[1:])[both]
    assert adjacent[same_block].mean() > 0.15
    assert adjacent[~same_block].mean() < 0.01  # neighbours across a block boundary: unlinked
    chrom = data.variants["chrom"].to_numpy()
    across = r2_matrix(g[:, keep & (chrom == "1")][:, :200], g[:, keep & (chrom == "2")][:, :200])
    assert across.mean() < 0.003  # E[r^2] = 1/n for unlinked SNPs
    maf = np.minimum(g.mean(0) / 2, 1 - g.mean(0) / 2)
    assert maf.min() < 0.03 and maf.max() > 0.45 and (maf < 0.05).mean() > 0.05
    assert 0.05 * spec.n_snps < truth["m_effective"] < spec.n_snps


def test_m_effective_agrees_with_the_genomic_relationship_estimate(tmp_path: Path) -> None:
    """Goddard (2009): for unrelated samples the off-diagonal GRM entries have variance 1 / M_e, an
    estimate independent of the LD-block sum that truth.json uses (and of the blocks' boundaries)."""
    spec = SimulationSpec(n_train=1500, n_validation=10, n_snps=4000, seed=11)
    truth = simulate_cohorts(spec, tmp_path / "sim")
    g = read_plink(tmp_path / "sim" / "train").genotypes.astype(np.float64)
    g = g[:, g.std(0) > 0]
    z = (g - g.mean(0)) / g.std(0)
    grm = z @ z.T / z.shape[1]
    from_grm = 1.0 / grm[np.triu_indices_from(grm, 1)].var()
    assert truth["m_effective"] == pytest.approx(from_grm, rel=0.05)  # 883 vs 885 here
    assert truth["m_effective"] < 0.5 * spec.n_snps  # the blocks' LD is strong enough to matter


def identity_by_state_fraction(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Fraction of identical genotype calls for every pair (rows of a x rows of b)."""
    same = sum((a == v).astype(np.float32) @ (b == v).astype(np.float32).T for v in (0, 1, 2))
    return same / a.shape[1]


def test_a_block_without_recombination_is_copied_founders() -> None:
    # a Poisson draw of no switch point (short blocks, now and then) once crashed the whole simulation
    rng = np.random.default_rng(0)
    g = sim._block_genotypes(rng, 40, np.array([0, 100, 200, 300]), switch_rate=0.0)
    assert g.shape == (4, 40) and g.dtype == np.int8 and g.min() >= 0 and g.max() <= 2


def test_the_seed_that_drew_no_switch_point_simulates(tmp_path: Path) -> None:
    truth = simulate_cohorts(SimulationSpec(n_train=2000, n_validation=1000, n_snps=10_000, h2=0.5, n_causal=100,
                                            task="binary", seed=1310), tmp_path / "s")
    assert len(truth["causal_snps"]) == 100


def test_validation_is_unrelated_to_training(tmp_path: Path) -> None:
    simulate_cohorts(SimulationSpec(n_train=300, n_validation=100, n_snps=2000), tmp_path / "sim")
    train = read_plink(tmp_path / "sim" / "train").genotypes
    val = read_plink(tmp_path / "sim" / "validation").genotypes
    assert identity_by_state_fraction(train, val).max() < 0.95
    assert identity_by_state_fraction(val, val).diagonal().min() == 1.0  # the check sees a duplicate
    off_diagonal = identity_by_state_fraction(train, train)[~np.eye(300, dtype=bool)]
    assert off_diagonal.max() < 0.95


def test_deterministic_under_seed(tmp_path: Path) -> None:
    a = simulate_cohorts(TINY, tmp_path / "a")
    b = simulate_cohorts(TINY, tmp_path / "b")
    c = simulate_cohorts(SimulationSpec(n_train=200, n_validation=50, n_snps=500, seed=1), tmp_path / "c")
    for name in ("train.bed", "train.bim", "validation.fam", "train_pheno.csv", "validation_covar.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "train.bed").read_bytes() != (tmp_path / "c" / "train.bed").read_bytes()
    a.pop("seconds"), b.pop("seconds")
    assert a == b and a["causal_snps"] != c["causal_snps"]


def test_refuses_non_empty_directory_and_writes_atomically(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "sim"
    out.mkdir()
    simulate_cohorts(TINY, out)  # an empty directory is fine
    with pytest.raises(UserError, match="not empty"):
        simulate_cohorts(TINY, out)
    truth = simulate_cohorts(SimulationSpec(n_train=200, n_validation=50, n_snps=500, seed=7), out, overwrite=True)
    assert json.loads((out / "truth.json").read_text())["spec"]["seed"] == 7 == truth["spec"]["seed"]

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sim, "_write_bed", fail)
    with pytest.raises(RuntimeError):
        simulate_cohorts(TINY, tmp_path / "new")
    with pytest.raises(RuntimeError):
        simulate_cohorts(TINY, out, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim"]  # no partial output, no temp dirs
    assert json.loads((out / "truth.json").read_text())["spec"]["seed"] == 7


@pytest.mark.parametrize(
    "changes",
    [{"h2": 1.0}, {"task": "survival"}, {"n_causal": 0}, {"ld_model": "hapgen"}, {"prevalence": 0},
     {"covariate_effects": (("AGE", 0.1),)}, {"effect_distribution": "cauchy"}, {"missing_rate": 1.0}],
)
def test_invalid_spec_is_a_user_error(changes: dict) -> None:
    with pytest.raises(UserError):
        SimulationSpec(**changes)


def test_missing_rate(tmp_path: Path) -> None:
    plain = simulate_cohorts(TINY, tmp_path / "a")
    holes = simulate_cohorts(SimulationSpec(n_train=200, n_validation=50, n_snps=500, missing_rate=0.05), tmp_path / "b")
    g = read_plink(tmp_path / "b" / "train").genotypes
    assert (g == MISSING).mean() == pytest.approx(0.05, abs=0.005)
    full = read_plink(tmp_path / "a" / "train").genotypes
    observed = g != MISSING
    assert (g[observed] == full[observed]).all()  # missingness masks calls, it does not change them
    assert (tmp_path / "a" / "train_pheno.csv").read_text() == (tmp_path / "b" / "train_pheno.csv").read_text()
    assert plain["causal_effects"] == holes["causal_effects"]


def test_wray_auc_matches_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    n, h2, k = 200_000, 0.3, 0.2
    g = rng.standard_normal(n) * np.sqrt(h2)
    case = g + rng.standard_normal(n) * np.sqrt(1 - h2) > stats.norm.isf(k)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(case, g) == pytest.approx(wray_auc(h2, k), abs=0.005)
    assert wray_auc(0.0, k) == 0.5
    assert daetwyler_r2(0.3, 10**9, 1000) == pytest.approx(0.3, rel=1e-4)
    assert daetwyler_auc(0.3, k, 10**9, 1000) == pytest.approx(wray_auc(0.3, k), abs=1e-4)
    assert 0.5 < daetwyler_auc(0.3, k, 1000, 1000) < daetwyler_auc(0.3, k, 5000, 1000) < wray_auc(0.3, k)


def _standardized(train: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, sd = train.mean(0), train.std(0)
    sd[sd == 0] = 1
    return (train - mean) / sd, (val - mean) / sd


def test_linear_models_reach_but_do_not_beat_the_limits(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import r2_score, roc_auc_score

    common = dict(n_train=2000, n_validation=1000, n_snps=2000, h2=0.5, n_causal=40, covariate_effects=(), seed=11)
    truth = simulate_cohorts(SimulationSpec(task="binary", **common), tmp_path / "bin")
    x, xv = _standardized(read_plink(tmp_path / "bin" / "train").genotypes.astype(np.float32),
                          read_plink(tmp_path / "bin" / "validation").genotypes.astype(np.float32))
    y = pd.read_csv(tmp_path / "bin" / "train_pheno.csv")["PHENO"].to_numpy()
    yv = pd.read_csv(tmp_path / "bin" / "validation_pheno.csv")["PHENO"].to_numpy()
    model = LogisticRegression(C=0.002, max_iter=300).fit(x, y)
    auc = roc_auc_score(yv, model.predict_proba(xv)[:, 1])
    assert 0.6 < auc < truth["expected"]["max_auc"] + 0.03
    shuffled = LogisticRegression(C=0.002, max_iter=300).fit(x, np.random.default_rng(0).permutation(y))
    assert roc_auc_score(yv, shuffled.predict_proba(xv)[:, 1]) == pytest.approx(0.5, abs=0.06)

    truth = simulate_cohorts(SimulationSpec(task="regression", **common), tmp_path / "reg")
    x, xv = _standardized(read_plink(tmp_path / "reg" / "train").genotypes.astype(np.float32),
                          read_plink(tmp_path / "reg" / "validation").genotypes.astype(np.float32))
    y = pd.read_csv(tmp_path / "reg" / "train_pheno.csv")["PHENO"].to_numpy()
    yv = pd.read_csv(tmp_path / "reg" / "validation_pheno.csv")["PHENO"].to_numpy()
    r2 = r2_score(yv, Ridge(alpha=2000).fit(x, y).predict(xv))
    assert 0.1 < r2 < truth["expected"]["max_r2"] + 0.05
    shuffled_r2 = r2_score(yv, Ridge(alpha=2000).fit(x, np.random.default_rng(0).permutation(y)).predict(xv))
    assert shuffled_r2 < 0.01


def test_msprime_model(tmp_path: Path) -> None:
    pytest.importorskip("msprime", reason="msprime is optional (pip install genoml-search[simulate])")
    truth = simulate_cohorts(SimulationSpec(n_train=300, n_validation=50, n_snps=600, ld_model="msprime"), tmp_path / "s")
    data = read_plink(tmp_path / "s" / "train")
    assert data.genotypes.shape == (300, 600) and truth["ld_block_starts"] is None
    g = data.genotypes.astype(np.float64)
    near = adjacent_r2(g[:, :300]).mean()
    far = r2_matrix(g[:, :100], g[:, 300:400]).mean()  # different chromosomes
    assert near > 0.05 > far
    assert 0 < truth["m_effective"] < 600
