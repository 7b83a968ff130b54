"""Signals as clean interruptions: the one place where genoml-search installs signal handlers.

Every stop request (Ctrl-C's SIGINT, a batch system's SIGTERM, a closed terminal's SIGHUP) becomes an
:class:`Interrupted` (a ``KeyboardInterrupt``), so that every ``except BaseException`` clean-up runs for all of
them. Three ways to install that, each only in the main thread (where Python runs handlers) and a no-op
elsewhere:

- :func:`raise_on_signals`: from now on, for the whole process (``cli.main``);
- :func:`signals_as_interrupt`: for the duration of a block (a library call of ``run``);
- :class:`DeferredSignals`: a block that must not be cut at an arbitrary point records the signal and acts on
  it at a safe point: :meth:`DeferredSignals.check` raises (the run driver), or the signal is sent again when
  the block ends (a few renames in :mod:`genoml_search.fileio`);
- :func:`handlers_kept`: ours survive a library that replaces them at import time (dask-jobqueue).
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A signal asked the command to stop; the argument is the signal's name."""


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def _install(signals: tuple[int, ...], handler: Any) -> dict[int, Any]:
    """Install ``handler`` for ``signals`` (those the platform has); return the previous handlers."""
    previous: dict[int, Any] = {}
    for sig in signals:
        with contextlib.suppress(ValueError, OSError):
            previous[sig] = signal.signal(sig, handler)
    return previous


def _restore(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def raise_on_signals(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGHUP)) -> None:
    """From now on, ``signals`` raise :class:`Interrupted` in the main thread, as SIGINT does."""
    if _on_main_thread():
        _install(signals, _raise_interrupted)


@contextlib.contextmanager
def signals_as_interrupt(signals: tuple[int, ...] = (signal.SIGTERM,)) -> Iterator[None]:
    """For the duration of the block, ``signals`` raise :class:`Interrupted` (previous handlers restored)."""
    if not _on_main_thread():
        yield
        return
    previous = _install(signals, _raise_interrupted)
    try:
        yield
    finally:
        _restore(previous)


@contextlib.contextmanager
def handlers_kept(signals: tuple[int, ...] = (signal.SIGINT,)) -> Iterator[None]:
    """Restore the handlers of ``signals`` after the block (a library that installs its own at import time)."""
    if not _on_main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in signals}
    try:
        yield
    finally:
        _restore(previous)


class DeferredSignals:
    """A block in which ``signals`` are recorded instead of raising where they land.

    Raising from a handler could land inside a database write or a library's clean-up callback (and be
    swallowed there). Inside the block the first signal is only recorded; :meth:`check` raises it at a safe
    point. With ``second_raises`` a second signal raises at once (a user pressing Ctrl-C twice). With
    ``resend`` a signal still pending when the block ends is sent again, to the handler restored then.
    """

    def __init__(self, signals: tuple[int, ...] = STOP_SIGNALS, *, second_raises: bool = False,
                 resend: bool = False) -> None:
        self.signals = signals
        self.second_raises = second_raises
        self.resend = resend
        self.received: list[int] = []
        self._previous: dict[int, Any] = {}

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if self.second_raises and len(self.received) > 1:
            raise Interrupted(signal.Signals(signum).name)

    def check(self) -> None:
        """Raise :class:`Interrupted` if a signal arrived."""
        if self.received:
            raise Interrupted(signal.Signals(self.received[0]).name)

    def __enter__(self) -> DeferredSignals:
        if _on_main_thread():  # elsewhere no handler runs: nothing to defer
            self._previous = _install(self.signals, self._record)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        _restore(self._previous)
        self._previous = {}
        if self.resend and self.received:
            os.kill(os.getpid(), self.received[0])
