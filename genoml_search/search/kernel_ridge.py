"""Ridge regression on all SNPs through the samples' Gram matrix (the kernel trick; GBLUP), from int8 genotypes.

With n samples and M >> n SNPs, ridge regression with unpenalized covariates C,

    minimize |y - C gamma - Z b|^2 + lambda |b|^2      (Z: the standardized genotypes),

has b = Z' a with a = (P K P + lambda I)^-1 P y, where K = Z Z' is the n x n Gram matrix and P the residual-maker
of C (push-through identity). One eigendecomposition of P K P gives the whole path of penalties at O(n^2) each;
the Gram matrix is accumulated from blocks of int8 columns made float32 one at a time, so no float copy of the
genotypes exists. Leave-one-out predictions come from the hat matrix's diagonal at no extra cost.

Binary traits get L2 logistic regression (:class:`LogisticRidgePath`) in the same eigenbasis: a few O(n^2)
L-BFGS iterations per penalty, warm-started down the grid. (Until 2026-12-03 they were fitted on the 0/1 scale
with a logistic calibration, 0.0012 validation AUC below the logistic fit on a polygenic cohort:
docs/families.md.)

The penalty grid is ``lambda / M`` = :data:`RIDGE_GRID`: GBLUP's ``lambda = M (1 - h2) / h2`` spans SNP
heritabilities from 0.0001 to 0.99. Cost: the Gram matrix (n_fit x n x M multiply-adds per fold) and one
eigendecomposition (n_fit^3) per fold; memory n x n_fit float64. Used below
:data:`~genoml_search.search.ridge_cv.KRYLOV_FROM` training rows per fold; from there
:mod:`~genoml_search.search.krylov_ridge` gives the same path by passes over the genotypes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genoml_search.search.paths import Design, Standardization, _covariate_stats, _snp_block_stats
from genoml_search.tasks import Task

RIDGE_GRID = np.logspace(4, -2, 31)
"""Penalties ``lambda / M`` of the path, largest first (position 0 is practically the covariates-only model)."""
GRAM_BLOCK = 2048
"""SNP columns per float32 block: the block's transient copy is rows x 2,048 x 4 bytes."""
EIGEN_FLOOR = 1e-10
"""Eigenvalues of P K P below this fraction of the largest are numerically zero (dropped by the logistic path)."""
LOGISTIC_MAX_ITERATIONS = 500
LOGISTIC_GTOL = 1e-5
"""L-BFGS stops when every scaled gradient component is below this (the scaled Hessian is near identity, so
this bounds the distance to the optimum in the loss's own units)."""
SINGLE_PRECISION_FROM = 4_000
"""Training rows from which the eigendecomposition runs in float32 (LAPACK ``ssyevd``, 1.8x faster than
float64 at 3,000 rows, ~100 s saved per fold at 8,000): its relative error (~1e-6 of the largest eigenvalue)
is far below the smallest penalty of the grid (0.01 M). Below it, float64."""
GRAM_FLOPS_PER_SECOND = 4.9e10
"""One core's rate for the Gram matrices, int8-to-float32 conversion included (benchmarks/results/
ridge_logistic.json: 5.2e11 floating-point operations in 10.7 s on the 2-core reference machine)."""
EIGEN_SECONDS_AT_2400 = 3.7
"""One core's float64 eigendecomposition of a 2,400-row fold on the reference machine (ridge_logistic.json); the
cost grows with n^3, and from :data:`SINGLE_PRECISION_FROM` rows float32 takes 1/1.8 of it."""


def exact_trial_seconds(n_fit: int, n_samples: int, n_snps: int, n_folds: int) -> float:
    """Seconds one trial through the Gram matrices takes on one core of the reference machine: per fold, the fit
    rows' Gram matrix (symmetric: n_fit^2 M operations), the held-out rows' cross products (2 n_held n_fit M)
    and the eigendecomposition (n_fit^3). Measured trials: 1,087-1,470 s at 8,000 x 99,770 per fold
    (scale.json, before the Lanczos passes), against 1,358 s estimated."""
    gram = (n_fit ** 2 + 2 * (n_samples - n_fit) * n_fit) * n_snps / GRAM_FLOPS_PER_SECOND
    eigen = EIGEN_SECONDS_AT_2400 * (n_fit / 2_400) ** 3 / (1.8 if n_fit >= SINGLE_PRECISION_FROM else 1.0)
    return n_folds * (gram + eigen)


