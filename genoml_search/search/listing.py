"""Listing the model families: records (JSON-ready) and a markdown table for the docs.

The terminal table of ``genoml-search families`` is presentation: :mod:`genoml_search.commands.families`.

``python -m genoml_search.search.listing docs/families.md`` regenerates the ranges table of the docs between
its ``<!-- families-table:start -->`` and ``<!-- families-table:end -->`` markers (a test checks it is current).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from genoml_search.search.registry import FEATURES_PER_SPLIT, TASKS, check_task, family_names, get_family

START, END = "<!-- families-table:start -->", "<!-- families-table:end -->"


def families_records(task: str | None = None) -> list[dict[str, Any]]:
    """One record per family (all families, or those supporting ``task``), sorted by name.

    Each record has ``name``, ``tasks``, ``needs_scaling``, ``handles_missing``, ``summary``, ``params``:
    ``{name, type, low, high, log}`` or ``{name, type: "categorical", choices}``, plus ``when`` for a
    conditional parameter, and ``feature_fractions`` (the parameters whose declared range is fitted to the
    data width in a run). With ``task`` the parameters are those searched for that task.
    """
    if task is not None:
        check_task(task)
    families = [get_family(name) for name in family_names()]
    return [f.describe(task) for f in families if task is None or task in f.tasks]


def format_range(param: dict[str, Any]) -> str:
    """A parameter's range in one short string: ``50..500 (log)``, ``{rbf, linear}``, plus its condition."""
    if param["type"] == "categorical":
        text = "{" + ", ".join(_value(c) for c in param["choices"]) + "}"
    else:
        text = f"{_value(param['low'])}..{_value(param['high'])}" + (" (log)" if param["log"] else "")
    if "when" in param:
        (other, values), = param["when"].items()
        text += f" if {other} in {{{', '.join(_value(v) for v in values)}}}"
    return text


def families_markdown(records: list[dict[str, Any]] | None = None) -> str:
    """A markdown table of every family (the one in docs/families.md)."""
    records = families_records() if records is None else records
    lines = ["| family | tasks | scaled | NaN ok | parameter | range |", "|---|---|---|---|---|---|"]
    for r in records:
        for i, p in enumerate(r["params"]):
            head = (f"`{r['name']}`", ", ".join(r["tasks"]), yes_no(r["needs_scaling"]), yes_no(r["handles_missing"]))
            fitted = ", width-fitted" if p["name"] in r.get("feature_fractions", ()) else ""
            lines.append("| " + " | ".join((*(head if i == 0 else ("",) * 4), f"`{p['name']}`",
                                            format_range(p).replace("|", "\\|") + fitted)) + " |")
    width_rule = ("Width-fitted: a fraction of the feature columns, declared for genotype matrices of ~100,000 "
                  "SNPs; a run fits it to its p columns as [max(low, 1/p), max(high, min(1, "
                  f"{FEATURES_PER_SPLIT}/p))]: at least one feature, all of them when p <= {FEATURES_PER_SPLIT}, "
                  "the declared range on wide matrices; a study file's range for it is used as given.")
    notes = [f"- `{r['name']}`: {r['summary']}" for r in records]
    task_specific = _task_specific_notes()
    return "\n".join([*lines, "", width_rule, "", *notes, *task_specific])


def _task_specific_notes() -> list[str]:
    notes = []
    for name in family_names():
        family = get_family(name)
        spaces = {t: [p.describe() for p in family.space(t)] for t in TASKS if t in family.tasks}
        first = next(iter(spaces.values()))
        for task, space in spaces.items():
            if space != first:
                extra = [p["name"] for p in space if p not in first]
                notes.append(f"- `{name}` for {task}: " + ", ".join(
                    f"`{p['name']}` {format_range(p)}" for p in space if p["name"] in extra))
    return (["", "Task-specific differences (the table shows the first task):", *notes]) if notes else []


def update_markdown(path: str | Path) -> bool:
    """Rewrite the generated table between the markers of ``path``; True if the file changed."""
    path = Path(path)
    text = path.read_text()
    start, end = text.index(START) + len(START), text.index(END)
    new = text[:start] + "\n" + families_markdown() + "\n" + text[end:]
    if new != text:
        path.write_text(new)
    return new != text


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def yes_no(flag: bool) -> str:
    """``yes`` or ``no``, as the family tables show flags."""
    return "yes" if flag else "no"


if __name__ == "__main__":
    for target in sys.argv[1:] or ["docs/families.md"]:
        print(f"{target}: {'updated' if update_markdown(target) else 'up to date'}")
