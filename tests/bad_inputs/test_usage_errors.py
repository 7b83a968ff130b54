"""Class 1 of issue #17: every click/typer usage error of every command, as a user sees it in a terminal.

Real subprocesses: click's message naming the flag, ``Try 'genoml-search CMD --help' for help.``, exit code 2,
never ``internal error``; ``-v`` accepted after the command too.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from tests.bad_inputs.conftest import subprocess_cli

ROOT = Path(__file__).resolve().parents[2]

# (command, arguments, fragment of click's message): missing option/argument, unknown option, bad value type
USAGE = [
    ("munge", [], "Missing option '--out'"),
    ("munge", ["--out", "x", "--no-such-flag"], "No such option: --no-such-flag"),
    ("munge", ["--out", "x", "--mind", "lots"], "Invalid value for '--mind'"),
    ("munge", ["--out", "x", "--indep-pairwise", "50"], "requires 3 arguments"),
    ("run", [], "Missing argument"),
    ("run", ["ds"], "Missing option '--out'"),
    ("run", ["ds", "--out", "r", "--n-trials", "many"], "Invalid value for '--n-trials'"),
    ("run", ["ds", "--out", "r", "--timeout", "soon"], "Invalid value for '--timeout'"),
    ("run", ["ds", "--out", "r", "--sampler"], "requires an argument"),
    ("status", ["--frobnicate"], "No such option: --frobnicate"),
    ("report", ["--out", "r", "--bootstrap", "x"], "Invalid value for '--bootstrap'"),
    ("predict", ["--out", "p.csv"], "Missing option '--model'"),
    ("predict", ["--model", "m", "--out", "p.csv", "--min-overlap", "most"], "Invalid value for '--min-overlap'"),
    ("simulate", [], "Missing option '--out'"),
    ("simulate", ["--out", "s", "--n-snps", "1.5"], "Invalid value for '--n-snps'"),
    ("families", ["--task"], "requires an argument"),
    ("cluster-script", [], "Missing argument"),
]


def _usage_error(result, command: str, fragment: str) -> None:
    assert result.code == 2, (result.code, result.stderr)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert f"Try 'genoml-search {command} --help' for help." in result.stderr, result.stderr
    assert fragment in result.stderr, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("command", "args", "fragment"), USAGE, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(USAGE)])
def test_usage_error(command: str, args: list[str], fragment: str, tmp_path: Path) -> None:
    _usage_error(subprocess_cli(command, *args, cwd=tmp_path), command, fragment)
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("name", ["frobnicate", "rnu"])
def test_unknown_command(name: str) -> None:
    result = subprocess_cli(name)
    assert result.code == 2 and "Traceback" not in result.stderr
    assert f"No such command '{name}'" in result.stderr and "Try 'genoml-search --help' for help." in result.stderr


@pytest.mark.parametrize("flags", [["-v"], ["-vv"], ["-vvv"], ["--verbose", "--verbose"]])
def test_verbosity_after_the_command(flags: list[str], tmp_path: Path) -> None:
    result = subprocess_cli("status", tmp_path, *flags)
    assert result.code == 2, result.stderr
    assert "No such option" not in result.stderr
    assert "no study.db" in result.stderr
    # -vvv shows the traceback of the error (for bug reports); fewer v keep it to one line
    assert ("Traceback" in result.stderr) == (flags == ["-vvv"])


def test_verbosity_before_and_after_the_command_add_up(tmp_path: Path) -> None:
    result = subprocess_cli("-v", "status", tmp_path, "-vv")
    assert result.code == 2 and "Traceback" in result.stderr  # 1 + 2 = debug level


def test_typer_version_range_is_declared_and_installed() -> None:
    """The declared typer range holds the installed typer, and usage errors are recognised with it."""
    from importlib import metadata

    from packaging.requirements import Requirement

    from genoml_search.cli import click_exception_class

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (typer_requirement,) = [Requirement(d) for d in project["dependencies"] if d.startswith("typer")]
    assert typer_requirement.specifier, "typer needs a version range"
    assert any(s.operator in ("<", "<=", "~=") for s in typer_requirement.specifier), "and an upper bound"
    assert typer_requirement.specifier.contains(metadata.version("typer"))
    import typer

    assert issubclass(typer.BadParameter, click_exception_class())


def test_hoisting_keeps_other_arguments_in_order() -> None:
    from genoml_search.cli import hoist_verbosity

    assert hoist_verbosity(["run", "ds", "--out", "r", "-vv", "--seed", "1"]) == \
        ["-vv", "run", "ds", "--out", "r", "--seed", "1"]
    assert hoist_verbosity(["status", "--", "-v"]) == ["status", "--", "-v"]
