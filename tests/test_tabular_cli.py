"""Feature tables through the real CLI: munge --table, run and predict --table on the bundled tabular example
(scikit-learn's breast-cancer CSV), genotypes joined with a table, and the refused inputs (one line, exit 2)."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import EXAMPLE, ROOT, run_cli


def _example_module():
    spec = importlib.util.spec_from_file_location("make_example", ROOT / "examples" / "tabular" / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example_tables(tmp_path_factory):
    out = tmp_path_factory.mktemp("tabular")
    training, new = _example_module().write_example(out)
    return out, training, new


def _one_line_error(result) -> str:
    assert result.code == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_table_only_munge_writes_typed_float32_features(example_tables):
    out, training, _ = example_tables
    result = run_cli("munge", "--table", str(training), "--pheno-name", "diagnosis", "--out", str(out / "ds"))
    assert result.code == 0, result.stderr
    manifest = json.loads((out / "ds" / "manifest.json").read_text())
    table = manifest["feature_table"]
    types = {c["name"]: c["type"] for c in table["columns"]}
    assert types["texture_band"] == "categorical" and types["clinic"] == "categorical"
    assert types["large_tumour"] == "boolean" and types["mean radius"] == "numeric"
    assert "diagnosis" not in types  # the phenotype column is not a feature
    levels = next(c["levels"] for c in table["columns"] if c["name"] == "texture_band")
    assert levels == ["high", "low", "mid"]
    features = np.load(out / "ds" / "features.npy", mmap_mode="r")
    assert features.dtype == np.float32 and features.shape == (469, len(types))
    smoothness = features[:, list(types).index("mean smoothness")]
    assert np.isnan(smoothness).sum() > 0  # missing values stay missing in the Dataset
    codes = features[:, list(types).index("texture_band")]
    assert set(np.unique(codes)) == {0.0, 1.0, 2.0}
    assert manifest["n_variants"] == 0 and np.load(out / "ds" / "genotypes.npy").shape == (469, 0)
    assert "469 of 469 table IDs" in table["matching"]


@pytest.mark.slow
def test_table_only_run_and_predict_with_unseen_level(example_tables):
    out, training, new = example_tables
    assert run_cli("munge", "--table", str(training), "--pheno-name", "diagnosis", "--out", str(out / "ds2")).code == 0
    run = run_cli("run", str(out / "ds2"), "--out", str(out / "run"), "--n-trials", "4", "--workers", "1",
                  "--family", "logistic", "--family", "hist_gradient_boosting", "--pruner", "none")
    assert run.code == 0, run.stderr
    metrics = json.loads((out / "run" / "metrics.json").read_text())
    assert metrics["validation"]["roc_auc"] > 0.9  # breast cancer is easy: a broken encoding would show here
    predicted = run_cli("predict", "--model", str(out / "run"), "--table", str(new), "--out", str(out / "pred.csv"))
    assert predicted.code == 0, predicted.stderr
    frame = pd.read_csv(out / "pred.csv")
    assert len(frame) == 100 and list(frame.columns) == ["ID", "probability"]
    assert "4 categorical value(s) with levels not seen in training" in predicted.stderr
    assert "{'clinic': 4}" in predicted.stderr
    assert "referring_doctor" in predicted.stdout  # an extra column is ignored with a note

    partial = pd.read_csv(new).drop(columns=["mean radius"])
    partial.to_csv(out / "partial.csv", index=False)
    refused = run_cli("predict", "--model", str(out / "run"), "--table", str(out / "partial.csv"),
                      "--out", str(out / "pred2.csv"))
    assert "lacks 1 column(s) the model was trained on: 'mean radius'" in _one_line_error(refused)
    assert not (out / "pred2.csv").exists()


def _write(path, frame):
    frame.to_csv(path, index=False)
    return str(path)


def test_date_column_refused(tmp_path):
    frame = pd.DataFrame({"ID": ["a", "b", "c", "d"], "y": [0, 1, 0, 1], "x": [1.0, 2.0, 3.0, 4.0],
                          "visit": ["2020-01-03", "2021-02-04", "2020-05-06", "2019-07-08"]})
    result = run_cli("munge", "--table", _write(tmp_path / "t.csv", frame), "--pheno-name", "y",
                     "--out", str(tmp_path / "ds"))
    assert "column visit holds dates (e.g. '2020-01-03')" in _one_line_error(result)
    assert not (tmp_path / "ds").exists()


def test_label_leak_refused(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)
    frame = pd.DataFrame({"ID": [f"s{i}" for i in range(40)], "y": y, "x": rng.normal(size=40),
                          "outcome_text": np.where(y == 1, "case", "control")})
    result = run_cli("munge", "--table", _write(tmp_path / "t.csv", frame), "--pheno-name", "y",
                     "--out", str(tmp_path / "ds"))
    assert "column outcome_text equals the phenotype (a label leak" in _one_line_error(result)


def test_duplicate_ids_refused(tmp_path):
    frame = pd.DataFrame({"ID": ["a", "b", "a"], "y": [0, 1, 1], "x": [1.0, 2.0, 3.0]})
    result = run_cli("munge", "--table", _write(tmp_path / "t.csv", frame), "--pheno-name", "y",
                     "--out", str(tmp_path / "ds"))
    assert "row 4: duplicate sample ID 'a'" in _one_line_error(result)


def test_constant_and_empty_columns_dropped_and_id_like_warned(tmp_path):
    rng = np.random.default_rng(1)
    n = 120
    frame = pd.DataFrame({"ID": [f"s{i}" for i in range(n)], "y": rng.integers(0, 2, n), "x": rng.normal(size=n),
                          "constant": 5.0, "empty": "NA", "barcode": [f"BC{i:05d}" for i in range(n)]})
    result = run_cli("munge", "--table", _write(tmp_path / "t.csv", frame), "--pheno-name", "y",
                     "--out", str(tmp_path / "ds"))
    assert result.code == 0, result.stderr
    notes = json.loads((tmp_path / "ds" / "manifest.json").read_text())["feature_table"]["notes"]
    assert any("constant dropped" in n or "dropped: constant" in n for n in notes)
    assert any("empty" in n and "missing for every sample" in n for n in notes)
    assert any("barcode" in n and "looks like an identifier" in n for n in notes)
    assert "looks like an identifier" in result.stdout


def test_genotypes_and_table_joined_by_id(tmp_path):
    fam = pd.read_csv(EXAMPLE / "training.fam", sep=r"\s+", header=None)
    ids = fam[1].astype(str).to_numpy()
    rng = np.random.default_rng(2)
    table = pd.DataFrame({"ID": np.concatenate([ids[:450], ["stranger1", "stranger2"]]),
                          "protein": rng.normal(size=452), "site": rng.choice(["north", "south"], 452)})
    result = run_cli("munge", "--bfile", str(EXAMPLE / "training"), "--pheno", str(EXAMPLE / "training_pheno.csv"),
                     "--covar", str(EXAMPLE / "training_addit.csv"), "--table", _write(tmp_path / "t.csv", table),
                     "--out", str(tmp_path / "ds"), "--no-kinship", "--pcs", "0")
    assert result.code == 0, result.stderr
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    step = next(s for s in manifest["steps"] if s["step"] == "table")
    assert step["removed"] == 50 and "450 of 452 table IDs match the .fam; 2 not" in step["reason"]
    assert manifest["n_samples"] == 450 and manifest["n_variants"] > 0
    assert np.load(tmp_path / "ds" / "features.npy").shape == (450, 2)

    from genoml_search.core.features import features_from_dataset
    from genoml_search.data.dataset import Dataset

    data = features_from_dataset(Dataset.open(tmp_path / "ds"))
    n_snps = manifest["n_variants"]
    assert data.feature_names[n_snps : n_snps + 2] == ["protein", "site"]  # [SNPs | table | covariates]
    assert data.tabular.kinds == ("numeric", "categorical") and data.tabular.n_covariates == 4
    samples = pd.read_csv(tmp_path / "ds" / "samples.tsv", sep="\t", dtype={"ID": str})
    expected = table.set_index("ID").loc[samples["ID"], "protein"].to_numpy(dtype=np.float32)
    assert np.array_equal(data.x[:, n_snps], expected)  # rows follow the dataset's samples, not the table's


@pytest.mark.slow
def test_genotypes_and_table_run_and_predict(tmp_path):
    rng = np.random.default_rng(4)
    tables = {}
    for part in ("training", "validation"):
        ids = pd.read_csv(EXAMPLE / f"{part}.fam", sep=r"\s+", header=None)[1].astype(str)
        tables[part] = _write(tmp_path / f"{part}.csv", pd.DataFrame(
            {"ID": ids, "protein": rng.normal(size=len(ids)), "site": rng.choice(["n", "s", "e"], len(ids))}))
    munged = run_cli("munge", "--bfile", str(EXAMPLE / "training"), "--pheno", str(EXAMPLE / "training_pheno.csv"),
                     "--covar", str(EXAMPLE / "training_addit.csv"), "--table", tables["training"],
                     "--out", str(tmp_path / "ds"), "--no-kinship", "--pcs", "0")
    assert munged.code == 0, munged.stderr
    run = run_cli("run", str(tmp_path / "ds"), "--out", str(tmp_path / "run"), "--n-trials", "2", "--workers", "1",
                  "--family", "logistic", "--family", "lightgbm", "--pruner", "none")
    assert run.code == 0, run.stderr
    info = json.loads((tmp_path / "run" / "model" / "model.json").read_text())
    assert "protein" in info["feature_names"] and "site" in info["feature_names"]
    base = ["predict", "--model", str(tmp_path / "run"), "--bfile", str(EXAMPLE / "validation"),
            "--covar", str(EXAMPLE / "validation_addit.csv")]
    predicted = run_cli(*base, "--table", tables["validation"], "--out", str(tmp_path / "pred.csv"))
    assert predicted.code == 0, predicted.stderr
    assert len(pd.read_csv(tmp_path / "pred.csv")) == 100
    without = run_cli(*base, "--out", str(tmp_path / "pred2.csv"))
    assert "trained with feature tables" in _one_line_error(without)
