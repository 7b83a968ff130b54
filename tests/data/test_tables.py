"""Phenotype, covariate, GWAS and ID-list readers: accepted layouts, PLINK codings and precise errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genoml_search.data.tables import read_covariates, read_gwas, read_id_list, read_phenotype, read_table
from genoml_search.errors import InputFileError


def _write(tmp_path, text: str, name: str = "t.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_plink_1_2_coding_with_minus_9_and_fid(tmp_path) -> None:
    path = _write(tmp_path, "FID IID PHENO\nf1 s1 1\nf2 s2 2\nf3 s3 -9\nf4 s4 2\n")
    values, info = read_phenotype(path, None, "auto")
    assert info["task"] == "binary" and info["coding"].startswith("1/2")
    assert values.to_dict() == {"s1": 0.0, "s2": 1.0, "s4": 1.0}
    assert info["missing_dropped"] == 1 and info["counts"] == {"controls": 1, "cases": 2}
    assert info["fid"].to_dict() == {"s1": "f1", "s2": "f2", "s3": "f3", "s4": "f4"}


def test_auto_task_and_regression(tmp_path) -> None:
    assert read_phenotype(_write(tmp_path, "ID,Y\na,0\nb,1\n"), None, "auto")[1]["task"] == "binary"
    values, info = read_phenotype(_write(tmp_path, "ID,Y\na,0.5\nb,1.5\nc,NA\n"), None, "auto")
    assert info["task"] == "regression" and len(values) == 2
    with pytest.raises(InputFileError, match="ambiguous"):
        read_phenotype(_write(tmp_path, "ID,Y\na,0\nb,1\nc,2\n"), None, "auto")
    _, info = read_phenotype(_write(tmp_path, "ID,Y\na,0\nb,1\nc,2\n"), None, "multiclass")
    assert info["classes"] == [0, 1, 2]


def test_pheno_name_and_default_column(tmp_path) -> None:
    path = _write(tmp_path, "ID,AGE,PHENO\na,50,1\nb,60,0\n")
    assert read_phenotype(path, None, "auto")[1]["column"] == "PHENO"
    assert read_phenotype(path, "AGE", "regression")[0].to_dict() == {"a": 50.0, "b": 60.0}


@pytest.mark.parametrize("text,message", [
    ("ID,Y\na,case\nb,control\n", "is text"),
    ("ID,Y\na,1\nb,1\n", "same phenotype"),
    ("ID,Y\na,1\nb,x\nc,0\n", "row 3"),
    ("ID,Y\na,1\nb,inf\n", "infinite"),
    ("ID,Y\na,1\na,0\n", "duplicate sample ID 'a'"),
    ("ID,Y\n,1\nb,0\n", "empty sample ID"),
    ("ID;Y\na;1\n", "';'"),
    ("ID,Y,Z\na,1\n", "row 2 has 2 fields"),
    ("ID,ID\na,1\n", "duplicate column names"),
])
def test_phenotype_errors(tmp_path, text: str, message: str) -> None:
    with pytest.raises(InputFileError, match=message) as info:
        read_phenotype(_write(tmp_path, text), None, "auto")
    assert "t.txt" in str(info.value) and "\n" not in str(info.value)


def test_binary_with_other_values_names_them(tmp_path) -> None:
    with pytest.raises(InputFileError, match="found values 1, 3"):
        read_phenotype(_write(tmp_path, "ID,Y\na,1\nb,3\n"), None, "binary")


def test_row_numbers_count_blank_lines(tmp_path) -> None:
    with pytest.raises(InputFileError, match="row 5"):
        read_phenotype(_write(tmp_path, "ID,Y\na,1\n\nb,0\nc,oops\n"), None, "auto")


def test_covariates_one_hot_with_note_and_known_levels(tmp_path) -> None:
    path = _write(tmp_path, "ID,AGE,SITE\na,50,north\nb,NA,south\nc,70,east\nd,-9,NA\n")
    frame, info = read_covariates(path)
    assert list(frame.columns) == ["AGE", "SITE=north", "SITE=south"]
    assert np.isnan(frame.loc["b", "AGE"]) and np.isnan(frame.loc["d", "SITE=north"])
    assert frame.loc["c", "SITE=north"] == 0 and frame.loc["a", "SITE=north"] == 1
    assert info["one_hot"] == {"SITE": ["east", "north", "south"]}
    assert any("reference 'east'" in note for note in info["notes"])
    new = _write(tmp_path, "ID,AGE,SITE\nx,50,west\ny,40,north\n", "new.txt")
    frame, info = read_covariates(new, known_levels={"SITE": ["east", "north", "south"]})
    assert list(frame.columns) == ["AGE", "SITE=north", "SITE=south"]
    assert frame.loc["x"].tolist() == [50.0, 0.0, 0.0]
    assert any("not in the training data" in note and "'west'" in note for note in info["notes"])


def test_mostly_numeric_covariate_with_a_word_is_an_error(tmp_path) -> None:
    with pytest.raises(InputFileError, match="column AGE, row 4 .*'old'"):
        read_covariates(_write(tmp_path, "ID,AGE\na,50\nb,51\nc,old\n"))


def test_gwas(tmp_path) -> None:
    p = read_gwas(_write(tmp_path, "SNP\tA1\tP\nrs1\tA\t1e-8\nrs2\tG\tNA\nrs1\tA\t0.5\n"))
    assert p.to_dict() == {"rs1": 1e-8}
    with pytest.raises(InputFileError, match="no p-value column"):
        read_gwas(_write(tmp_path, "SNP,BETA\nrs1,1\n"))
    with pytest.raises(InputFileError, match="row 2: p-value 1.5"):
        read_gwas(_write(tmp_path, "SNP,P\nrs1,1.5\n"))


def test_id_lists(tmp_path) -> None:
    assert read_id_list(_write(tmp_path, "#FID IID\nf1 s1\nf2\ts2\n\n"), "sample list") == ["s1", "s2"]
    assert read_id_list(_write(tmp_path, "s1\ns2\n"), "sample list") == ["s1", "s2"]
    assert read_id_list(_write(tmp_path, "SNP\nrs1 extra\nrs2\n"), "variant list") == ["rs1", "rs2"]


def test_quoted_csv_and_whitespace(tmp_path) -> None:
    table = read_table(_write(tmp_path, '"ID","NOTE"\n"a","x, y"\n'), "test")
    assert table.to_dict("list") == {"ID": ["a"], "NOTE": ["x, y"]}
    table = read_table(_write(tmp_path, "  ID   Y \n a  1\n"), "test")
    assert table.to_dict("list") == {"ID": ["a"], "Y": ["1"]}


def test_align_to_training_covariates_orders_columns_and_names_a_missing_one(tmp_path):
    from genoml_search.data.tables import align_to_training_covariates
    from genoml_search.errors import InputFileError

    covariates = pd.DataFrame({"b": [1.0, 2.0], "a": [3.0, 4.0], "extra": [0.0, 0.0]}, index=["s1", "s2"])
    info: dict = {}
    aligned = align_to_training_covariates(covariates, info, ["a", "b"], tmp_path / "covar.csv")
    assert list(aligned.columns) == ["a", "b"] and info["columns"] == ["a", "b"]
    with pytest.raises(InputFileError, match=r"covariates \['age'\] of the training dataset are missing"):
        align_to_training_covariates(covariates, {}, ["a", "age"], tmp_path / "covar.csv")
