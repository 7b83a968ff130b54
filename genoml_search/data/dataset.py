"""The Dataset directory: the munged feature matrix that every study reads.

Layout (written atomically by :func:`write_dataset`)::

    genotypes.npy   int8, samples x variants, MISSING (-127) for no call; opened with mmap_mode="r"
    samples.tsv     ID, phenotype, covariates...
    variants.tsv    id, chrom, pos, counted_allele, other_allele, freq (+ QC figures), and one boolean column
                    ``ld_r2_<R2>`` per LD-pruning mask (the variants ``--indep-pairwise W S R2`` keeps)
    manifest.json   format version, tool version, input hashes, parameters, counts at every step

Optional sample-structure files (see :mod:`genoml_search.data.cohort_structure`): related_pairs.tsv,
related_to_training.tsv, pca.npz (training PCA model) and pcs.tsv (ID, PC1..PCK).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from genoml_search.versions import __version__
from genoml_search.errors import InputFileError
from genoml_search.outputs import check_output_directory
from genoml_search.tasks import Task

FORMAT_VERSION = 1
GENOTYPES = "genotypes.npy"
SAMPLES = "samples.tsv"
VARIANTS = "variants.tsv"
MANIFEST = "manifest.json"
VARIANT_COLUMNS = ["id", "chrom", "pos", "counted_allele", "other_allele", "freq"]
# Sample-structure files, written by munge (genoml_search.data.cohort_structure) when computed:
RELATED_PAIRS = "related_pairs.tsv"
RELATED_TO_TRAINING = "related_to_training.tsv"
PCA_FILE = "pca.npz"
PCS_FILE = "pcs.tsv"
NO_PRUNING = "none"
"""The LD-mask choice that uses every stored variant (the QC'd set)."""


def mask_column(name: str) -> str:
    """The variants.tsv column of the LD-pruning mask ``name`` (an r2 threshold written as ``0.9``)."""
    return f"ld_r2_{name}"


def mask_name(r2: float) -> str:
    """The name of the LD-pruning mask at threshold ``r2`` (``0.9``, ``0.5``, ...)."""
    return format(float(r2), "g")


def pc_names(k: int) -> list[str]:
    """Column names of the first ``k`` genetic PCs."""
    return [f"PC{i}" for i in range(1, k + 1)]


def content_hash(genotypes: np.ndarray, samples: pd.DataFrame, variants: pd.DataFrame) -> str:
    """A short hash of what a study depends on: genotypes, sample table and variant table."""
    digest = hashlib.sha256()
    rows = max(1, 2**26 // max(1, genotypes.shape[1]))  # ~64 MiB blocks keep memory flat on memory maps
    for start in range(0, genotypes.shape[0], rows):  # the row-major bytes, whatever the memory order
        digest.update(np.ascontiguousarray(genotypes[start : start + rows]).data)
    digest.update(samples.to_csv(sep="\t", index=False).encode())
    masks = [c for c in variants.columns if str(c).startswith("ld_r2_")]  # LD masks: what trials select
    digest.update(variants[VARIANT_COLUMNS[:5] + masks].to_csv(sep="\t", index=False).encode())
    return digest.hexdigest()[:16]


def save_row_major(path: Path, genotypes: np.ndarray, block_rows: int = 1024) -> None:
    """``np.save`` of ``genotypes`` as a row-major .npy, written ``block_rows`` rows at a time so a column-major
    matrix is never copied whole (munge hands over its compacted column-major matrix)."""
    if genotypes.flags.c_contiguous:
        np.save(path, genotypes, allow_pickle=False)
        return
    header = {"descr": np.lib.format.dtype_to_descr(genotypes.dtype), "fortran_order": False,
              "shape": genotypes.shape}
    with open(path, "wb") as out:
        np.lib.format.write_array_header_1_0(out, header)
        for start in range(0, genotypes.shape[0], block_rows):
            out.write(np.ascontiguousarray(genotypes[start : start + block_rows]).data)


def write_dataset(
    out: str | Path,
    genotypes: np.ndarray,
    samples: pd.DataFrame,
    variants: pd.DataFrame,
    manifest: dict[str, Any],
    extra_files: Mapping[str, Callable[[Path], object]] | None = None,
) -> Path:
    """Write a Dataset directory atomically and return its path; ``manifest`` gains format/version/hash keys.

    ``extra_files`` maps more file names to functions writing them (given the path), inside the same atomic
    directory.
    """
    out = Path(out)
    if genotypes.dtype != np.int8 or genotypes.shape != (len(samples), len(variants)):
        raise ValueError("genotypes must be int8 with shape (len(samples), len(variants))")
    manifest = {
        "format_version": FORMAT_VERSION,
        "tool": "genoml-search",
        "tool_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **manifest,
        "n_samples": int(genotypes.shape[0]),
        "n_variants": int(genotypes.shape[1]),
        "content_hash": content_hash(genotypes, samples, variants),
    }
    if manifest.get("feature_table"):  # feature tables (munge --table) are part of what a study depends on
        table_digest = f"{manifest['content_hash']}:{manifest['feature_table']['sha256']}".encode()
        manifest["content_hash"] = hashlib.sha256(table_digest).hexdigest()[:16]
    check_output_directory(out, MANIFEST)
    from genoml_search.outputs import OutputKind, output_directory

    with output_directory(out, OutputKind.DATASET) as tmp:
        save_row_major(tmp / GENOTYPES, genotypes)
        samples.to_csv(tmp / SAMPLES, sep="\t", index=False, na_rep="NA")
        variants.to_csv(tmp / VARIANTS, sep="\t", index=False, na_rep="NA")
        for name, writer in (extra_files or {}).items():
            writer(tmp / name)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return out


@dataclass
class Dataset:
    """A Dataset directory opened for reading; genotypes are memory-mapped on first use."""

    path: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, path: str | Path, *, variants_only: bool = False) -> Dataset:
        """Open a Dataset directory, checking that it is one and that its format is understood.

        ``variants_only`` accepts a directory with just the manifest and variant table (a saved model's
        training reference, all that harmonizing a new cohort needs).
        """
        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise InputFileError("not a genoml-search dataset (no manifest.json); create it with `genoml-search munge`", path)
        try:
            manifest = json.loads(manifest_path.read_text())
        except (ValueError, OSError):
            raise InputFileError("manifest is not valid JSON; re-run `genoml-search munge`", manifest_path) from None
        if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
            version = manifest.get("format_version") if isinstance(manifest, dict) else None
            raise InputFileError(
                f"dataset format {version!r} is not {FORMAT_VERSION}; re-run munge with "
                f"genoml-search {__version__}",
                path,
            )
        needed = (VARIANTS,) if variants_only else (GENOTYPES, SAMPLES, VARIANTS)
        absent = [name for name in needed if not (path / name).is_file()]
        if absent:
            raise InputFileError(f"incomplete dataset: {', '.join(absent)} missing; re-run `genoml-search munge`", path)
        return cls(path, manifest)

    @cached_property
    def genotypes(self) -> np.ndarray:
        """The int8 genotype matrix, memory-mapped read-only; a truncated or foreign file is an InputFileError."""
        path = self.path / GENOTYPES
        try:
            genotypes = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise InputFileError(f"not a readable genotype matrix ({str(error).splitlines()[0][:120]}); re-run "
                                 "`genoml-search munge`", path) from None
        expected = (self.manifest.get("n_samples"), self.manifest.get("n_variants"))
        if genotypes.dtype != np.int8 or genotypes.ndim != 2 or tuple(genotypes.shape) != expected:
            raise InputFileError(f"holds a {genotypes.dtype} matrix of shape {genotypes.shape}, not the int8 "
                                 f"{expected[0]} x {expected[1]} of manifest.json (truncated or from another "
                                 "dataset); re-run `genoml-search munge`", path)
        return genotypes

    @cached_property
    def samples(self) -> pd.DataFrame:
        """Sample table: ID, phenotype, covariates."""
        return pd.read_csv(self.path / SAMPLES, sep="\t", dtype={"ID": str}, keep_default_na=True, na_values=["NA"])

    @cached_property
    def variants(self) -> pd.DataFrame:
        """Variant table: id, chrom, pos, counted_allele, other_allele, freq."""
        return pd.read_csv(self.path / VARIANTS, sep="\t", dtype={"id": str, "chrom": str, "counted_allele": str,
                                                                   "other_allele": str})

    @property
    def task(self) -> Task:
        """The phenotype's task recorded at munge time (binary, regression or multiclass)."""
        return Task.parse(self.manifest["phenotype"]["task"])

    @property
    def covariate_names(self) -> list[str]:
        """Names of the covariate columns in ``samples``."""
        return list(self.manifest.get("covariates", {}).get("columns", []))

    @property
    def content_hash(self) -> str:
        """The hash that ties studies to this dataset's content."""
        return self.manifest["content_hash"]

    @property
    def phenotype(self) -> np.ndarray:
        """Phenotype values (float; class codes for classification)."""
        return self.samples["phenotype"].to_numpy(dtype=float)

    def covariates(self) -> np.ndarray:
        """Covariates as a float matrix (NaN for missing), samples x covariates."""
        names = self.covariate_names
        if not names:
            return np.empty((len(self.samples), 0))
        return self.samples[names].to_numpy(dtype=float)

    @property
    def n_pcs(self) -> int:
        """Number of genetic PCs stored in pcs.tsv (0 when none)."""
        pca = self.manifest.get("pca") or {}
        return int(pca.get("n_components", 0)) if pca.get("computed") else 0

    def pcs(self, k: int) -> np.ndarray:
        """The first ``k`` genetic PCs (samples x k, float), in the order of ``samples``."""
        if k > self.n_pcs:
            why = (self.manifest.get("pca") or {}).get("reason")
            raise InputFileError(
                f"--pcs {k}: this dataset has {self.n_pcs} genetic PCs{f' ({why})' if why else ''}; re-munge the "
                f"training cohort with --pcs {k} (and its validation cohorts --like it)", self.path)
        table = pd.read_csv(self.path / PCS_FILE, sep="\t", dtype={"ID": str})
        if list(table["ID"]) != list(self.samples["ID"].astype(str)):
            raise InputFileError(f"{PCS_FILE} does not list the samples of samples.tsv; re-run munge", self.path)
        return table[pc_names(k)].to_numpy(dtype=float)

    @property
    def ld_masks(self) -> dict[str, Any]:
        """The manifest's ``ld_masks`` entry (thresholds, window, default, kept counts); empty when the dataset
        stores one variant set only (munged with an explicit ``--indep-pairwise``, ``--skip-prune``, or by an
        earlier version)."""
        return dict(self.manifest.get("ld_masks") or {})

    def ld_choices(self) -> list[str]:
        """The LD-mask names a study may choose among (``none`` = every stored variant); [] without masks."""
        masks = self.ld_masks
        return [NO_PRUNING, *masks["masks"]] if masks.get("masks") else []

    def default_ld_mask(self) -> str | None:
        """The mask used when a trial does not choose one (None: every stored variant)."""
        return self.ld_masks.get("default")

    def snp_columns(self, name: str | None) -> np.ndarray | None:
        """Indices of the variants the LD mask ``name`` keeps (None for ``none``: every variant)."""
        if name is None or name == NO_PRUNING:
            return None
        if name not in self.ld_masks.get("masks", []):
            raise InputFileError(f"no LD mask {name!r} in this dataset (masks: "
                                 f"{', '.join(self.ld_choices()) or 'none stored'}); re-munge it", self.path)
        return np.flatnonzero(self.variants[mask_column(name)].to_numpy(dtype=bool))

    def related_pairs(self) -> pd.DataFrame | None:
        """Pairs of related samples found at munge time (id1, id2, kinship, degree), or None if not computed."""
        if not (self.manifest.get("relatedness") or {}).get("computed"):
            return None
        return pd.read_csv(self.path / RELATED_PAIRS, sep="\t", dtype={"id1": str, "id2": str})
