"""The ridge path of every CV fold at once by Lanczos iterations, for cohorts too large for the Gram matrix.

:mod:`~genoml_search.search.kernel_ridge` solves ridge with unpenalized covariates exactly, through each fold's
n x n Gram matrix and its eigendecomposition: n^2 M + n^3 operations per fold, ~25 minutes per trial on one
core at 10,000 x 100,000. Here the same path comes from the Krylov space of P K P started at P y (Lanczos with
full reorthogonalization): k iterations give the k Ritz pairs (theta, U) with which the ridge solutions of
*every* penalty are ``a = U (U'Py / (theta + lambda))``, the conjugate-gradient iterate of each shifted system.
K v = Z (Z' v) is one pass over the int8 genotypes; one pass serves all folds (a block is converted to float
once and multiplied by one vector per fold, each fold standardizing with its own training rows' means and sds),
and the same pass gives the held-out rows' products, so each iteration costs one read of the matrix. With M >>
n the shifted systems are well conditioned (the Gram matrix's bulk eigenvalues are ~M), so a few dozen
iterations reach the convergence tolerance at every penalty of the grid; memory is a few vectors per iteration
and fold, O(n k), instead of n x n matrices.

Binary traits get the logistic path of :class:`~genoml_search.search.kernel_ridge.LogisticRidgePath` in the
Ritz basis (the span of the least-squares iterates), which the tests compare with the exact logistic path.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from genoml_search.search.kernel_ridge import (
    FoldKernel, LogisticRidgePath, LowRankKernel, RidgePath, sigmoid, standardized_covariates,
)
from genoml_search.search.paths import Design, Standardization, _snp_block_stats

PASS_BLOCK = 2048
"""SNP columns converted to float32 per block of a pass (the transient copy is rows x 2,048 x 4 bytes)."""
TOLERANCE = 1e-5
"""Lanczos stops when every penalty's relative residual |(P K P + lambda) a - P y| / |P y| is below this."""
MAX_ITERATIONS = 250
"""Iterations (passes over the genotypes) after which a fold stops unconverged (its least-penalized end)."""
SECONDS_PER_CELL_PASS = 4.6e-9
"""One core's time per genotype cell and pass with five folds: 3.2e-9 to 4.5e-9 measured on 3,000-10,000 x
~60,000 (benchmarks/results/ridge_krylov.json), rounded up."""
LOGISTIC_ROUNDS = 4
"""Passes after the least-squares path for binary traits, each adding the directions the logistic path lacks."""
LOGISTIC_DIRECTIONS = 8
"""Directions added per fold and logistic round (the main ones of the 31 penalties' gradients)."""
LOGISTIC_TOLERANCE = 1e-3
"""A logistic round adds the gradient directions above this share of the largest gradient's norm."""
TYPICAL_ITERATIONS = 40
"""Passes a trial is budgeted for: the simulated cohorts of ridge_krylov.json needed 17-31 (logistic rounds
included), so the estimate errs on the long side."""


class KrylovRidgePath(RidgePath):
    """A :class:`RidgePath` on the Ritz pairs of a :class:`Subspace` (Rayleigh-Ritz of P K P on its basis):
    the same ``solve``, ``predict`` and :class:`~genoml_search.search.kernel_ridge.LogisticRidgePath`."""

    def __init__(self, subspace: Subspace, c_fit: np.ndarray, y: np.ndarray) -> None:
        basis = subspace.basis()
        theta, vectors = np.linalg.eigh(subspace.projected())
        self.q = subspace.q
        self.s, self.u = np.maximum(theta, 0.0), basis @ vectors
        self.ritz_vectors = vectors
        self.uy = self.u.T @ subspace.py
        self.k_fit = LowRankKernel(basis, subspace.images())
        self.c_fit, self.y = c_fit, y

    def logistic_features(self, first: int) -> np.ndarray | None:
        """F = P K U Theta^-1/2 on the Ritz pairs from ``first`` on: the exact linear predictor of a = U
        Theta^-1/2 w (U = V E spans only the basis, so U Theta^1/2, its projection on the basis, is not)."""
        assert isinstance(self.k_fit, LowRankKernel)
        kernel_ritz = self.k_fit.images @ self.ritz_vectors[:, first:]
        return self._project(kernel_ritz) / np.sqrt(self.s[first:])

    def leave_one_out(self, penalty: float) -> np.ndarray:
        """Not available: the hat matrix's diagonal needs all eigenpairs, the subspace has a few."""
        raise NotImplementedError("leave-one-out predictions need the exact path (kernel_ridge.RidgePath)")


