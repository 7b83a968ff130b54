"""Extra CLI commands, one module each; every module here with a ``register(app)`` function is loaded.

Keeping each command in its own module lets commands grow without one huge cli.py.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def register_all(app: Any) -> None:
    """Import every module of this package and let it add its command(s) to the typer ``app``."""
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{module.name}").register(app)
