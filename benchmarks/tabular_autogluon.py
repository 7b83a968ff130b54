"""AutoGluon's side of ``benchmarks/tabular.py``, run by the Python of its own virtual environment.

    AGVENV/bin/python benchmarks/tabular_autogluon.py WORKDIR TASK METRIC BUDGET

Reads WORKDIR/train.csv and WORKDIR/test.csv (an ``ID`` column, the features, ``target``: what the genoml-search
side munges), fits ``TabularPredictor(...).fit(train, time_limit=BUDGET)`` with AutoGluon's defaults (preset
``medium_quality``) on 2 CPUs, and writes the test scores (probability of class 1, class probabilities in class
order, or predictions) to WORKDIR/autogluon_scores.npy and the best model's name to WORKDIR/autogluon.json.
It imports nothing of genoml-search (AutoGluon lives in another environment); scoring is the caller's.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

AG_METRIC = {"roc_auc": "roc_auc", "roc_auc_ovr": "roc_auc_ovr_macro", "r2": "r2"}


def main(work: Path, task: str, metric: str, budget: float) -> None:
    from autogluon.tabular import TabularPredictor

    train = pd.read_csv(work / "train.csv").drop(columns=["ID"])
    test = pd.read_csv(work / "test.csv").drop(columns=["ID", "target"])
    predictor = TabularPredictor(label="target", problem_type=task, eval_metric=AG_METRIC[metric],
                                 path=str(work / "autogluon"), verbosity=0)
    predictor.fit(train, time_limit=budget, num_cpus=2, num_gpus=0)
    if task == "regression":
        scores = predictor.predict(test).to_numpy()
    else:
        probabilities = predictor.predict_proba(test)
        probabilities = probabilities[sorted(probabilities.columns)]  # classes 0..K-1 in order
        scores = probabilities.to_numpy()[:, 1] if task == "binary" else probabilities.to_numpy()
    np.save(work / "autogluon_scores.npy", np.asarray(scores, dtype=float))
    (work / "autogluon.json").write_text(json.dumps({"best": str(predictor.model_best)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]))
