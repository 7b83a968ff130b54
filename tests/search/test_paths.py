"""Reading int8 genotype blocks through a Design (search/paths.py)."""
from __future__ import annotations

import numpy as np
import pytest

from genoml_search.search.paths import SPAN_READ_FACTOR, Design


@pytest.mark.parametrize("columns", [
    None,  # every column
    np.arange(10, 90),  # a contiguous mask: one slice
    np.flatnonzero(np.random.default_rng(1).random(100) < 0.6),  # a dense mask: its span, picked in memory
    np.array([0, 50, 99]),  # a sparse mask: wider than SPAN_READ_FACTOR x its columns, fancy indices
])
@pytest.mark.parametrize("rows", [np.arange(30), np.array([29, 3, 7, 7, 0])])
def test_a_block_read_through_a_mask_is_the_genotypes_at_those_rows_and_columns(tmp_path, columns, rows):
    genotypes = np.random.default_rng(0).integers(-1, 3, size=(30, 100)).astype(np.int8)
    np.save(tmp_path / "g.npy", genotypes)
    design = Design(np.load(tmp_path / "g.npy", mmap_mode="r"), np.zeros((30, 0)), rows, columns)
    mapped = np.arange(100) if columns is None else columns
    for block in (slice(0, 2), slice(1, 40), np.array([2, 0, 1])):
        expected = genotypes[np.ix_(rows, mapped[block])]
        got = design.read(rows, block)
        assert got.dtype == np.int8 and np.array_equal(got, expected)
    assert design.read(rows, slice(0, 0)).shape == (len(rows), 0)
    if columns is not None and len(columns) == 3:
        assert np.ptp(columns) > SPAN_READ_FACTOR * len(columns)