class Subspace:
    """One fold's search space for the dual coefficients: orthonormal vectors in the range of P (the covariates'
    residual-maker), their images K v on the training rows and K_other v on the held-out rows, and the vectors
    waiting for their images (:attr:`pending`, the next pass's input)."""

    def __init__(self, q: np.ndarray, y: np.ndarray) -> None:
        self.q, self.y = q, y
        self.py = self.project(y)
        self.vectors: list[np.ndarray] = []
        self.kernel_images: list[np.ndarray] = []
        self.other_images: list[np.ndarray] = []
        self.pending = np.zeros((len(y), 0))
        self.converged = False

    def basis(self) -> np.ndarray:
        return np.column_stack(self.vectors) if self.vectors else np.zeros((len(self.py), 0))

    def images(self) -> np.ndarray:
        return np.column_stack(self.kernel_images) if self.kernel_images else np.zeros((len(self.py), 0))

    def other_kernel(self, n_other: int) -> LowRankKernel:
        images = np.column_stack(self.other_images) if self.other_images else np.zeros((n_other, 0))
        return LowRankKernel(self.basis(), images)

    def project(self, m: np.ndarray) -> np.ndarray:
        return m - self.q @ (self.q.T @ m)

    def projected(self) -> np.ndarray:
        """V' P K V on the basis V (symmetric)."""
        h = self.basis().T @ self.project(self.images())
        return (h + h.T) / 2

    def propose(self, candidates: np.ndarray, most: int, floor: float) -> int:
        """Make the main directions of ``candidates`` (columns) outside the basis pending: orthogonalized
        against the basis and the covariates, at most ``most`` of them, those whose singular value is above
        ``floor`` times the largest candidate's norm. Returns how many."""
        scale = float(np.linalg.norm(candidates, axis=0).max()) if candidates.size else 0.0
        rest = self.project(candidates)
        basis = self.basis()
        for _ in range(2):  # full reorthogonalization, twice is enough (Kahan-Parlett)
            rest = self.project(rest - basis @ (basis.T @ rest))
        if scale == 0.0:
            return 0
        left, values, _ = np.linalg.svd(rest, full_matrices=False)
        keep = min(most, int(np.count_nonzero(values > floor * scale)))
        self.pending = left[:, :keep]
        return keep

    def extend(self, kernel_images: np.ndarray, other_images: np.ndarray) -> None:
        """Add the pending vectors with their images K v and K_other v (columns)."""
        self.vectors.extend(self.pending.T)
        self.kernel_images.extend(kernel_images.T)
        self.other_images.extend(other_images.T)
        self.pending = np.zeros((len(self.py), 0))

    def residual(self, shifts: np.ndarray) -> float:
        """The largest relative residual |(P K P + s) a - P y| / |P y| over ``shifts`` of the Galerkin
        solutions a on the basis."""
        basis, images = self.basis(), self.project(self.images())
        coefficients = np.linalg.solve(self.projected()[None, :, :] + shifts[:, None, None] * np.eye(basis.shape[1]),
                                       np.broadcast_to(basis.T @ self.py, (len(shifts), basis.shape[1]))[..., None])
        c = coefficients[..., 0].T  # rank x shifts
        residuals = images @ c + basis @ c * shifts[None, :] - self.py[:, None]
        return float(np.linalg.norm(residuals, axis=0).max() / np.linalg.norm(self.py))


