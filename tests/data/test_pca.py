"""Genotype PCA: plink2 --pca cross-check, population separation, projection with training loadings, I/O."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoml_search.data.pca import PCAModel, allele_frequencies, fit_pca
from genoml_search.data.plink import MISSING, read_plink
from genoml_search.errors import InputFileError, UserError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "genoml2-discrete"
PLINK2 = shutil.which("plink2")
needs_plink2 = pytest.mark.skipif(PLINK2 is None, reason="plink2 is not installed (apt-get install plink2)")


def simulate_populations(
    sizes: tuple[int, ...] = (80, 80, 80), n_snps: int = 2000, fst: float = 0.05, seed: int = 0,
    missing_rate: float = 0.01,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Balding-Nichols populations: returns genotypes, population labels and the population frequencies."""
    rng = np.random.default_rng(seed)
    ancestral = rng.uniform(0.1, 0.9, n_snps)
    a, b = ancestral * (1 - fst) / fst, (1 - ancestral) * (1 - fst) / fst
    freqs = np.stack([rng.beta(a, b) for _ in sizes])
    labels = np.repeat(np.arange(len(sizes)), sizes)
    genotypes = rng.binomial(2, freqs[labels]).astype(np.int8)
    genotypes[rng.random(genotypes.shape) < missing_rate] = MISSING
    return genotypes, labels, freqs


def sample_population(freqs: np.ndarray, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).binomial(2, np.broadcast_to(freqs, (n, len(freqs)))).astype(np.int8)


def write_bed(prefix: Path, genotypes: np.ndarray) -> Path:
    from bed_reader import to_bed

    n, m = genotypes.shape
    to_bed(
        prefix.with_suffix(".bed"),
        genotypes,
        properties={"iid": [f"s{i}" for i in range(n)], "fid": [f"s{i}" for i in range(n)],
                    "chromosome": ["1"] * m, "sid": [f"v{j}" for j in range(m)],
                    "bp_position": np.arange(1, m + 1) * 1000, "allele_1": ["A"] * m, "allele_2": ["G"] * m},
        num_threads=1,
    )
    return prefix


def plink2_pca(prefix: Path, out: Path, k: int, *modifiers: str) -> tuple[pd.DataFrame, np.ndarray]:
    subprocess.run([PLINK2, "--bfile", str(prefix), "--pca", str(k), *modifiers, "--threads", "1", "--out", str(out)],
                   check=True, capture_output=True)
    vectors = pd.read_csv(out.with_suffix(".eigenvec"), sep="\t")
    return vectors, np.loadtxt(out.with_suffix(".eigenval"))


@pytest.mark.plink2
@needs_plink2
def test_matches_plink2_pca_on_three_populations(tmp_path: Path) -> None:
    """Missing calls count as the mean, as ``--pca meanimpute`` (plain ``--pca`` rescales GRM entries by the
    pair's called-SNP count instead, which changes eigenvalues by about the missing rate, not the axes)."""
    genotypes, _, _ = simulate_populations()
    prefix = write_bed(tmp_path / "pops", genotypes)
    vectors, eigenvalues = plink2_pca(prefix, tmp_path / "pca", 4, "meanimpute")
    model = fit_pca(genotypes, 4)
    scores = model.transform(genotypes)
    for k in range(2):  # the two structured axes: same eigenvectors, scores = sqrt(eigenvalue) x eigenvector
        eigenvector = vectors[f"PC{k + 1}"].to_numpy()
        assert abs(np.corrcoef(scores[:, k], eigenvector)[0, 1]) > 0.9999
        sign = np.sign(scores[:, k] @ eigenvector)
        np.testing.assert_allclose(scores[:, k], sign * np.sqrt(eigenvalues[k]) * eigenvector, atol=2e-3)
    np.testing.assert_allclose(model.eigenvalues[:2], eigenvalues[:2], rtol=1e-4)
    plain, _ = plink2_pca(prefix, tmp_path / "plain", 2)
    for k in range(2):
        assert abs(np.corrcoef(scores[:, k], plain[f"PC{k + 1}"])[0, 1]) > 0.999


@pytest.mark.plink2
@needs_plink2
def test_eigenvalues_match_plink2_on_bundled_example(tmp_path: Path) -> None:
    """No structure at all here, so the eigen-gaps are tiny: more power iterations for a tight match."""
    data = read_plink(EXAMPLE / "training")
    vectors, eigenvalues = plink2_pca(EXAMPLE / "training", tmp_path / "pca", 10)
    model = fit_pca(data.genotypes, 10, n_iter=30)
    np.testing.assert_allclose(model.eigenvalues[:5], eigenvalues[:5], rtol=1e-5)
    assert abs(np.corrcoef(model.transform(data.genotypes)[:, 0], vectors["PC1"])[0, 1]) > 0.9999


def test_pc1_separates_two_populations() -> None:
    genotypes, labels, _ = simulate_populations(sizes=(60, 90), fst=0.03)
    model = fit_pca(genotypes, 3)
    pc1 = model.transform(genotypes)[:, 0]
    assert (pc1[labels == 0] > 0).all() != (pc1[labels == 0] < 0).all()  # one side each
    assert np.sign(pc1[labels == 0]).max() == np.sign(pc1[labels == 0]).min()
    assert np.sign(pc1[labels == 1]).max() == np.sign(pc1[labels == 1]).min() != np.sign(pc1[labels == 0]).min()
    assert model.explained_variance_ratio[0] > 2 * model.explained_variance_ratio[1]


