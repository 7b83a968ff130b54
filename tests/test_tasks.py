"""The Task enum and its per-task strategies."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

from genoml_search.core.metrics import DEFAULT_METRIC, METRICS, REPORTED
from genoml_search.errors import UserError
from genoml_search.tasks import CLASSIFICATION, TASKS, Task


def test_values_are_the_interface_strings() -> None:
    assert [str(t) for t in TASKS] == ["binary", "regression", "multiclass"]
    assert Task.BINARY == "binary" and {"binary": 1}[Task.BINARY] == 1
    assert json.dumps({"task": Task.MULTICLASS}) == '{"task": "multiclass"}'
    assert f"{Task.REGRESSION}" == "regression"
    assert CLASSIFICATION == {Task.BINARY, Task.MULTICLASS}


def test_parse_rejects_unknown_names_in_one_line() -> None:
    assert Task.parse("regression") is Task.REGRESSION
    with pytest.raises(UserError, match=r"unknown task 'survival'; choose one of binary, regression, multiclass"):
        Task.parse("survival")


def test_every_task_has_a_strategy_whose_metrics_exist_and_apply() -> None:
    for task in Task:
        kind = task.kind
        assert kind.task is task
        assert DEFAULT_METRIC[task] == kind.default_metric in kind.reported_metrics
        assert REPORTED[task] == list(kind.reported_metrics)
        for name in kind.reported_metrics:
            assert task in METRICS[name].tasks


@pytest.mark.parametrize("task, grouped, expected", [
    (Task.BINARY, False, StratifiedKFold), (Task.MULTICLASS, True, StratifiedGroupKFold),
    (Task.REGRESSION, False, KFold), (Task.REGRESSION, True, GroupKFold),
])
def test_cv_splitter_is_stratified_for_classification_and_grouped_on_request(task, grouped, expected) -> None:
    splitter = task.kind.cv_splitter(4, seed=3, grouped=grouped)
    assert type(splitter) is expected and splitter.n_splits == 4 and splitter.random_state == 3


def test_scores_and_prediction_columns_per_task() -> None:
    x = np.zeros((6, 2))
    y_binary = np.array([0, 1, 1, 0, 1, 1])
    binary = DummyClassifier(strategy="prior").fit(x, y_binary)
    scores = Task.BINARY.kind.scores(binary, x)
    assert scores.shape == (6,) and np.allclose(scores, 4 / 6)
    assert list(Task.BINARY.kind.prediction_columns(scores, [0, 1])) == ["probability"]

    multi = DummyClassifier(strategy="prior").fit(x, np.array([0, 1, 2, 2, 2, 1]))
    scores = Task.MULTICLASS.kind.scores(multi, x)
    columns = Task.MULTICLASS.kind.prediction_columns(scores, [0, 1, 2])
    assert list(columns) == ["probability_0", "probability_1", "probability_2", "prediction"]
    assert columns["prediction"] == [2] * 6

    regression = DummyRegressor().fit(x, np.arange(6.0))
    scores = Task.REGRESSION.kind.scores(regression, x)
    assert np.allclose(scores, 2.5) and list(Task.REGRESSION.kind.prediction_columns(scores, [])) == ["prediction"]


def test_which_phenotype_a_task_may_search() -> None:
    assert Task.MULTICLASS.kind.accepts_phenotype_of(Task.BINARY)
    assert not Task.BINARY.kind.accepts_phenotype_of(Task.MULTICLASS)
    assert not Task.REGRESSION.kind.accepts_phenotype_of(Task.BINARY)
    assert Task.BINARY.kind.threshold == 0.5 and Task.REGRESSION.kind.threshold is None
