"""Safe outputs: build beside the target, then rename, so no half-written file or directory is ever left.

Also the process-level pieces of "safe files": :func:`install_signal_handlers` makes SIGTERM behave like
Ctrl-C (a :class:`KeyboardInterrupt`) so that every ``except BaseException`` clean-up below runs for both.
Which paths a command may write at all is :mod:`genoml_search.outputs` (built on this module).
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from genoml_search.errors import UserError
from genoml_search.signals import DeferredSignals, raise_on_signals

TMP_MARK = ".tmp-"
OLD_MARK = ".old-"


def install_signal_handlers() -> None:
    """Turn SIGTERM (and SIGHUP) into :class:`KeyboardInterrupt` in the main thread, like SIGINT.

    Called once by ``cli.main()``; temporaries are then removed on ``kill`` as on Ctrl-C. Code that needs its
    own handling (the run driver) may still install handlers of its own for its duration.
    """
    raise_on_signals((signal.SIGTERM, signal.SIGHUP))


def _signals_deferred() -> DeferredSignals:
    """Hold SIGINT/SIGTERM/SIGHUP for a few renames so that they are never interrupted half-way.

    Python runs signal handlers in the main thread whichever thread receives the signal, so swapping in a
    recording handler (not blocking the signal in one thread) covers multi-threaded processes too. A signal
    that arrived is sent again, to the original handler, once the block is done.
    """
    return DeferredSignals(resend=True)


def nearest_existing(path: Path) -> Path:
    """``path`` itself or its closest ancestor that exists."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def can_create_in(directory: Path) -> bool:
    """Whether an entry can be created in ``directory`` (tried, not guessed: root, ACLs, read-only mounts)."""
    if not os.access(directory, os.W_OK | os.X_OK):
        return False
    try:
        probe = tempfile.mkdtemp(prefix=f".genoml-search-probe{TMP_MARK}{os.getpid()}-", dir=directory)
    except OSError:
        return False
    os.rmdir(probe)
    return True


def _check_parent_writable(target: Path) -> None:
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create output directory ({error.strerror}); choose a writable --out", parent) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError("output directory is not writable; choose a writable --out", parent)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(target: str | Path) -> list[Path]:
    """Remove ``TARGET.tmp-PID-*`` / ``TARGET.old-PID`` / ``.TARGET.tmp-PID-*`` siblings left by processes that
    no longer run (kill -9)."""
    target = Path(target)
    prefixes = [f"{target.name}{TMP_MARK}", f"{target.name}{OLD_MARK}", f".{target.name}{TMP_MARK}"]
    return _remove_dead(target.parent, prefixes)


def remove_stale_work_directories(directory: str | Path, prefix: str) -> list[Path]:
    """Remove ``PREFIXPID-*`` entries of ``directory`` whose process no longer runs (e.g. ``.genoml-predict-``)."""
    return _remove_dead(Path(directory), [prefix])


def _remove_dead(directory: Path, prefixes: list[str]) -> list[Path]:
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for prefix in prefixes:
        for path in directory.glob(f"{glob_escape(prefix)}*"):
            pid_text = path.name[len(prefix):].split("-")[0]
            if pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text)):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        path.unlink()
                removed.append(path)
    return removed


def glob_escape(name: str) -> str:
    """Escape glob metacharacters in a file name."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def current_umask() -> int:
    """The process umask (read without changing it where /proc allows; else set and restored at once)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _normal_mode(directory: bool) -> int:
    """The mode a plain ``mkdir``/``open`` would give under the umask (temporaries are created 0700/0600)."""
    return (0o777 if directory else 0o666) & ~current_umask()


@contextlib.contextmanager
def atomic_directory(target: str | Path, marker: Callable[[Path], object] | None = None) -> Iterator[Path]:
    """Yield a temporary directory beside ``target``; on success it replaces ``target`` in one rename.

    On any exception (including KeyboardInterrupt, and SIGTERM once :func:`install_signal_handlers` ran) the
    temporary directory is removed and ``target``, if it existed, is left untouched. The final swap runs with
    signals held, so an interruption never leaves ``target`` missing. The directory gets the umask's normal
    mode; ``marker`` is called on the finished temporary directory before the swap (the marker file of
    :func:`genoml_search.outputs.output_directory`, so a later command recognises it as ours).
    """
    target = Path(target)
    _check_parent_writable(target)
    if target.exists() and not target.is_dir():
        raise UserError("exists and is not a directory; choose another --out", target)
    remove_stale_temporaries(target)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f"{target.name}{TMP_MARK}{os.getpid()}-", dir=target.parent))
    except OSError as error:
        raise UserError(f"cannot write in {target.parent} ({error.strerror}); choose a writable --out", target) from None
    try:
        yield tmp
        if marker is not None:
            marker(tmp)
        os.chmod(tmp, _normal_mode(directory=True))
        replace_directory(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_file(target: str | Path, mode: str = "w") -> Iterator[Any]:
    """Open a temporary file beside ``target`` for writing; rename it over ``target`` when the block succeeds.

    The file gets the mode of the file it replaces, or the umask's normal mode for a new file.
    """
    target = Path(target)
    _check_parent_writable(target)
    remove_stale_temporaries(target)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}{TMP_MARK}{os.getpid()}-", dir=target.parent)
    except OSError as error:
        raise UserError(f"cannot write in {target.parent} ({error.strerror}); choose a writable location",
                        target) from None
    os.close(fd)
    try:
        with open(tmp_name, mode) as handle:
            yield handle
        try:
            file_mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            file_mode = _normal_mode(directory=False)
        os.chmod(tmp_name, file_mode)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def replace_directory(source: Path, target: Path) -> None:
    """Rename the directory ``source`` to ``target``, swapping out a previous ``target`` with signals held (an
    interruption never leaves ``target`` missing); the previous one is then deleted."""
    with _signals_deferred():
        if target.exists():
            old = target.with_name(f"{target.name}{OLD_MARK}{os.getpid()}")
            shutil.rmtree(old, ignore_errors=True)
            os.rename(target, old)
            try:
                os.rename(source, target)
            except BaseException:
                os.rename(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(source, target)


def write_json(target: str | Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON atomically."""
    with atomic_file(target) as handle:
        json.dump(payload, handle, indent=2, sort_keys=False, default=_json_default)
        handle.write("\n")


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_text_file(path: str | Path, what: str) -> str:
    """Read a small text input: UTF-8 (with or without BOM) or UTF-16 with a BOM; else an InputFileError."""
    from genoml_search.errors import InputFileError

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{what} file not found" + (" (it is a directory)" if path.is_dir() else ""), path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputFileError(f"cannot read {what} file ({error.strerror or errno.errorcode.get(error.errno or 0)})",
                             path) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputFileError(f"{what} file has a UTF-16 mark but is not valid UTF-16; save it as UTF-8",
                                 path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputFileError(f"{what} file is not UTF-8 text (line {line}); save it as UTF-8 (CSV or TSV)",
                             path) from None
    if "\x00" in text:
        raise InputFileError(f"{what} file contains NUL bytes (a binary file?); expected CSV or TSV text", path)
    return text
