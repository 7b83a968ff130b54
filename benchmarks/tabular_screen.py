"""Which in-fold screen for feature-table columns: the linear test or the linear-or-binned one (issue #20).

    python benchmarks/tabular_screen.py [--only friedman1_5k,boston] [--folds 3]

On the training part of each dataset of ``benchmarks/tabular.py`` (munged with ``munge --table``), the real
in-fold pipeline of one family (HistGB with its first-grid defaults; trees are the family that can use a
non-linear column) is cross-validated with the association filter at several ``snp_p_threshold`` values,
once with the linear screen (correlation t-test / ANOVA F, what the filter used for every column before) and
once with the linear-or-binned screen (:func:`genoml_search.core.association.table_association_pvalues`).
Records the CV score and the mean number of table columns kept per threshold, to
``benchmarks/results/tabular_screen.json`` with the machine load.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import WORK, write_result  # noqa: E402
from benchmarks.tabular import DATASETS, METRIC, split  # noqa: E402

THRESHOLDS = (1e-6, 1e-4, 1e-2, 1.0)
FAMILY = "hist_gradient_boosting"
PARAMS = {"learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 31, "min_samples_leaf": 20,
          "l2_regularization": 1e-4, "max_features": 1.0}  # scikit-learn's defaults, inside the family's space


def _dataset(name: str) -> Path:
    """The training part of the benchmark split, munged as ``benchmarks/tabular.py`` does."""
    from genoml_search.data.munge import MungeOptions, munge

    x_train, _, y_train, _, task = split(name)
    work = WORK / "tabular_screen" / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    frame = x_train.copy()
    frame.insert(0, "ID", [f"train{i}" for i in range(len(frame))])
    frame["target"] = y_train.to_numpy()
    frame.to_csv(work / "train.csv", index=False, na_rep="NA")
    munge(MungeOptions(out=work / "ds", tables=[str(work / "train.csv")], pheno_name="target", task=task))
    return work / "ds"


def _cv(data: Any, task: str, threshold: float, folds: list) -> tuple[float, float]:
    """Mean CV score of the family at one threshold, and the mean count of numeric table columns kept."""
    from genoml_search.core.metrics import get_metric
    from genoml_search.core.scoring import predict_scores
    from genoml_search.search.pipeline import build_pipeline
    from genoml_search.search.registry import get_family

    family = get_family(FAMILY)
    metric = get_metric(METRIC[task], task)
    scores, kept = [], []
    for train, test in folds:
        model = build_pipeline(family, PARAMS, task, data.n_snps, threshold, tabular=data.tabular)
        model.fit(data.x[train], data.y[train])
        scores.append(metric.compute(data.y[test], predict_scores(model, data.x[test], task)))
        step = model.steps[0][1]
        kept.append(int(np.sum(step.numeric_keep_ < data.n_snps + data.tabular.n_table)))  # not covariates
    return float(np.mean(scores)), float(np.mean(kept))


def measure(name: str, n_folds: int) -> dict[str, Any]:
    """Both screens at every threshold on one dataset."""
    import genoml_search.search.tabular as tabular
    from genoml_search.core.association import association_pvalues
    from genoml_search.core.features import features_from_dataset
    from genoml_search.data.dataset import Dataset
    from genoml_search.search.objective import CVSpec, make_folds

    task = DATASETS[name][0]
    data = features_from_dataset(Dataset.open(_dataset(name)))
    folds = make_folds(data.y, task, CVSpec(n_folds, 1, 0))
    nonlinear = tabular._screen_pvalues
    row: dict[str, Any] = {"dataset": name, "task": task, "metric": METRIC[task], "n_train": len(data.y),
                           "n_numeric_table_columns": int(sum(k != "categorical" for k in data.tabular.kinds)),
                           "load_before": round(os.getloadavg()[0], 2), "screens": {}}
    for screen in ("linear", "linear_or_binned"):
        tabular._screen_pvalues = (nonlinear if screen == "linear_or_binned"
                                   else lambda block, y, t, n_snps: association_pvalues(block, y, t))
        try:
            row["screens"][screen] = {f"{t:g}": dict(zip(("cv_score", "columns_kept"), _cv(data, task, t, folds)))
                                      for t in THRESHOLDS}
        finally:
            tabular._screen_pvalues = nonlinear
    row["load_after"] = round(os.getloadavg()[0], 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None)
    parser.add_argument("--folds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for name in (args.only.split(",") if args.only else list(DATASETS)):
        rows.append(measure(name, args.folds))
        print(name, {s: {t: round(v["cv_score"], 4) for t, v in r.items()} for s, r in rows[-1]["screens"].items()},
              flush=True)
        write_result("tabular_screen", {"family": FAMILY, "params": PARAMS, "thresholds": list(THRESHOLDS), "n_folds": args.folds,
                                        "rows": rows})


if __name__ == "__main__":
    main()
