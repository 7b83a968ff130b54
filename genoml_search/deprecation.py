"""Old spellings of CLI arguments that keep working, with a note saying what to use instead.

The notes are printed when the command has succeeded (``flush``, called by the CLI's entry point), so a
command that fails still says only its one-line error.
"""
from __future__ import annotations

import sys
from typing import TypeVar

from genoml_search.errors import UserError

T = TypeVar("T")


PENDING: list[str] = []


def note(old: str, new: str) -> None:
    """Record that ``old`` still works but ``new`` is the spelling to use (printed by :func:`flush`)."""
    PENDING.append(f"note: {old} is deprecated; use {new}")


def flush() -> None:
    """Print the recorded notes on stderr, one line each, and forget them."""
    for line in PENDING:
        print(line, file=sys.stderr)
    PENDING.clear()


def prefer(new_value: T | None, old_value: T | None, new: str, old: str) -> T | None:
    """The value of the new spelling, or of the old one (with a deprecation note); both given is an error
    unless they agree."""
    if old_value is None:
        return new_value
    if new_value is not None and new_value != old_value:
        raise UserError(f"{old} and {new} give different values; give only {new}")
    note(old, new)
    return old_value
