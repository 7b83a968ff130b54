"""KING-robust kinship: plink2 cross-checks, a brute-force reference, relatives, groups and cross-cohort counts."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoml_search.data.kinship import (
    KING_DUPLICATE,
    KING_FIRST,
    KING_SECOND,
    KING_THIRD,
    cross_cohort_relatedness,
    king_degree,
    king_kinship,
    king_variant_mask,
    related_pairs,
    relatedness_groups,
)
from genoml_search.data.plink import MISSING, read_plink
from genoml_search.errors import UserError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "genoml2-discrete"
PLINK2 = shutil.which("plink2")
needs_plink2 = pytest.mark.skipif(PLINK2 is None, reason="plink2 is not installed (apt-get install plink2)")


# --- simulated families -------------------------------------------------------------------------------------


def _transmit(rng: np.random.Generator, parent: np.ndarray) -> np.ndarray:
    """One allele per SNP from a parent's genotype (unlinked SNPs): 0 -> 0, 2 -> 1, 1 -> coin flip."""
    return np.where(parent == 1, rng.integers(0, 2, parent.shape), parent // 2)


def simulate_families(seed: int = 1, n_snps: int = 3000, missing_rate: float = 0.02) -> tuple[np.ndarray, dict]:
    """Unrelated founders, two nuclear families, a grandchild, a near-duplicate, and random missing calls.

    Returns the int8 genotypes and a dict naming sample indices: founders f0..f7 (f0 x f1 and f2 x f3 are
    couples), children c0, c1 (of f0 x f1) and c2, c3 (of f2 x f3), grandchild g0 (of c0 x c2), duplicate d0
    (of f4, 1% calls flipped) and 20 unrelated samples u0..u19.
    """
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.5, n_snps)
    founders = rng.binomial(2, p, size=(28, n_snps))  # f0..f7, then u0..u19
    names = {f"f{i}": founders[i] for i in range(8)} | {f"u{i}": founders[8 + i] for i in range(20)}

    def child(a: str, b: str) -> np.ndarray:
        return _transmit(rng, names[a]) + _transmit(rng, names[b])

    names["c0"], names["c1"] = child("f0", "f1"), child("f0", "f1")
    names["c2"], names["c3"] = child("f2", "f3"), child("f2", "f3")
    names["g0"] = child("c0", "c2")
    duplicate = names["f4"].copy()
    flip = rng.random(n_snps) < 0.01
    duplicate[flip] = (duplicate[flip] + 1) % 3
    names["d0"] = duplicate
    order = list(names)
    genotypes = np.stack([names[k] for k in order]).astype(np.int8)
    genotypes[rng.random(genotypes.shape) < missing_rate] = MISSING
    return genotypes, {name: i for i, name in enumerate(order)}


