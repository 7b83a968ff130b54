"""The validation samples of a run, read back from its run directory and scored with the saved model.

A run validates either on a separate cohort (munged ``--like`` the training dataset into
``RUN_DIR/validation_dataset``) or on a part of the training dataset held out before the search, whose IDs
`run` wrote to ``RUN_DIR/holdout_samples.txt`` (chosen once, by :mod:`genoml_search.validation_split`; runs of
the first versions, without that file, are re-split with the same function and the study's seed), so the
recomputed scores reproduce ``metrics.json``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genoml_search.data.dataset import Dataset
from genoml_search.errors import UserError
from genoml_search.core.features import FeatureMatrix, features_from_dataset
from genoml_search.core.scoring import predict_scores
from genoml_search.run_directory import EXCLUDED_VALIDATION, VALIDATION_DATASET, RunDirectory

__all__ = ["EXCLUDED_VALIDATION", "VALIDATION_DATASET", "ValidationData", "load_validation"]


@dataclass
class ValidationData:
    """Validation features and phenotype, the model's scores, and where the samples came from."""

    features: FeatureMatrix
    y: np.ndarray
    scores: np.ndarray
    source: str

    @property
    def ids(self) -> np.ndarray:
        """Sample IDs."""
        return self.features.sample_ids


def _subset(features: FeatureMatrix, rows: np.ndarray) -> FeatureMatrix:
    return FeatureMatrix(features.x[rows], features.y[rows], features.n_snps, features.feature_names,
                         features.sample_ids[rows])


def load_validation(run_dir: Path, model: Any, info: dict[str, Any], source: str | None,
                    study_attrs: dict[str, Any]) -> ValidationData:
    """Rebuild the validation samples of ``run_dir`` and score them with ``model``; ``source`` is where `run`
    validated (``MetricsRecord.validation["source"]``: "cohort" or "holdout"; None for runs that did not say)."""
    task = info["task"]
    n_pcs = int(info.get("n_pcs") or 0)
    run_directory = RunDirectory(Path(run_dir))
    cohort_dir = run_directory.validation_dataset
    if source == "cohort" or (source is None and cohort_dir.is_dir()):
        if not cohort_dir.is_dir():
            raise UserError("the run validated on a cohort but validation_dataset/ is missing", run_dir)
        features = features_from_dataset(Dataset.open(cohort_dir), n_pcs)
        origin = "cohort"
    else:
        from genoml_search.validation_split import split_search_validation

        path = study_attrs.get("dataset")
        if not path or not Path(path).is_dir():
            raise UserError(f"the training dataset {path!r} recorded in the study is not here; the held-out "
                            "validation part cannot be rebuilt (run the report where the run was)", run_dir)
        dataset = Dataset.open(path)
        if dataset.content_hash != info.get("dataset_hash"):
            raise UserError("the training dataset changed since the run (content hash differs)", path)
        full = features_from_dataset(dataset, n_pcs)
        ids = run_directory.read_ids(run_directory.holdout_file)
        if ids is not None:  # exactly the run's split, grouped or not
            holdout = np.flatnonzero(np.isin(full.sample_ids, list(ids)))
        else:
            _, holdout = split_search_validation(full.y, task, float(study_attrs.get("holdout", 0.2)),
                                                 int(study_attrs.get("seed", 0)))
        features = _subset(full, holdout)
        origin = "holdout"
    keep = ~np.isnan(features.y)
    excluded = run_directory.read_ids(run_directory.excluded_file)
    if excluded is not None:  # --drop-related-validation
        keep &= ~np.isin(features.sample_ids, excluded)
    features = _subset(features, np.flatnonzero(keep))
    scores = predict_scores(model, features.x, task)
    return ValidationData(features, features.y, scores, origin)
