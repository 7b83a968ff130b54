"""Study storages: SQLite by default, PostgreSQL and MySQL/MariaDB by URL; credentials never shown.

Every storage records heartbeats for running trials, so trials of a killed process are found and retried
(:class:`optuna.storages.RetryFailedTrialCallback`).
"""
from __future__ import annotations

import contextlib
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.pool import NullPool

from genoml_search.errors import StudyError

# The driver records heartbeats itself (ask/tell), which Optuna warns about; the heartbeat API is "experimental".
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 30
CONNECT_TIMEOUT_SECONDS = 5
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@\s]*)(@)")
_QUERY_SECRET = re.compile(r"([?&](?:password|passwd|pwd)=)[^&]*", re.IGNORECASE)


def default_storage_url(out: str | Path) -> str:
    """The default storage: a SQLite file ``study.db`` in the run's output directory."""
    return f"sqlite:///{Path(out).resolve() / 'study.db'}"


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for logs, errors, reports and attributes).

    Parsed from the URL's structure, not a pattern over text: the user information runs from ``://`` to the
    **last** ``@`` before the host, so a password with spaces, ``@``, ``:`` or ``/`` is masked whole; a
    ``password=`` query parameter is masked too.
    """
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return _QUERY_SECRET.sub(r"\1***", text)
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        if colon:
            rest = f"{user}:***{rest[at:]}"
    return scheme + "://" + _QUERY_SECRET.sub(r"\1***", rest)


def url_password(url: str) -> str | None:
    """The password of a storage URL as written (``None`` when it has none)."""
    _, sep, rest = str(url).partition("://")
    at = rest.rfind("@")
    if not sep or at < 0 or ":" not in rest[:at]:
        return None
    return rest[:at].partition(":")[2] or None


def mask_text(text: str, url: str | None) -> str:
    """Remove the password of ``url`` (as written, percent-decoded and percent-encoded) from any text."""
    from urllib.parse import quote, unquote

    text = str(text)
    password = url_password(url) if url else None
    if password:
        for form in sorted({password, unquote(password), quote(password, safe="")}, key=len, reverse=True):
            if form:
                text = text.replace(form, "***")
    return _URL_PASSWORD.sub(r"\1***\3", text)  # any other URL in the text, up to a space


def normalize_url(url: str) -> str:
    """Pick the drivers we ship (psycopg 3 for PostgreSQL, PyMySQL for MySQL/MariaDB) and percent-encode the
    password, so one with ``@``, ``/``, ``:`` or spaces reaches the server whole (SQLAlchemy stops at an ``@``)."""
    from urllib.parse import quote, unquote

    password = url_password(url)
    if password is not None:
        scheme, _, rest = url.partition("://")
        at = rest.rfind("@")
        user = rest[:at].partition(":")[0]
        url = f"{scheme}://{user}:{quote(unquote(password), safe='')}{rest[at:]}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("mysql://") or url.startswith("mariadb://"):
        return "mysql+pymysql://" + url.split("://", 1)[1]
    return url


def is_sqlite(url: str) -> bool:
    """Whether a storage URL is a SQLite file (one machine: workers share its file system)."""
    return normalize_url(url).startswith("sqlite")


def _require_optuna_tables(normalized: str, url: str) -> None:
    """Refuse (without creating them) a database that holds no Optuna study tables."""
    from sqlalchemy import create_engine, inspect

    try:
        engine = create_engine(normalized, **_engine_kwargs(normalized))
        try:
            found = inspect(engine).has_table("studies")
        finally:
            engine.dispose()
    except ModuleNotFoundError:
        return  # open_storage says which driver is missing
    except Exception as error:
        reason = mask_text(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__, url)
        raise StudyError(f"cannot open storage {mask_url(url)}: {reason[:300]}") from None
    if not found:
        raise StudyError(f"no study storage at {mask_url(url)}: the database holds no Optuna studies; check --storage")


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


class _RDBStorage(optuna.storages.RDBStorage):
    """Optuna's RDB storage that closes its connections when opening it fails.

    ``RDBStorage.__init__`` creates the engine, then the tables and the schema check; when a later step
    raises (a concurrent table creation, an old schema, a server gone mid-way), the half-built object is
    dropped with a pooled connection still open, which the garbage collector reports later, in whatever code
    runs then, as a ``ResourceWarning``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            engine = getattr(self, "engine", None)
            if engine is not None:
                engine.dispose()
            raise


_SCHEMA_LOCK_KEY = 0x67656E6F  # "geno": the lock held while Optuna's tables are created


