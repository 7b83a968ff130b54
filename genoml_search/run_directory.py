"""The run directory (``run --out``): the one place that knows its file names and the records it holds.

Layout (names are an interface, kept from the first version)::

    RUN/.genoml-search.json           marker: kind "run" (see genoml_search.outputs)
    RUN/study.db                      the default SQLite study storage
    RUN/metrics.json                  CV and validation metrics (:class:`MetricsRecord`)
    RUN/model/                        the refitted model (genoml_search.model_io; model.json: ModelInfo)
    RUN/holdout_samples.txt           IDs held out for validation (absent with a validation cohort)
    RUN/validation_excluded_related.txt  IDs left out by --drop-related-validation
    RUN/validation_dataset/           a validation cohort munged --like the training dataset
    RUN/report/                       `genoml-search report`'s default output
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genoml_search.errors import UserError

STUDY_DB = "study.db"
METRICS = "metrics.json"
MODEL_DIR = "model"
HOLDOUT_SAMPLES = "holdout_samples.txt"
EXCLUDED_VALIDATION = "validation_excluded_related.txt"
VALIDATION_DATASET = "validation_dataset"
REPORT_DIR = "report"
METRICS_SCHEMA = 1
# Entries `run` replaces: an input of the run may not lie there.
REPLACED = (STUDY_DB, METRICS, MODEL_DIR, HOLDOUT_SAMPLES, EXCLUDED_VALIDATION, VALIDATION_DATASET)


@dataclass
class MetricsRecord:
    """``metrics.json``: the best trial's CV summary, validation metrics and the leaderboard."""

    task: str
    metric: str
    study: str
    cv: dict[str, Any]
    validation: dict[str, Any]
    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    tool_version: str | None = None
    search: dict[str, Any] | None = None  # this run's search: trial counts, seconds, timeout_grace_seconds
    schema_version: int = METRICS_SCHEMA

    def as_dict(self) -> dict[str, Any]:
        """The JSON document (keys of the first version first, then ``schema_version``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: Any, path: Path) -> MetricsRecord:
        """Check and read a parsed ``metrics.json``; an unknown schema or a missing key is a UserError."""
        if not isinstance(payload, dict):
            raise UserError("metrics.json does not hold a JSON object; re-run `genoml-search run`", path)
        version = payload.get("schema_version", 1)  # files of the first version have no schema_version
        if version != METRICS_SCHEMA:
            raise UserError(f"metrics.json schema {version!r} is not {METRICS_SCHEMA} (written by another version of "
                            "genoml-search); re-run `genoml-search run` with this version", path)
        missing = [k for k in ("task", "metric", "cv", "validation") if k not in payload]
        wrong = [k for k in ("cv", "validation") if k in payload and not isinstance(payload[k], dict)]
        if missing or wrong:
            raise UserError(f"metrics.json lacks or mangles {missing + wrong}; re-run `genoml-search run`", path)
        return cls(task=str(payload["task"]), metric=str(payload["metric"]), study=str(payload.get("study", "")),
                   cv=payload["cv"], validation=payload["validation"],
                   leaderboard=list(payload.get("leaderboard") or []), tool_version=payload.get("tool_version"),
                   search=payload.get("search") if isinstance(payload.get("search"), dict) else None)


@dataclass(frozen=True)
class RunDirectory:
    """A run directory and the paths of everything in it."""

    path: Path

    @property
    def study_db(self) -> Path:
        """The default SQLite study file."""
        return self.path / STUDY_DB

    @property
    def metrics_file(self) -> Path:
        """``metrics.json``."""
        return self.path / METRICS

    @property
    def model_dir(self) -> Path:
        """The saved model directory."""
        return self.path / MODEL_DIR

    @property
    def holdout_file(self) -> Path:
        """IDs of the held-out validation samples."""
        return self.path / HOLDOUT_SAMPLES

    @property
    def excluded_file(self) -> Path:
        """IDs left out of validation by --drop-related-validation."""
        return self.path / EXCLUDED_VALIDATION

    @property
    def validation_dataset(self) -> Path:
        """A validation cohort harmonized to the training dataset."""
        return self.path / VALIDATION_DATASET

    @property
    def report_dir(self) -> Path:
        """The report's default directory."""
        return self.path / REPORT_DIR

    def storage_url(self) -> str:
        """The default storage URL: ``sqlite:///RUN/study.db`` (absolute)."""
        return f"sqlite:///{self.study_db.resolve()}"

    def has_model(self) -> bool:
        """Whether a model was saved here."""
        from genoml_search.model_io import MODEL_INFO

        return (self.model_dir / MODEL_INFO).is_file()

    def read_metrics(self) -> MetricsRecord | None:
        """``metrics.json`` as a checked record (``None`` when the run has not finished one)."""
        if not self.metrics_file.is_file():
            return None
        try:
            payload = json.loads(self.metrics_file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise UserError("not valid JSON; re-run `genoml-search run`", self.metrics_file) from None
        return MetricsRecord.from_dict(payload, self.metrics_file)

    def write_metrics(self, record: MetricsRecord) -> None:
        """Write ``metrics.json`` atomically."""
        from genoml_search.fileio import write_json

        write_json(self.metrics_file, record.as_dict())

    def write_ids(self, path: Path, ids: Any) -> None:
        """Write an ``ID`` list file atomically (holdout or excluded samples)."""
        from genoml_search.fileio import atomic_file

        with atomic_file(path) as handle:
            handle.write("ID\n" + "".join(f"{i}\n" for i in ids))

    @staticmethod
    def read_ids(path: Path) -> list[str] | None:
        """The IDs of a list file written by :meth:`write_ids` (``None`` when absent)."""
        if not path.is_file():
            return None
        return path.read_text(encoding="utf-8").split()[1:]