class LowRankKernel:
    """A kernel matrix known on a basis only (:mod:`~genoml_search.search.krylov_ridge`): ``K @ a`` for ``a``
    in the span of the orthonormal columns of ``basis``, as ``images @ (basis' a)`` with ``images = K basis``."""

    def __init__(self, basis: np.ndarray, images: np.ndarray) -> None:
        self.basis, self.images = basis, images

    def __matmul__(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(self.images @ (self.basis.T @ a))


@dataclass
class FoldKernel:
    """A fit's Gram matrices and standardized covariates: ``k_fit`` (fit x fit), ``k_other`` (other x fit),
    ``c_fit``/``c_other`` ([1, standardized covariates]) and the standardization (SNPs, then covariates)."""

    k_fit: np.ndarray | LowRankKernel
    k_other: np.ndarray | LowRankKernel
    c_fit: np.ndarray
    c_other: np.ndarray
    standardization: Standardization


def fold_kernel(design: Design, fit: np.ndarray, other: np.ndarray) -> FoldKernel:
    """Gram matrices of the ``fit`` positions of ``design.rows`` with themselves and with ``other`` positions,
    the genotypes standardized (missing calls imputed) with the ``fit`` rows' means and sds."""
    from scipy.linalg.blas import ssyrk

    rows = np.concatenate([design.rows[fit], design.rows[other]])
    n_fit = len(fit)
    k_fit = np.zeros((n_fit, n_fit))  # upper triangle (syrk: half the multiply-adds of a full product)
    k_other = np.zeros((len(rows) - n_fit, n_fit))
    centers, scales = [], []
    for start in range(0, design.n_snps, GRAM_BLOCK):
        block = design.read(rows, slice(start, start + GRAM_BLOCK))
        mean, sd = _snp_block_stats(block[:n_fit])
        sd = np.where(sd > 0, sd, 1.0)
        z = block.astype(np.float32)
        z = np.where(block < 0, mean.astype(np.float32), z)
        z -= mean.astype(np.float32)
        z /= sd.astype(np.float32)
        k_fit += ssyrk(1.0, z[:n_fit].T, trans=1)  # the transposed view is Fortran-ordered: no copy
        if len(rows) > n_fit:
            k_other += z[n_fit:] @ z[:n_fit].T
        centers.append(mean)
        scales.append(sd)
    k_fit = np.triu(k_fit) + np.triu(k_fit, 1).T
    c_fit, c_other, covariates = standardized_covariates(design, fit, other)
    standardization = Standardization(np.concatenate(centers + [covariates.centers]),
                                      np.concatenate(scales + [covariates.scales]))
    return FoldKernel(k_fit, k_other, c_fit, c_other, standardization)


def standardized_covariates(design: Design, fit: np.ndarray,
                            other: np.ndarray) -> tuple[np.ndarray, np.ndarray, Standardization]:
    """[1, covariates] at the ``fit`` and ``other`` positions of ``design.rows``, standardized (missing values
    imputed) with the ``fit`` rows' means and sds, and those means and sds."""
    covariates = design.covariates[np.concatenate([design.rows[fit], design.rows[other]])]
    cov_mean, cov_sd = _covariate_stats(covariates[:len(fit)])
    cov_sd = np.where(cov_sd > 0, cov_sd, 1.0)
    filled = (np.where(np.isnan(covariates), cov_mean, covariates) - cov_mean) / cov_sd
    with_intercept = np.column_stack([np.ones(len(covariates)), filled])
    return with_intercept[:len(fit)], with_intercept[len(fit):], Standardization(cov_mean, cov_sd)


class RidgePath:
    """Ridge with unpenalized covariates at every penalty of a grid, from one eigendecomposition."""

    def __init__(self, k_fit: np.ndarray, c_fit: np.ndarray, y: np.ndarray) -> None:
        u_c, s_c, _ = np.linalg.svd(c_fit, full_matrices=False)
        self.q = u_c[:, s_c > 1e-10 * s_c[0]]  # orthonormal basis of the covariates (rank-deficient ones too)
        kp = self._project(self._project(k_fit).T).T
        s, u = _symmetric_eigh((kp + kp.T) / 2)
        self.s, self.u = np.maximum(s, 0.0), u
        self.u_squared = u ** 2  # the leverages of every penalty come from it
        self.uy = u.T @ self._project(y)
        self.k_fit: np.ndarray | LowRankKernel = k_fit
        self.c_fit, self.y = c_fit, y

    def _project(self, m: np.ndarray) -> np.ndarray:
        return m - self.q @ (self.q.T @ m)

    def logistic_features(self, first: int) -> np.ndarray | None:
        """F with eta = Q h + F w for the dual coefficients a = U S^-1/2 w (eigenpairs from ``first`` on), or
        None for F = U S^1/2, which the exact eigenpairs give (P K P U = U S)."""
        return None

    def solve(self, penalty: float) -> tuple[np.ndarray, np.ndarray]:
        """The dual coefficients ``a`` (b = Z' a) and the covariate coefficients ``gamma`` at one penalty."""
        a = self._project(self.u @ (self.uy / (self.s + penalty)))
        gamma = np.linalg.lstsq(self.c_fit, self.y - self.k_fit @ a, rcond=None)[0]
        return a, gamma

    def predict(self, penalty: float, k_other: np.ndarray | LowRankKernel, c_other: np.ndarray) -> np.ndarray:
        """The linear predictor of other rows at one penalty."""
        a, gamma = self.solve(penalty)
        return c_other @ gamma + k_other @ a

    def leave_one_out(self, penalty: float) -> np.ndarray:
        """Each fit row's prediction by the model fitted without it (exact: the hat matrix's diagonal)."""
        a, gamma = self.solve(penalty)
        fitted = self.c_fit @ gamma + self.k_fit @ a
        leverage = (self.q ** 2).sum(axis=1) + self.u_squared @ (self.s / (self.s + penalty))
        return self.y - (self.y - fitted) / np.maximum(1.0 - leverage, 1e-12)


class LogisticRidgePath:
    """L2 logistic regression with unpenalized covariates at the penalties of a grid, from the eigendecomposition
    of a :class:`RidgePath` fitted on the 0/1 trait.

    Minimizes the summed log-loss + lambda / 2 |b|^2 over eta = C gamma + Z b. The loss sees Z b only through
    P Z b plus a part in the covariates' span, so the problem is the same with P Z in place of Z, whose Gram
    matrix P K P = U S U' the ridge path has decomposed: eta = Q h + U S^1/2 w with penalty lambda / 2 |w|^2,
    and b = Z' a with a = U S^-1/2 w. In these coordinates the Hessian is U' W U S + lambda, close to
    diagonal because the weights W = p (1 - p) vary little for the small effects ridge is for; L-BFGS runs on
    the variables scaled by that diagonal's square root, so it needs a few O(n^2) iterations per penalty, and
    each penalty starts from the previous one's solution (call :meth:`solve` from the largest penalty down).
    """

    def __init__(self, path: RidgePath) -> None:
        # eigenvalues ascend, so the kept ones are a suffix: a view of the eigenvectors, not an n x n copy
        first = int(np.searchsorted(path.s, EIGEN_FLOOR * max(float(path.s.max()), 1e-300), side="right"))
        self.q, self.sqrt_s, self.u = path.q, np.sqrt(path.s[first:]), path.u[:, first:]
        self.features = path.logistic_features(first)  # None: U S^1/2, never formed
        self.feature_norms = self.sqrt_s ** 2 if self.features is None else (self.features ** 2).sum(axis=0)
        self.k_fit, self.c_fit, self.y = path.k_fit, path.c_fit, path.y
        mean = float(np.clip(self.y.mean(), 1e-3, 1 - 1e-3))
        self.weight = mean * (1 - mean)  # the Hessian's weights at the covariates-only fit, roughly
        self.theta = np.zeros(self.q.shape[1] + len(self.sqrt_s))
        self.theta[:self.q.shape[1]] = self.q.T @ np.full(len(self.y), np.log(mean / (1 - mean)))  # the prevalence
        self.iterations: list[int] = []
        self.fitted_eta = np.zeros(len(self.y))

    def _eta(self, h: np.ndarray, w: np.ndarray) -> np.ndarray:
        return self.q @ h + (self.u @ (self.sqrt_s * w) if self.features is None else self.features @ w)

    def _features_t(self, residual: np.ndarray) -> np.ndarray:
        return self.sqrt_s * (self.u.T @ residual) if self.features is None else self.features.T @ residual

    def solve(self, penalty: float) -> tuple[np.ndarray, np.ndarray]:
        """The dual coefficients ``a`` (b = Z' a) and the covariate coefficients ``gamma`` at one penalty."""
        from scipy.optimize import minimize

        n_q = self.q.shape[1]
        scale = np.sqrt(np.r_[np.full(n_q, self.weight), self.weight * self.feature_norms + penalty])

        def loss(v: np.ndarray) -> tuple[float, np.ndarray]:
            theta = v / scale
            h, w = theta[:n_q], theta[n_q:]
            eta = self._eta(h, w)
            residual = sigmoid(eta) - self.y
            value = float(np.sum(np.logaddexp(0.0, eta) - self.y * eta) + penalty / 2 * w @ w)
            gradient = np.r_[self.q.T @ residual, self._features_t(residual) + penalty * w]
            return value, gradient / scale

        result = minimize(loss, self.theta * scale, jac=True, method="L-BFGS-B",
                          options={"maxiter": LOGISTIC_MAX_ITERATIONS, "gtol": LOGISTIC_GTOL, "ftol": 0.0})
        self.iterations.append(int(result.nit))
        self.theta = result.x / scale
        h, w = self.theta[:n_q], self.theta[n_q:]
        a = self.u @ (w / self.sqrt_s)
        self.fitted_eta = self._eta(h, w)
        gamma = np.linalg.lstsq(self.c_fit, self.fitted_eta - self.k_fit @ a, rcond=None)[0]
        return a, gamma

    def predict(self, penalty: float, k_other: np.ndarray | LowRankKernel, c_other: np.ndarray) -> np.ndarray:
        """The linear predictor (log-odds) of other rows at one penalty."""
        a, gamma = self.solve(penalty)
        return c_other @ gamma + k_other @ a


def _symmetric_eigh(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and eigenvectors (float64) of a symmetric matrix; computed in float32 from
    :data:`SINGLE_PRECISION_FROM` rows (the eigendecomposition is most of a large fold's time)."""
    if len(matrix) < SINGLE_PRECISION_FROM:
        return np.linalg.eigh(matrix)
    from scipy.linalg import eigh

    s, u = eigh(matrix.astype(np.float32), driver="evd", overwrite_a=True, check_finite=False)
    return s.astype(np.float64), u.astype(np.float64)


def sigmoid(eta: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow warnings."""
    return 0.5 * (1.0 + np.tanh(0.5 * eta))


def target(y: np.ndarray, task: str) -> np.ndarray:
    """What the ridge fits: the trait (regression) or 1 for the larger class label (binary)."""
    if task == Task.REGRESSION:
        return np.asarray(y, dtype=np.float64)
    return (np.asarray(y) == np.unique(y)[-1]).astype(np.float64)


def penalties(n_snps: int) -> np.ndarray:
    """The path's penalties lambda = RIDGE_GRID x M, largest first."""
    return RIDGE_GRID * max(n_snps, 1)


def scores_along_path(path: RidgePath, kernel: FoldKernel, task: str, lambdas: np.ndarray) -> list[np.ndarray]:
    """The ``other`` rows' predictions (regression) or P(class 1) (binary: the logistic path) at every penalty,
    ``lambdas`` largest first."""
    solver: RidgePath | LogisticRidgePath = LogisticRidgePath(path) if task == Task.BINARY else path
    scores = []
    for penalty in lambdas:
        eta = solver.predict(penalty, kernel.k_other, kernel.c_other)
        scores.append((sigmoid(eta) if task == Task.BINARY else eta).astype(np.float32))
    return scores


def snp_coefficients(design: Design, a: np.ndarray, standardization: Standardization) -> np.ndarray:
    """b = Z' a on the standardized scale, from the same int8 blocks (``a``: one weight per design row)."""
    beta = np.empty(design.n_snps)
    for start in range(0, design.n_snps, GRAM_BLOCK):
        block = design.read(design.rows, slice(start, start + GRAM_BLOCK))
        columns = slice(start, start + block.shape[1])
        centers, scales = standardization.centers[columns], standardization.scales[columns]
        z = (np.where(block < 0, centers, block) - centers) / scales
        beta[columns] = z.T @ a
    return beta
