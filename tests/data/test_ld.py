"""--indep-pairwise: hand-built cases and plink2 2.00a3.5 cross-checks."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.data.conftest import EXAMPLE
from genoml_search.data.ld import _sex_chromosome_rows as _RIGHT_SEX_ROWS
from genoml_search.data import ld as ld_module
from genoml_search.data.ld import indep_pairwise
from genoml_search.data.plink import MISSING, read_plink
from genoml_search.data.qc import QCParams, founders_from_samples, run_qc


def _base(n: int = 200, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).binomial(2, 0.3, size=(n, 1)).astype(np.int8)


def _prune(g, window=10, step=1, r2=0.5, chrom=None, pos=None, **kw):
    m = g.shape[1]
    chrom = np.array(["1"] * m) if chrom is None else chrom
    pos = np.arange(1, m + 1) * 1000 if pos is None else pos
    return indep_pairwise(g, chrom, pos, window, step, r2, **kw).tolist()


def test_identical_pair_removes_the_later_variant():
    x = _base()
    other = np.random.default_rng(1).binomial(2, 0.4, size=(200, 1)).astype(np.int8)
    assert _prune(np.hstack([x, other, x])) == [True, True, False]


def test_higher_major_frequency_is_removed():
    x = _base()
    y = x.copy()
    y[np.flatnonzero(y[:, 0] == 1)[:3], 0] = 0  # slightly rarer minor allele, still r^2 > 0.5
    assert _prune(np.hstack([y, x])) == [False, True]
    assert _prune(np.hstack([x, y])) == [True, False]


def test_flipped_allele_is_in_ld():
    x = _base()
    assert _prune(np.hstack([x, (2 - x).astype(np.int8)])) == [True, False]


def test_threshold_is_strict():
    # r^2 = 1 is not > 0.999..., but any pair is > 0 unless it is uncorrelated.
    x = _base()
    assert _prune(np.hstack([x, x]), r2=0.0) == [True, False]
    z = np.array([[0], [2], [0], [2]], dtype=np.int8)
    w = np.array([[0], [0], [2], [2]], dtype=np.int8)  # r = 0 exactly
    assert _prune(np.hstack([z, w]), r2=0.0) == [True, True]


def test_monomorphic_and_all_het_removed_single_variant_chromosome_kept():
    x = _base()
    mono = np.zeros_like(x)
    het = np.ones_like(x)
    g = np.hstack([x, mono, het, mono])
    chrom = np.array(["1", "1", "1", "2"])
    assert _prune(g, chrom=chrom) == [True, False, False, True]
    assert _prune(g, chrom=np.array(["1", "1", "1", "0"]))[3] is False


def test_missing_calls_use_pairwise_complete_samples():
    x = _base()
    y = x.copy()
    y[:100, 0] = MISSING
    noise = np.random.default_rng(3).binomial(2, 0.3, size=(100, 1)).astype(np.int8)
    x2 = x.copy()
    x2[:100] = noise  # x2 differs from y only where y is missing
    assert sum(_prune(np.hstack([x2, y]))) == 1  # r^2 = 1 on the 100 samples called at both
    y_called = y.copy()
    y_called[:100] = np.random.default_rng(4).binomial(2, 0.3, size=(100, 1))
    assert _prune(np.hstack([x2, y_called])) == [True, True]


def test_window_limits_comparisons():
    x = _base()
    fill = np.random.default_rng(5).binomial(2, 0.4, size=(200, 3)).astype(np.int8)
    g = np.hstack([x, fill, x])
    assert _prune(g, window=4, step=1)[4] is True  # 4 variants apart: never in one window
    assert _prune(g, window=5, step=1)[4] is False
    pos = np.array([1, 2, 3, 4, 60_000])
    assert _prune(g, window=50, step=1, pos=pos, window_kb=True)[4] is True
    assert _prune(g, window=60, step=1, pos=pos, window_kb=True)[4] is False


def _qc_then_prune(bfile: Path, window, step, r2, kb):
    data = read_plink(bfile)
    founders = founders_from_samples(data.samples)
    qc = run_qc(data.genotypes, QCParams(), founders=founders)
    g = data.genotypes[qc.sample_keep][:, qc.variant_keep]
    v = data.variants[qc.variant_keep]
    keep = indep_pairwise(g, v.chrom.to_numpy(), v.pos.to_numpy(), window, step, r2, window_kb=kb,
                          founders=founders[qc.sample_keep])
    return set(v.id[keep])


PRUNE_CASES = [("1000", "50", "0.5"), ("50", "5", "0.2"), ("20", "20", "0.8"), ("200kb", "1", "0.3"),
               ("50kb", "1", "0.1")]


@pytest.mark.plink2
@pytest.mark.parametrize("args", PRUNE_CASES)
@pytest.mark.parametrize("which", ["sim", "example"])
def test_prune_matches_plink2(plink2, sim_cohort, tmp_path, args, which):
    bfile = sim_cohort if which == "sim" else EXAMPLE
    out = plink2(bfile, tmp_path / "p", "--mind", "0.1", "--geno", "0.05", "--hwe", "1e-6", "--maf", "0.01",
                 "--indep-pairwise", *args)
    expected = set(Path(str(out) + ".prune.in").read_text().split())
    kb = args[0].endswith("kb")
    ours = _qc_then_prune(bfile, float(args[0].removesuffix("kb")), int(args[1]), float(args[2]), kb)
    assert ours == expected


def test_columns_and_sample_mask_match_a_copied_matrix():
    rng = np.random.default_rng(7)
    base = rng.binomial(2, 0.3, size=(150, 40)).astype(np.int8)
    near_copies = np.where(rng.random((150, 20)) < 0.05, rng.integers(0, 3, (150, 20)), base[:, :20])
    pairs = np.stack([base[:, :20], near_copies], axis=2).reshape(150, 40)  # each column next to its copy
    g = np.hstack([pairs, base[:, 20:]]).astype(np.int8)
    g[rng.random(g.shape) < 0.03] = MISSING
    cols = np.sort(rng.choice(g.shape[1], 45, replace=False))
    rows = rng.random(150) < 0.9
    pos = np.arange(1, 46) * 100
    chrom = np.array(["1"] * 45)
    expected = indep_pairwise(g[rows][:, cols], chrom, pos, 10, 2, 0.3)
    got = indep_pairwise(g, chrom, pos, 10, 2, 0.3, founders=rows, columns=cols, chunk=7)
    assert got.tolist() == expected.tolist()
    assert not got.all()


def test_threads_do_not_change_the_result():
    rng = np.random.default_rng(8)
    base = rng.binomial(2, 0.4, size=(120, 30)).astype(np.int8)
    g = np.repeat(base, 2, axis=1)
    g[rng.random(g.shape) < 0.1] = MISSING
    chrom = np.array(["1"] * 20 + ["2"] * 20 + ["3"] * 20)
    pos = np.tile(np.arange(1, 21) * 100, 3)
    one = indep_pairwise(g, chrom, pos, 8, 3, 0.2, threads=1, chunk=5)
    assert one.tolist() == indep_pairwise(g, chrom, pos, 8, 3, 0.2, threads=3, chunk=5).tolist()
    assert 0 < one.sum() < 60


def test_monomorphic_variants_inside_chunks_with_missing_calls():
    # Monomorphic variants are removed before pruning but still sit in the chunks loaded from the matrix.
    rng = np.random.default_rng(9)
    base = rng.binomial(2, 0.35, size=(100, 12)).astype(np.int8)
    g = np.repeat(base, 3, axis=1)
    g[:, 4::5] = 0
    g[:, 7::9] = 1
    g[rng.random(g.shape) < 0.08] = MISSING
    chrom = np.array(["1"] * g.shape[1])
    pos = np.arange(1, g.shape[1] + 1) * 10
    results = {chunk: indep_pairwise(g, chrom, pos, 9, 2, 0.3, chunk=chunk).tolist() for chunk in (3, 5, 11, 1000)}
    assert len({tuple(r) for r in results.values()}) == 1
    kept = results[1000]
    assert not any(kept[4::5]) and not any(kept[7::9]) and 0 < sum(kept) < 20


def _sex_prune(bfile, params, args, sex_column=True):
    data = read_plink(bfile)
    founders = founders_from_samples(data.samples)
    chrom = data.variants.chrom.to_numpy()
    sex = data.samples.sex.to_numpy() if sex_column else None
    qc = run_qc(data.genotypes, params, founders=founders, chrom=chrom, sex=sex)
    cols = np.flatnonzero(qc.variant_keep)
    kb = args[0].endswith("kb")
    keep = indep_pairwise(data.genotypes, chrom[cols], data.variants.pos.to_numpy()[cols],
                          float(args[0].removesuffix("kb")), int(args[1]), float(args[2]), window_kb=kb,
                          founders=founders & qc.sample_keep, columns=cols, sex=sex)
    return set(data.variants.id.to_numpy()[cols][keep])


SEX_PRUNE_CASES = [("10", "2", "0.2"), ("20", "5", "0.5"), ("5", "1", "0.1"), ("5kb", "1", "0.3")]


@pytest.mark.plink2
@pytest.mark.parametrize("args", SEX_PRUNE_CASES)
def test_prune_matches_plink2_on_sex_chromosomes(plink2, sex_cohort, tmp_path, args):
    flags = ["--geno", "0.05", "--hwe", "1e-3", "--maf", "0.05"]
    out = plink2(sex_cohort, tmp_path / "p", *flags, "--indep-pairwise", *args)
    expected = set(Path(str(out) + ".prune.in").read_text().split())
    params = QCParams(mind=None, geno=0.05, maf=0.05, hwe=1e-3)
    assert _sex_prune(sex_cohort, params, args) == expected
    assert _sex_prune(sex_cohort, params, args, sex_column=False) != expected  # the rules matter here


def _plink2_a3_sex_rows(genotypes, founders, sex, kind):
    """plink2 2.00a3.5's chrX/chrY rows: its founder-ranked male mask read as sample indices (fixed upstream
    in 2023, "founder_nonmale/founder_male are NOT supposed to be collapsed", plink2_ld.cc)."""
    from genoml_search.data import ld, sexchrom

    if kind not in (sexchrom.X, sexchrom.Y):
        return _RIGHT_SEX_ROWS(genotypes, founders, sex, kind)
    is_male = sex[np.flatnonzero(founders)] == sexchrom.MALE
    males, others = np.flatnonzero(is_male), np.flatnonzero(~is_male)
    if kind == sexchrom.X:
        rows = np.concatenate([males, others, others])
        haploid = np.arange(len(rows)) < len(males)
    else:
        rows, haploid = males, np.ones(len(males), dtype=bool)
    return ld._Columns(genotypes, rows, haploid)


@pytest.mark.plink2
def test_prune_after_mind_differs_from_plink2_a3_only_by_its_row_bug(plink2, sex_cohort, tmp_path, monkeypatch):
    # When some samples are not founders or were removed (here by --mind), plink2 2.00a3.5 prunes chrX/chrY
    # on the wrong samples; we use the right ones, as later plink2 versions do.
    args = ("20", "5", "0.5")
    flags = ["--mind", "0.03", "--geno", "0.05", "--hwe", "1e-3", "--maf", "0.05"]
    out = plink2(sex_cohort, tmp_path / "p", *flags, "--indep-pairwise", *args)
    expected = set(Path(str(out) + ".prune.in").read_text().split())
    params = QCParams(mind=0.03, geno=0.05, maf=0.05, hwe=1e-3)
    ours = _sex_prune(sex_cohort, params, args)
    data = read_plink(sex_cohort)
    chrom_of = dict(zip(data.variants.id, data.variants.chrom))
    mismatched = ours ^ expected
    assert len(mismatched) == 14 and {chrom_of[v] for v in mismatched} <= {"23", "24"}
    from genoml_search.data import ld

    monkeypatch.setattr(ld, "_sex_chromosome_rows", _plink2_a3_sex_rows)
    assert _sex_prune(sex_cohort, params, args) == expected


def _ld_blocks(n: int, m: int, seed: int, missing: float) -> np.ndarray:
    """Columns copied from a few base columns with some calls redrawn: LD of every strength, some missing."""
    rng = np.random.default_rng(seed)
    base = rng.binomial(2, rng.uniform(0.05, 0.5, 8), size=(n, 8)).astype(np.int8)
    g = base[:, rng.integers(0, 8, m)]
    g = np.where(rng.random((n, m)) < rng.uniform(0, 0.6, m), rng.binomial(2, 0.3, (n, m)), g).astype(np.int8)
    g[:, rng.integers(0, m, 3)] = 0  # monomorphic
    g[rng.random(g.shape) < missing] = MISSING
    return g


@pytest.mark.skipif(ld_module._ldkernel is None, reason="the compiled LD kernel is not built")
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("missing", [0.0, 0.02, 0.2])
@pytest.mark.parametrize("args", [(12, 3, 0.3, False), (7, 7, 0.1, False), (2.5, 1, 0.5, True)])
def test_compiled_kernel_matches_numpy_path(order, missing, args):
    window, step, r2, kb = args
    g = np.asarray(_ld_blocks(130, 90, seed=len(str(args)) + int(missing * 100), missing=missing), order=order)
    rng = np.random.default_rng(3)
    chrom = np.array(["1"] * 40 + ["X"] * 30 + ["2"] * 20)
    pos = np.concatenate([np.sort(rng.choice(10_000, k, replace=False)) for k in (40, 30, 20)]) + 1
    founders = rng.random(130) < 0.85
    sex = rng.integers(0, 3, 130)
    cols = np.sort(rng.choice(90, 80, replace=False))
    kw = dict(window_kb=kb, founders=founders, columns=cols, sex=sex)
    compiled = indep_pairwise(g, chrom[cols], pos[cols], window, step, r2, compiled=True, **kw)
    numpy_path = indep_pairwise(g, chrom[cols], pos[cols], window, step, r2, compiled=False, chunk=9, **kw)
    assert compiled.tolist() == numpy_path.tolist()
    assert 0 < compiled.sum() < len(cols)


def test_compiled_kernel_requested_but_absent_is_an_error(monkeypatch):
    monkeypatch.setattr(ld_module, "_ldkernel", None)
    g = _ld_blocks(50, 10, seed=1, missing=0.0)
    with pytest.raises(RuntimeError, match="not built"):
        indep_pairwise(g, np.array(["1"] * 10), np.arange(1, 11), 5, 1, 0.5, compiled=True)
    assert indep_pairwise(g, np.array(["1"] * 10), np.arange(1, 11), 5, 1, 0.5).any()  # numpy fallback


@pytest.mark.skipif(ld_module._ldkernel is None, reason="the compiled LD kernel is not built")
def test_compiled_kernel_rejects_windows_outside_the_variants():
    planes = np.zeros((4, 3, 1), dtype=np.uint64)
    zeros = np.zeros(4, dtype=np.int64)
    with pytest.raises(ValueError, match="window bounds"):
        ld_module._ldkernel.prune(planes, 1, zeros, zeros, zeros, 10, np.array([0, 0, 5], dtype=np.int64),
                                  np.ones(4), np.zeros(4, dtype=np.uint8), 0.5, 1.0)


def test_compiled_kernel_is_built_where_a_compiler_exists():
    # The extension is optional at install time; on a machine with a C compiler (CI) it must have been built,
    # or the kernel tests above would skip silently.
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler on this machine: the numpy path is used")
    assert ld_module._ldkernel is not None, "reinstall with `pip install -e .` to build the LD kernel"
