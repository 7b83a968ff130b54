"""Whole regularization paths of penalized GLMs fitted straight from the int8 genotypes (adelie).

One fit solves the elastic net for a decreasing sequence of penalties lambda_max > ... > min_ratio lambda_max
(warm starts and adelie's screening rules), for squared error (regression), binomial (binary) or multinomial
(multiclass) loss, with the covariates unpenalized (penalty factor 0). The first point of every path,
lambda_max, has all SNP coefficients zero: it *is* the covariates-only model.

No float copy of the genotypes is made: the rows a fit uses are written block by block (a few thousand
columns at a time) to adelie's ``.snpdat`` format (which stores the positions of the 1s, 2s and missing
calls, smaller than int8 for common SNPs) and read back into memory; adelie standardizes the columns on the
fly from the per-column means and standard deviations computed here, on the fit's own rows (so inside a CV
fold, on the fold's training part: missing calls are imputed with that mean, as
:class:`~genoml_search.search.pipeline.GenotypePreprocessor` does).
"""
from __future__ import annotations

import gc
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from genoml_search.data.pages import release_pages
from genoml_search.tasks import Task

PATH_SIZE = 100
"""Penalties per path (adelie's and glmnet's default), log-spaced from lambda_max down to MIN_RATIO of it."""
MIN_RATIO = 0.01
"""The smallest penalty of a path, relative to lambda_max (glmnet's default when samples < features)."""
PATIENCE = 10
"""A fold's path stops when its validation score has not improved for this many penalties (bigstatsr's
``n.abort``): ten steps of 1.05 x lower the penalty by 1.6 x past the best one."""
BLOCK_COLUMNS = 1024
"""SNP columns converted per block: the transient copies of one block are a few times rows x 1,024 bytes. With
4,096 the peak RSS of a fit beyond its baseline was 1.0x the int8 matrix (3,000 x 26,669), with 1,024 0.83x at
the same speed."""

SPAN_READ_FACTOR = 4
"""A block of mask columns is read as its contiguous span when that is at most this many times wider."""

COLLECT_CELLS = 4 * 2**20
"""A fit over at least this many genotype cells (samples x SNPs) runs a garbage collection at its end, to
release its SNP matrix at once; below it the matrix is small and the collection would cost more than it saves
(it made up most of a small fit's time)."""


@dataclass(frozen=True)
class Design:
    """What a path is fitted on: int8 genotypes (samples x SNPs, negative = missing, e.g. a memory map), the
    float covariates (samples x covariates, may be empty), the rows (samples) to use and, for an LD mask, the
    SNP columns to use (None: all). Columns are read through the mask block by block, never copied whole."""

    genotypes: Any
    covariates: np.ndarray
    rows: np.ndarray
    columns: np.ndarray | None = None

    @property
    def n_snps(self) -> int:
        return int(self.genotypes.shape[1] if self.columns is None else len(self.columns))

    def with_rows(self, rows: np.ndarray) -> Design:
        """The same genotypes, covariates and columns at other rows."""
        return Design(self.genotypes, self.covariates, rows, self.columns)

    def read(self, rows: np.ndarray, columns: Any) -> np.ndarray:
        """int8 genotypes at ``rows`` and SNP positions ``columns`` (a slice or indices, through the mask).

        Mask columns are read as the contiguous span that holds them and picked in memory when the span is at
        most :data:`SPAN_READ_FACTOR` times wider: two fancy indices on a row-major memory map (``np.ix_``)
        read it far more slowly than a slice of contiguous columns."""
        positions = columns if self.columns is None else self.columns[columns]
        if isinstance(positions, slice):
            return np.asarray(self.genotypes[rows, positions], dtype=np.int8)
        positions = np.asarray(positions)
        if len(positions) == 0:
            return np.zeros((len(rows), 0), dtype=np.int8)
        low, high = int(positions.min()), int(positions.max()) + 1
        if high - low > SPAN_READ_FACTOR * len(positions):
            return np.asarray(self.genotypes[np.ix_(rows, positions)], dtype=np.int8)
        span = np.asarray(self.genotypes[rows, low:high], dtype=np.int8)
        return span if high - low == len(positions) and bool(np.all(np.diff(positions) == 1)) \
            else span[:, positions - low]

    @property
    def n_covariates(self) -> int:
        return int(self.covariates.shape[1])


