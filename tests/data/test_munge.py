"""munge code paths: PLINK codings, FID+IID matching, sample/variant lists, all-missing SNPs, notes, --like."""
from __future__ import annotations

import numpy as np
import pytest
from bed_reader import to_bed

from genoml_search.data.dataset import Dataset
from genoml_search.data.munge import MungeOptions, PruneParams, munge
from genoml_search.data.qc import QCParams
from genoml_search.errors import UserError

N, M = 40, 12


def _cohort(tmp_path, genotypes=None, name="c"):
    rng = np.random.default_rng(3)
    if genotypes is None:
        genotypes = rng.binomial(2, 0.4, size=(N, M)).astype(np.float32)
    prefix = tmp_path / name
    to_bed(str(prefix) + ".bed", genotypes, properties={
        "fid": [f"f{i}" for i in range(N)], "iid": [f"s{i}" for i in range(N)],
        "sid": [f"rs{j}" for j in range(genotypes.shape[1])], "chromosome": ["1"] * genotypes.shape[1],
        "bp_position": [100 * (j + 1) for j in range(genotypes.shape[1])],
        "allele_1": ["A"] * genotypes.shape[1], "allele_2": ["G"] * genotypes.shape[1]}, count_A1=True)
    return str(prefix)


def _options(tmp_path, bfile, pheno, **kwargs):
    return MungeOptions(out=tmp_path / "ds", bfile=bfile, pheno=str(pheno), prune=None, **kwargs)