@contextlib.contextmanager
def server_lock(connection: Any, key: int) -> Iterator[None]:
    """Hold a session-level lock named by ``key`` on a PostgreSQL (``pg_advisory_lock``) or MySQL/MariaDB
    (``GET_LOCK``, waiting up to 60 s) connection until the block ends; the server also releases it when the
    connection closes, so a process that dies never leaves it held."""
    from sqlalchemy import text

    name: int | str = key
    lock, unlock = "SELECT pg_advisory_lock(:key)", "SELECT pg_advisory_unlock(:key)"
    if connection.dialect.name != "postgresql":
        lock, unlock, name = "SELECT GET_LOCK(:key, 60)", "SELECT RELEASE_LOCK(:key)", f"genoml-search-{key}"
    connection.execute(text(lock), {"key": name})
    connection.commit()
    try:
        yield
    finally:
        connection.execute(text(unlock), {"key": name})
        connection.commit()


@contextlib.contextmanager
def _schema_creation_lock(normalized: str) -> Iterator[None]:
    """Hold :func:`server_lock` while Optuna creates or checks its tables (PostgreSQL and MySQL only).

    Two processes opening a brand-new database at once would otherwise both run ``CREATE TABLE`` (PostgreSQL:
    ``DuplicateTable``; MySQL: "table already exists") or both insert the schema version. SQLite has no such
    lock: there the loser of the race gets an error and :func:`open_storage` retries.
    """
    if not (normalized.startswith("postgresql") or normalized.startswith("mysql")):
        yield
        return
    from sqlalchemy import create_engine

    engine = create_engine(normalized, poolclass=NullPool, **_engine_kwargs(normalized))
    try:
        with engine.connect() as connection, server_lock(connection, _SCHEMA_LOCK_KEY):
            yield
    finally:
        engine.dispose()


def _is_concurrent_creation(error: DBAPIError) -> bool:
    """Whether a database error is another process creating the same tables or schema row at that moment."""
    return isinstance(error, IntegrityError) or "already exists" in str(error).lower()


def close_storage(storage: optuna.storages.BaseStorage) -> None:
    """Close the pooled database connections of a storage from :func:`open_storage` (it can be used again:
    SQLAlchemy reconnects on demand). Commands that only read (status, report) call it when done, so a Python
    session that runs them many times keeps no connection open."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


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


def check_storage_url(url: str) -> str:
    """Validate a storage URL without connecting or creating anything; return it normalized.

    Refused (one-line :class:`StudyError`): text that is not a database URL, a port that is not a number,
    ``sqlite://`` without a file (an in-memory study that workers cannot share and that is lost at exit).
    """
    normalized = normalize_url(url)
    example = "e.g. sqlite:///study.db, postgresql://user:password@host/db, mysql+pymysql://user@host/db"
    try:
        parsed = make_url(normalized)
        port = parsed.port  # parsed lazily: "host:abc" fails here
    except (ArgumentError, ValueError) as error:
        reason = "the port is not a number" if "int()" in str(error) else "not a database URL"
        raise StudyError(f"--storage {mask_url(url)}: {reason} ({example})") from None
    if port is not None and not 0 < port < 65536:
        raise StudyError(f"--storage {mask_url(url)}: port {port} is not between 1 and 65535")
    if parsed.get_backend_name() == "sqlite" and not sqlite_path(normalized):
        raise StudyError(f"--storage {mask_url(url)}: names no SQLite file (an in-memory study is lost at exit and "
                         "workers cannot share it); give sqlite:///path/to/study.db")
    return normalized


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (``None`` for other storages and for in-memory SQLite)."""
    normalized = normalize_url(url)
    if not normalized.startswith("sqlite"):
        return None
    try:
        database = make_url(normalized).database
    except (ArgumentError, ValueError):
        return None
    return Path(database) if database and database != ":memory:" else None


def open_storage(url: str, create: bool = True) -> optuna.storages.RDBStorage:
    """Open an RDB storage with heartbeats; a clear error if it cannot connect.

    ``create=False`` (read-only commands: status, report) never creates anything: a SQLite file that does not
    exist, or a database without Optuna's tables, is a :class:`StudyError` saying no storage is there.
    """
    normalized = check_storage_url(url)
    database = sqlite_path(normalized)
    if database is not None:
        if not create and not database.is_file():
            raise StudyError(f"no study storage at {mask_url(url)}: {database} does not exist; check --storage/--out")
        if create:
            try:
                database.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StudyError(f"--storage {mask_url(url)}: cannot create {database.parent} "
                                 f"({error.strerror})") from None
    if not create:
        _require_optuna_tables(normalized, url)
    try:
        for attempt in range(3):
            try:
                with warnings.catch_warnings(), _schema_creation_lock(normalized):
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return _fast_sqlite(_RDBStorage(
                        normalized,
                        engine_kwargs=_engine_kwargs(normalized),
                        heartbeat_interval=HEARTBEAT_SECONDS,
                        grace_period=GRACE_SECONDS,
                        heartbeat_stale_trial_callback=_retry_callback(),
                    ))
            except DBAPIError as error:  # SQLite, or a process without the lock, created them at once
                if attempt == 2 or not _is_concurrent_creation(error):
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