class FoldPasses:
    """Standardized products of every fold at once over the int8 genotypes of ``design.rows``.

    ``multiply(V)`` returns, for each fold f (column f of ``V``, zero outside the fold's training rows),
    Z_f (Z_f' v_f) over *all* rows, where Z_f is the genotypes standardized with fold f's training rows (missing
    calls imputed with their mean, i.e. standardized to 0). Missing calls are kept as sparse corrections, so a
    block is converted to float once per pass, with missing calls as 0.
    """

    def __init__(self, design: Design, trains: list[np.ndarray]) -> None:
        self.design, self.trains = design, trains
        n_folds = len(trains)
        self.centers = np.empty((design.n_snps, n_folds))
        self.scales = np.empty((design.n_snps, n_folds))
        self.missing: list[tuple[tuple[np.ndarray, np.ndarray], sparse.csr_matrix] | None] = []
        for start in range(0, design.n_snps, PASS_BLOCK):
            block = self._block(start)
            columns = slice(start, start + block.shape[1])
            for f, train in enumerate(trains):
                mean, sd = _snp_block_stats(block[train])
                self.centers[columns, f], self.scales[columns, f] = mean, np.where(sd > 0, sd, 1.0)
            rows, cols = np.nonzero(block < 0)
            indicator = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=block.shape)
            self.missing.append(((rows, cols), indicator) if len(rows) else None)

    def _block(self, start: int) -> np.ndarray:
        return self.design.read(self.design.rows, slice(start, start + PASS_BLOCK))

    def standardization(self, fold: int) -> Standardization:
        """Fold ``fold``'s SNP centers and scales."""
        return Standardization(self.centers[:, fold].copy(), self.scales[:, fold].copy())

    def multiply(self, v: np.ndarray, fold_of_column: np.ndarray) -> np.ndarray:
        """Z_f Z_f' v for every column v of ``v`` (zero outside fold f's training rows, f its entry in
        ``fold_of_column``), over all rows (see the class)."""
        v32 = v.astype(np.float32)
        column_sums = v32.sum(axis=0)
        out = np.zeros(v.shape, dtype=np.float64)
        for index, start in enumerate(range(0, self.design.n_snps, PASS_BLOCK)):
            block = self._block(start)
            columns = slice(start, start + block.shape[1])
            z = block.astype(np.float32)
            centers, scales = self.centers[columns][:, fold_of_column], self.scales[columns][:, fold_of_column]
            observed_sums = np.broadcast_to(column_sums, centers.shape)
            missing = self.missing[index]
            if missing is not None:
                positions, indicator = missing
                z[positions] = 0.0
                observed_sums = observed_sums - indicator.T @ v32
            weights = (z.T @ v32 - centers * observed_sums) / scales ** 2  # Z_f' v_f / sd, per fold
            out += z @ weights.astype(np.float32) - (centers * weights).sum(axis=0)[None, :]
            if missing is not None:
                out += indicator @ (centers * weights)
        return out


