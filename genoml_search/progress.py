"""Terminal progress: the run's trial bar (done/target, elapsed, ETA, running trials, best score) and step
progress for munge, refit/validation and report, shown only on a terminal (logs and CI stay quiet).

Steps come from the package's own INFO log messages ("QC of 600 x 2000 genotypes", "refitting trial 12 ..."),
so the pipelines need no progress plumbing: while a step display is active, a logging handler shows each
message as the current step, and passes records on to the normal handlers only at the level the user chose
(-v/-vv), so nothing extra is printed.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

PACKAGE_LOGGER = "genoml_search"


def format_seconds(seconds: float) -> str:
    """``1:02:03`` / ``2:03``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def eta_seconds(done: int, started_at: int, target: int, elapsed: float, timeout: float | None) -> float | None:
    """Seconds left: from this run's trial rate, capped by what is left of the ``--timeout`` budget."""
    left = None
    finished_here = done - started_at
    if finished_here > 0 and elapsed > 0:
        left = max(0, target - done) * elapsed / finished_here
    if timeout is not None:
        budget = max(0.0, timeout - elapsed)
        left = budget if left is None else min(left, budget)
    return left


class EtaColumn(ProgressColumn):
    """``ETA 3:20`` from the trial rate (or the --timeout budget), ``ETA ?`` before any estimate."""

    def __init__(self, started_at: int, timeout: float | None) -> None:
        super().__init__()
        self.started_at, self.timeout = started_at, timeout

    def render(self, task: Any) -> Text:
        left = eta_seconds(int(task.completed), self.started_at, int(task.total or 0), task.elapsed or 0.0,
                           self.timeout)
        return Text("ETA ?" if left is None else f"ETA {format_seconds(left)}", style="progress.remaining")


class TrialBar:
    """The run's progress bar; ``update`` after every finished trial."""

    def __init__(self, console: Console, maximize: bool, timeout: float | None = None) -> None:
        self.console, self.maximize, self.timeout = console, maximize, timeout
        self.progress: Progress | None = None
        self.task_id: Any = None
        self.best: float | None = None
        self.running = 0

    def start(self, done: int, target: int) -> None:
        """Show the bar (``done`` trials already finished in the study)."""
        self.progress = Progress(TextColumn("[bold]trials"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 EtaColumn(done, self.timeout), TextColumn("{task.description}", markup=False),
                                 console=self.console, transient=False)
        self.task_id = self.progress.add_task("", total=target, completed=done)
        self.progress.start()

    def describe(self) -> str:
        """``running 2 · best 0.7312``."""
        parts = [f"running {self.running}"]
        if self.best is not None:
            parts.append(f"best {self.best:.4f}")
        return " · ".join(parts)

    def update(self, finished: int, value: float | None, running: int | None) -> None:
        """Record a finished trial (its value, None if pruned/failed) and the trials still running."""
        if value is not None:
            better = self.best is None or (value > self.best if self.maximize else value < self.best)
            self.best = value if better else self.best
        if running is not None:
            self.running = running
        if self.progress is not None:
            self.progress.update(self.task_id, completed=finished, description=self.describe())

    def step(self, message: str) -> None:
        """Show what happens after the search (refit, validation) in the bar's description."""
        if self.progress is not None:
            self.progress.update(self.task_id, description=message)

    def stop(self) -> None:
        """Stop the live display (a no-op if it never started)."""
        if self.progress is not None:
            self.progress.stop()


class _StepHandler(logging.Handler):
    """Shows INFO messages as the current step; forwards records the user asked to see to the normal handlers."""

    def __init__(self, show: Callable[[str], None], passthrough_level: int) -> None:
        super().__init__(logging.INFO)
        self.show, self.passthrough_level = show, passthrough_level

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.show(record.getMessage())
        except Exception:  # a display problem must never break the pipeline
            pass
        if record.levelno >= self.passthrough_level:
            for handler in logging.getLogger().handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)


@contextmanager
def log_steps(console: Console, label: str, show: Callable[[str], None] | None = None) -> Iterator[None]:
    """While active, show the package's INFO messages as steps: in ``show`` (e.g. a bar's description) or a
    spinner labelled ``label``. Without a terminal, nothing changes."""
    if not console.is_terminal:
        yield
        return
    logger = logging.getLogger(PACKAGE_LOGGER)
    status = None
    if show is None:
        status = console.status(f"{label}…")
        status.start()
        show = lambda message: status.update(f"{label}: {message}")  # noqa: E731
    previous = (logger.level, logger.propagate)
    handler = _StepHandler(show, logger.getEffectiveLevel())
    logger.addHandler(handler)
    logger.setLevel(min(logging.INFO, logger.getEffectiveLevel()))
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous[0])
        logger.propagate = previous[1]
        if status is not None:
            status.stop()


def elapsed_since(start: float) -> str:
    """Wall time since ``start`` (``time.perf_counter()``), formatted."""
    return format_seconds(time.perf_counter() - start)
