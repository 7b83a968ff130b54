from __future__ import annotations

import json
from pathlib import Path

from genoml_search.search.listing import END, START, families_markdown, families_records

DOC = Path(__file__).resolve().parents[2] / "docs" / "families.md"


def test_records_are_json_and_filtered_by_task() -> None:
    records = families_records("regression")
    json.dumps(records)
    names = [r["name"] for r in records]
    assert "elastic_net" in names and "logistic" not in names and names == sorted(names)
    for r in records:
        assert {"name", "tasks", "params", "needs_scaling", "handles_missing"} <= set(r)
        for p in r["params"]:
            assert {"name", "type", "choices"} <= set(p) or {"name", "type", "low", "high", "log"} <= set(p)
    assert len(families_records()) >= 17


def test_docs_table_is_current() -> None:
    """docs/families.md must hold the table generated from the registry (regenerate: python -m
    genoml_search.search.listing docs/families.md)."""
    text = DOC.read_text()
    generated = text[text.index(START) + len(START):text.index(END)].strip()
    assert generated == families_markdown().strip()
