"""PLINK 1 reader: layout checks, size and padding checks, BOMs, counted allele."""
from __future__ import annotations

import codecs

import numpy as np
import pytest
from bed_reader import to_bed

from genoml_search.data.plink import check_bed, read_bim, read_fam, read_plink
from genoml_search.errors import InputFileError


def _cohort(tmp_path, n_samples: int = 6, n_variants: int = 3):
    genotypes = np.arange(n_samples * n_variants).reshape(n_samples, n_variants) % 3
    genotypes = genotypes.astype(np.float32)
    genotypes[0, 0] = np.nan
    prefix = tmp_path / "c"
    to_bed(str(prefix) + ".bed", genotypes, properties={
        "iid": [f"s{i}" for i in range(n_samples)], "sid": [f"rs{j}" for j in range(n_variants)],
        "allele_1": ["A"] * n_variants, "allele_2": ["G"] * n_variants}, count_A1=True)
    return prefix, genotypes


def test_read_plink_counts_allele_1_and_marks_missing(tmp_path) -> None:
    prefix, genotypes = _cohort(tmp_path)
    data = read_plink(prefix)
    expected = np.where(np.isnan(genotypes), -127, genotypes).astype(np.int8)
    assert np.array_equal(data.genotypes, expected)
    assert data.variants["counted_allele"].tolist() == ["A"] * 3
    assert data.variants["pos"].dtype == np.int64


def test_fam_with_bom_and_tabs(tmp_path) -> None:
    path = tmp_path / "x.fam"
    path.write_bytes(codecs.BOM_UTF8 + b"f1\ts1\t0\t0\t1\t-9\nf2 s2 0 0 2 2\n")
    assert read_fam(path)["iid"].tolist() == ["s1", "s2"]
    assert read_fam(path)["fid"].tolist() == ["f1", "f2"]


def test_fam_missing_lines_detected_by_padding(tmp_path) -> None:
    prefix, _ = _cohort(tmp_path, n_samples=7)
    fam = tmp_path / "c.fam"
    fam.write_text("".join(fam.read_text().splitlines(keepends=True)[:6]))
    with pytest.raises(InputFileError, match="more samples than the 6"):
        read_plink(prefix)


@pytest.mark.parametrize("edit,message", [
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b"\x00", "size"),
    (lambda b: b"\x6c\x1b\x00" + b[3:], "sample-major"),
    (lambda b: b"BAD" + b[3:], "magic"),
])
def test_bed_checks(tmp_path, edit, message: str) -> None:
    prefix, _ = _cohort(tmp_path)
    bed = tmp_path / "c.bed"
    bed.write_bytes(edit(bed.read_bytes()))
    with pytest.raises(InputFileError, match=message):
        check_bed(bed, 6, 3)


@pytest.mark.parametrize("text,message", [
    ("1 rs1 0 100 A G\n1 rs1 0 200 A G\n", "row 2: duplicate variant ID 'rs1'"),
    ("1 rs1 0 1.5 A G\n", "row 1: position '1.5'"),
    ("1 rs1 0 100 A\n", "found 5"),
    ("", "empty"),
])
def test_bim_errors(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "x.bim"
    path.write_text(text)
    with pytest.raises(InputFileError, match=message):
        read_bim(path)


def test_duplicate_iid_names_the_row(tmp_path) -> None:
    path = tmp_path / "x.fam"
    path.write_text("f1 s1 0 0 1 1\nf2 s2 0 0 1 1\nf3 s1 0 0 1 1\n")
    with pytest.raises(InputFileError, match="row 3: duplicate sample ID 's1'"):
        read_fam(path)
