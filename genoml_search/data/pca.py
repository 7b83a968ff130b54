"""Genotype PCA fitted on a training cohort and projected onto new cohorts, standardized as ``plink2 --pca``.

Each SNP is centered by twice the training frequency of the counted allele and scaled by ``1/sqrt(2p(1-p))``;
a missing call becomes 0 (the mean) and a SNP monomorphic in training contributes 0, as in plink2. The top
components come from a randomized SVD (Halko, Martinsson & Tropp 2011) whose passes over the matrix read the
int8 genotypes in SNP chunks, so no float copy of the whole matrix is ever made.

Scores are ``X V / sqrt(M)`` (``X`` standardized genotypes, ``V`` the training loadings, ``M`` SNPs): for the
training samples, column k is ``sqrt(eigenvalue_k) * eigenvector_k`` of the GRM ``X X' / M``, whose
eigenvalues ``plink2 --pca`` reports in ``.eigenval``. A new cohort is standardized with the *training*
frequencies and multiplied by the same loadings; nothing is refitted.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from genoml_search.data.plink import check_genotype_matrix
from genoml_search.errors import InputFileError, UserError

MIN_PCA_SNPS: int = 100
"""Fewest SNPs accepted for a PCA."""

PCA_FORMAT_VERSION = 1
_CHUNK_BYTES = 128e6  # float32 bytes of one standardized SNP chunk


@dataclass
class PCAModel:
    """Training allele frequencies and loadings; :meth:`transform` projects any cohort on the same SNPs."""

    freqs: np.ndarray
    """Training frequency of the counted allele per SNP (NaN when no call)."""
    loadings: np.ndarray
    """SNPs x K right singular vectors of the standardized training matrix (unit columns)."""
    eigenvalues: np.ndarray
    """Top K eigenvalues of the training GRM ``X X' / M`` (as in plink2's ``.eigenval``)."""
    n_train_samples: int
    total_variance: float
    """Trace of the training GRM: eigenvalues / total_variance is the fraction of variance explained."""
    variant_ids: list[str] | None = None
    meta: dict = field(default_factory=dict)
    train_scores: np.ndarray | None = field(default=None, repr=False)
    """Scores of the training samples, as :meth:`transform` gives them (kept from the fit, not saved)."""

    @property
    def n_components(self) -> int:
        """Number of principal components."""
        return self.loadings.shape[1]

    @property
    def n_snps(self) -> int:
        """Number of SNPs the model was fitted on."""
        return self.loadings.shape[0]

    @property
    def explained_variance_ratio(self) -> np.ndarray:
        """Fraction of the training variance (GRM trace) each component explains."""
        return self.eigenvalues / self.total_variance if self.total_variance > 0 else np.zeros_like(self.eigenvalues)

    def transform(self, genotypes: np.ndarray) -> np.ndarray:
        """Project a cohort (int8 samples x the model's SNPs, same counted alleles) onto the training PCs."""
        g = check_genotype_matrix(genotypes, "genotypes")
        if g.shape[1] != self.n_snps:
            raise UserError(
                f"the PCA model was fitted on {self.n_snps} SNPs but this cohort has {g.shape[1]}; harmonize it to "
                "the training SNPs and alleles first"
            )
        return _Standardizer(self.freqs).times(g, self.loadings) / np.sqrt(self.n_snps)

    def to_dict(self) -> dict:
        """JSON-friendly dict (lists of floats); :meth:`from_dict` restores the model."""
        return {
            "format_version": PCA_FORMAT_VERSION,
            "freqs": [None if np.isnan(f) else float(f) for f in self.freqs],
            "loadings": self.loadings.tolist(),
            "eigenvalues": self.eigenvalues.tolist(),
            "n_train_samples": int(self.n_train_samples),
            "total_variance": float(self.total_variance),
            "variant_ids": self.variant_ids,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict) -> PCAModel:
        """Inverse of :meth:`to_dict`."""
        version = data.get("format_version")
        if version != PCA_FORMAT_VERSION:
            raise UserError(f"PCA model format version {version!r} is not supported (expected {PCA_FORMAT_VERSION})")
        loadings = np.asarray(data["loadings"], dtype=np.float64)
        return cls(
            freqs=np.array([np.nan if f is None else f for f in data["freqs"]], dtype=np.float64),
            loadings=loadings.reshape(len(data["freqs"]), -1),
            eigenvalues=np.asarray(data["eigenvalues"], dtype=np.float64),
            n_train_samples=int(data["n_train_samples"]),
            total_variance=float(data["total_variance"]),
            variant_ids=data.get("variant_ids"),
            meta=dict(data.get("meta") or {}),
        )

    def save(self, path: str | Path) -> Path:
        """Write the model to a ``.npz`` file (no pickles) and return its path."""
        path = Path(path)
        ids = np.asarray(self.variant_ids if self.variant_ids is not None else [], dtype=str)
        np.savez(
            path,
            format_version=np.int64(PCA_FORMAT_VERSION),
            freqs=self.freqs,
            loadings=self.loadings,
            eigenvalues=self.eigenvalues,
            n_train_samples=np.int64(self.n_train_samples),
            total_variance=np.float64(self.total_variance),
            has_variant_ids=np.bool_(self.variant_ids is not None),
            variant_ids=ids,
            meta_json=np.str_(json.dumps(self.meta)),
        )
        return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")

    @classmethod
    def load(cls, path: str | Path) -> PCAModel:
        """Read a model written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                version = int(data["format_version"])
                if version != PCA_FORMAT_VERSION:
                    raise InputFileError(f"PCA model format version {version} is not supported", path)
                return cls(
                    freqs=data["freqs"],
                    loadings=data["loadings"],
                    eigenvalues=data["eigenvalues"],
                    n_train_samples=int(data["n_train_samples"]),
                    total_variance=float(data["total_variance"]),
                    variant_ids=data["variant_ids"].tolist() if bool(data["has_variant_ids"]) else None,
                    meta=json.loads(str(data["meta_json"])),
                )
        except (OSError, KeyError, ValueError, json.JSONDecodeError) as error:
            raise InputFileError(f"not a PCA model file written by genoml-search ({error})", path) from None


def allele_frequencies(genotypes: np.ndarray) -> np.ndarray:
    """Frequency of the counted allele per SNP over the called genotypes (NaN when nothing is called)."""
    return _snp_stats(check_genotype_matrix(genotypes, "genotypes"))[0]


def _snp_stats(g: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Counted-allele frequency and, per SNP, the sum over called samples of (g - 2p)^2."""
    freqs = np.full(g.shape[1], np.nan)
    squares = np.zeros(g.shape[1])
    for start in range(0, g.shape[1], chunk):
        block = g[:, start : start + chunk]
        called = block.view(np.uint8) <= 2  # MISSING (-127) and other junk are > 2 as uint8
        values = np.where(called, block, 0)
        total = values.sum(axis=0, dtype=np.int64)
        total_sq = (values.astype(np.int16) ** 2).sum(axis=0, dtype=np.int64)
        n_called = called.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = total / (2.0 * n_called)
            freqs[start : start + chunk] = p
            squares[start : start + chunk] = np.nan_to_num(total_sq - 4 * p * total + 4 * p * p * n_called)
    return freqs, squares


class _Standardizer:
    """Standardized genotypes ``X = (G - c) D`` (``c = 2p``, ``D = 1/sqrt(2p(1-p))``, missing at ``c``) times a
    dense matrix, over SNP chunks, without materializing ``X``: ``X R = G (D R) - 1 (c' D R)``.

    Only the int8 -> float32 conversion touches every genotype; SNPs monomorphic in training (or never called)
    get ``D = 0`` and so contribute nothing, as in plink2.
    """

    def __init__(self, freqs: np.ndarray) -> None:
        p = np.asarray(freqs, dtype=np.float64)
        variance = 2.0 * p * (1.0 - p)
        ok = np.isfinite(variance) & (variance > 1e-8)
        self.scale = np.where(ok, 1.0 / np.sqrt(np.where(ok, variance, 1.0)), 0.0)
        self.center = np.where(ok, 2.0 * np.nan_to_num(p), 0.0)
        self.shift = self.center * self.scale  # c D

    def chunks(self, g: np.ndarray):
        """Yield (columns, float32 genotypes of those columns with missing calls set to the center)."""
        n, m = g.shape
        width = max(256, min(m, int(_CHUNK_BYTES / (4 * max(n, 1)))))
        buf = np.empty((n, width), dtype=np.float32)
        bad = np.empty((n, width), dtype=bool)
        center32 = self.center.astype(np.float32)
        for start in range(0, m, width):
            cols = slice(start, min(start + width, m))
            block = g[:, cols]
            z, flags = buf[:, : block.shape[1]], bad[:, : block.shape[1]]
            np.copyto(z, block, casting="unsafe")
            np.greater(block.view(np.uint8), 2, out=flags)
            if flags.any():
                np.copyto(z, np.broadcast_to(center32[cols], z.shape), where=flags)
            yield cols, z

    def times(self, g: np.ndarray, right: np.ndarray) -> np.ndarray:
        """``X @ right`` (SNPs x l) -> samples x l, float64."""
        scaled = (self.scale[:, None] * right).astype(np.float32)
        out = np.zeros((g.shape[0], right.shape[1]), dtype=np.float64)
        for cols, z in self.chunks(g):
            out += z @ scaled[cols]
        return out - self.shift @ right

    def times_t(self, g: np.ndarray, left: np.ndarray) -> np.ndarray:
        """``X' @ left`` (samples x l) -> SNPs x l, float64."""
        left32 = np.ascontiguousarray(left.T, dtype=np.float32)
        out = np.empty((g.shape[1], left.shape[1]), dtype=np.float64)
        for cols, z in self.chunks(g):
            out[cols] = (left32 @ z).T
        return self.scale[:, None] * out - np.outer(self.shift, left.sum(axis=0))


def _orthonormal(matrix: np.ndarray) -> np.ndarray:
    # Single-threaded: multithreaded LAPACK on tall-skinny matrices is no faster and stalls on a busy machine.
    with threadpool_limits(1):
        return np.linalg.qr(matrix)[0]


def fit_pca(
    genotypes: np.ndarray,
    n_components: int,
    *,
    seed: int = 0,
    n_iter: int | None = None,
    oversample: int = 10,
    variant_ids: list[str] | None = None,
) -> PCAModel:
    """Fit the top ``n_components`` genotype PCs of a training cohort (its QC'd, LD-pruned SNPs).

    Args:
        genotypes: int8 samples x SNPs, :data:`~genoml_search.data.plink.MISSING` for no call.
        n_components: K, at most min(n_samples, n_snps) - 1.
        seed: seed of the random test matrix (the result is deterministic for a seed).
        n_iter: power iterations (default 7 when K is below 10% of the smaller dimension, else 4).
        oversample: extra random directions beyond K.
        variant_ids: optional SNP IDs stored with the model so a later cohort can be checked against them.

    Raises:
        UserError: one sample, fewer than :data:`MIN_PCA_SNPS` SNPs, or K out of range.
    """
    g = check_genotype_matrix(genotypes, "genotypes")
    n, m = g.shape
    if n < 2:
        raise UserError(f"PCA needs at least 2 samples in the training cohort; got {n}")
    if m < MIN_PCA_SNPS:
        raise UserError(f"PCA needs at least {MIN_PCA_SNPS} SNPs; got {m}")
    k_max = min(n, m) - 1
    if not 1 <= n_components <= k_max:
        raise UserError(
            f"cannot compute {n_components} principal components from {n} samples x {m} SNPs; "
            f"choose between 1 and {k_max}"
        )
    if variant_ids is not None and len(variant_ids) != m:
        raise UserError(f"{len(variant_ids)} variant IDs given for {m} SNPs")
    if n_iter is None:
        n_iter = 7 if n_components < 0.1 * min(n, m) else 4
    freqs, squares = _snp_stats(g)
    scaler = _Standardizer(freqs)
    width = min(n_components + oversample, min(n, m))
    rng = np.random.default_rng(seed)

    def times(right: np.ndarray) -> np.ndarray:
        return scaler.times(g, right)

    def times_t(left: np.ndarray) -> np.ndarray:
        return scaler.times_t(g, left)

    q = _orthonormal(times(rng.standard_normal((m, width))))
    for _ in range(n_iter):
        q = _orthonormal(times(_orthonormal(times_t(q))))
    b_t = times_t(q)  # (Q' X)' : SNPs x l
    with threadpool_limits(1):
        v, s, _ = np.linalg.svd(b_t, full_matrices=False)
    v, s = v[:, :n_components], s[:n_components]
    # Deterministic signs: the largest-magnitude loading of each component is positive.
    signs = np.sign(v[np.abs(v).argmax(axis=0), np.arange(n_components)])
    v *= np.where(signs == 0, 1.0, signs)
    total = float(np.sum(squares * scaler.scale**2)) / m
    return PCAModel(
        freqs=freqs,
        loadings=v,
        eigenvalues=s**2 / m,
        n_train_samples=n,
        total_variance=total,
        variant_ids=None if variant_ids is None else [str(x) for x in variant_ids],
        meta={"seed": seed, "n_iter": n_iter, "oversample": oversample, "method": "randomized SVD"},
        train_scores=times(v) / np.sqrt(m),
    )
