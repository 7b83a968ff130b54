"""Which samples of the training dataset validate a run: chosen here, once, by `run` (and by nothing else).

`run` writes the IDs to ``RUN/holdout_samples.txt``; the report reads that file. Runs of the first versions
did not write it: :func:`split_search_validation` with the study's ``holdout`` and ``seed`` rebuilds their split.
"""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from genoml_search.errors import UserError
from genoml_search.tasks import Task


def split_search_validation(
    y: np.ndarray, task: str, holdout: float, seed: int, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the search samples and of the held-out validation samples (fixed by the seed).

    Stratified by class for classification; with ``groups``, whole groups go to one side (relatives of a
    validation sample are never searched on).
    """
    if not 0.0 < holdout < 1.0:
        raise UserError(f"--holdout {holdout} must be between 0 and 1 (exclusive)")
    index = np.arange(len(y))
    if groups is not None:
        splitter = GroupShuffleSplit(n_splits=1, test_size=holdout, random_state=seed)
        search, validation = next(splitter.split(index, y, groups))
    else:
        stratify = y if Task(task).is_classification else None
        search, validation = train_test_split(index, test_size=holdout, random_state=seed, stratify=stratify)
    return np.sort(search), np.sort(validation)
