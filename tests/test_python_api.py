"""genoml_search.load_model(run_dir): a plain scikit-learn pipeline that takes a DataFrame with named columns."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import genoml_search
from genoml_search.data.dataset import Dataset
from genoml_search.core.features import features_from_dataset
from tests.report.conftest import binary_run  # noqa: F401  (an in-process run directory)


def test_load_model_takes_a_dataframe_in_any_column_order(binary_run):
    model = genoml_search.load_model(binary_run)
    info = json.loads((binary_run / "model" / "model.json").read_text())
    assert list(model.feature_names_in_) == info["feature_names"]
    features = features_from_dataset(Dataset.open(info["dataset_path"]))
    frame = pd.DataFrame(features.x, columns=features.feature_names)
    shuffled = frame[list(np.random.default_rng(0).permutation(frame.columns))]
    expected = model.predict_proba(features.x)[:, 1]
    assert np.allclose(model.predict_proba(shuffled)[:, 1], expected)
    with pytest.raises(ValueError, match="missing from the DataFrame"):
        model.predict_proba(frame.drop(columns=["AGE"]))


def test_load_model_with_info(binary_run):
    model, info = genoml_search.load_model(binary_run / "model", with_info=True)
    assert info["task"] == "binary" and info["family"] == "logistic" and hasattr(model, "predict_proba")