def _pheno(tmp_path, text, name="pheno.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _step(manifest, name):
    return next(s for s in manifest["steps"] if s["step"] == name)


def test_plink_coding_fid_iid_whitespace_and_ids_absent_from_fam(tmp_path) -> None:
    rows = "".join(f"f{i} s{i} {-9 if i == 0 else 1 + i % 2}\n" for i in range(N))
    pheno = _pheno(tmp_path, "FID IID PHENO\n" + rows + "fX extra1 1\nfY extra2 2\n")
    manifest = munge(_options(tmp_path, _cohort(tmp_path), pheno))
    step = _step(manifest, "phenotype")
    assert step["removed"] == 1 and step["remaining"] == N - 1
    assert "39 of 41 phenotype IDs match" in step["reason"] and "'extra1'" in step["reason"]
    dataset = Dataset.open(tmp_path / "ds")
    assert dataset.manifest["phenotype"]["coding"].startswith("1/2")
    assert set(dataset.phenotype) == {0.0, 1.0} and "s0" not in set(dataset.samples["ID"])


def test_fid_that_differs_from_the_fam_is_not_a_match(tmp_path) -> None:
    rows = "".join(f"{'other' if i < 5 else f'f{i}'} s{i} {i % 2}\n" for i in range(N))
    manifest = munge(_options(tmp_path, _cohort(tmp_path), _pheno(tmp_path, "FID IID PHENO\n" + rows)))
    step = _step(manifest, "phenotype")
    assert step["remaining"] == N - 5 and "5 with another FID" in step["reason"]


def test_keep_remove_extract_exclude(tmp_path) -> None:
    pheno = _pheno(tmp_path, "ID,PHENO\n" + "".join(f"s{i},{i % 2}\n" for i in range(N)))
    keep = _pheno(tmp_path, "".join(f"f{i} s{i}\n" for i in range(30)), "keep.txt")
    remove = _pheno(tmp_path, "FID IID\nf0 s0\nf1 s1\n", "remove.txt")
    extract = _pheno(tmp_path, "".join(f"rs{j}\n" for j in range(10)), "extract.txt")
    exclude = _pheno(tmp_path, "rs0\nrs9\nnot_here\n", "exclude.txt")
    manifest = munge(_options(tmp_path, _cohort(tmp_path), pheno, keep=str(keep), remove=str(remove),
                              extract=str(extract), exclude=str(exclude), qc=QCParams.disabled()))
    assert manifest["n_samples"] == 28 and manifest["n_variants"] == 8
    assert _step(manifest, "keep")["removed"] == 10 and _step(manifest, "remove")["removed"] == 2
    assert _step(manifest, "exclude")["reason"].endswith("(2 of its IDs in the .bim)")
    dataset = Dataset.open(tmp_path / "ds")
    assert dataset.variants["id"].tolist() == [f"rs{j}" for j in range(1, 9)]


def test_all_missing_snps_are_dropped_even_without_qc(tmp_path) -> None:
    genotypes = np.random.default_rng(1).binomial(2, 0.4, size=(N, M)).astype(np.float32)
    genotypes[:, [2, 5]] = np.nan
    pheno = _pheno(tmp_path, "ID,PHENO\n" + "".join(f"s{i},{i % 2}\n" for i in range(N)))
    manifest = munge(_options(tmp_path, _cohort(tmp_path, genotypes), pheno, qc=QCParams.disabled()))
    assert _step(manifest, "all-missing")["removed"] == 2 and manifest["n_variants"] == M - 2
    assert not np.isnan(Dataset.open(tmp_path / "ds").variants["freq"]).any()


def test_qc_steps_report_remaining_variants(tmp_path) -> None:
    genotypes = np.random.default_rng(2).binomial(2, 0.4, size=(N, M)).astype(np.float32)
    genotypes[:, 0] = 0  # monomorphic: removed by --maf
    pheno = _pheno(tmp_path, "ID,PHENO\n" + "".join(f"s{i},{i % 2}\n" for i in range(N)))
    manifest = munge(_options(tmp_path, _cohort(tmp_path, genotypes), pheno))
    assert _step(manifest, "maf")["remaining"] == M - 1
    assert _step(manifest, "geno")["remaining"] == M


def test_covariate_one_hot_note_and_like_levels(tmp_path) -> None:
    bfile = _cohort(tmp_path)
    pheno = _pheno(tmp_path, "ID,PHENO\n" + "".join(f"s{i},{i % 2}\n" for i in range(N)))
    covar = _pheno(tmp_path, "ID,SITE,AGE\n" + "".join(f"s{i},{'abc'[i % 3]},{40 + i}\n" for i in range(N)), "c.csv")
    manifest = munge(_options(tmp_path, bfile, pheno, covar=str(covar)))
    assert manifest["covariates"]["columns"] == ["SITE=b", "SITE=c", "AGE"]
    assert any("reference 'a'" in note for note in manifest["notes"])
    new_covar = _pheno(tmp_path, "ID,SITE,AGE\n" + "".join(f"s{i},{'bd'[i % 2]},{40 + i}\n" for i in range(N)),
                       "new.csv")
    like = munge(MungeOptions(out=tmp_path / "new", bfile=bfile, covar=str(new_covar), like=str(tmp_path / "ds")))
    assert like["covariates"]["columns"] == ["SITE=b", "SITE=c", "AGE"]
    assert any("'d'" in note and "not in the training data" in note for note in like["notes"])
    samples = Dataset.open(tmp_path / "new").samples
    assert samples.loc[samples["ID"] == "s1", ["SITE=b", "SITE=c"]].values.tolist() == [[0.0, 0.0]]


def test_like_fill_missing(tmp_path) -> None:
    bfile = _cohort(tmp_path)
    pheno = _pheno(tmp_path, "ID,PHENO\n" + "".join(f"s{i},{i % 2}\n" for i in range(N)))
    munge(_options(tmp_path, bfile, pheno, qc=QCParams.disabled()))
    smaller = _cohort(tmp_path, np.random.default_rng(4).binomial(2, 0.4, size=(N, M - 3)).astype(np.float32), "s")
    with pytest.raises(UserError, match="3 of 12 training SNPs are missing"):
        munge(MungeOptions(out=tmp_path / "new", bfile=smaller, like=str(tmp_path / "ds")))
    manifest = munge(MungeOptions(out=tmp_path / "new", bfile=smaller, like=str(tmp_path / "ds"), fill_missing=True))
    assert manifest["like"]["filled_from_training"] == 3 and manifest["n_variants"] == M
    assert (Dataset.open(tmp_path / "new").genotypes[:, -3:] == -127).all()


def test_one_class_left_among_fam_samples(tmp_path) -> None:
    rows = "".join(f"s{i},1\n" for i in range(N)) + "".join(f"x{i},0\n" for i in range(5))
    with pytest.raises(UserError, match="only one phenotype class"):
        munge(_options(tmp_path, _cohort(tmp_path), _pheno(tmp_path, "ID,PHENO\n" + rows)))


@pytest.mark.plink2
@pytest.mark.parametrize("prune", [("20", "5", "0.5"), ("5kb", "1", "0.3")])
def test_munge_keeps_plink2s_variants_on_sex_chromosomes(plink2, sex_cohort, tmp_path, prune) -> None:
    # The whole command on chr1/X/Y/XY/M with mixed sexes. --mind is left out: with samples removed before
    # pruning, plink2 2.00a3.5 prunes chrX/chrY on the wrong samples (docs/munge-qc.md; test_ld.py counts it).
    fam = [line.split() for line in open(f"{sex_cohort}.fam")]
    rng = np.random.default_rng(4)
    pheno = _pheno(tmp_path, "ID,PHENO\n" + "".join(f"{row[1]},{rng.integers(0, 2)}\n" for row in fam), "p.csv")
    qc = QCParams(mind=None, geno=0.1, maf=0.05, hwe=1e-6)
    manifest = munge(MungeOptions(out=tmp_path / "ds", bfile=str(sex_cohort), pheno=str(pheno), qc=qc,
                                  prune=PruneParams.parse(*prune), kinship=False, pcs=0))
    out = plink2(sex_cohort, tmp_path / "p2", "--geno", "0.1", "--maf", "0.05", "--hwe", "1e-6",
                 "--indep-pairwise", *prune)
    expected = set((tmp_path / "p2.prune.in").read_text().split())
    # munge stores every QC'd variant plus LD masks; the mask at the prune's r2 is plink2's prune.in
    stored = Dataset.open(tmp_path / "ds", variants_only=True).variants
    ld_masks = manifest["ld_masks"]
    kept = stored[stored[ld_masks["columns"][ld_masks["default"]]].astype(bool)]
    assert set(kept["id"]) == expected
    assert {"23", "24", "26"} <= set(kept["chrom"].astype(str)) and manifest["steps"]  # chrX, chrY, chrM kept
    assert len(expected) < 153  # pruning removed something


def _simulated(tmp_path):
    from genoml_search.data.simulate import simulate_tiny

    simulate_tiny(tmp_path / "sim", n_snps=1500, seed=4)
    sim = tmp_path / "sim"
    return {"bfile": str(sim / "train"), "pheno": str(sim / "train_pheno.csv"), "kinship": False, "pcs": 0}


def test_ld_masks_are_the_kept_sets_of_single_threshold_prunes(tmp_path) -> None:
    from genoml_search.data.dataset import mask_column

    inputs = _simulated(tmp_path)
    manifest = munge(MungeOptions(out=tmp_path / "masks", **inputs))  # the default: QC'd set + masks 0.9, 0.5
    masked = Dataset.open(tmp_path / "masks")
    assert masked.ld_choices() == ["none", "0.9", "0.5"] and masked.default_ld_mask() == "0.9"
    munge(MungeOptions(out=tmp_path / "qc", prune=None, **inputs))
    assert list(masked.variants["id"]) == list(Dataset.open(tmp_path / "qc").variants["id"])  # the QC'd set
    np.testing.assert_array_equal(np.asarray(masked.genotypes), np.asarray(Dataset.open(tmp_path / "qc").genotypes))
    for r2 in (0.9, 0.5):
        out = tmp_path / f"pruned-{r2}"
        munge(MungeOptions(out=out, prune=PruneParams(50, 5, r2), ld_masks=(), **inputs))
        single = Dataset.open(out)
        assert not single.ld_choices() and single.snp_columns(single.default_ld_mask()) is None
        kept = masked.variants["id"].to_numpy()[masked.snp_columns(f"{r2:g}")]
        assert list(kept) == list(single.variants["id"]) and len(kept) == manifest["ld_masks"]["n_kept"][f"{r2:g}"]
        assert masked.variants[mask_column(f"{r2:g}")].dtype == bool
    n_05, n_09, n_all = (len(masked.snp_columns("0.5")), len(masked.snp_columns("0.9")), masked.genotypes.shape[1])
    assert n_05 < n_09 < n_all  # the simulated LD blocks give each threshold something to remove
    with pytest.raises(UserError, match="no LD mask '0.8'"):
        masked.snp_columns("0.8")


@pytest.mark.slow  # three CLI processes
def test_explicit_indep_pairwise_alone_keeps_the_pruned_set_only(tmp_path, cli) -> None:
    inputs = _simulated(tmp_path)
    base = ["munge", "--bfile", inputs["bfile"], "--pheno", inputs["pheno"], "--no-kinship", "--pcs", "0"]
    assert cli(*base, "--out", str(tmp_path / "a"), "--indep-pairwise", "50", "5", "0.5").code == 0
    assert "ld_masks" not in Dataset.open(tmp_path / "a").manifest
    assert cli(*base, "--out", str(tmp_path / "b"), "--indep-pairwise", "50", "5", "0.5",
               "--ld-masks", "0.8").code == 0
    both = Dataset.open(tmp_path / "b")
    assert both.ld_choices() == ["none", "0.8", "0.5"] and both.default_ld_mask() == "0.5"
    assert list(both.variants["id"].to_numpy()[both.snp_columns("0.5")]) == list(
        Dataset.open(tmp_path / "a").variants["id"])
    refused = cli(*base, "--out", str(tmp_path / "c"), "--skip-prune", "--ld-masks", "0.5")
    assert refused.code == 2 and not (tmp_path / "c").exists()


@pytest.mark.parametrize("shape", [(60, 3000), (9, 1), (1, 700), (301, 1201)])
def test_kept_genotypes_are_compacted_in_place_without_a_second_matrix(shape) -> None:
    """#22: munge's QC'd matrix is written over the column-major matrix it read (no second full matrix), and the
    dataset file it becomes is the row-major .npy that np.save would write."""
    import tempfile
    from pathlib import Path

    from genoml_search.data.dataset import save_row_major
    from genoml_search.data.munge import _take

    rng = np.random.default_rng(shape[0])
    genotypes = np.asfortranarray(rng.integers(-127, 3, size=shape).astype(np.int8))
    rows, columns = rng.random(shape[0]) < 0.8, rng.random(shape[1]) < 0.6
    rows[0] = columns[-1] = True
    expected = genotypes[rows][:, columns].copy()
    kept = _take(genotypes, rows, columns)
    assert np.array_equal(kept, expected)
    assert np.shares_memory(kept, genotypes)  # compacted over the matrix read, not copied
    with tempfile.TemporaryDirectory() as tmp:
        save_row_major(Path(tmp) / "blocks.npy", kept, block_rows=4)
        np.save(Path(tmp) / "whole.npy", expected)
        assert (Path(tmp) / "blocks.npy").read_bytes() == (Path(tmp) / "whole.npy").read_bytes()


def test_row_major_genotypes_are_taken_by_copy() -> None:
    from genoml_search.data.munge import _take

    genotypes = np.arange(24, dtype=np.int8).reshape(4, 6)
    kept = _take(genotypes, np.array([True, False, True, True]), np.array([False, True, True, False, False, True]))
    assert np.array_equal(kept, genotypes[[0, 2, 3]][:, [1, 2, 5]]) and not np.shares_memory(kept, genotypes)
