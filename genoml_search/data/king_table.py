"""Kinship read from a ``plink2 --make-king-table`` file (``munge --king-table``) instead of computed.

Above ``--kinship-max-samples`` computing the n x n KING matrix here costs too much memory, but plink2 writes
the pairs (usually filtered with ``--king-table-filter``) in bit-packed time. The header is read the way
plink2 reads such a file back (``--king-cutoff-table``, ``2.0/plink2_matrix_calc.cc``): ``#FID1 IID1 [SID1]
FID2 IID2 [SID2] ...`` or, without family IDs, ``#IID1 [SID1] IID2 [SID2] ...`` (KING's own ``.kin0``,
``FID1 ID1 FID2 ID2 N_SNP HetHet IBS0 Kinship``, too), then any columns up to a ``KINSHIP`` one. Samples are
matched by IID, and by FID too when both the table and the .fam have one; pairs with a sample that is not in
the dataset (removed by QC, or another cohort) are ignored and counted.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genoml_search.data.kinship import king_degree
from genoml_search.errors import InputFileError

EXPECTED = "#FID1 IID1 FID2 IID2 NSNP HETHET IBS0 KINSHIP or #IID1 IID2 NSNP HETHET IBS0 KINSHIP"
CHUNK_ROWS = 1_000_000
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class KingTableLayout:
    """Which column (0-based) holds what in a king table."""

    n_columns: int
    iid1: int
    iid2: int
    kinship: int
    fid1: int | None = None
    fid2: int | None = None
    nsnp: int | None = None
    names: tuple[str, ...] = ()


def read_header(path: str | Path) -> KingTableLayout:
    """The layout of a king table from its header line; a :class:`InputFileError` naming what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError("file not found; give the output of plink2 --make-king-table", path)
    with open(path, "rb") as handle:
        start = handle.read(4)
    if start == ZSTD_MAGIC:
        raise InputFileError("is zstd-compressed; decompress it first (zstd -d) or run --make-king-table without zs",
                             path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        tokens = handle.readline().split()
    if not tokens:
        raise InputFileError(f"row 1: no header; expected {EXPECTED} (plink2 --make-king-table)", path)
    return _layout(tokens, path)


def _layout(tokens: list[str], path: Path) -> KingTableLayout:
    first = tokens[0].lstrip("#")
    has_fid = first in ("FID1", "FID")
    if not has_fid and not tokens[0].startswith("#") and first not in ("IID1", "ID1"):
        raise InputFileError(f"row 1: header starts with {tokens[0]!r}; expected {EXPECTED}", path)
    position = 0
    expected = (["FID1"] if has_fid else []) + ["IID1", "[SID1]"] + (["FID2"] if has_fid else []) + ["IID2"]
    columns: dict[str, int] = {}
    for want in expected:
        name = tokens[position].lstrip("#") if position < len(tokens) else ""
        if want == "[SID1]":
            position += name == "SID1"
            continue
        aliases = {want, want[1:] if want.startswith("IID") else want, "FID" if want == "FID1" else want}
        if name not in aliases:  # plink2 writes IID1, KING and plink2 before alpha 3 wrote ID1
            raise InputFileError(f"row 1: column {position + 1} is {name or 'missing'!r} where {want} belongs; "
                                 f"expected {EXPECTED}", path)
        columns[want] = position
        position += 1
    upper = [t.upper() for t in tokens]
    if "KINSHIP" not in upper:
        raise InputFileError(f"row 1: no KINSHIP column; expected {EXPECTED} (plink2 --make-king-table cols= must "
                             "include kinship)", path)
    nsnp = next((i for i, t in enumerate(upper) if t in ("NSNP", "N_SNP")), None)
    return KingTableLayout(len(tokens), columns["IID1"], columns["IID2"], upper.index("KINSHIP"),
                           columns.get("FID1"), columns.get("FID2"), nsnp, tuple(tokens))


def read_king_table(path: str | Path, ids: np.ndarray, fids: np.ndarray | None, threshold: float
                    ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Pairs of dataset samples above ``threshold`` from a king table, and a summary of what the file held.

    ``ids`` are the dataset's sample IDs (IIDs), ``fids`` their .fam family IDs (or None). Returns columns id1,
    id2, kinship, degree (closest first) and counts: rows read, pairs between dataset samples, pairs ignored
    because a sample is not in the dataset, the smallest kinship in the file (a table filtered with
    ``--king-table-filter`` lists only pairs above it) and the median NSNP.
    """
    path = Path(path)
    layout = read_header(path)
    index = pd.Index(np.asarray(ids).astype(str))
    fam_fid = None if fids is None or layout.fid1 is None else np.asarray(fids).astype(str)
    kept: list[pd.DataFrame] = []
    counts = {"rows": 0, "pairs_in_dataset": 0, "pairs_ignored_not_in_dataset": 0, "self_pairs_ignored": 0}
    lowest, nsnps = np.inf, []
    for first_row, chunk in _chunks(path, layout):
        a, b, kinship = _map_chunk(chunk, layout, index, fam_fid, first_row, path)
        both = (a >= 0) & (b >= 0)
        same = both & (a == b)
        counts["rows"] += len(chunk)
        counts["self_pairs_ignored"] += int(same.sum())
        counts["pairs_ignored_not_in_dataset"] += int((~both).sum())
        both &= ~same
        counts["pairs_in_dataset"] += int(both.sum())
        with np.errstate(invalid="ignore"):
            finite = kinship[np.isfinite(kinship)]
            lowest = min(lowest, float(finite.min())) if len(finite) else lowest
            above = both & (kinship > threshold)
        if layout.nsnp is not None:
            nsnps.append(pd.to_numeric(chunk[layout.nsnp], errors="coerce").to_numpy()[both])
        lo, hi = np.minimum(a[above], b[above]), np.maximum(a[above], b[above])
        kept.append(pd.DataFrame({"i": lo, "j": hi, "kinship": kinship[above]}))
    pairs = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame({"i": [], "j": [], "kinship": []})
    n_listed = len(pairs)
    pairs = pairs.sort_values("kinship", ascending=False, kind="stable").drop_duplicates(["i", "j"])
    counts["duplicate_pairs_ignored"] = n_listed - len(pairs)
    names = index.to_numpy()
    frame = pd.DataFrame({"id1": names[pairs["i"].to_numpy(dtype=np.intp)],
                          "id2": names[pairs["j"].to_numpy(dtype=np.intp)],
                          "kinship": pairs["kinship"].to_numpy(dtype=float)})
    frame["degree"] = king_degree(frame["kinship"].to_numpy())
    snp_values = np.concatenate(nsnps) if nsnps else np.zeros(0)
    summary = {**counts, "min_kinship_in_file": None if not np.isfinite(lowest) else round(lowest, 6),
               "median_nsnp": int(np.nanmedian(snp_values)) if len(snp_values) and np.isfinite(snp_values).any()
               else None, "has_fid": layout.fid1 is not None}
    return frame.reset_index(drop=True), summary


def _chunks(path: Path, layout: KingTableLayout) -> Iterator[tuple[int, pd.DataFrame]]:
    """(file row of the chunk's first line, chunk of string columns), the header skipped."""
    try:
        reader = pd.read_csv(path, sep=r"\s+", header=None, skiprows=1, dtype=str, chunksize=CHUNK_ROWS,
                             keep_default_na=False, na_values=[], quoting=3, engine="c",
                             names=list(range(layout.n_columns + 1)))  # one spare: catches a row too long
        row = 2
        for chunk in reader:
            extra = chunk[layout.n_columns].fillna("").to_numpy() != ""
            if extra.any():
                raise InputFileError(f"row {row + int(np.flatnonzero(extra)[0])}: more columns than the header's "
                                     f"{layout.n_columns}; every row needs the header's columns", path)
            yield row, chunk
            row += len(chunk)
    except pd.errors.ParserError as error:
        raise InputFileError(f"{_parser_row(str(error))}more columns than the header's {layout.n_columns}; every "
                             "row needs the header's columns", path) from None
    except pd.errors.EmptyDataError:
        return


def _parser_row(message: str) -> str:
    """'row N: ' from a pandas ParserError message ('... in line N, saw M'), if it names one."""
    words = message.replace(",", " ").split()
    if "line" in words:
        following = words[words.index("line") + 1]
        if following.isdigit():
            return f"row {int(following)}: "  # pandas counts file lines from 1 including the header
    return ""


def _map_chunk(chunk: pd.DataFrame, layout: KingTableLayout, index: pd.Index, fam_fid: np.ndarray | None,
               first_row: int, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dataset positions of both samples of each row (-1: not in the dataset) and the kinship values."""
    for column in (layout.iid1, layout.iid2, layout.kinship):
        empty = (chunk[column] == "").to_numpy() | chunk[column].isna().to_numpy()
        if empty.any():
            row = first_row + int(np.flatnonzero(empty)[0])
            raise InputFileError(f"row {row}: column {layout.names[column]} is missing (the row has fewer "
                                 f"columns than the header's {layout.n_columns})", path)
    kinship = pd.to_numeric(chunk[layout.kinship], errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(kinship) & ~chunk[layout.kinship].str.lower().isin(["nan", "-nan"]).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputFileError(f"row {first_row + row}: column {layout.names[layout.kinship]} is "
                             f"{chunk[layout.kinship].iloc[row]!r}, not a number", path)
    a = index.get_indexer(chunk[layout.iid1].to_numpy())
    b = index.get_indexer(chunk[layout.iid2].to_numpy())
    if fam_fid is not None and layout.fid1 is not None and layout.fid2 is not None:
        # with family IDs on both sides a sample is (FID, IID), as plink2 matches it
        a = np.where((a >= 0) & (fam_fid[np.maximum(a, 0)] == chunk[layout.fid1].to_numpy()), a, -1)
        b = np.where((b >= 0) & (fam_fid[np.maximum(b, 0)] == chunk[layout.fid2].to_numpy()), b, -1)
    return a, b, kinship
