"""Terminal progress: ETA from the trial rate or the timeout budget; steps shown on a terminal only."""
from __future__ import annotations

import io
import logging

import pytest
from rich.console import Console

from genoml_search.progress import TrialBar, eta_seconds, format_seconds, log_steps


def test_eta_from_rate_and_budget():
    assert eta_seconds(done=10, started_at=0, target=50, elapsed=20.0, timeout=None) == pytest.approx(80.0)
    assert eta_seconds(done=10, started_at=0, target=50, elapsed=20.0, timeout=50.0) == pytest.approx(30.0)
    assert eta_seconds(done=5, started_at=5, target=50, elapsed=3.0, timeout=None) is None  # nothing finished yet
    assert eta_seconds(done=5, started_at=5, target=50, elapsed=3.0, timeout=60.0) == pytest.approx(57.0)
    assert format_seconds(3725) == "1:02:05" and format_seconds(65) == "1:05"


def test_trial_bar_tracks_best_and_running():
    out = io.StringIO()
    bar = TrialBar(Console(file=out, force_terminal=True, width=120), maximize=False, timeout=None)
    bar.start(0, 4)
    bar.update(1, 0.5, 2)
    bar.update(2, None, 1)  # pruned
    bar.update(3, 0.3, 0)
    bar.stop()
    assert bar.best == 0.3 and bar.describe() == "running 0 · best 0.3000"
    assert "3/4" in out.getvalue() and "ETA" in out.getvalue()


def test_steps_are_shown_on_a_terminal_and_quiet_otherwise(caplog):
    logger = logging.getLogger("genoml_search.data.munge")
    shown: list[str] = []
    with log_steps(Console(file=io.StringIO(), force_terminal=True), "munge", shown.append):
        logger.info("QC of %d x %d genotypes", 10, 20)
    assert shown == ["QC of 10 x 20 genotypes"]
    quiet = io.StringIO()
    shown.clear()
    with log_steps(Console(file=quiet, force_terminal=False), "munge", shown.append):
        logger.info("QC of %d x %d genotypes", 10, 20)
    assert shown == [] and quiet.getvalue() == ""


def test_spinner_without_a_display_callback_and_warnings_still_pass_through(capsys):
    root = logging.getLogger()
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    root.addHandler(handler)
    package = logging.getLogger("genoml_search")
    package.setLevel(logging.WARNING)
    try:
        console = Console(file=io.StringIO(), force_terminal=True)
        with log_steps(console, "report"):
            logging.getLogger("genoml_search.report").info("permutation importance")
            logging.getLogger("genoml_search.report").warning("a real warning")
        err = capsys.readouterr().err
        assert "a real warning" in err and "permutation importance" not in err
        assert package.level == logging.WARNING and package.propagate
    finally:
        root.removeHandler(handler)
        package.setLevel(logging.NOTSET)
