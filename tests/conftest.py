"""Shared fixtures: paths to the bundled example and a CLI runner that behaves like the console script."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "genoml2-discrete"


@dataclass
class CliResult:
    """Exit code and output of one CLI call."""

    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> CliResult:
    """Run `genoml-search ARGS` in a fresh Python process, as a user would."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    done = subprocess.run([sys.executable, "-m", "genoml_search.cli", *args], capture_output=True, text=True,
                          env=environment, timeout=timeout)
    return CliResult(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def example() -> Path:
    """The bundled GenoML2 discrete example directory."""
    return EXAMPLE


@pytest.fixture
def cli():
    """The `run_cli` helper as a fixture."""
    return run_cli


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files holding ``slow`` tests first, each file's tests kept together and in order.

    ``make test`` hands whole files to two processes in collection order (pytest-xdist ``--dist loadfile``); the
    end-to-end CLI files sort last by name, so one process used to finish them alone while the other idled."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: the rest keep their order
