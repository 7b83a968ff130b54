"""The ridge path by Lanczos passes over the int8 genotypes (search/krylov_ridge.py) against the exact path."""
from __future__ import annotations

import numpy as np

from genoml_search.search import kernel_ridge as kr
from genoml_search.search import krylov_ridge as kry
from genoml_search.search.paths import Design
from tests.search.test_kernel_ridge import cohort

N, M = 400, 1500


def five_folds(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    order = np.random.default_rng(1).permutation(n)
    return [(np.sort(np.setdiff1d(order, order[i::5])), np.sort(order[i::5])) for i in range(5)]


def relative_errors(task: str, y: np.ndarray) -> list[float]:
    """Per penalty, the largest difference between the Lanczos and the exact held-out scores over five folds,
    relative to the exact scores' sd."""
    genotypes, covariates, _ = cohort(0, n=N, m=M)
    design = Design(genotypes, covariates, np.arange(N))
    folds, lambdas = five_folds(N), kr.penalties(M)
    errors = np.zeros(len(lambdas))
    for (train, test), (path, kernel) in zip(folds, kry.krylov_paths(design, y, folds, lambdas, task == "binary")):
        exact_kernel = kr.fold_kernel(design, train, test)
        assert np.allclose(kernel.standardization.centers, exact_kernel.standardization.centers)
        assert np.allclose(kernel.standardization.scales, exact_kernel.standardization.scales)
        exact = kr.scores_along_path(kr.RidgePath(exact_kernel.k_fit, exact_kernel.c_fit, y[train]),  # type: ignore[arg-type]
                                     exact_kernel, task, lambdas)
        krylov = kr.scores_along_path(path, kernel, task, lambdas)
        errors = np.maximum(errors, [np.abs(a - b).max() / np.std(a) for a, b in zip(exact, krylov)])
    return list(errors)


def test_the_passes_multiply_by_each_folds_standardized_gram_matrix():
    genotypes, covariates, _ = cohort(1, n=120, m=3000)  # 1 % missing calls; two blocks of columns
    design = Design(genotypes, covariates, np.arange(120))
    folds = five_folds(120)
    passes = kry.FoldPasses(design, [train for train, _ in folds])
    v = np.zeros((120, 3))
    fold_of_column = np.array([0, 3, 3])
    rng = np.random.default_rng(2)
    for c, f in enumerate(fold_of_column):
        v[folds[f][0], c] = rng.normal(size=len(folds[f][0]))
    product = passes.multiply(v, fold_of_column)
    for c, f in enumerate(fold_of_column):
        st = passes.standardization(f)
        z = (np.where(genotypes < 0, st.centers, genotypes) - st.centers) / st.scales
        assert np.allclose(product[:, c], z @ (z.T @ v[:, c]), rtol=1e-4, atol=1e-3 * np.abs(product[:, c]).max())


def test_the_continuous_path_equals_the_exact_path_at_every_penalty():
    _, _, trait = cohort(0, n=N, m=M)
    assert max(relative_errors("regression", trait)) < 1e-4


def test_the_logistic_path_is_close_to_the_exact_one_where_ridge_is_used():
    """Within 0.1 % of the exact held-out probabilities for SNP heritabilities up to ~0.9 (lambda >= 0.1 M),
    within 3 % at the grid's least-penalized end."""
    _, _, trait = cohort(0, n=N, m=M)
    errors = relative_errors("binary", (trait > np.median(trait)).astype(float))
    down_to_tenth = int(np.searchsorted(-kr.RIDGE_GRID, -0.1, side="right"))
    assert max(errors[:down_to_tenth]) < 1e-3, errors
    assert max(errors) < 3e-2, errors
