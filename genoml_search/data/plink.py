"""Reading PLINK 1 binary file sets (.bed/.bim/.fam) into an int8 matrix with allele bookkeeping.

The counted allele is the first allele of the .bim (column 5, PLINK 2's ALT), as bed-reader and plink2's
``--export A`` count it. Missing calls are :data:`MISSING` (-127). Files are validated before any genotype is
read so that a bad file set gives a one-line :class:`~genoml_search.errors.InputFileError`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genoml_search.errors import InputFileError, UserError

MISSING: int = -127
"""Sentinel for a missing genotype call in every int8 matrix of genoml-search."""
SMALL_EPSILON = 2.0**-44
"""plink2's ``kSmallEpsilon``: thresholds are nudged by this relative amount against float error."""

BED_MAGIC = bytes([0x6C, 0x1B, 0x01])
FAM_COLUMNS = ["fid", "iid", "father", "mother", "sex", "pheno"]
BIM_COLUMNS = ["chrom", "id", "cm", "pos", "counted_allele", "other_allele"]


@dataclass
class PlinkFileSet:
    """The three files of a PLINK 1 binary file set."""

    bed: Path
    bim: Path
    fam: Path

    @classmethod
    def from_prefix(cls, prefix: str | Path) -> PlinkFileSet:
        """Resolve ``PREFIX.bed/.bim/.fam``; a missing file is an :class:`InputFileError`."""
        prefix = str(prefix)
        for suffix in (".bed", ".bim", ".fam"):
            if prefix.endswith(suffix):
                prefix = prefix[: -len(suffix)]
        files = cls(Path(prefix + ".bed"), Path(prefix + ".bim"), Path(prefix + ".fam"))
        for path in (files.bed, files.bim, files.fam):
            if not path.is_file():
                raise InputFileError("file not found; --bfile takes the prefix of a .bed/.bim/.fam set", path)
        return files


def read_fam(path: Path) -> pd.DataFrame:
    """Read a .fam file: six whitespace-separated columns, sample IDs as strings, unique IIDs."""
    table = _read_whitespace_table(path, FAM_COLUMNS, "FID IID father mother sex phenotype")
    duplicated = np.flatnonzero(table["iid"].duplicated().to_numpy())
    if len(duplicated):
        raise InputFileError(
            f"row {duplicated[0] + 1}: duplicate sample ID {table['iid'].iloc[duplicated[0]]!r} "
            f"({len(duplicated)} duplicates); sample IDs (IID, column 2) must be unique: remove the duplicates "
            "(plink2 --remove) or give them distinct IIDs",
            path,
        )
    return table


