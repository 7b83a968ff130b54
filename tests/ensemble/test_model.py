"""The refitted ensemble predicts like a pipeline and round-trips through skops with the allow-list."""
from __future__ import annotations

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from genoml_search.core.metrics import get_metric
from genoml_search.ensemble.combine import WeightedAverage
from genoml_search.ensemble.model import EnsembleModel
from genoml_search.ensemble.stacking import fit_stack
from genoml_search.model_io import TRUSTED_TYPES
from genoml_search.tasks import Task


def _roundtrip(model, tmp_path):
    path = tmp_path / "m.skops"
    sio.dump(model, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert not [t for t in untrusted if t not in TRUSTED_TYPES]
    return sio.load(path, trusted=untrusted)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_weighted_classifier_ensemble(task, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] > 0).astype(int) + ((x[:, 1] > 1).astype(int) if task == "multiclass" else 0)
    members = [LogisticRegression().fit(x, y), DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, y)]
    model = EnsembleModel(members, WeightedAverage(np.array([0.75, 0.25])), task, sorted(set(y)), [3, 7])
    expected = 0.75 * members[0].predict_proba(x) + 0.25 * members[1].predict_proba(x)
    assert np.allclose(model.predict_proba(x), expected)
    assert np.allclose(Task(task).kind.scores(model, x), expected[:, 1] if task == "binary" else expected)
    loaded = _roundtrip(model, tmp_path)
    assert np.allclose(loaded.predict_proba(x), expected)
    assert list(loaded.classes_) == sorted(set(y)) and loaded.trials == [3, 7]


def test_stacked_regression_ensemble_roundtrips(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(150, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=150)
    members = [LinearRegression().fit(x[:, :1], y), LinearRegression().fit(x, y)]
    model = EnsembleModel([members[1], LinearRegression().fit(x[:100], y[:100])], None, "regression")
    scores = model.member_scores(x)[:, None]
    model.combiner = fit_stack(scores, y, "regression", get_metric("r2", "regression"))
    loaded = _roundtrip(model, tmp_path)
    assert np.allclose(loaded.predict(x), model.predict(x))
    assert get_metric("r2", "regression").compute(y, loaded.predict(x)) > 0.7


def test_python_api_wraps_an_ensemble_in_a_named_feature_pipeline(tmp_path):
    """genoml_search.load_model puts a column-ordering step before the model; an ensemble takes it too."""
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from genoml_search.python_api import FeatureOrder

    rng = np.random.default_rng(2)
    x = rng.normal(size=(100, 3))
    y = (x[:, 0] > 0).astype(int)
    model = EnsembleModel([LogisticRegression().fit(x, y), LogisticRegression(C=0.01).fit(x, y)],
                          WeightedAverage(np.array([0.5, 0.5])), "binary", [0, 1])
    wrapped = Pipeline([("feature_order", FeatureOrder(["a", "b", "c"])), ("model", model)])
    frame = pd.DataFrame(x[:, ::-1], columns=["c", "b", "a"])
    assert np.allclose(wrapped.predict_proba(frame), model.predict_proba(x))
    refitted = EnsembleModel(model.members, model.combiner, "binary", [0, 1]).fit(x, y)
    assert np.allclose(refitted.predict_proba(x), model.predict_proba(x))
