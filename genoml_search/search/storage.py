"""Study storages: SQLite by default, PostgreSQL and MySQL/MariaDB by URL; credentials never shown.

Every storage records heartbeats for running trials, so trials of a killed process are found and retried
(:class:`optuna.storages.RetryFailedTrialCallback`).
"""
from __future__ import annotations

import re
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError

from genoml_search.errors import StudyError

# The driver records heartbeats itself (ask/tell), which Optuna warns about; the heartbeat API is "experimental".
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 30
CONNECT_TIMEOUT_SECONDS = 5
_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@\s]*)(@)")


def default_storage_url(out: str | Path) -> str:
    """The default storage: a SQLite file ``study.db`` in the run's output directory."""
    return f"sqlite:///{Path(out).resolve() / 'study.db'}"


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for logs, errors, reports and attributes)."""
    return _PASSWORD.sub(r"\1***\3", str(url))


def mask_text(text: str, url: str | None) -> str:
    """Remove the password of ``url`` from any text (e.g. a driver's error message)."""
    text = mask_url(text)
    if url:
        try:
            password = make_url(normalize_url(url)).password
        except ArgumentError:
            password = None
        if password:
            text = text.replace(str(password), "***")
    return text


def normalize_url(url: str) -> str:
    """Pick the drivers we ship: psycopg 3 for PostgreSQL, PyMySQL for MySQL/MariaDB."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("mysql://") or url.startswith("mariadb://"):
        return "mysql+pymysql://" + url.split("://", 1)[1]
    return url


def is_sqlite(url: str) -> bool:
    """Whether a storage URL is a SQLite file (one machine: workers share its file system)."""
    return normalize_url(url).startswith("sqlite")


def _engine_kwargs(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    if url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_SECONDS}, "pool_pre_ping": True}
    if url.startswith("mysql"):
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_SECONDS}, "pool_pre_ping": True}
    return {}


def _retry_callback() -> Any:
    """Re-enqueue the parameters of a trial whose process died (at most 3 times)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks the heartbeat API experimental
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)


def _fast_sqlite(storage: optuna.storages.RDBStorage) -> optuna.storages.RDBStorage:
    """SQLite in WAL mode with synchronous=NORMAL: a commit no longer waits for fsync (Optuna commits about
    20 times per trial: 540 -> 113 ms of driver time per trial, measured in docs/execution.md). The database
    stays consistent after a crash; only the last commits may be lost on power failure."""
    if storage.engine.dialect.name != "sqlite":
        return storage
    from sqlalchemy import event

    @event.listens_for(storage.engine, "connect")
    def _pragmas(connection: Any, record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    storage.engine.dispose()  # connections opened while creating the tables get the pragmas too
    return storage


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """Open (creating tables if needed) an RDB storage with heartbeats; a clear error if it cannot connect."""
    normalized = normalize_url(url)
    try:
        make_url(normalized)
    except ArgumentError:
        raise StudyError(f"--storage {mask_url(url)}: not a database URL (e.g. sqlite:///study.db, "
                         "postgresql://user:password@host/db, mysql+pymysql://user@host/db)") from None
    if normalized.startswith("sqlite:///"):
        Path(normalized[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    try:
        for attempt in range(3):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return _fast_sqlite(optuna.storages.RDBStorage(
                        normalized,
                        engine_kwargs=_engine_kwargs(normalized),
                        heartbeat_interval=HEARTBEAT_SECONDS,
                        grace_period=GRACE_SECONDS,
                        heartbeat_stale_trial_callback=_retry_callback(),
                    ))
            except IntegrityError:  # two processes created the tables of a new database at once: retry
                if attempt == 2:
                    raise
                time.sleep(0.5 + attempt)
        raise AssertionError("unreachable")
    except ModuleNotFoundError as error:
        extra = "postgres" if "psycopg" in str(error) else "mysql"
        raise StudyError(f"--storage {mask_url(url)}: driver missing ({error.name}); "
                         f"pip install 'genoml-search[{extra}]'") from None
    except Exception as error:  # SQLAlchemy/driver errors: connection refused, auth, unknown database
        reason = mask_text(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__, url)
        raise StudyError(f"cannot open storage {mask_url(url)}: {reason[:300]}") from None
