"""The .pgen reader gives the same matrix and tables as the .bed reader."""
from __future__ import annotations

import numpy as np
import pytest

from tests.data.conftest import EXAMPLE
from genoml_search.data.pgen import read_pfile
from genoml_search.data.plink import read_plink
from genoml_search.errors import InputFileError

pytest.importorskip("pgenlib")


def _same(a, b):
    assert np.array_equal(a.genotypes, b.genotypes)
    assert a.samples[["fid", "iid"]].equals(b.samples[["fid", "iid"]])
    cols = ["chrom", "id", "pos", "counted_allele", "other_allele"]
    assert a.variants[cols].astype(str).equals(b.variants[cols].astype(str))


def test_pgen_equals_bed_on_example():
    _same(read_pfile(EXAMPLE), read_plink(EXAMPLE))


@pytest.mark.plink2
def test_pgen_equals_bed_with_missing_calls(plink2, sim_cohort, tmp_path):
    out = plink2(sim_cohort, tmp_path / "sim", "--make-pgen")
    data = read_pfile(out)
    assert (data.genotypes == -127).any()
    _same(data, read_plink(sim_cohort))


def test_missing_pgen_is_input_error(tmp_path):
    with pytest.raises(InputFileError, match="--pfile"):
        read_pfile(tmp_path / "nothing")
