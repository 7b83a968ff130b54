"""Checks of command-line values shared by the commands: numeric ranges and flags that contradict each other.

Range checks are typer callbacks raising :class:`typer.BadParameter`, so a bad value is reported like any
other usage error: click's message naming the flag, ``Try 'genoml-search CMD --help'``, exit code 2.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import typer


def in_range(low: float | None = None, high: float | None = None, *, low_open: bool = False,
             high_open: bool = False) -> Callable[[Any], Any]:
    """A callback accepting ``None`` or a finite number in [low, high] (ends excluded when ``*_open``)."""

    def check(value: Any) -> Any:
        if value is None:
            return value
        numbers = value if isinstance(value, (list, tuple)) else [value]
        for number in numbers:
            bad = isinstance(number, float) and not math.isfinite(number)
            if low is not None:
                bad = bad or number < low or (low_open and number == low)
            if high is not None:
                bad = bad or number > high or (high_open and number == high)
            if bad:
                raise typer.BadParameter(f"{number} is not in {_describe(low, high, low_open, high_open)}")
        return value

    return check


def _describe(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"the range {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"the range x {'>' if low_open else '>='} {low:g}"
    return f"the range x {'<' if high_open else '<='} {high:g}"


COUNT = in_range(1)  # trials, folds, repeats, workers, ...
NON_NEGATIVE = in_range(0)
FRACTION = in_range(0.0, 1.0)
OPEN_FRACTION = in_range(0.0, 1.0, low_open=True, high_open=True)
SEED = in_range(0, 2**32 - 1)
POSITIVE = in_range(0.0, low_open=True)


def given(ctx: typer.Context, name: str) -> bool:
    """Whether the user gave the parameter ``name`` (on the command line or through the environment)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT", "PROMPT")


def refuse_together(ctx: typer.Context, flag: str, others: dict[str, str], reason: str) -> None:
    """A usage error when ``flag`` and one of ``others`` (parameter name -> flag text) are both given."""
    clashing = [text for name, text in others.items() if given(ctx, name)]
    if clashing:
        raise typer.BadParameter(f"contradicts {', '.join(clashing)}: {reason}", ctx=ctx, param_hint=flag)