def brute_force_king(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pair-by-pair KING-robust from its definition (slow; small inputs only)."""
    out = np.empty((len(a), len(b)))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            ok = (x != MISSING) & (y != MISSING)
            x1, y1 = x[ok], y[ok]
            ibs0 = np.sum(np.abs(x1.astype(int) - y1) == 2)
            hethet = np.sum((x1 == 1) & (y1 == 1))
            het_hom = np.sum((x1 == 1) & (y1 != 1))
            hom_het = np.sum((x1 != 1) & (y1 == 1))
            with np.errstate(divide="ignore", invalid="ignore"):
                out[i, j] = 0.5 - (4.0 * ibs0 + het_hom + hom_het) / (4.0 * (hethet + min(het_hom, hom_het)))
    return out


# --- plink2 helpers -----------------------------------------------------------------------------------------


def write_bed(prefix: Path, genotypes: np.ndarray, chrom: list[str] | None = None) -> Path:
    from bed_reader import to_bed

    n, m = genotypes.shape
    to_bed(
        prefix.with_suffix(".bed"),
        genotypes,
        properties={
            "iid": [f"s{i}" for i in range(n)],
            "fid": [f"s{i}" for i in range(n)],
            "chromosome": chrom or ["1"] * m,
            "sid": [f"v{j}" for j in range(m)],
            "bp_position": np.arange(1, m + 1) * 1000,
            "allele_1": ["A"] * m,
            "allele_2": ["G"] * m,
        },
        num_threads=1,
    )
    return prefix


def plink2_king(prefix: Path, out: Path) -> tuple[np.ndarray, pd.DataFrame]:
    """plink2's full double-precision matrix (--make-king square bin) and its table (--make-king-table)."""
    subprocess.run(
        [PLINK2, "--bfile", str(prefix), "--make-king", "square", "bin", "--make-king-table", "--threads", "1",
         "--out", str(out)],
        check=True, capture_output=True,
    )
    n = sum(1 for _ in open(out.with_suffix(".king.id"))) - 1
    matrix = np.fromfile(out.with_suffix(".king.bin"), dtype=np.float64).reshape(n, n)
    return matrix, pd.read_csv(out.with_suffix(".kin0"), sep="\t")


def assert_table_matches(ours: np.ndarray, table: pd.DataFrame) -> None:
    """plink2's .kin0 prints 6 significant digits: compare at that precision, row by row."""
    index = {f"s{i}": i for i in range(len(ours))}
    i = table["IID1"].map(index).to_numpy()
    j = table["IID2"].map(index).to_numpy()
    assert len(table) == len(ours) * (len(ours) - 1) // 2
    np.testing.assert_allclose(ours[i, j], table["KINSHIP"].to_numpy(), rtol=1e-5, atol=1e-6)


# --- tests --------------------------------------------------------------------------------------------------


@pytest.mark.plink2
@needs_plink2
def test_matches_plink2_on_bundled_example(tmp_path: Path) -> None:
    data = read_plink(EXAMPLE / "training")
    ours = king_kinship(data.genotypes)
    matrix, table = plink2_king(EXAMPLE / "training", tmp_path / "king")
    np.testing.assert_array_equal(ours, matrix)  # same integer counts, same double arithmetic
    iid_to_row = {iid: k for k, iid in enumerate(data.samples["iid"])}
    i, j = table["IID1"].map(iid_to_row), table["IID2"].map(iid_to_row)
    np.testing.assert_allclose(ours[i, j], table["KINSHIP"], rtol=1e-5, atol=1e-6)


@pytest.mark.plink2
@needs_plink2
def test_matches_plink2_on_families_with_missing_calls_and_chrx(tmp_path: Path) -> None:
    genotypes, _ = simulate_families()
    chrom = ["1"] * 2000 + ["2"] * 900 + ["X"] * 100  # plink2 drops chrX from KING; so must we
    write_bed(tmp_path / "fam", genotypes, chrom)
    matrix, table = plink2_king(tmp_path / "fam", tmp_path / "king")
    ours = king_kinship(genotypes[:, king_variant_mask(chrom)])
    np.testing.assert_array_equal(ours, matrix)
    assert_table_matches(ours, table)
    assert not np.array_equal(ours, king_kinship(genotypes))  # the chrX SNPs did matter


def test_equals_brute_force_definition_with_missing_calls() -> None:
    rng = np.random.default_rng(5)
    a = rng.binomial(2, rng.uniform(0.02, 0.5, 300), size=(17, 300)).astype(np.int8)
    a[rng.random(a.shape) < 0.1] = MISSING
    a[:, :20] = rng.integers(0, 3, (17, 20))  # some SNPs without missing calls (the fast path)
    a[3, :] = np.where(a[3] == 1, 0, a[3])  # a sample without heterozygotes: undefined against some others
    np.testing.assert_array_equal(king_kinship(a)[~np.eye(17, dtype=bool)],
                                  brute_force_king(a, a)[~np.eye(17, dtype=bool)])
    b = a[[1, 4, 9]].copy()
    b[rng.random(b.shape) < 0.05] = MISSING
    np.testing.assert_array_equal(king_kinship(a, b), brute_force_king(a, b))


@pytest.mark.parametrize(("block_size", "snp_chunk"), [(1, 7), (5, 256), (64, 1000), (4096, None)])
def test_blocking_does_not_change_results(block_size: int, snp_chunk: int | None) -> None:
    genotypes, _ = simulate_families(seed=3, n_snps=600)
    reference = king_kinship(genotypes)
    np.testing.assert_array_equal(king_kinship(genotypes, block_size=block_size, snp_chunk=snp_chunk), reference)
    cross = king_kinship(genotypes[:20], genotypes[20:], block_size=block_size, snp_chunk=snp_chunk)
    np.testing.assert_array_equal(cross, reference[:20, 20:])


def test_cross_cohort_ignores_columns_missing_only_in_the_other_cohort() -> None:
    genotypes, _ = simulate_families(seed=4, n_snps=500, missing_rate=0.0)
    other = genotypes[:5].copy()
    other[0, :50] = MISSING  # complete in the first cohort, not in the second
    np.testing.assert_array_equal(king_kinship(genotypes, other), brute_force_king(genotypes, other))


def test_related_pairs_label_known_relationships() -> None:
    genotypes, idx = simulate_families()
    kinship = king_kinship(genotypes)
    ids = list(idx)
    pairs = related_pairs(kinship, ids_a=ids)
    assert list(pairs.columns) == ["id1", "id2", "kinship", "degree"]
    found = {frozenset((a, b)): d for a, b, d in pairs[["id1", "id2", "degree"]].itertuples(index=False)}
    expected = {
        ("f4", "d0"): "duplicate/MZ twin",
        ("f0", "c0"): "1st", ("f1", "c1"): "1st", ("c0", "c1"): "1st", ("c2", "c3"): "1st",
        ("c0", "g0"): "1st", ("c2", "g0"): "1st",
        ("f0", "g0"): "2nd", ("f3", "g0"): "2nd", ("c1", "g0"): "2nd", ("c3", "g0"): "2nd",
    }
    for (a, b), degree in expected.items():
        assert found.get(frozenset((a, b))) == degree, (a, b, kinship[idx[a], idx[b]])
    # unrelated founders and the couples are not reported
    assert not any(name.startswith("u") for pair in found for name in pair)
    assert frozenset(("f0", "f1")) not in found
    assert pairs["kinship"].is_monotonic_decreasing
    assert (pairs["kinship"] > KING_SECOND).all()
    assert king_degree(kinship[idx["f0"], idx["f4"]]) == "unrelated"


def test_related_pairs_between_cohorts_and_ids() -> None:
    kinship = np.array([[0.5, 0.01, 0.2], [0.09, -0.3, np.nan]])
    pairs = related_pairs(kinship, 0.0884, ids_a=["a", "b"], ids_b=["x", "y", "z"])
    assert pairs[["id1", "id2"]].values.tolist() == [["a", "x"], ["a", "z"], ["b", "x"]]
    assert pairs["degree"].tolist() == ["duplicate/MZ twin", "1st", "2nd"]
    within = related_pairs(np.array([[0.5, 0.3], [0.3, 0.5]]))
    assert within[["id1", "id2"]].values.tolist() == [[0, 1]]
    with pytest.raises(UserError, match="IDs"):
        related_pairs(kinship, ids_a=["a"], ids_b=["x", "y", "z"])


def test_degree_cut_offs() -> None:
    values = [0.36, KING_DUPLICATE, 0.18, KING_FIRST, 0.09, KING_SECOND, 0.045, KING_THIRD, -0.1, np.nan]
    assert king_degree(values).tolist() == [
        "duplicate/MZ twin", "1st", "1st", "2nd", "2nd", "3rd", "3rd", "unrelated", "unrelated", "unrelated"
    ]


def test_relatedness_groups_keep_families_together() -> None:
    from sklearn.model_selection import GroupKFold

    genotypes, idx = simulate_families()
    groups = relatedness_groups(king_kinship(genotypes))
    family_a = [idx[k] for k in ("f0", "f1", "c0", "c1", "f2", "f3", "c2", "c3", "g0")]  # joined by g0
    assert len(set(groups[family_a])) == 1
    assert groups[idx["f4"]] == groups[idx["d0"]] != groups[idx["f0"]]
    singles = [idx[f"u{i}"] for i in range(20)] + [idx[k] for k in ("f5", "f6", "f7")]
    assert len(set(groups[singles])) == len(singles)
    assert groups.tolist()[:1] == [0] and set(groups) == set(range(groups.max() + 1))
    for train, test in GroupKFold(n_splits=5).split(genotypes, groups=groups):
        assert not set(groups[train]) & set(groups[test])


def test_cross_cohort_counts() -> None:
    genotypes, idx = simulate_families()
    train_names = [f"f{i}" for i in range(8)] + [f"u{i}" for i in range(10)]
    other_names = ["d0", "c0", "g0"] + [f"u{i}" for i in range(10, 20)]
    train = genotypes[[idx[k] for k in train_names]]
    other = genotypes[[idx[k] for k in other_names]]
    summary = cross_cohort_relatedness(train, other)
    assert summary["n_samples"] == 13
    assert summary["n_duplicates"] == 1
    assert summary["n_related"] == 3  # the duplicate, a child and a grandchild
    assert summary["threshold"] == pytest.approx(0.0884, abs=1e-4)
    assert summary["n_by_degree"] == {"duplicate/MZ twin": 1, "1st": 1, "2nd": 1, "3rd": 0, "unrelated": 10}
    assert summary["closest_train_index"][0] == train_names.index("f4")
    assert summary["closest_train_index"][1] in (train_names.index("f0"), train_names.index("f1"))
    assert len(summary["max_kinship"]) == 13 and summary["max_kinship"][0] > KING_DUPLICATE
    import json

    json.dumps(summary)  # JSON-friendly


def test_genoml2_validation_cohort_duplicates_training_samples() -> None:
    """The GenoML2 example's 100 validation samples are copies of 100 training samples.

    Read naively they differ from their closest training sample at 1-9 of 500 SNPs; all of those differences
    are the 9 SNPs whose alleles are swapped in validation.bim. Harmonized, every one is an exact copy of a
    distinct training sample (kinship 0.5, same .fam sex and phenotype); even unharmonized, KING says duplicate.
    """
    train, valid = read_plink(EXAMPLE / "training"), read_plink(EXAMPLE / "validation")
    assert (train.variants["id"].to_numpy() == valid.variants["id"].to_numpy()).all()
    swapped = train.variants["counted_allele"].to_numpy() != valid.variants["counted_allele"].to_numpy()
    assert swapped.sum() == 9
    raw_distance = (train.genotypes[:, None, :] != valid.genotypes[None, :, :]).sum(axis=2).min(axis=0)
    assert raw_distance.min() >= 1 and raw_distance.max() <= 9

    naive = cross_cohort_relatedness(train.genotypes, valid.genotypes)
    assert naive["n_duplicates"] == 100 and naive["n_related"] == 100
    assert min(naive["max_kinship"]) > 0.44

    harmonized = valid.genotypes.copy()
    harmonized[:, swapped] = np.where(harmonized[:, swapped] == MISSING, MISSING, 2 - harmonized[:, swapped])
    summary = cross_cohort_relatedness(train.genotypes, harmonized)
    assert summary["n_samples"] == 100 and summary["n_duplicates"] == 100 and summary["n_related"] == 100
    assert set(summary["max_kinship"]) == {0.5}
    closest = np.array(summary["closest_train_index"])
    assert len(set(closest)) == 100
    np.testing.assert_array_equal(train.genotypes[closest], harmonized)
    assert (train.samples["pheno"].to_numpy()[closest] == valid.samples["pheno"].to_numpy()).all()
    # within each cohort nobody is closer than second degree
    assert related_pairs(king_kinship(train.genotypes), KING_SECOND * 2).empty


def test_king_variant_mask() -> None:
    chrom = ["1", "22", "X", "23", "chrY", "24", "MT", "M", "26", "XY", "25", "chr7", "contig9"]
    assert king_variant_mask(chrom).tolist() == [True, True] + [False] * 7 + [True, True, True, True]


def test_errors() -> None:
    rng = np.random.default_rng(0)
    g = rng.integers(0, 3, (5, 150)).astype(np.int8)
    with pytest.raises(UserError, match="at least 100 SNPs"):
        king_kinship(g[:, :99])
    with pytest.raises(UserError, match="at least 2 samples"):
        king_kinship(g[:1])
    with pytest.raises(UserError, match="int8"):
        king_kinship(g.astype(float))
    with pytest.raises(UserError, match="harmonize"):
        king_kinship(g, g[:, :120])
    with pytest.raises(UserError, match="at least one sample"):
        king_kinship(g, g[:0])
    with pytest.raises(UserError, match="square"):
        relatedness_groups(np.zeros((2, 3)))
    assert king_kinship(g[:1], g[1:2]).shape == (1, 1)  # one sample per cohort is fine between cohorts


def test_structure_module_re_exports_the_api() -> None:
    from genoml_search.data import structure

    for name in ("king_kinship", "related_pairs", "relatedness_groups", "cross_cohort_relatedness", "fit_pca",
                 "PCAModel", "king_variant_mask", "KING_DUPLICATE"):
        assert hasattr(structure, name)


@pytest.mark.parametrize("rows_per_block", [1, 5, 7, 1000])
def test_cross_cohort_relatedness_in_training_row_blocks_is_the_whole_matrix_result(rows_per_block) -> None:
    """#22: the training cohort is read a block of rows at a time (and its SNP columns selected per block), with
    the same result as the whole kinship matrix: maxima, closest rows (ties to the first), noise."""
    genotypes, idx = simulate_families()
    train_names = [f"f{i}" for i in range(8)] + [f"u{i}" for i in range(10)]
    other_names = ["d0", "c0", "g0"] + [f"u{i}" for i in range(10, 20)]
    train = genotypes[[idx[k] for k in train_names]]
    train = np.vstack([train, train[:3]])  # duplicated rows: ties between blocks
    other = genotypes[[idx[k] for k in other_names]]
    whole = cross_cohort_relatedness(train, other, rows_per_block=len(train))
    kinship = king_kinship(train, other)
    assert whole["max_kinship"] == pytest.approx(list(kinship.max(axis=0)))
    assert whole["closest_train_index"] == list(kinship.argmax(axis=0))
    assert cross_cohort_relatedness(train, other, rows_per_block=rows_per_block) == whole
    columns = np.arange(0, train.shape[1], 2)
    assert (cross_cohort_relatedness(train, other[:, columns], columns=columns, rows_per_block=rows_per_block)
            == cross_cohort_relatedness(train[:, columns], other[:, columns]))
