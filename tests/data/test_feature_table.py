"""Reading, typing, checking and harmonizing feature tables (CSV, TSV, Parquet)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genoml_search.data.feature_table import check_columns, harmonize_table, read_feature_table
from genoml_search.errors import InputFileError, UserError


def _frame(n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"ID": [f"s{i}" for i in range(n)], "age": rng.integers(20, 80, n).astype(float),
                         "smoker": rng.choice(["TRUE", "FALSE"], n), "site": rng.choice(["x", "y", "z"], n),
                         "grade": rng.integers(1, 4, n)})


def test_tsv_types_and_declared_categorical(tmp_path):
    path = tmp_path / "t.tsv"
    frame = _frame()
    frame.loc[3, "age"] = np.nan
    frame.to_csv(path, sep="\t", index=False, na_rep="NA")
    table = read_feature_table(path, None, {"grade"})
    types = {c.name: c.type for c in table.columns}
    assert types == {"age": "numeric", "smoker": "boolean", "site": "categorical", "grade": "categorical"}
    assert np.isnan(table.values.loc["s3", "age"])
    assert table.values["smoker"].isin([0.0, 1.0]).all()
    grade = next(c for c in table.columns if c.name == "grade")
    assert grade.levels == ["1", "2", "3"]  # declared categorical: levels are the written values


def test_parquet_keeps_its_types_and_refuses_datetimes(tmp_path):
    pytest.importorskip("pyarrow", reason="Parquet needs the parquet extra (pyarrow)")
    frame = _frame()
    frame["smoker"] = frame["smoker"] == "TRUE"
    frame["site"] = frame["site"].astype("category")
    frame.to_parquet(tmp_path / "t.parquet")
    table = read_feature_table(tmp_path / "t.parquet", "ID", set())
    assert {c.name: c.type for c in table.columns} == {"age": "numeric", "smoker": "boolean", "site": "categorical",
                                                        "grade": "numeric"}
    frame["visit"] = pd.date_range("2020-01-01", periods=len(frame))
    frame.to_parquet(tmp_path / "dates.parquet")
    with pytest.raises(InputFileError, match="column visit holds dates/times"):
        read_feature_table(tmp_path / "dates.parquet", "ID", set())


def test_missing_id_column_named(tmp_path):
    path = tmp_path / "t.csv"
    _frame().rename(columns={"ID": "patient"}).to_csv(path, index=False)
    with pytest.raises(InputFileError, match="no sample ID column"):
        read_feature_table(path, None, set())
    assert read_feature_table(path, "patient", set()).values.index[0] == "s0"


def test_numeric_copy_of_a_regression_phenotype_is_a_leak(tmp_path):
    path = tmp_path / "t.csv"
    frame = _frame()
    frame.to_csv(path, index=False)
    table = read_feature_table(path, None, set())
    phenotype = pd.Series(frame["age"].to_numpy() * 3 - 2, index=table.values.index)  # age, rescaled
    with pytest.raises(InputFileError, match="column age equals the phenotype"):
        check_columns(table, phenotype, "regression")


def test_harmonize_counts_unseen_levels_and_refuses_type_changes(tmp_path):
    frame = _frame()
    frame.to_csv(tmp_path / "train.csv", index=False)
    training = read_feature_table(tmp_path / "train.csv", None, set())
    specs = [c.record() for c in training.columns]
    new = frame.head(5).copy()
    new.loc[0, "site"] = "w"  # unseen level
    new["extra"] = 1.0
    new.to_csv(tmp_path / "new.csv", index=False)
    table = read_feature_table(tmp_path / "new.csv", None, {"site"})
    values, summary = harmonize_table(table, specs)
    assert summary["unseen_levels"] == {"site": 1} and summary["extra_columns_ignored"] == ["extra"]
    assert np.isnan(values.loc["s0", "site"])
    levels = next(c["levels"] for c in specs if c["name"] == "site")
    assert values.loc["s1", "site"] == levels.index(frame.loc[1, "site"])
    new["age"] = "old"
    new.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputFileError, match="column age was numeric in training but holds text here"):
        harmonize_table(read_feature_table(tmp_path / "bad.csv", None, {"site"}), specs)
    with pytest.raises(UserError, match="lacks 1 column"):
        harmonize_table(read_feature_table(tmp_path / "new.csv", None, {"site"}), specs + [
            {"name": "absent", "type": "numeric", "source": "x"}])
