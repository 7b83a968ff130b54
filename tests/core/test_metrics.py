"""Metrics against values computed by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from genoml_search.errors import UserError
from genoml_search.core.metrics import DEFAULT_METRIC, METRICS, REPORTED, get_metric, score_all

Y = np.array([0, 0, 1, 1])
P = np.array([0.1, 0.4, 0.35, 0.8])


def compute(name: str, y, s) -> float:
    return METRICS[name].compute(np.asarray(y), np.asarray(s))


def test_roc_auc_by_hand():
    # positive/negative pairs ranked correctly: (0.35>0.1), (0.8>0.1), (0.8>0.4) = 3 of 4
    assert compute("roc_auc", Y, P) == pytest.approx(0.75)


def test_average_precision_by_hand():
    # ranked: 0.8 (pos) P=1 R=.5; 0.4 (neg); 0.35 (pos) P=2/3 R=1 -> AP = .5*1 + .5*2/3
    assert compute("average_precision", Y, P) == pytest.approx(0.5 + 1 / 3)


def test_binary_log_loss_and_brier_by_hand():
    expected = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    assert compute("log_loss", Y, P) == pytest.approx(expected)
    assert compute("brier", Y, P) == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)


def test_balanced_accuracy_at_half():
    # labels at 0.5: [0,0,0,1]: recall of class 0 = 1, of class 1 = 1/2
    assert compute("balanced_accuracy", Y, P) == pytest.approx(0.75)
    imbalanced_y, imbalanced_p = np.array([0, 0, 0, 1]), np.array([0.1, 0.2, 0.7, 0.9])
    assert compute("balanced_accuracy", imbalanced_y, imbalanced_p) == pytest.approx((2 / 3 + 1) / 2)


def test_regression_by_hand():
    y, pred = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 2.0, 2.0, 5.0])
    sse = 0.25 + 0 + 1 + 1
    assert compute("r2", y, pred) == pytest.approx(1 - sse / 5.0)
    assert compute("rmse", y, pred) == pytest.approx(math.sqrt(sse / 4))
    assert compute("mae", y, pred) == pytest.approx((0.5 + 0 + 1 + 1) / 4)


def test_multiclass_by_hand():
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])
    # one-vs-rest AUCs: class 0: 0.7 above all 3 others -> 1; class 1: 0.4 vs (0.2, 0.5, 0.1) -> 2/3;
    # class 2: positives 0.3, 0.8 vs negatives 0.1, 0.3 -> (1 + 0.5 + 1 + 1) / 4 = 0.875; macro mean
    assert compute("roc_auc_ovr", y, proba) == pytest.approx((1 + 2 / 3 + 0.875) / 3)
    expected = -(math.log(0.7) + math.log(0.4) + math.log(0.3) + math.log(0.8)) / 4
    assert compute("log_loss", y, proba) == pytest.approx(expected)
    assert compute("balanced_accuracy", y, proba) == pytest.approx((1 + 1 + 0.5) / 3)  # argmax [0,1,1,2]


def test_log_loss_clips_certain_mistakes():
    assert np.isfinite(compute("log_loss", np.array([0, 1]), np.array([1.0, 0.0])))


def test_defaults_and_directions():
    assert DEFAULT_METRIC == {"binary": "roc_auc", "regression": "r2", "multiclass": "roc_auc_ovr"}
    assert get_metric("log_loss", "binary").direction == "minimize"
    assert get_metric("roc_auc", "binary").direction == "maximize"
    assert get_metric("rmse", "regression").direction == "minimize"


@pytest.mark.parametrize(("name", "task"), [("r2", "binary"), ("roc_auc", "regression"), ("nope", "binary")])
def test_metric_errors_name_the_choices(name, task):
    with pytest.raises(UserError, match="choose one of"):
        get_metric(name, task)


def test_score_all_reports_every_metric_of_the_task():
    assert set(score_all("binary", Y, P)) == set(REPORTED["binary"])
    assert score_all("binary", Y, P)["roc_auc"] == pytest.approx(0.75)
