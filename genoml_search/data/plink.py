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

from genoml_search.errors import InputFileError

MISSING: int = -127
"""Sentinel for a missing genotype call in every int8 matrix of genoml-search."""

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
    duplicated = table["iid"][table["iid"].duplicated()]
    if len(duplicated):
        raise InputFileError(
            f"duplicate sample ID {duplicated.iloc[0]!r} ({len(duplicated)} duplicates); "
            "sample IDs (IID) must be unique",
            path,
        )
    return table


def read_bim(path: Path) -> pd.DataFrame:
    """Read a .bim file: chrom, id, cM, position, counted (first) allele, other allele; unique IDs."""
    table = _read_whitespace_table(path, BIM_COLUMNS, "chrom ID cM position allele1 allele2")
    try:
        table["pos"] = table["pos"].astype(np.int64)
    except ValueError:
        bad = pd.to_numeric(table["pos"], errors="coerce").isna().to_numpy().nonzero()[0][0]
        raise InputFileError(f"row {bad + 1}: position {table['pos'].iloc[bad]!r} is not an integer", path) from None
    duplicated = table["id"][table["id"].duplicated()]
    if len(duplicated):
        raise InputFileError(
            f"duplicate variant ID {duplicated.iloc[0]!r} ({len(duplicated)} duplicates); "
            "give every variant a unique ID (plink2 --set-all-var-ids) first",
            path,
        )
    return table


def _read_whitespace_table(path: Path, columns: list[str], layout: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, engine="c", comment=None)
    except pd.errors.EmptyDataError:
        raise InputFileError(f"file is empty; expected columns {layout}", path) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InputFileError(f"cannot parse ({_first_line(error)}); expected columns {layout}", path) from None
    if table.shape[1] != len(columns):
        raise InputFileError(
            f"expected {len(columns)} whitespace-separated columns ({layout}), found {table.shape[1]}", path
        )
    table.columns = columns
    if table.isna().any().any():
        row = int(table.isna().any(axis=1).to_numpy().nonzero()[0][0])
        raise InputFileError(f"row {row + 1} has missing fields; expected columns {layout}", path)
    return table


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def check_bed(path: Path, n_samples: int, n_variants: int) -> None:
    """Check the .bed magic bytes, SNP-major mode and size against the .fam and .bim counts."""
    with open(path, "rb") as handle:
        head = handle.read(3)
    if len(head) < 3 or head[:2] != BED_MAGIC[:2]:
        raise InputFileError("not a PLINK 1 .bed file (wrong magic bytes); re-export it with plink --make-bed", path)
    if head[2] != BED_MAGIC[2]:
        raise InputFileError("sample-major .bed files are not supported; re-export with plink --make-bed", path)
    expected = 3 + n_variants * ((n_samples + 3) // 4)
    actual = path.stat().st_size
    if actual != expected:
        raise InputFileError(
            f"size is {actual} bytes but {n_samples} samples x {n_variants} variants (from .fam/.bim) need "
            f"{expected}; the file is truncated or does not belong to this .bim/.fam",
            path,
        )


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
) -> np.ndarray:
    """Read int8 counts of allele 1 from a checked .bed, optionally only some samples (rows) and variants."""
    from bed_reader import open_bed

    rows = slice(None) if sample_index is None else np.asarray(sample_index)
    cols = slice(None) if variant_index is None else np.asarray(variant_index)
    # Passing counts and empty properties keeps bed-reader from re-reading the .fam and .bim.
    with open_bed(bed, iid_count=n_samples, sid_count=n_variants, count_A1=True, properties={}) as reader:
        return reader.read(index=(rows, cols), dtype="int8", order="C")
