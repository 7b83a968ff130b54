"""Totals and README/docs summary rows of ``benchmarks/results/ensemble.json`` (see benchmarks/ensemble.py).

Per label (the code measured): the mean validation difference ensemble - best single trial over the cases
with a paired test (one-sample t-test on the per-case differences, and Wilcoxon's signed-rank test), the
cases worse by more than one SE, and the ensemble's share of the run's wall time (median, maximum, cases over
15%). Between labels: the share before and after on the cases both measured.
"""
from __future__ import annotations

from typing import Any

import numpy as np

TARGET_SHARE = 0.15


def _paired(differences: list[float]) -> dict[str, Any]:
    from scipy import stats

    d = np.asarray(differences, dtype=float)
    if len(d) < 2:
        return {"n": int(len(d))}
    nonzero = d[d != 0]
    return {"n": int(len(d)), "mean": float(d.mean()), "se": float(d.std(ddof=1) / np.sqrt(len(d))),
            "t_test_p": float(stats.ttest_1samp(d, 0.0).pvalue) if d.std() > 0 else None,
            "wilcoxon_p": float(stats.wilcoxon(nonzero).pvalue) if len(nonzero) >= 2 else None,
            "n_better": int((d > 0).sum()), "n_worse": int((d < 0).sum()), "n_equal": int((d == 0).sum())}


def label_totals(cases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Totals of one label's cases."""
    rows = list(cases.values())
    ensemble = [c["difference"] for c in rows if c.get("difference") is not None]
    final = [c["final_difference"] for c in rows if c.get("final_difference") is not None]
    worse = [name for name, c in cases.items() if c.get("difference") is not None and c.get("validation_se")
             and c["difference"] < -c["validation_se"]]
    shares = {name: c["ensemble_share_of_wall"] for name, c in cases.items() if c.get("ensemble_share_of_wall") is not None}
    return {"n_cases": len(rows), "ensemble_vs_best_single": _paired(ensemble),
            "final_model_vs_best_single": _paired(final),
            "worse_by_more_than_one_se": worse,
            "n_final_ensemble": sum(c["final_model"] == "ensemble" for c in rows),
            "median_ensemble_share_of_wall": float(np.median(list(shares.values()))) if shares else None,
            "max_ensemble_share_of_wall": max(shares.values()) if shares else None,
            "cases_over_15_percent": sorted(n for n, s in shares.items() if s > TARGET_SHARE),
            "load_average_range": _load_range(rows)}


def _load_range(rows: list[dict[str, Any]]) -> list[float] | None:
    loads = [c[k] for c in rows for k in ("load_average_before", "load_average_after") if k in c]
    return [min(loads), max(loads)] if loads else None


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The ensemble's share of the wall time before and after, on the cases both labels measured."""
    common = sorted(set(before) & set(after))
    rows = [{"case": n, "before": before[n]["ensemble_share_of_wall"], "after": after[n]["ensemble_share_of_wall"],
             "before_seconds": before[n]["ensemble_seconds"], "after_seconds": after[n]["ensemble_seconds"],
             # the after step's seconds over the before run's wall: no credit for a longer (busier) after run
             "after_over_before_wall": round(after[n]["ensemble_seconds"] / before[n]["run_wall_seconds"], 4),
             "same_final_model": before[n]["final_model"] == after[n]["final_model"]}
            for n in common]
    if not rows:
        return {"cases": []}
    return {"cases": rows, "median_share_before": float(np.median([r["before"] for r in rows])),
            "median_share_after": float(np.median([r["after"] for r in rows])),
            "max_share_before": max(r["before"] for r in rows), "max_share_after": max(r["after"] for r in rows),
            "max_after_over_before_wall": max(r["after_over_before_wall"] for r in rows),
            "cases_over_15_percent_before": sum(r["before"] > TARGET_SHARE for r in rows),
            "cases_over_15_percent_after": sum(r["after"] > TARGET_SHARE for r in rows)}


def summarize(record: dict[str, Any]) -> dict[str, Any]:
    """``totals`` (per label, and before vs after) and ``summary`` rows (what, result, target)."""
    runs = record.get("runs", {})
    totals: dict[str, Any] = {label: label_totals(run["cases"]) for label, run in runs.items()}
    if "before" in runs and "after" in runs:
        totals["before_vs_after"] = compare(runs["before"]["cases"], runs["after"]["cases"])
    rows = []
    after = runs.get("after", {}).get("cases", {})
    for name, c in after.items():
        result = (f"{c['validation_ensemble']:.4f} vs {c['validation_best_single']:.4f} ({c['difference']:+.4f}, SE "
                  f"{c['validation_se']:.4f}); final: {c['final_model']}; "
                  if c.get("difference") is not None else f"no ensemble ({c.get('reason')}); ")
        rows.append({"what": f"{name} ({c['task']}, {c['n_trials']} trials): validation {c['metric']} ensemble vs best "
                             "single trial; ensemble's share of the run's wall time",
                     "result": result + f"{100 * c['ensemble_share_of_wall']:.1f}% of {c['run_wall_seconds']:.0f} s",
                     "target": "never worse by > 1 SE, better on average; <= 15% of wall time"})
    if "after" in totals:
        t = totals["after"]["ensemble_vs_best_single"]
        if t.get("n", 0) >= 2:
            rows.append({"what": "mean validation difference ensemble - best single trial, all cases (paired)",
                         "result": f"{t['mean']:+.4f} (SE {t['se']:.4f}, t-test p {t['t_test_p']}, Wilcoxon p "
                                   f"{t['wilcoxon_p']}; {t['n_better']} better, {t['n_worse']} worse)",
                         "target": "better on average"})
    for r in record.get("oof_storage", []) and [record["oof_storage"]]:
        rows.append({"what": "out-of-fold predictions stored per trial (SQLite, file-system artifact store)",
                     "result": "; ".join(f"{x['n_samples']:,} samples: {x['bytes'] / 1000:.0f} KB, {x['ms']:.0f} ms"
                                         for x in r), "target": "small against a trial"})
    return {"totals": totals, "summary": rows}
