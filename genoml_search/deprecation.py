"""Old spellings of CLI arguments that keep working, with a note saying what to use instead."""
from __future__ import annotations

import sys
from typing import TypeVar

from genoml_search.errors import UserError

T = TypeVar("T")


def note(old: str, new: str) -> None:
    """Tell the user (stderr, one line) that ``old`` still works but ``new`` is the spelling to use."""
    print(f"note: {old} is deprecated; use {new}", file=sys.stderr)


def prefer(new_value: T | None, old_value: T | None, new: str, old: str) -> T | None:
    """The value of the new spelling, or of the old one (with a deprecation note); both given is an error
    unless they agree."""
    if old_value is None:
        return new_value
    if new_value is not None and new_value != old_value:
        raise UserError(f"{old} and {new} give different values; give only {new}")
    note(old, new)
    return old_value
