"""The layer contracts of .importlinter hold (also run by `make test` before pytest), and they can fail."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    return subprocess.run([exe, "--no-cache", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_layer_contracts_are_kept() -> None:
    result = _lint_imports()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "KEPT" in result.stdout and "BROKEN" not in result.stdout


def test_every_module_of_the_package_has_a_layer() -> None:
    """The map is complete: each top-level module or subpackage is named in the layers contract."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    named = {name.strip() for line in config["importlinter:contract:layers"]["layers"].splitlines()
             for name in line.replace(":", "|").split("|") if name.strip() and not name.strip().startswith("#")}
    package = ROOT / "genoml_search"
    modules = {f"genoml_search.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {f"genoml_search.{p.name}" for p in package.iterdir() if (p / "__init__.py").is_file()}
    assert modules - named == set(), "add these to a layer of .importlinter"
    assert named - modules == set(), "these layers name no module"


def test_an_upward_import_breaks_the_contract(tmp_path) -> None:
    """A copy of the package where data imports the search layer must fail the same contracts."""
    shutil.copytree(ROOT / "genoml_search", tmp_path / "genoml_search",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    with open(tmp_path / "genoml_search" / "data" / "tables.py", "a") as handle:
        handle.write("\nfrom genoml_search.search import registry  # noqa: E402  (an upward import)\n")
    result = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, '.'); from importlinter.cli import lint_imports_command;"
         " lint_imports_command()", "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "genoml_search.data is not allowed to import genoml_search.search" in result.stdout
