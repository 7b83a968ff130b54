"""Sample structure stored in datasets: related pairs, CV groups, PCs, relatedness to training, bad input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genoml_search.data.cohort_structure import (
    PCA_FILE,
    PCS_FILE,
    RELATED_PAIRS,
    RELATED_TO_TRAINING,
    groups_from_pairs,
    harmonized_structure,
    training_structure,
    warning_text,
)
from genoml_search.data.dataset import Dataset, write_dataset
from genoml_search.errors import UserError
from tests.data.test_kinship import simulate_families

FAMILY = ("f0", "f1", "c0", "c1", "c2", "c3", "f2", "f3", "g0")  # joined through g0 (child of c0 x c2)


def _write(path, genotypes, ids, manifest_extra, files, phenotype=None):
    samples = pd.DataFrame({"ID": ids, "phenotype": phenotype if phenotype is not None else np.arange(len(ids)) % 2})
    variants = pd.DataFrame({"id": [f"s{i}" for i in range(genotypes.shape[1])], "chrom": "1",
                             "pos": np.arange(genotypes.shape[1]) + 1, "counted_allele": "A", "other_allele": "G",
                             "freq": 0.3})
    manifest = {"phenotype": {"task": "binary"}, "covariates": {"columns": []}, **manifest_extra}
    write_dataset(path, genotypes, samples, variants, manifest, extra_files=files)
    return Dataset.open(path)


@pytest.fixture(scope="module")
def families(tmp_path_factory):
    genotypes, index = simulate_families(n_snps=2000)
    ids = np.array(list(index))
    variants = pd.DataFrame({"id": [f"s{i}" for i in range(genotypes.shape[1])], "chrom": "1",
                             "pos": np.arange(genotypes.shape[1]) + 1})
    manifest, files = training_structure(genotypes, variants, ids, n_pcs=3)
    dataset = _write(tmp_path_factory.mktemp("fam") / "ds", genotypes, ids, manifest, files)
    return dataset, genotypes, index


def test_training_cohort_stores_related_pairs_pcs_and_model(families):
    dataset, _, index = families
    rel = dataset.manifest["relatedness"]
    assert rel["computed"] and rel["n_duplicate_pairs"] == 1
    for name in (RELATED_PAIRS, PCA_FILE, PCS_FILE):
        assert (dataset.path / name).is_file()
    pairs = dataset.related_pairs()
    as_sets = {frozenset(p) for p in zip(pairs["id1"], pairs["id2"])}
    assert {frozenset(("f4", "d0")), frozenset(("f0", "c0")), frozenset(("c0", "c1"))} <= as_sets
    assert dataset.n_pcs == 3 and dataset.pcs(3).shape == (len(index), 3)
    with pytest.raises(UserError, match="has 3 genetic PCs"):
        dataset.pcs(4)


def test_relatedness_groups_keep_families_together(families):
    dataset, _, index = families
    groups = groups_from_pairs(dataset.samples["ID"].to_numpy(), dataset.related_pairs())
    ids = list(index)
    label = {i: g for i, g in zip(ids, groups)}
    assert len({label[name] for name in FAMILY}) == 1
    assert label["f4"] == label["d0"] != label["f0"]
    unrelated = [label[f"u{i}"] for i in range(20)]
    assert len(set(unrelated)) == 20 and not set(unrelated) & {label["f0"], label["f4"]}


def test_group_by_relatedness_folds_never_split_relatives(families):
    from genoml_search._run import RunOptions, resolve_groups
    from genoml_search.search.objective import CVSpec, make_folds

    dataset, _, _ = families
    groups = resolve_groups(RunOptions(dataset=dataset.path, out=dataset.path, group_by_relatedness=True), dataset)
    ids = dataset.samples["ID"].to_numpy()
    family = np.isin(ids, FAMILY)
    for train, test in make_folds(dataset.phenotype, "binary", CVSpec(3, 2, 0), groups):
        assert family[test].sum() in (0, family.sum())  # the whole family on one side
        assert not (np.isin(ids[train], ["f4"]).any() and np.isin(ids[test], ["d0"]).any())
    with pytest.raises(UserError, match="replaces --groups"):
        resolve_groups(RunOptions(dataset=dataset.path, out=dataset.path, group_by_relatedness=True,
                                  group_col="phenotype"), dataset)


def test_harmonized_cohort_counts_relatives_and_projects_pcs(families, tmp_path):
    dataset, genotypes, index = families
    other = genotypes[[index["c1"], index["d0"], index["u3"]]]
    ids = np.array(["x_c1", "x_d0", "x_u3"])
    manifest, files = harmonized_structure(dataset.path, dataset.manifest, other, ids, dataset.path,
                                           dataset.variants["id"].to_numpy())
    summary = manifest["related_to_training"]
    assert summary["checked"] and summary["n_related"] == 3 and summary["n_duplicates"] == 3  # exact copies
    assert sorted(summary["related_ids"]) == sorted(ids)
    assert {RELATED_TO_TRAINING, PCS_FILE} == set(files)
    assert "3 of 3 validation samples" in warning_text(summary, "validation")
    projected = _write(tmp_path / "h", other, ids, manifest, files).pcs(3)
    train_pcs = dataset.pcs(3)[[index["c1"], index["d0"], index["u3"]]]
    np.testing.assert_allclose(projected, train_pcs, atol=1e-6)  # projected onto the training loadings


def test_pcs_are_fitted_on_snps_pruned_for_pca_and_projected_from_the_same_snps(tmp_path):
    rng = np.random.default_rng(3)
    independent = rng.binomial(2, rng.uniform(0.1, 0.5, 300), size=(200, 300)).astype(np.int8)
    genotypes = np.repeat(independent, 2, axis=1)  # every SNP twice: perfect LD with its neighbour
    m = genotypes.shape[1]
    variants = pd.DataFrame({"id": [f"s{i}" for i in range(m)], "chrom": "1", "pos": np.arange(m) + 1})
    ids = np.array([f"i{i}" for i in range(200)])
    manifest, files = training_structure(genotypes, variants, ids, kinship=False, n_pcs=4)
    pca = manifest["pca"]
    assert pca["n_snps"] <= 300 and pca["snp_selection"].startswith("indep-pairwise 50 5 0.2")
    dataset = _write(tmp_path / "train", genotypes, ids, manifest, files)
    copies = genotypes[:7]
    manifest, files = harmonized_structure(dataset.path, dataset.manifest, copies, ids[:7], None,
                                           variants["id"].to_numpy())
    projected = _write(tmp_path / "copies", copies, ids[:7], manifest, files).pcs(4)
    np.testing.assert_allclose(projected, dataset.pcs(4)[:7], atol=1e-6)  # the same SNPs, the same loadings
    with pytest.raises(UserError, match="re-munge the training cohort"):  # without the names of the columns
        harmonized_structure(dataset.path, dataset.manifest, copies, ids[:7], None)


def test_unrelated_cohort_and_missing_reference(families):
    dataset, genotypes, _ = families
    rng = np.random.default_rng(5)
    fresh = rng.binomial(2, 0.3, size=(4, genotypes.shape[1])).astype(np.int8)
    names = dataset.variants["id"].to_numpy()
    manifest, _ = harmonized_structure(dataset.path, dataset.manifest, fresh, np.array(list("abcd")), dataset.path, names)
    assert manifest["related_to_training"]["n_related"] == 0
    assert warning_text(manifest["related_to_training"], "validation") is None
    manifest, files = harmonized_structure(dataset.path, dataset.manifest, fresh, np.array(list("abcd")), None, names)
    assert manifest["related_to_training"]["checked"] is False and RELATED_TO_TRAINING not in files
    assert "could not be checked" in warning_text(manifest["related_to_training"], "predicted")


def test_bad_input_is_a_clear_error_or_a_recorded_skip():
    rng = np.random.default_rng(0)
    few = rng.binomial(2, 0.4, size=(30, 60)).astype(np.int8)
    variants = pd.DataFrame({"id": [f"s{i}" for i in range(60)], "chrom": "1", "pos": np.arange(60) + 1})
    ids = np.array([f"i{i}" for i in range(30)])
    manifest, files = training_structure(few, variants, ids)  # defaults: skipped with the reason
    assert "at least 100 autosomal SNPs" in manifest["relatedness"]["reason"]
    assert "at least 100 SNPs" in manifest["pca"]["reason"] and not files
    with pytest.raises(UserError, match="at least 100 SNPs; the dataset has 60"):
        training_structure(few, variants, ids, n_pcs=2)
    many = rng.binomial(2, 0.4, size=(5, 200)).astype(np.int8)
    variants = pd.DataFrame({"id": [f"s{i}" for i in range(200)], "chrom": "1", "pos": np.arange(200) + 1})
    with pytest.raises(UserError, match="--pcs 5 is too many for 5 samples x 200 SNPs used for PCA; choose at most 4"):
        training_structure(many, variants, ids[:5], n_pcs=5)
    manifest, _ = training_structure(many[:1], variants, ids[:1])  # a cohort of one sample
    assert "at least 2 samples" in manifest["relatedness"]["reason"] and not manifest["pca"]["computed"]
    with pytest.raises(UserError, match="at least 2 samples"):
        training_structure(many[:1], variants, ids[:1], n_pcs=1)
    manifest, _ = training_structure(many, variants, ids[:5], kinship_max_samples=4, n_pcs=0)
    assert "--kinship-max-samples 4" in manifest["relatedness"]["reason"]
