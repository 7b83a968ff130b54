"""Fuzzing the input readers: any bytes give a valid result or a clean UserError, never another exception."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genoml_search.data.plink import check_bed, read_bed_matrix, read_bim, read_fam
from genoml_search.data.tables import read_covariates, read_gwas, read_id_list, read_phenotype
from genoml_search.errors import UserError

FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])

# Text that looks like the real thing: headers, delimiters, numbers, missing codes, junk and encodings.
TOKENS = st.sampled_from(["ID", "IID", "FID", "#FID", "PHENO", "AGE", "SEX", "SNP", "P", "s1", "s2", "s3", "rs1",
                          "rs2", "0", "1", "2", "-9", "NA", "nan", "inf", "-inf", "1e999", "0.5", "1.5", "-1", "",
                          "A", "G", "case", '"', "'", "\ufeff", "\x00", "é", "1,5", " "])
SEPARATORS = st.sampled_from([",", "\t", " ", ";", "  ", "|", ",,"])
LINES = st.lists(st.lists(TOKENS, min_size=0, max_size=5), min_size=0, max_size=8)
NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])


def _render(lines: list[list[str]], sep: str, newline: str) -> str:
    return newline.join(sep.join(line) for line in lines) + newline


TEXT = st.one_of(
    st.builds(lambda lines, sep, nl: _render(lines, sep, nl).encode(), LINES, SEPARATORS, NEWLINES),
    st.builds(lambda lines, sep, nl: _render(lines, sep, nl).encode("utf-16"), LINES, SEPARATORS, NEWLINES),
    st.binary(max_size=200),
)


def _call(function, *args):
    try:
        return function(*args)
    except UserError as error:
        assert "\n" not in str(error)
        return None


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@FUZZ
@given(data=TEXT, task=st.sampled_from(["auto", "binary", "regression", "multiclass"]))
def test_fuzz_phenotype(workdir: Path, data: bytes, task: str) -> None:
    path = workdir / "pheno.txt"
    path.write_bytes(data)
    result = _call(read_phenotype, path, None, task)
    if result is not None:
        values, info = result
        assert np.isfinite(values.to_numpy()).all() and values.index.is_unique
        assert info["task"] in ("binary", "regression", "multiclass")


@FUZZ
@given(data=TEXT, levels=st.integers(1, 5))
def test_fuzz_covariates(workdir: Path, data: bytes, levels: int) -> None:
    path = workdir / "covar.txt"
    path.write_bytes(data)
    result = _call(read_covariates, path, levels)
    if result is not None:
        frame, _ = result
        assert not np.isinf(frame.to_numpy(dtype=float)).any() and frame.index.is_unique


@FUZZ
@given(data=TEXT)
def test_fuzz_gwas_and_id_lists(workdir: Path, data: bytes) -> None:
    path = workdir / "gwas.txt"
    path.write_bytes(data)
    p = _call(read_gwas, path)
    if p is not None:
        assert ((p >= 0) & (p <= 1)).all() and p.index.is_unique
    ids = _call(read_id_list, path, "sample list")
    assert ids is None or all(isinstance(i, str) and i for i in ids)


@FUZZ
@given(data=TEXT)
def test_fuzz_fam_and_bim(workdir: Path, data: bytes) -> None:
    path = workdir / "x.fam"
    path.write_bytes(data)
    fam = _call(read_fam, path)
    if fam is not None:
        assert list(fam.columns) == ["fid", "iid", "father", "mother", "sex", "pheno"] and fam["iid"].is_unique
    bim = _call(read_bim, path)
    if bim is not None:
        assert bim["pos"].dtype == np.int64 and bim["id"].is_unique


@FUZZ
@given(body=st.binary(max_size=120), head=st.sampled_from([b"l\x1b\x01", b"l\x1b\x00", b"", b"\x00\x00\x00"]),
       n_samples=st.integers(0, 9), n_variants=st.integers(0, 6))
def test_fuzz_bed(workdir: Path, body: bytes, head: bytes, n_samples: int, n_variants: int) -> None:
    path = workdir / "x.bed"
    path.write_bytes(head + body)
    try:
        check_bed(path, n_samples, n_variants)
    except UserError as error:
        assert "\n" not in str(error)
        return
    assert path.stat().st_size == 3 + n_variants * ((n_samples + 3) // 4) and head == b"l\x1b\x01"
    genotypes = read_bed_matrix(path, n_samples, n_variants)
    assert genotypes.shape == (n_samples, n_variants) and genotypes.dtype == np.int8
    assert np.isin(genotypes, [0, 1, 2, -127]).all()