def fold_subspaces(design: Design, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                    shifts: np.ndarray, binary: bool = False, tolerance: float = TOLERANCE,
                    max_iterations: int = MAX_ITERATIONS) -> tuple[list[Subspace], list[FoldKernel]]:
    """Each fold's (positions in ``design.rows``: training, held-out) :class:`Subspace`, grown by Lanczos
    iterations (the next vector: P K v of the last) until the ridge path is converged at every penalty in
    ``shifts``, all folds advanced by the same passes; for ``binary`` traits then by the directions the
    logistic path still lacks (:func:`_logistic_directions`)."""
    passes = FoldPasses(design, [train for train, _ in folds])
    subspaces, covariates = [], []
    for train, other in folds:
        c_fit, c_other, cov_standardization = standardized_covariates(design, train, other)
        covariates.append((c_fit, c_other, cov_standardization))
        u_c, s_c, _ = np.linalg.svd(c_fit, full_matrices=False)
        q = u_c[:, s_c > 1e-10 * s_c[0]]
        subspace = Subspace(q, y[train])
        subspace.converged = subspace.propose(subspace.py[:, None], 1, 1e-12) == 0
        subspaces.append(subspace)

    def grow() -> None:
        active = [f for f, subspace in enumerate(subspaces) if subspace.pending.shape[1]]
        columns = [(f, j) for f in active for j in range(subspaces[f].pending.shape[1])]
        v = np.zeros((len(design.rows), len(columns)))
        for c, (f, j) in enumerate(columns):
            v[folds[f][0], c] = subspaces[f].pending[:, j]
        product = passes.multiply(v, np.array([f for f, _ in columns], dtype=np.intp))
        for f in active:
            mine = [c for c, (g, _) in enumerate(columns) if g == f]
            subspaces[f].extend(product[folds[f][0]][:, mine], product[folds[f][1]][:, mine])

    for _ in range(max_iterations):
        if not any(s.pending.shape[1] for s in subspaces):
            break
        grow()
        for subspace in subspaces:
            if subspace.converged or subspace.residual(shifts) < tolerance:
                subspace.converged = True
                continue
            last = subspace.project(subspace.kernel_images[-1])
            subspace.converged = subspace.propose(last[:, None], 1, 1e-10) == 0
    if binary:
        for _ in range(LOGISTIC_ROUNDS):
            for subspace, (c_fit, _, _) in zip(subspaces, covariates):
                _logistic_directions(subspace, c_fit, shifts)
            if not any(s.pending.shape[1] for s in subspaces):
                break
            grow()
    kernels = []
    for f, (subspace, (c_fit, c_other, cov_standardization)) in enumerate(zip(subspaces, covariates)):
        snps = passes.standardization(f)
        standardization = Standardization(np.concatenate([snps.centers, cov_standardization.centers]),
                                          np.concatenate([snps.scales, cov_standardization.scales]))
        kernels.append(FoldKernel(LowRankKernel(subspace.basis(), subspace.images()),
                                  subspace.other_kernel(len(folds[f][1])), c_fit, c_other, standardization))
    return subspaces, kernels


def _logistic_directions(subspace: Subspace, c_fit: np.ndarray, shifts: np.ndarray) -> None:
    """Make pending the directions the logistic path lacks: at its optimum the dual coefficients are
    P (y - p) / lambda, so the part of P (y - p) outside the basis, at each penalty, is what the subspace misses
    (none when the logistic solutions of every penalty are exact)."""
    logistic = LogisticRidgePath(KrylovRidgePath(subspace, c_fit, subspace.y))
    gradients = []
    for penalty in shifts:
        logistic.solve(penalty)
        gradient = subspace.project(logistic.y - sigmoid(logistic.fitted_eta))
        gradients.append(gradient / max(float(np.linalg.norm(gradient)), 1e-300))
    subspace.propose(np.column_stack(gradients), LOGISTIC_DIRECTIONS, LOGISTIC_TOLERANCE)


def krylov_paths(design: Design, y_fit: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                 lambdas: np.ndarray, binary: bool) -> list[tuple[KrylovRidgePath, FoldKernel]]:
    """Each fold's ridge path (on the Ritz pairs) and kernel, from :func:`fold_subspaces` converged at the
    penalties ``lambdas``."""
    subspaces, kernels = fold_subspaces(design, y_fit, folds, lambdas, binary)
    return [(KrylovRidgePath(subspace, kernel.c_fit, y_fit[train]), kernel)
            for subspace, kernel, (train, _) in zip(subspaces, kernels, folds)]


def estimated_trial_seconds(n_samples: int, n_snps: int) -> float:
    """Seconds one Krylov ``ridge_path`` trial takes on one core of the reference machine: the statistics pass
    and :data:`TYPICAL_ITERATIONS` passes over the search samples' genotypes."""
    return (TYPICAL_ITERATIONS + 1) * n_samples * n_snps * SECONDS_PER_CELL_PASS
