"""The terminal table of `genoml-search families`."""
from __future__ import annotations

from rich.console import Console

from genoml_search.commands.families import families_table
from genoml_search.search.listing import families_records


def test_table_has_one_row_per_family() -> None:
    records = families_records("binary")
    table = families_table(records)
    assert table.row_count == len(records)
    console = Console(record=True, width=140)
    console.print(table)
    assert "xgboost" in console.export_text()
