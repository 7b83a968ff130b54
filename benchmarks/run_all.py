"""`make bench`: run every benchmark, then regenerate the results table of docs/benchmarks.md from
benchmarks/results/.

Each benchmark writes benchmarks/results/NAME.json. The table shows the ``summary`` rows of each file (what
was measured, the result, the target), so every number in it comes from a result file (the README keeps a
short summary). Run one benchmark with `python -m benchmarks.NAME`; `python -m benchmarks.run_all
--table-only` only rewrites the table.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

from benchmarks.common import RESULTS, ROOT

BENCHMARKS = ("munge", "structure", "simulate", "simulated", "expectation", "ld_prune_accuracy", "genoml2_example",
              "pruning", "sampler", "scaling")
TABLE_ONLY = ("path_solvers", "path_search", "tabular", "ensemble", "ld_masks", "genomewide", "refit_threads",
              "ridge_logistic", "ridge_krylov")  # tabular: ~2 h at both budgets, run in parts (--only)
"""Benchmarks that need cohorts given on their command line (not run by `make bench`), shown in the table."""
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def _pruning_rows(record: dict) -> list[dict]:
    rows = []
    for row in record["summary"]:
        rows.append({"what": f"bundled example, {row['sampler']} + {row['pruner']} pruning, 40 trials",
                     "result": f"{row['wall_seconds']:.0f} s ({row['time_saved']:.0%} saved), best CV AUC "
                               f"{row['best_cv']:.3f}, hold-out AUC {row['holdout_auc']:.3f}",
                     "target": "defaults: most time saved at the same best score"})
    return rows


def _scaling_rows(record: dict) -> list[dict]:
    rows = []
    for row in record["throughput"]:
        one = next(r for r in record["throughput"] if r["workers"] == 1 and r.get("dataset") == row.get("dataset"))
        speedup = row["trials_per_hour"] / one["trials_per_hour"]
        rows.append({"what": f"{row['workers']} worker(s), trials of ~{row['trial_seconds_median']:.1f} s",
                     "result": f"{row['trials_per_hour']:.0f} trials/h ({speedup:.2f}x), driver overhead "
                               f"{row['overhead_fraction']:.1%} of wall",
                     "target": ">= 1.8x with 2 workers; overhead <= 5%"})
    for row in record.get("bare", []):
        one = next(r for r in record["bare"] if r["processes"] == 1 and r["dataset"] == row["dataset"])
        if row["processes"] > 1:
            rows.append({"what": f"ceiling: same trials in {row['processes']} plain processes, no Dask "
                                 f"({row['dataset']})",
                         "result": f"{row['trials_per_hour'] / one['trials_per_hour']:.2f}x one process "
                                   f"(median trial {one['trial_seconds_median']:.1f} s -> "
                                   f"{row['trial_seconds_median']:.1f} s)",
                         "target": "what the hardware allows"})
    for row in record["storage"]:
        rows.append({"what": f"{row['backend']}, {row['trials_in_study']:,} trials already in the study",
                     "result": f"driver DB work {row['driver_db_ms_per_trial']:.0f} ms/trial, TPE ask "
                               f"{row['tpe_ask_ms']:.0f} ms",
                     "target": "DB cost flat with study size"})
    return rows


def _structure_rows(record: dict) -> list[dict]:
    rows = []
    for run_name, run in record["runs"].items():
        steps = run["steps"]
        for kind, label in (("king", "KING kinship"), ("pca", "PCA, 10 PCs")):
            ours, theirs = steps.get(f"{kind}_ours"), steps.get(f"{kind}_plink2")
            if ours and theirs:
                rows.append({"what": f"{label}, {ours['samples']:,} x 100,000 ({run_name}, same run)",
                             "result": f"{ours['wall_s']} s / {ours['peak_rss_mb']} MB vs plink2 "
                                       f"{theirs['wall_s']} s / {theirs['peak_rss_mb']} MB",
                             "target": "measured against plink2"})
            elif ours:
                rows.append({"what": f"{label}, {ours['samples']:,} x 100,000 ({run_name})",
                             "result": f"{ours['wall_s']} s, {ours['peak_rss_mb']} MB peak", "target": ""})
    return rows


def _simulate_rows(record: dict) -> list[dict]:
    return [{"what": f"simulate {row['model']} {row['n_samples']:,} x {row['n_snps']:,}",
             "result": f"{row['wall_s']} s wall ({row['cpu_s']} s CPU), {row['peak_rss_mb']} MB",
             "target": "10,000 x 100,000 in about 2 min"} for row in record["timings"]]


def _sampler_rows(record: dict) -> list[dict]:
    return [{"what": f"sampler {name}, {record['trials']} trials x {record['seeds']} seeds (genotypes only)",
             "result": f"best CV AUC {row['best']['mean']:.3f} +- {row['best']['sd']:.3f}, "
                       f"{row['seconds']['mean']:.0f} s of trials",
             "target": "default chosen by measurement"} for name, row in record["summary"].items()]


def _genoml2_example_rows(record: dict) -> list[dict]:
    # our rows, then those of GenoML2 run beside it (written separately by --genoml2-only)
    return record["summary"] + record.get("genoml2_run", {}).get("summary", [])


def _tabular_rows(record: dict) -> list[dict]:
    rows = []
    for budget, row in record["summary"].items():
        worst = min(row["genoml_minus_flaml"].items(), key=lambda item: item[1])
        ranks = row["mean_rank"]
        three = row.get("with_autogluon")
        autogluon = (f"; with AutoGluon on {len(three['datasets'])}: genoml-search "
                     f"{three['mean_rank']['genoml-search']:.2f}, FLAML {three['mean_rank']['flaml']:.2f}, AutoGluon "
                     f"{three['mean_rank']['autogluon']:.2f}") if three else ""
        rows.append({"what": f"genoml-search vs FLAML, {len(row['datasets'])} bundled datasets, {budget} s budget, "
                             "2 cores: mean rank (test score)",
                     "result": f"{ranks['genoml-search']:.2f} vs FLAML {ranks['flaml']:.2f}; worst difference "
                               f"{worst[1]:+.3f} ({worst[0]}){autogluon}",
                     "target": "mean rank <= FLAML's, never > 0.02 behind"})
    return rows


SUMMARIZERS = {"tabular": _tabular_rows, "pruning": _pruning_rows, "scaling": _scaling_rows, "structure": _structure_rows,
               "simulate": _simulate_rows, "sampler": _sampler_rows, "genoml2_example": _genoml2_example_rows}


def summary_rows(name: str, record: dict) -> list[dict]:
    """The rows a result file contributes to the README table (what, result, target)."""
    if name in SUMMARIZERS:
        return SUMMARIZERS[name](record)
    rows = record.get("summary")
    if rows and all("what" in row for row in rows):
        return rows
    return [{"what": "see the result file", "result": "", "target": ""}]


def table() -> str:
    """The markdown table of every result file present."""
    lines = ["| benchmark | measured | result | target | date |", "|---|---|---|---|---|"]
    for name in BENCHMARKS + TABLE_ONLY:
        path = RESULTS / f"{name}.json"
        if not path.is_file():
            continue
        record = json.loads(path.read_text())
        for row in summary_rows(name, record):
            lines.append(f"| [{name}](../benchmarks/results/{name}.json) | {row['what']} | {row['result']} | "
                         f"{row.get('target', '')} | {record.get('date', '')[:10]} |")
    return "\n".join(lines)


TABLE_FILE = ROOT / "docs" / "benchmarks.md"


def update_readme() -> None:
    """Replace the results table of docs/benchmarks.md between the markers."""
    text = TABLE_FILE.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{TABLE_FILE} has no benchmark markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    TABLE_FILE.write_text(f"{head}{START}\n{table()}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--table-only", action="store_true", help="only regenerate the results table")
    parser.add_argument("names", nargs="*", default=list(BENCHMARKS), help="benchmarks to run")
    args = parser.parse_args()
    failed = []
    if not args.table_only:
        for name in args.names:
            print(f"== benchmark {name}", flush=True)
            if subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], cwd=ROOT).returncode:
                failed.append(name)
    update_readme()
    if failed:
        raise SystemExit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
