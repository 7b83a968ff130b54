"""The Python entry points a notebook needs: ``genoml_search.load_model(run_dir)``.

The saved pipeline is a plain scikit-learn ``Pipeline`` (loaded from skops with the same allow-list as
`predict`). Its ``feature_names_in_`` are the training feature names (variant IDs, then covariates and PCs),
so it takes a pandas DataFrame with those columns in any order (a first step, ``feature_order``, added at load
time, picks them by name); a NumPy array must have them in that order.
Dosages count the model's counted allele (``RUN_DIR/model/variants.tsv``), missing values are NaN.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline


class FeatureOrder(TransformerMixin, BaseEstimator):
    """First step added at load time: a DataFrame's columns taken by name in the training order (an array
    passes unchanged). Not part of the saved model file."""

    def __init__(self, names: list[str] | None = None) -> None:
        self.names = names  # scikit-learn's convention: parameters stored as given (None only before cloning)

    def _names(self) -> list[str]:
        if self.names is None:
            raise ValueError("FeatureOrder needs the training feature names")
        return list(self.names)

    def fit(self, x: Any, y: Any = None) -> FeatureOrder:
        return self

    @property
    def feature_names_in_(self) -> np.ndarray:
        """The training feature names: variant IDs, then covariates and genetic PCs."""
        return np.asarray(self._names(), dtype=object)

    def transform(self, x: Any) -> Any:
        if not hasattr(x, "columns"):
            return x
        names = self._names()
        missing = [name for name in names if name not in x.columns]
        if missing:
            raise ValueError(f"{len(missing)} of the model's {len(names)} feature columns are missing from "
                             f"the DataFrame, e.g. {missing[:5]}")
        return x[names].to_numpy(dtype=np.float32)


def load_model(run_dir: str | Path, with_info: bool = False) -> Any:
    """The fitted pipeline of a run directory (or its ``model/``), ready for ``predict_proba``/``predict``.

    ``with_info=True`` returns ``(pipeline, info)`` with ``model.json``'s content (task, family, feature
    names, classes, versions; ``info["warnings"]`` lists version differences from the saving environment).
    """
    from genoml_search.model_io import find_model_dir, load_model as load_saved

    pipeline, info = load_saved(find_model_dir(run_dir))
    names = info.get("feature_names")
    if names is not None:
        steps = pipeline.steps if hasattr(pipeline, "steps") else [("model", pipeline)]  # an ensemble (#21)
        pipeline = Pipeline([("feature_order", FeatureOrder(list(names))), *steps])
    return (pipeline, info) if with_info else pipeline
