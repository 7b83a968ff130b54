"""The consoles every command prints through: rich markup is off, so user text (paths, study names, sample
IDs such as ``[final]`` or ``[/]``) is printed literally and can never break or vanish in rich markup."""
from __future__ import annotations

from rich.console import Console
from rich.text import Text

console = Console(markup=False, highlight=False)
err_console = Console(stderr=True, markup=False, highlight=False)


def bold(text: str) -> Text:
    """``text`` in bold, taken literally (no markup parsing)."""
    return Text(str(text), style="bold")
