"""Reading CV groups: tables, PLINK .fam files, samples without a group."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genoml_search.errors import InputFileError, UserError
from genoml_search.search.groups import groups_for_samples, groups_from_column, groups_hash, read_groups_file


def test_groups_table_and_unlisted_samples_alone(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("ID,GROUP\na,f1\nb,f1\nc,f2\n")
    codes = groups_for_samples(np.array(["a", "x", "b", "c", "y"]), read_groups_file(path))
    assert codes[0] == codes[2] and len(set(codes)) == 4  # a,b together; x and y each alone


def test_fam_file_groups_by_family_id(tmp_path):
    path = tmp_path / "c.fam"
    path.write_text("F1 a 0 0 1 2\nF1 b 0 0 2 1\nF2 c 0 0 1 1\n")
    assert read_groups_file(path).to_dict() == {"a": "F1", "b": "F1", "c": "F2"}


def test_fid_iid_table_uses_fid_by_default(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("FID IID\nF1 a\nF1 b\n")
    assert read_groups_file(path).to_dict() == {"a": "F1", "b": "F1"}


def test_missing_group_column_is_a_clear_error(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("ID,X,Y\na,1,2\n")
    with pytest.raises(InputFileError, match="--group-col"):
        read_groups_file(path)
    assert read_groups_file(path, "Y").to_dict() == {"a": "2"}


def test_column_of_samples_and_hash_ignores_labels():
    samples = pd.DataFrame({"ID": ["a", "b"], "FAM": ["x", "x"]})
    assert list(groups_from_column(samples, "FAM", "ds")) == [0, 0]
    with pytest.raises(UserError, match="not a column"):
        groups_from_column(samples, "NOPE", "ds")
    assert groups_hash(np.array([3, 3, 1])) == groups_hash(np.array(["b", "b", "a"])) != groups_hash(None)
