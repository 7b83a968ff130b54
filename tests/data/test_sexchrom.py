"""Sex-chromosome codes and sample sex."""
from __future__ import annotations

from genoml_search.data.sexchrom import chrom_kinds, sex_codes


def test_chrom_kinds_accept_plink_numbers_and_names():
    got = chrom_kinds(["1", "23", "X", "chrX", "x", "24", "chrY", "25", "XY", "26", "MT", "chrM", "0", "22"])
    assert got.tolist() == ["A", "X", "X", "X", "X", "Y", "Y", "XY", "XY", "MT", "MT", "MT", "A", "A"]


def test_sex_codes_unknown_is_anything_but_1_or_2():
    assert sex_codes(["1", "2", "0", "-9", "NA", " 2"]).tolist() == [1, 2, 0, 0, 0, 2]
