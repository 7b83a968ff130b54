"""`genoml-search families`: the model families, their tasks and their search ranges."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from rich.table import Table


def families(
    task: Annotated[Optional[str], typer.Option(help="Only families for this task (binary, regression, multiclass).")] = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    families_module: Annotated[Optional[Path], typer.Option(
        help="Python file registering your own model families, listed too.")] = None,
) -> None:
    """List model families with their tasks and parameter ranges (JSON: name, tasks, params)."""
    from genoml_search.errors import UserError
    from genoml_search.search.listing import families_records

    if format not in ("table", "json"):
        raise UserError(f"--format {format!r}: choose table or json")
    if families_module is not None:
        from genoml_search.search.space_config import load_families_module

        load_families_module(families_module)
    records = families_records(task)
    from genoml_search._run import DEFAULT_FAMILIES

    for record in records:  # which tasks search this family when `run` gets no --family/--config
        record["default_for"] = [t for t in record["tasks"] if record["name"] in DEFAULT_FAMILIES]
    if format == "json":
        print(json.dumps(records, indent=2, default=str))
    else:
        from genoml_search.terminal import console

        console.print(families_table(records))  # markup off: a family or parameter name is printed literally


def families_table(records: list[dict[str, Any]]) -> Table:
    """A rich table of family records: one row per family, its parameters and ranges in the last column."""
    from rich.table import Table

    from genoml_search.search.listing import format_range, yes_no

    table = Table(title="Model families", show_lines=True)
    for column in ("family", "tasks", "searched by default", "scaled", "NaN ok", "parameters"):
        table.add_column(column, overflow="fold")
    for r in records:
        params = "\n".join(f"{p['name']}: {format_range(p)}" for p in r["params"])
        table.add_row(r["name"], ", ".join(r["tasks"]), ", ".join(r.get("default_for", [])) or "-",
                      yes_no(r["needs_scaling"]), yes_no(r["handles_missing"]),
                      params)
    return table


def register(app: Any) -> None:
    """Add the command to the CLI."""
    app.command()(families)
