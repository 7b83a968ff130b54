"""The Python entry points a notebook needs: ``genoml_search.load_model(run_dir)``.

The saved pipeline is a plain scikit-learn ``Pipeline`` (loaded from skops with the same allow-list as
`predict`). Its ``feature_names_in_`` are the training feature names (variant IDs, then covariates and PCs),
so it takes a pandas DataFrame with those columns in any order; a NumPy array must have them in that order.
Dosages count the model's counted allele (``RUN_DIR/model/variants.tsv``), missing values are NaN.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def load_model(run_dir: str | Path, with_info: bool = False) -> Any:
    """The fitted pipeline of a run directory (or its ``model/``), ready for ``predict_proba``/``predict``.

    ``with_info=True`` returns ``(pipeline, info)`` with ``model.json``'s content (task, family, feature
    names, classes, versions; ``info["warnings"]`` lists version differences from the saving environment).
    """
    from genoml_search.model_io import find_model_dir, load_model as load_saved

    pipeline, info = load_saved(find_model_dir(run_dir))
    names = info.get("feature_names")
    if names is not None:
        pipeline.steps[0][1].feature_names_in_ = np.asarray(names, dtype=object)
    return (pipeline, info) if with_info else pipeline
