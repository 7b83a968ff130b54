"""Versions of this process (genoml-search, Python, libraries): recorded in models, reports and benchmarks."""
from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib import metadata

__version__ = "0.1.0"
"""This package's version (re-exported as ``genoml_search.__version__``); here so that any layer can record it
without importing the package root (which re-exports the public API)."""


def versions(libraries: Iterable[str], *, tool: bool = False) -> dict[str, str]:
    """``genoml-search`` (with ``tool``), ``python``, then each installed distribution of ``libraries``
    (those not installed are left out), in that order."""
    found = {"genoml-search": __version__} if tool else {}
    found["python"] = platform.python_version()
    for name in libraries:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