def read_bim(path: Path) -> pd.DataFrame:
    """Read a .bim file: chrom, id, cM, position, counted (first) allele, other allele; unique IDs."""
    table = _read_whitespace_table(path, BIM_COLUMNS, "chrom ID cM position allele1 allele2")
    pos = pd.to_numeric(table["pos"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(pos) | (pos != np.round(pos)) | (np.abs(pos) > 2**53)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputFileError(f"row {row + 1}: position {table['pos'].iloc[row]!r} is not an integer; "
                             "column 4 of a .bim is the base-pair position", path)
    table["pos"] = pos.astype(np.int64)
    duplicated = np.flatnonzero(table["id"].duplicated().to_numpy())
    if len(duplicated):
        raise InputFileError(
            f"row {duplicated[0] + 1}: duplicate variant ID {table['id'].iloc[duplicated[0]]!r} "
            f"({len(duplicated)} duplicates); give every variant a unique ID (plink2 --set-all-var-ids) first",
            path,
        )
    return table


def _read_whitespace_table(path: Path, columns: list[str], layout: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, engine="c", comment=None,
                            encoding="utf-8-sig", keep_default_na=False, na_values=[], quoting=3)
    except pd.errors.EmptyDataError:
        raise InputFileError(f"file is empty; expected columns {layout}", path) from None
    except UnicodeDecodeError:
        raise InputFileError(f"not UTF-8 text; expected whitespace-separated columns {layout}", path) from None
    except (pd.errors.ParserError, ValueError, OverflowError) as error:
        raise InputFileError(f"cannot parse ({_first_line(error)}); expected columns {layout}", path) from None
    except OSError as error:
        raise InputFileError(f"cannot read ({error.strerror or type(error).__name__})", path) from None
    if table.shape[1] != len(columns):
        raise InputFileError(
            f"expected {len(columns)} whitespace-separated columns ({layout}), found {table.shape[1]}", path
        )
    table.columns = columns
    empty = (table == "") | table.isna()
    if empty.any().any():
        row = int(empty.any(axis=1).to_numpy().nonzero()[0][0])
        raise InputFileError(f"row {row + 1} has missing fields; expected columns {layout}", path)
    return table


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def check_bed(path: Path, n_samples: int, n_variants: int) -> None:
    """Check the .bed magic bytes, SNP-major mode and size against the .fam and .bim counts."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(3)
    except OSError as error:
        raise InputFileError(f"cannot read ({error.strerror or type(error).__name__})", path) from None
    if len(head) < 3 or head[:2] != BED_MAGIC[:2]:
        raise InputFileError("not a PLINK 1 .bed file (wrong magic bytes); re-export it with plink --make-bed", path)
    if head[2] != BED_MAGIC[2]:
        raise InputFileError("sample-major .bed files are not supported; re-export with plink --make-bed", path)
    if n_samples == 0 or n_variants == 0:
        raise InputFileError(f"the .fam/.bim list {n_samples} samples and {n_variants} variants; need at least one "
                             "of each", path)
    expected = 3 + n_variants * ((n_samples + 3) // 4)
    actual = path.stat().st_size
    if actual != expected:
        raise InputFileError(
            f"size is {actual} bytes but {n_samples} samples x {n_variants} variants (from .fam/.bim) need "
            f"{expected}; the file is truncated or does not belong to this .bim/.fam",
            path,
        )
    _check_padding(path, n_samples, n_variants)


PADDING_CHECK_VARIANTS = 2000


def _check_padding(path: Path, n_samples: int, n_variants: int) -> None:
    """The unused bits after the last sample of each variant are zero in a .bed written for this .fam.

    The size check cannot see a .fam missing one to three samples (the byte count per variant is the same);
    genotypes in the padding bits of the first variants reveal it.
    """
    used = n_samples % 4
    if used == 0:
        return
    per_variant = (n_samples + 3) // 4
    count = min(n_variants, PADDING_CHECK_VARIANTS)
    data = np.fromfile(path, dtype=np.uint8, count=3 + count * per_variant)[3:]
    last = data.reshape(count, per_variant)[:, -1]
    if np.any(last >> (2 * used)):
        raise InputFileError(
            f"the .bed holds genotypes for more samples than the {n_samples} of the .fam (non-zero padding bits); "
            "the .fam has lost lines or belongs to another .bed",
            path,
        )


def check_genotype_matrix(genotypes: np.ndarray, name: str) -> np.ndarray:
    """The matrix as an array if it is a 2-D int8 samples x SNPs matrix; a :class:`UserError` otherwise."""
    array = np.asarray(genotypes)
    if array.ndim != 2:
        raise UserError(f"{name} must be a samples x SNPs matrix; got {array.ndim} dimensions")
    if array.dtype != np.int8:
        raise UserError(f"{name} must be int8 allele counts (MISSING={MISSING}); got dtype {array.dtype}")
    return array


@dataclass
class PlinkData:
    """Genotypes (int8, samples x variants, :data:`MISSING` for no call) with their sample and variant tables."""

    genotypes: np.ndarray
    samples: pd.DataFrame
    variants: pd.DataFrame


def read_plink(prefix: str | Path, *, read_genotypes: bool = True) -> PlinkData:
    """Read a PLINK 1 binary file set; the counted allele is the .bim's first allele (A1/ALT)."""
    files = PlinkFileSet.from_prefix(prefix)
    samples = read_fam(files.fam)
    variants = read_bim(files.bim)
    check_bed(files.bed, len(samples), len(variants))
    if not read_genotypes:
        return PlinkData(np.empty((len(samples), 0), dtype=np.int8), samples, variants)
    return PlinkData(read_bed_matrix(files.bed, len(samples), len(variants)), samples, variants)


def read_bed_matrix(
    bed: Path,
    n_samples: int,
    n_variants: int,
    variant_index: np.ndarray | None = None,
    sample_index: np.ndarray | None = None,
    order: str = "C",
) -> np.ndarray:
    """Read int8 counts of allele 1 from a checked .bed, optionally only some samples (rows) and variants.

    ``order="F"`` (column-major: each variant's calls contiguous, as in the .bed) reads about twice as fast
    and suits per-variant work (QC, pruning); ``"C"`` suits per-sample work (model fitting)."""
    from bed_reader import open_bed

    rows = slice(None) if sample_index is None else np.asarray(sample_index)
    cols = slice(None) if variant_index is None else np.asarray(variant_index)
    # Passing counts and empty properties keeps bed-reader from re-reading the .fam and .bim.
    with open_bed(bed, iid_count=n_samples, sid_count=n_variants, count_A1=True, properties={}) as reader:
        return reader.read(index=(rows, cols), dtype="int8", order=order)
