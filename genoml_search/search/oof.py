"""Out-of-fold (OOF) predictions of a trial: collected on the worker, stored by the driver as an Optuna artifact.

A complete trial's OOF predictions are its CV scores of every search sample (each predicted by the fold model
that did not see it): float32 ``(repeats, samples[, classes])``, with the fold of each sample in each repeat
(int8 ``(repeats, samples)``). The worker returns them with the trial result; the driver compresses them
(``np.savez_compressed``) and uploads them with :func:`optuna.artifacts.upload_artifact` before it tells the
trial, and records the artifact id in the trial's user attribute :data:`OOF_ATTR`. Only the driver writes, so
any storage (SQLite, PostgreSQL, MySQL) and remote workers work; the default store is a directory of the run
(:data:`ARTIFACTS_DIR`).
"""
from __future__ import annotations

import io
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

log = logging.getLogger(__name__)
OOF_ATTR = "oof_artifact"
ARTIFACTS_DIR = "artifacts"


@dataclass
class OOFPredictions:
    """A trial's OOF scores ``(repeats, samples[, classes])`` and folds ``(repeats, samples)``."""

    scores: np.ndarray
    folds: np.ndarray

    @classmethod
    def empty(cls, n_repeats: int, n_samples: int) -> OOFPredictions:
        """No prediction yet (NaN), every sample in fold -1; :meth:`add` fills them fold by fold."""
        return cls(np.full((n_repeats, n_samples), np.nan, dtype=np.float32),
                   np.full((n_repeats, n_samples), -1, dtype=np.int8))

    def add(self, repeat: int, fold: int, test: np.ndarray, scores: np.ndarray) -> None:
        """The scores of one fold's held-out samples (``test`` indexes the search samples)."""
        scores = np.asarray(scores, dtype=np.float32)
        if scores.ndim == 2 and self.scores.ndim == 2:  # class probabilities: widen on the first fold
            widened = np.full(self.scores.shape + (scores.shape[1],), np.nan, dtype=np.float32)
            self.scores = widened
        self.scores[repeat, test] = scores
        self.folds[repeat, test] = fold

    @property
    def complete(self) -> bool:
        """Whether every sample of every repeat has a prediction."""
        return bool((self.folds >= 0).all()) and bool(np.isfinite(self.scores).all())

    def to_bytes(self) -> bytes:
        """Compressed ``.npz`` bytes (float32 scores, int8 folds)."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, scores=self.scores.astype(np.float32), folds=self.folds.astype(np.int8))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> OOFPredictions:
        """Read what :meth:`to_bytes` wrote (no pickle)."""
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(arrays["scores"], arrays["folds"])


def artifact_store(run_dir: Path, path: Path | None = None) -> optuna.artifacts.FileSystemArtifactStore:
    """The artifact store of a run: ``path``, or ``RUN_DIR/artifacts`` (created)."""
    base = Path(path) if path is not None else Path(run_dir) / ARTIFACTS_DIR
    base.mkdir(parents=True, exist_ok=True)
    return optuna.artifacts.FileSystemArtifactStore(str(base))


@dataclass(frozen=True)
class StoredOOF:
    """What storing one trial's OOF predictions cost."""

    artifact_id: str
    n_bytes: int
    seconds: float


def store_oof(trial: optuna.Trial, oof: OOFPredictions, store: Any) -> StoredOOF:
    """Upload a running trial's OOF predictions and record the artifact id (call before telling the trial)."""
    started = time.perf_counter()
    data = oof.to_bytes()
    handle, name = tempfile.mkstemp(prefix=f"oof-{trial.number}-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        artifact_id = optuna.artifacts.upload_artifact(artifact_store=store, file_path=name, study_or_trial=trial,
                                                       mimetype="application/x-npz")
    finally:
        os.unlink(name)
    trial.set_user_attr(OOF_ATTR, artifact_id)
    return StoredOOF(artifact_id, len(data), time.perf_counter() - started)


def load_oof(trial: optuna.trial.FrozenTrial, store: Any) -> OOFPredictions | None:
    """A finished trial's OOF predictions, or None when it has none (older study, missing or unreadable file)."""
    artifact_id = trial.user_attrs.get(OOF_ATTR)
    if not artifact_id:
        return None
    try:
        with store.open_reader(artifact_id) as reader:
            return OOFPredictions.from_bytes(reader.read())
    except Exception as error:  # a store on another machine, a deleted file: skip the trial, say why
        log.warning("trial %d: out-of-fold predictions %s unreadable (%s); left out of the ensemble",
                    trial.number, artifact_id, type(error).__name__)
        return None
