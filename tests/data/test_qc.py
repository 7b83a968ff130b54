"""QC filters: hand-computed cases and plink2 2.00a3.5 cross-checks."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.data.conftest import EXAMPLE
from tests.data.test_hwe import exact_hwe
from genoml_search.data.plink import MISSING, read_plink
from genoml_search.data.qc import (
    QCParams,
    allele_frequency,
    founders_from_samples,
    hwe_exact_pvalues,
    run_qc,
    sample_missing_rate,
    variant_missing_rate,
)


def genotypes_from_counts(het: int, hom0: int, hom2: int, missing: int = 0) -> np.ndarray:
    return np.array([1] * het + [0] * hom0 + [2] * hom2 + [MISSING] * missing, dtype=np.int8)[:, None]


def test_hwe_from_matrix_dedups_and_handles_missing():
    g = np.concatenate([genotypes_from_counts(10, 80, 10, 5), genotypes_from_counts(10, 80, 10, 5),
                        genotypes_from_counts(0, 0, 0, 105)], axis=1)
    p = hwe_exact_pvalues(g)
    assert p[0] == p[1] == pytest.approx(exact_hwe(10, 80, 10), rel=1e-9)
    assert p[2] == 1.0


def test_basic_rates():
    g = np.array([[0, 1, MISSING], [2, MISSING, MISSING]], dtype=np.int8)
    assert sample_missing_rate(g) == pytest.approx([1 / 3, 2 / 3])
    assert variant_missing_rate(g) == pytest.approx([0, 0.5, 1])
    f = allele_frequency(g)
    assert f[:2] == pytest.approx([0.5, 0.5]) and np.isnan(f[2])


def test_thresholds_are_inclusive_like_plink2():
    # 100 samples: maf exactly 0.01 is kept, missing rate exactly 0.05 is kept, 0.06 removed.
    g = np.zeros((100, 5), dtype=np.int8)
    g[:2, 0] = 1  # maf = 2/200 = 0.01: kept
    g[:1, 1] = 1  # maf = 0.005: removed
    g[:5, 2] = MISSING  # missing 0.05: kept
    g[:6, 3] = MISSING  # missing 0.06: removed
    g[:, 4] = MISSING  # all missing: removed by --geno (plink2 gives it frequency 0.5)
    g[10:60, 2:4] = 1
    result = run_qc(g, QCParams(mind=None, geno=0.05, maf=0.01, hwe=None))
    assert result.variant_keep.tolist() == [True, False, True, False, False]
    assert [s["removed"] for s in result.steps] == [2, 1]
    only_maf = run_qc(g, QCParams(mind=None, geno=None, maf=0.01, hwe=None))
    assert only_maf.variant_keep[4]  # all-missing passes --maf, as in plink2


def test_mind_then_variant_filters_on_kept_samples():
    g = np.ones((20, 10), dtype=np.int8)
    g[::2] = 0
    g[0, :2] = MISSING  # 20% missing: removed by --mind 0.1
    g[1, :1] = MISSING  # 10%: kept
    result = run_qc(g, QCParams(mind=0.1, geno=0.0, maf=None, hwe=None))
    assert result.sample_keep.tolist() == [False] + [True] * 19
    # --geno runs on the 19 kept samples: only variant 0 (sample 1 missing) is removed with geno 0.
    assert result.variant_keep.tolist() == [False] + [True] * 9


def test_monomorphic_removed_by_maf():
    g = np.zeros((50, 2), dtype=np.int8)
    g[:25, 1] = 1
    assert run_qc(g, QCParams(mind=None, geno=None, hwe=None)).variant_keep.tolist() == [False, True]


def test_founders_only_frequencies_and_hwe_controls():
    g = np.zeros((40, 1), dtype=np.int8)
    g[30:, 0] = 2  # minor alleles only in non-founders
    founders = np.arange(40) < 30
    assert run_qc(g, QCParams(mind=None, geno=None, hwe=None), founders=founders).variant_keep.tolist() == [False]
    assert run_qc(g, QCParams(mind=None, geno=None, hwe=None)).variant_keep.tolist() == [True]
    # No hets at all: HWE fails on everyone, passes on controls that are all hom.
    h = np.zeros((200, 1), dtype=np.int8)
    h[:100, 0] = 2
    controls = np.arange(200) >= 100
    params = QCParams(mind=None, geno=None, maf=None, hwe=1e-6)
    assert not run_qc(h, params).variant_keep[0]
    only_controls = QCParams(mind=None, geno=None, maf=None, hwe=1e-6, hwe_controls_only=True)
    assert run_qc(h, only_controls, controls=controls).variant_keep[0]


QC_FLAGS = ["--mind", "0.1", "--geno", "0.05", "--hwe", "1e-6", "--maf", "0.01"]


def _plink2_qc(plink2, bfile: Path, out: Path, flags: list[str]) -> tuple[set[str], set[str]]:
    plink2(bfile, out, *flags, "--write-snplist", "--write-samples")
    snps = set(Path(str(out) + ".snplist").read_text().split())
    samples = {line.split()[-1] for line in Path(str(out) + ".id").read_text().splitlines()[1:]}
    return snps, samples


@pytest.mark.plink2
@pytest.mark.parametrize("params, flags", [
    (QCParams(), QC_FLAGS),
    (QCParams(mind=0.02, geno=0.01, maf=0.05, hwe=1e-3), ["--mind", "0.02", "--geno", "0.01", "--hwe", "1e-3",
                                                         "--maf", "0.05"]),
])
def test_qc_matches_plink2_on_simulated_cohort(plink2, sim_cohort, tmp_path, params, flags):
    data = read_plink(sim_cohort)
    result = run_qc(data.genotypes, params, founders=founders_from_samples(data.samples))
    snps, samples = _plink2_qc(plink2, sim_cohort, tmp_path / "qc", flags)
    assert set(data.variants.id[result.variant_keep]) == snps
    assert set(data.samples.iid[result.sample_keep]) == samples
    log = (tmp_path / "qc.log").read_text()
    for step in result.steps:
        if step["step"] == "hwe":
            assert f"--hwe: {step['removed']} variant" in log


@pytest.mark.plink2
@pytest.mark.parametrize("with_pheno", [True, False])
def test_qc_matches_plink2_on_example(plink2, tmp_path, with_pheno):
    bfile = EXAMPLE
    if not with_pheno:
        for suffix in (".bed", ".bim"):
            shutil.copy(str(EXAMPLE) + suffix, tmp_path / f"nopheno{suffix}")
        fam = Path(str(EXAMPLE) + ".fam").read_text().splitlines()
        (tmp_path / "nopheno.fam").write_text("\n".join(" ".join(l.split()[:5] + ["-9"]) for l in fam) + "\n")
        bfile = tmp_path / "nopheno"
    data = read_plink(bfile)
    result = run_qc(data.genotypes, QCParams(), founders=founders_from_samples(data.samples))
    snps, samples = _plink2_qc(plink2, bfile, tmp_path / "qc", QC_FLAGS)
    assert set(data.variants.id[result.variant_keep]) == snps
    assert set(data.samples.iid[result.sample_keep]) == samples
    assert len(data.variants) - len(snps) == 4


@pytest.mark.parametrize("kept_fraction", [0.95, 0.3])
def test_genotype_counts_subsets_match_naive(kept_fraction):
    from genoml_search.data.qc import genotype_counts

    rng = np.random.default_rng(11)
    g = rng.integers(0, 3, size=(300, 50)).astype(np.int8)
    g[rng.random(g.shape) < 0.1] = MISSING
    rows = rng.random(300) < kept_fraction
    cols = np.array([0, 3, 4, 5, 20, 49])
    counts = genotype_counts(g, rows, columns=cols)
    sub = g[rows][:, cols]
    for got, value in zip((counts.hom0, counts.het, counts.hom2, counts.missing), (0, 1, 2, MISSING)):
        assert got.tolist() == (sub == value).sum(axis=0).tolist()
    by_index = genotype_counts(g, np.flatnonzero(rows))
    assert by_index.het.tolist() == (g[rows] == 1).sum(axis=0).tolist()


SEX_QC_CASES = [
    (QCParams(mind=None, geno=0.05, maf=None, hwe=None), ["--geno", "0.05"]),
    (QCParams(mind=None, geno=0.02, maf=None, hwe=None), ["--geno", "0.02"]),
    (QCParams(mind=0.03, geno=None, maf=None, hwe=None), ["--mind", "0.03"]),
    (QCParams(mind=0.05, geno=None, maf=None, hwe=None), ["--mind", "0.05"]),
    (QCParams(mind=None, geno=None, maf=0.2, hwe=None), ["--maf", "0.2"]),
    (QCParams(mind=None, geno=None, maf=0.3, hwe=None), ["--maf", "0.3"]),
    (QCParams(mind=None, geno=None, maf=None, hwe=0.05), ["--hwe", "0.05"]),
    (QCParams(mind=None, geno=None, maf=None, hwe=1e-3), ["--hwe", "1e-3"]),
    (QCParams(mind=0.04, geno=0.04, maf=0.1, hwe=0.01), ["--mind", "0.04", "--geno", "0.04", "--hwe", "0.01",
                                                        "--maf", "0.1"]),
]


@pytest.mark.plink2
@pytest.mark.parametrize("params, flags", SEX_QC_CASES)
def test_qc_matches_plink2_on_sex_chromosomes(plink2, sex_cohort, tmp_path, params, flags):
    data = read_plink(sex_cohort)
    founders = founders_from_samples(data.samples)
    result = run_qc(data.genotypes, params, founders=founders, chrom=data.variants.chrom.to_numpy(),
                    sex=data.samples.sex.to_numpy())
    snps, samples = _plink2_qc(plink2, sex_cohort, tmp_path / "qc", flags)
    assert set(data.variants.id[result.variant_keep]) == snps
    assert set(data.samples.iid[result.sample_keep]) == samples


@pytest.mark.parametrize("params", [QCParams(mind=None, geno=0.05, maf=None, hwe=None),
                                    QCParams(mind=0.03, geno=None, maf=None, hwe=None),
                                    QCParams(mind=None, geno=None, maf=0.3, hwe=None),
                                    QCParams(mind=None, geno=None, maf=None, hwe=0.05)])
def test_sex_chromosome_rules_change_each_filter(sex_cohort, params):
    # So the plink2 cross-checks above can fail: each filter keeps another set when chrX/chrY are autosomes.
    data = read_plink(sex_cohort)
    founders = founders_from_samples(data.samples)
    aware = run_qc(data.genotypes, params, founders=founders, chrom=data.variants.chrom.to_numpy(),
                   sex=data.samples.sex.to_numpy())
    as_autosomes = run_qc(data.genotypes, params, founders=founders)
    changed = (aware.variant_keep != as_autosomes.variant_keep).sum() + (aware.sample_keep != as_autosomes.sample_keep).sum()
    assert changed > 0


@pytest.mark.parametrize("n_samples", [1, 7, 300])
def test_compiled_counts_match_the_numpy_path(monkeypatch, n_samples):
    from genoml_search.data import qc as qc_module

    if qc_module._qckernel is None:
        pytest.skip("the compiled QC kernel is not built")
    rng = np.random.default_rng(n_samples)
    g = rng.integers(0, 3, (n_samples, 53)).astype(np.int8)
    g[rng.random(g.shape) < 0.1] = MISSING
    column_major = np.asfortranarray(g)
    compiled_missing, numpy_missing = np.zeros(n_samples, np.int64), np.zeros(n_samples, np.int64)
    compiled = qc_module._block_counts(column_major, compiled_missing)
    monkeypatch.setattr(qc_module, "_qckernel", None)
    expected = qc_module._block_counts(column_major, numpy_missing)
    assert compiled.tolist() == expected.tolist()
    assert compiled_missing.tolist() == numpy_missing.tolist() == (g == MISSING).sum(axis=1).tolist()
    assert compiled[3].tolist() == (g == MISSING).sum(axis=0).tolist()


def test_qc_is_the_same_on_row_and_column_major_matrices():
    rng = np.random.default_rng(11)
    g = rng.binomial(2, rng.uniform(0.001, 0.5, 400), size=(250, 400)).astype(np.int8)
    g[rng.random(g.shape) < 0.04] = MISSING
    g[:10, :] = MISSING  # samples that --mind removes
    params = QCParams(mind=0.1, geno=0.05, maf=0.02, hwe=1e-4)
    founders = rng.random(250) < 0.9
    rows = run_qc(g, params, founders=founders)
    columns = run_qc(np.asfortranarray(g), params, founders=founders)
    assert rows.sample_keep.tolist() == columns.sample_keep.tolist()
    assert rows.variant_keep.tolist() == columns.variant_keep.tolist()
    assert 0 < columns.variant_keep.sum() < 400 and not columns.sample_keep[:10].any()


def test_compiled_qc_kernel_is_built_where_a_compiler_exists():
    from genoml_search.data import qc as qc_module

    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler on this machine: the numpy path is used")
    assert qc_module._qckernel is not None, "reinstall with `pip install -e .` to build the QC kernel"