def test_projection_of_training_equals_fit_scores_and_rows_are_independent() -> None:
    genotypes, _, _ = simulate_populations()
    model = fit_pca(genotypes, 5)
    scores = model.transform(genotypes)
    np.testing.assert_allclose(scores, model.train_scores, rtol=1e-4, atol=1e-4 * np.abs(scores).max())
    # projecting a subset never refits: the same rows get the same scores
    np.testing.assert_allclose(model.transform(genotypes[[3, 100, 7]]), scores[[3, 100, 7]], rtol=1e-5, atol=1e-6)


def test_new_cohort_projects_onto_its_training_population() -> None:
    genotypes, labels, freqs = simulate_populations(sizes=(80, 80, 80), seed=2)
    model = fit_pca(genotypes, 2)
    train = model.transform(genotypes)[:, :2]
    centroids = np.stack([train[labels == k].mean(axis=0) for k in range(3)])
    new = model.transform(sample_population(freqs[1], 30, seed=9))  # a new cohort from population 1
    nearest = np.linalg.norm(new[:, None, :] - centroids[None], axis=2).argmin(axis=1)
    assert (nearest == 1).all()


def test_missing_calls_project_to_the_mean() -> None:
    genotypes, _, _ = simulate_populations(sizes=(50, 50))
    model = fit_pca(genotypes, 2)
    np.testing.assert_allclose(model.transform(np.full((2, genotypes.shape[1]), MISSING, np.int8)), 0.0, atol=1e-6)
    freqs = allele_frequencies(genotypes)
    called = genotypes != MISSING
    np.testing.assert_allclose(freqs, np.where(called, genotypes, 0).sum(0) / (2 * called.sum(0)))


def test_monomorphic_snps_contribute_nothing() -> None:
    genotypes, _, _ = simulate_populations(sizes=(40, 40), missing_rate=0.0)
    with_mono = np.concatenate([genotypes, np.zeros((80, 50), np.int8)], axis=1)
    a = fit_pca(genotypes, 2).transform(genotypes) * np.sqrt(genotypes.shape[1])
    b = fit_pca(with_mono, 2).transform(with_mono) * np.sqrt(with_mono.shape[1])
    np.testing.assert_allclose(np.abs(a), np.abs(b), rtol=1e-4, atol=1e-3)


def test_deterministic_for_a_seed() -> None:
    genotypes, _, _ = simulate_populations(sizes=(40, 40))
    np.testing.assert_array_equal(fit_pca(genotypes, 3, seed=4).loadings, fit_pca(genotypes, 3, seed=4).loadings)


def test_dict_and_npz_round_trips(tmp_path: Path) -> None:
    genotypes, _, _ = simulate_populations(sizes=(30, 30), n_snps=300)
    genotypes[:, 5] = MISSING  # a SNP without calls: NaN frequency
    model = fit_pca(genotypes, 3, variant_ids=[f"rs{j}" for j in range(300)])
    expected = model.transform(genotypes)
    restored = PCAModel.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_allclose(restored.transform(genotypes), expected, rtol=1e-12, atol=1e-12)
    assert restored.variant_ids == model.variant_ids and restored.meta == model.meta
    path = model.save(tmp_path / "pca")
    assert path.name == "pca.npz" and path.is_file()
    loaded = PCAModel.load(path)
    np.testing.assert_allclose(loaded.transform(genotypes), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(loaded.eigenvalues, model.eigenvalues)
    assert loaded.variant_ids == model.variant_ids and loaded.n_train_samples == 60
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InputFileError, match="bad.npz"):
        PCAModel.load(tmp_path / "bad.npz")


def test_errors() -> None:
    genotypes, _, _ = simulate_populations(sizes=(5, 5), n_snps=200)
    with pytest.raises(UserError, match="between 1 and 9"):
        fit_pca(genotypes, 10)
    with pytest.raises(UserError, match="between 1 and 9"):
        fit_pca(genotypes, 0)
    with pytest.raises(UserError, match="at least 2 samples"):
        fit_pca(genotypes[:1], 1)
    with pytest.raises(UserError, match="at least 100 SNPs"):
        fit_pca(genotypes[:, :99], 1)
    model = fit_pca(genotypes, 2)
    with pytest.raises(UserError, match="harmonize"):
        model.transform(genotypes[:, :150])
    with pytest.raises(UserError, match="int8"):
        model.transform(genotypes.astype(np.float64))


def test_matches_exact_svd_of_explicitly_standardized_matrix() -> None:
    """Independent of plink2: dense float64 standardization (missing -> 0) and a full SVD."""
    genotypes, _, _ = simulate_populations(sizes=(60, 60, 60), n_snps=800, missing_rate=0.05, seed=7)
    genotypes[:, 10] = 0  # monomorphic
    called = genotypes != MISSING
    p = np.where(called, genotypes, 0).sum(0) / (2 * called.sum(0))
    sd = np.sqrt(2 * p * (1 - p))
    x = np.where(called, (genotypes - 2 * p) / np.where(sd > 0, sd, 1), 0.0)
    x[:, sd == 0] = 0.0
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    exact = u[:, :2] * s[:2] / np.sqrt(x.shape[1])
    model = fit_pca(genotypes, 2)
    scores = model.transform(genotypes)
    for k in range(2):
        sign = np.sign(scores[:, k] @ exact[:, k])
        np.testing.assert_allclose(scores[:, k], sign * exact[:, k], atol=1e-4 * np.abs(exact[:, k]).max())
    np.testing.assert_allclose(model.eigenvalues, s[:2] ** 2 / x.shape[1], rtol=1e-6)
    np.testing.assert_allclose(model.total_variance, (x**2).sum() / x.shape[1], rtol=1e-9)
