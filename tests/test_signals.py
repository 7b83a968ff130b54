"""Signals become clean interruptions: raised at once, deferred to a safe point, or re-sent after a block."""
from __future__ import annotations

import os
import signal
import threading

import pytest

from genoml_search.signals import DeferredSignals, Interrupted, signals_as_interrupt


def test_signals_as_interrupt_raises_inside_and_restores_after() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted, match="SIGTERM"):
        with signals_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before
    assert issubclass(Interrupted, KeyboardInterrupt)  # every `except KeyboardInterrupt` clean-up runs


def test_deferred_signal_waits_for_check_and_a_second_one_raises_at_once() -> None:
    with DeferredSignals((signal.SIGUSR1,), second_raises=True) as deferred:
        os.kill(os.getpid(), signal.SIGUSR1)  # recorded, not raised
        assert deferred.received == [signal.SIGUSR1]
        with pytest.raises(Interrupted, match="SIGUSR1"):
            deferred.check()
        with pytest.raises(Interrupted):
            os.kill(os.getpid(), signal.SIGUSR1)


def test_deferred_signal_is_resent_to_the_restored_handler() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: seen.append(signum))
    try:
        with DeferredSignals((signal.SIGUSR1,), resend=True):
            os.kill(os.getpid(), signal.SIGUSR1)
            assert seen == []
        assert seen == [signal.SIGUSR1]
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_off_the_main_thread_nothing_is_installed() -> None:
    errors: list[BaseException] = []

    def body() -> None:
        try:
            with signals_as_interrupt(), DeferredSignals() as deferred:
                deferred.check()
        except BaseException as error:  # signal.signal would raise ValueError off the main thread
            errors.append(error)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert errors == []


def test_handlers_kept_restores_what_a_library_replaced() -> None:
    from genoml_search.signals import handlers_kept

    before = signal.getsignal(signal.SIGINT)
    with handlers_kept((signal.SIGINT,)):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # as dask_jobqueue.runner does at import time
    assert signal.getsignal(signal.SIGINT) is before
