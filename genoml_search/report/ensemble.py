"""The report's ensemble section (issue #21), from ``metrics.json`` (``cv.ensemble``, ``validation.ensemble``,
``validation.best_single``): the decision and its reason, the optimistic and the nested CV estimate beside the
best single trial, and the members with their weights, CV and validation scores."""
from __future__ import annotations

from typing import Any

import pandas as pd

from genoml_search.report import html

METHOD_TEXT = {"greedy": "greedy ensemble selection with replacement (Caruana et al. 2004): a weighted average",
               "stack": "stacking: a regularized linear meta-model on the members' scores, penalty chosen by its "
                        "own inner CV"}


def ensemble_section(cv: dict[str, Any], validation: dict[str, Any], metric: str,
                     labels: dict[str, str]) -> str | None:
    """The section's HTML from ``MetricsRecord.cv``, ``.validation`` and ``.metric``, or None when the run made
    no ensemble record (older runs)."""
    record = cv.get("ensemble")
    if not record:
        return None
    name = labels.get(metric, metric)
    if record.get("method") == "none":
        return "<p>No ensemble (<code>--ensemble none</code>): the final model is the best single trial.</p>"
    final = "the ensemble" if record.get("chosen") else "the best single trial"
    parts = [f"<p>Method: {html.escape(METHOD_TEXT.get(record['method'], record['method']))}, over the "
             f"{record.get('n_candidates', 0)} best trials with stored out-of-fold predictions. "
             f"<strong>Final model: {final}</strong> ({html.escape(record.get('reason', ''))}). The ensemble "
             "replaces the single trial only if its nested CV score beats the best trial's CV score, by more than "
             "one standard error of their per-fold difference; the "
             "validation samples take no part in that choice.</p>"]
    parts += [f"<div class=\"note\">{html.escape(note)}</div>" for note in record.get("notes", [])]
    if record.get("refitted") is False:
        parts.append("<p>The ensemble's members were not refitted: it is not the final model, and its "
                     "validation score is only computed on request (<code>--ensemble-validate</code>).</p>")
    if "nested" in record:
        single = record.get("best_single", {})
        rows = pd.DataFrame([
            {"model": f"best single trial ({single.get('trial')})", f"CV {name}": single.get(metric),
             "CV estimate": "selected as the best of the search (optimistic)",
             f"validation {name}": (validation.get("best_single") or {}).get(metric)},
            {"model": "ensemble, optimistic", f"CV {name}": record.get("optimistic"),
             "CV estimate": "weights chosen and scored on the same out-of-fold predictions",
             f"validation {name}": None},
            {"model": "ensemble, nested", f"CV {name}": record.get("nested"),
             "CV estimate": "weights chosen on K-1 folds, scored on the held-out fold",
             f"validation {name}": (validation.get("ensemble") or {}).get(metric)},
        ])
        parts.append(html.table(rows))
        members = pd.DataFrame(record.get("members", []))
        if len(members):
            members = members.rename(columns={"cv": f"CV {name}", "validation": f"validation {name}"})
            parts.append("<h3>Members</h3>" + html.table(members))
    return "".join(parts)
