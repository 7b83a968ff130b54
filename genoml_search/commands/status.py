"""`genoml-search status`: trial counts by state, best trial per family and overall, of every study."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer


def status(
    run_dir: Annotated[Optional[Path], typer.Argument(help="A run directory (uses its study.db).")] = None,
    storage: Annotated[Optional[str], typer.Option(help="Study database URL.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Deprecated spelling of RUN_DIR.")] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="Only this study.")] = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """List studies: trial counts by state, best trial per family and overall."""
    from genoml_search.deprecation import prefer
    from genoml_search.errors import UserError
    from genoml_search.status import study_status

    out = prefer(run_dir, out, "RUN_DIR", "--out RUN_DIR")

    if format not in ("table", "json"):
        raise UserError(f"--format {format!r}: choose table or json")
    result = study_status(storage, out, study)
    if format == "json":
        print(json.dumps(result.as_dict(), indent=2, default=str))
        return
    print_status(result)


def print_status(result: Any) -> None:
    """The status of a storage as text and tables (user text printed literally)."""
    from rich.table import Table
    from rich.text import Text

    from genoml_search.terminal import bold, console

    n = len(result.studies)
    console.print(f"storage {result.storage}: {n} stud{'y' if n == 1 else 'ies'}")
    for entry in result.studies:
        counts = ", ".join(f"{k.lower()} {v}" for k, v in entry.counts.items() if v)
        console.print(Text.assemble(bold(entry.study), f" ({entry.task}, {entry.metric}, {entry.direction}): "
                                    f"{counts or 'no trials'}"))
        table = Table()
        for column in ("family", "best trial", entry.metric or "value", "complete trials"):
            table.add_column(column)
        for row in entry.best_per_family:
            table.add_row(row["family"], str(row["trial"]), f"{row['value']:.4f}", str(row["n_complete"]))
        console.print(table)
        if entry.best:
            console.print(f"best overall: trial {entry.best['trial']} ({entry.best['family']}) "
                          f"{entry.best['value']:.4f}")
        if entry.timeout_grace_seconds:
            console.print(f"last run: --timeout spent before any trial finished; it waited "
                          f"{entry.timeout_grace_seconds:.0f} s more for the first one")


def register(app: Any) -> None:
    """Add the `status` command to the CLI."""
    app.command(name="status")(status)
