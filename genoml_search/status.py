"""`study_status`: trial counts and best trials of the studies in a storage (read-only: creates nothing)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from genoml_search.errors import UserError


@dataclass
class StudyStatus:
    """One study: direction, task, metric, trials per state, best trial of each family and overall."""

    study: str
    direction: str
    task: str | None
    metric: str | None
    counts: dict[str, int]
    best_per_family: list[dict[str, Any]]
    best: dict[str, Any] | None
    timeout_grace_seconds: float | None = None  # the last run's overrun of --timeout (None: not recorded)

    def as_dict(self) -> dict[str, Any]:
        """The JSON record of `status --format json`."""
        return asdict(self)


@dataclass
class StorageStatus:
    """The studies of one storage; ``storage`` is the URL with its password masked."""

    storage: str
    studies: list[StudyStatus]

    def as_dict(self) -> dict[str, Any]:
        """The JSON document of `status --format json`."""
        return {"storage": self.storage, "studies": [s.as_dict() for s in self.studies]}


def storage_url_of(storage: str | None, out: Path | None) -> str:
    """The storage to read: ``storage`` if given, else the run directory's ``study.db`` (which must exist)."""
    from genoml_search.run_directory import RunDirectory

    if storage is None and out is None:
        raise UserError("give RUN_DIR or --storage URL")
    if storage is not None:
        return storage
    run_dir = RunDirectory(Path(out))  # type: ignore[arg-type]
    if not run_dir.study_db.is_file():
        raise UserError("no study.db in this run directory", out)
    return run_dir.storage_url()


def study_status(storage: str | None = None, out: Path | None = None, study: str | None = None) -> StorageStatus:
    """Read the studies of ``storage`` (or of the run directory ``out``), optionally only ``study``."""
    import optuna

    from genoml_search.search.storage import close_storage, mask_url, open_storage
    from genoml_search.search.study import best_per_family, trial_counts

    url = storage_url_of(storage, out)
    backend = open_storage(url, create=False)
    try:  # closed when read: a Python session that asks many times keeps no connection open
        summaries = optuna.study.get_all_study_summaries(backend, include_best_trial=False)
        names = [s.study_name for s in summaries if study is None or s.study_name == study]
        if study is not None and not names:
            raise UserError(f"no study {study!r} in {mask_url(url)}; known: {[s.study_name for s in summaries]}")
        records = []
        for name in names:
            loaded = optuna.load_study(study_name=name, storage=backend)
            families = best_per_family(loaded)
            records.append(StudyStatus(name, loaded.direction.name.lower(), loaded.user_attrs.get("task"),
                                       loaded.user_attrs.get("metric"), trial_counts(loaded), families,
                                       families[0] if families else None,
                                       loaded.user_attrs.get("timeout_grace_seconds")))
    finally:
        close_storage(backend)
    return StorageStatus(mask_url(url), records)