@dataclass
class Standardization:
    """Per-column centers (the imputation values too) and scales of a design's columns on its rows."""

    centers: np.ndarray
    scales: np.ndarray


def _snp_block_stats(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means of the non-missing calls, and standard deviations after imputing missing calls with them.

    From counts of 1s and 2s (no float copy of the block)."""
    ones = np.count_nonzero(block == 1, axis=0).astype(np.float64)
    twos = np.count_nonzero(block == 2, axis=0).astype(np.float64)
    count = np.count_nonzero(block >= 0, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, (ones + 2 * twos) / np.maximum(count, 1), 0.0)
    n = block.shape[0]
    sum_squares = ones + 4 * twos + (n - count) * mean * mean
    var = np.maximum(sum_squares / n - mean * mean, 0.0)
    return mean, np.sqrt(var)


def _covariate_stats(covariates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore"):
        mean = np.nan_to_num(np.nanmean(covariates, axis=0), nan=0.0) if covariates.size else np.zeros(0)
    filled = np.where(np.isnan(covariates), mean, covariates)
    return mean, filled.std(axis=0)


def import_adelie() -> Any:
    """adelie, imported without its thread pinning: at import it sets OMP_PROC_BIND=TRUE (unless set), which
    pins every process's OpenMP threads to the same first cores, so Dask workers sharing a machine would
    share one core."""
    os.environ.setdefault("OMP_PROC_BIND", "FALSE")
    import adelie

    return adelie


class AdelieMatrix:
    """The standardized design of one fit as an adelie matrix (int8 SNP blocks via ``.snpdat`` + covariates).

    Each SNP is stored counting its minor allele in the fit's rows (``2 - g`` where the counted allele is the
    major one): adelie's SNP format stores the positions of the 1s and 2s, so this halves its size for the
    columns counted on the major allele (about half of them in .bim files that do not order alleles by
    frequency). Standardizing ``2 - g`` with center ``2 - mean`` and scale ``-sd`` gives exactly the
    standardized ``g``, so coefficients and :attr:`standardization` stay those of the counted allele.

    With ``fold_rows`` (positions in ``design.rows`` of each CV fold's training rows) the matrix is built once
    for all the design's rows and each fold gets its own standardization from its training rows
    (:attr:`fold_standardizations`, :meth:`standardized`): a fold's path is then fitted on this one matrix with
    observation weight 0 on its held-out rows (what adelie recommends over row subsets), instead of converting
    the genotypes again per fold. Missing calls are stored imputed with the mean of all the design's rows (the
    search samples; genotypes only, no phenotype), the same value for every fold.

    The ``.snpdat`` files are written to a private temporary directory, read into memory and deleted at once,
    so a killed worker leaves no file behind for long.
    """

    def __init__(self, design: Design, n_threads: int = 1, fold_rows: list[np.ndarray] | None = None) -> None:
        ad = import_adelie()
        rows = np.asarray(design.rows)
        centers, scales, flips, blocks = [], [], [], []
        fold_stats: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in fold_rows or []]
        with tempfile.TemporaryDirectory(prefix="genoml-search-path-") as tmp:
            for start in range(0, design.n_snps, BLOCK_COLUMNS):
                block = design.read(rows, slice(start, start + BLOCK_COLUMNS))
                mean, sd = _snp_block_stats(block)
                for stats, train in zip(fold_stats, fold_rows or []):
                    stats.append(_snp_block_stats(block[train]))
                flip = mean > 1.0  # the counted allele is the major one here: store the minor allele's count
                if flip.any():
                    block[:, flip] = np.where(block[:, flip] >= 0, 2 - block[:, flip], block[:, flip])
                path = os.path.join(tmp, f"{start}.snpdat")
                writer = ad.io.snp_unphased(path)
                writer.write(np.asfortranarray(block), impute_method=np.where(flip, 2.0 - mean, mean),
                             n_threads=n_threads)
                del block
                reader = ad.io.snp_unphased(path, read_mode="file")
                reader.read()
                blocks.append(ad.matrix.snp_unphased(reader, n_threads=n_threads))
                centers.append(mean)
                scales.append(sd)
                flips.append(flip)
                # after every block: the kernel maps up to 64 KB around each faulting page (fault-around), so
                # one block's read maps most of every row's pages
                release_pages(design.genotypes)
        cov_mean, cov_sd = _covariate_stats(design.covariates[rows])
        if design.n_covariates:
            filled = np.where(np.isnan(design.covariates[rows]), cov_mean, design.covariates[rows])
            blocks.append(ad.matrix.dense(np.asfortranarray(filled, dtype=np.float64), n_threads=n_threads))
        matrix = blocks[0] if len(blocks) == 1 else ad.matrix.concatenate(blocks, axis=1, n_threads=n_threads)
        self.standardization = _standardization(centers, scales, cov_mean, cov_sd)
        self.fold_standardizations = [
            _standardization([m for m, _ in stats], [sd for _, sd in stats],
                             *_covariate_stats(design.covariates[rows[train]]))
            for stats, train in zip(fold_stats, fold_rows or [])]
        self._flipped = np.concatenate(flips + [np.zeros(design.n_covariates, dtype=bool)])
        self._base, self._n_threads = matrix, n_threads
        self.matrix = self.standardized(self.standardization)
        self.n_snps, self.n_covariates = design.n_snps, design.n_covariates
        self._blocks = blocks  # adelie's matrices reference these; keep them alive

    def standardized(self, standardization: Standardization) -> Any:
        """The matrix standardized with some centers and scales (of the counted alleles; minor-allele storage
        is undone here). A light wrapper: the SNP data are shared."""
        centers, scales = standardization.centers, standardization.scales
        return import_adelie().matrix.standardize(
            self._base, centers=np.where(self._flipped, 2.0 - centers, centers),
            scales=np.where(self._flipped, -scales, scales), n_threads=self._n_threads)


def _standardization(centers: list[np.ndarray], scales: list[np.ndarray], cov_mean: np.ndarray,
                     cov_sd: np.ndarray) -> Standardization:
    raw_scales = np.concatenate(scales + [cov_sd])
    return Standardization(np.concatenate(centers + [cov_mean]), np.where(raw_scales > 0, raw_scales, 1.0))


def glm_for(task: str, y: np.ndarray, classes: np.ndarray | None = None,
            weights: np.ndarray | None = None) -> Any:
    """adelie's GLM for a task: gaussian, binomial (y in {0, 1}) or multinomial (one column per class);
    ``weights`` (summing to 1) are observation weights, 0 for rows left out of the fit."""
    ad = import_adelie()
    if task == Task.REGRESSION:
        return ad.glm.gaussian(np.asarray(y, dtype=np.float64), weights=weights)
    assert classes is not None, "a classification path needs the classes"
    if task == Task.BINARY:
        return ad.glm.binomial(np.asarray(y == classes[1], dtype=np.float64), weights=weights)
    onehot = (np.asarray(y)[:, None] == np.asarray(classes)[None, :]).astype(np.float64)
    return ad.glm.multinomial(onehot, weights=weights)


@dataclass
class PathFit:
    """A fitted path on the standardized scale: ``betas`` (penalties x columns[*classes], sparse rows),
    ``intercepts``, the penalties ``lambdas`` and the design's standardization."""

    betas: Any
    intercepts: np.ndarray
    lambdas: np.ndarray
    standardization: Standardization
    n_outputs: int

    def coefficients(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Dense standardized-scale coefficients (columns x outputs) and intercept(s) at one penalty."""
        beta = np.asarray(self.betas[index].toarray()).reshape(-1, self.n_outputs)
        return beta, np.atleast_1d(np.asarray(self.intercepts[index], dtype=np.float64))


def fit_path(design: Design, y: np.ndarray, task: str, l1_ratio: float, classes: np.ndarray | None = None,
             stop: Callable[[PathFit], bool] | None = None, max_index: int | None = None,
             min_ratio: float = MIN_RATIO, path_size: int = PATH_SIZE, n_threads: int = 1,
             shared: tuple[AdelieMatrix, int, np.ndarray] | None = None) -> PathFit:
    """Fit the path on ``design`` (``y``: the targets of its rows) from lambda_max down, warm-started, with
    adelie's screening rules.

    ``stop(partial_fit)`` is asked after every penalty and ends the path early when it returns True;
    ``max_index`` ends it after that many penalties past lambda_max (a refit at a chosen penalty).
    ``shared`` = (a matrix built for all rows with fold standardizations, the fold, its training positions):
    fit that fold on the shared matrix, weight 0 on the other rows (``y`` then holds the targets of all rows).
    """
    ad = import_adelie()
    weights = None
    if shared is None:
        matrix: AdelieMatrix | _FoldView = AdelieMatrix(design, n_threads=n_threads)
    else:
        matrix = _FoldView(shared[0], shared[1])
        weights = np.zeros(len(y))
        weights[shared[2]] = 1.0 / len(shared[2])
    penalty = np.ones(design.n_snps + design.n_covariates)
    penalty[design.n_snps :] = 0.0  # covariates: unpenalized fixed effects
    if task == Task.MULTICLASS:
        assert classes is not None, "a multiclass path needs the classes"
    n_outputs = len(classes) if task == Task.MULTICLASS and classes is not None else 1

    def partial(state: Any) -> PathFit:
        # copies: adelie's arrays are views that would keep the state, and with it the matrix, alive
        return PathFit(state.betas, np.array(state.intercepts), np.array(state.lmdas), matrix.standardization,
                       n_outputs)

    def exit_cond(state: Any) -> bool:
        if max_index is not None and len(state.lmdas) > max_index:
            return True
        return stop is not None and stop(partial(state))

    state = ad.grpnet(X=matrix.matrix, glm=glm_for(task, y, classes, weights), penalty=penalty,
                      alpha=float(l1_ratio), min_ratio=min_ratio, lmda_path_size=path_size, n_threads=n_threads,
                      progress_bar=False, exit_cond=exit_cond)
    fit = partial(state)
    # the solver state and the callbacks form reference cycles that hold the fold's SNP matrix until the next
    # garbage collection; without this the matrices of several folds piled up (+0.6x the int8 matrix per fold)
    del state, matrix, exit_cond, partial
    if len(y) * design.n_snps >= COLLECT_CELLS:  # a full collection costs ~0.1 s: worth it for big matrices only
        gc.collect()
    return fit


class _FoldView:
    """One fold's standardized view of a shared :class:`AdelieMatrix`."""

    def __init__(self, shared: AdelieMatrix, fold: int) -> None:
        self.standardization = shared.fold_standardizations[fold]
        self.matrix = shared.standardized(self.standardization)


def standardized_columns(design: Design, rows: np.ndarray, columns: np.ndarray,
                         standardization: Standardization) -> np.ndarray:
    """The standardized values of some columns (SNPs first, then covariates) at some rows, as float64.

    Only the columns asked for are read (the few with nonzero coefficients), missing values become the
    column's center, i.e. 0 after standardization.
    """
    columns = np.asarray(columns, dtype=np.intp)
    out = np.empty((len(rows), len(columns)))
    snp = columns < design.n_snps
    if snp.any():
        values = design.read(rows, columns[snp]).astype(np.float64)
        centers = standardization.centers[columns[snp]]
        out[:, snp] = np.where(values < 0, centers, values)
    if (~snp).any():
        values = design.covariates[np.ix_(rows, columns[~snp] - design.n_snps)].astype(np.float64)
        centers = standardization.centers[columns[~snp]]
        out[:, ~snp] = np.where(np.isnan(values), centers, values)
    return (out - standardization.centers[columns]) / standardization.scales[columns]


def linear_predictor(fit: PathFit, index: int, design: Design, rows: np.ndarray) -> np.ndarray:
    """eta = standardized x . beta + intercept at one penalty of the path, for some rows (rows x outputs)."""
    beta, intercept = fit.coefficients(index)
    active = np.flatnonzero(np.any(beta != 0, axis=1))
    eta = np.tile(intercept, (len(rows), 1))
    if len(active):
        eta += standardized_columns(design, rows, active, fit.standardization) @ beta[active]
    return eta


def scores_from_eta(eta: np.ndarray, task: str) -> np.ndarray:
    """What metrics need from the linear predictor: predictions, P(class 1), or class probabilities."""
    if task == Task.REGRESSION:
        return eta[:, 0]
    if task == Task.BINARY:
        return 1.0 / (1.0 + np.exp(-eta[:, 0]))
    shifted = np.exp(eta - eta.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def raw_scale(fit: PathFit, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients on the raw dosage/covariate scale, intercept(s), and the imputation values (centers)."""
    beta, intercept = fit.coefficients(index)
    coef = beta / fit.standardization.scales[:, None]
    return coef, intercept - fit.standardization.centers @ coef, fit.standardization.centers
