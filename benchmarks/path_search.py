"""The default search with and without `lasso_path`, at the same wall budget, on a simulated cohort.

For a munged training dataset and the `simulate` directory it came from (its validation cohort), runs
``genoml-search run --timeout BUDGET`` twice: the current defaults (``lasso_path`` queued first), and the
defaults before it (``--family`` for each of the others). Records the validation score, the best CV score,
the winning family, trial counts, wall time and peak RSS of the process tree.

    nice python -m benchmarks.path_search --train DATASET --sim SIM_DIR --label NAME --budget 180
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any

from benchmarks.common import WORK, checkout_env, cli, timed_command, write_result
from genoml_search._run import DEFAULT_FAMILIES

OLD_DEFAULTS = tuple(name for name in DEFAULT_FAMILIES if name != "lasso_path")


def old_defaults(train: str) -> tuple[str, ...]:
    """The defaults before lasso_path that support the training dataset's task."""
    from genoml_search.data.dataset import Dataset
    from genoml_search.search.registry import get_family

    task = Dataset.open(train).task
    return tuple(name for name in OLD_DEFAULTS if task in get_family(name).tasks)


def one_run(name: str, train: str, sim: str, budget: int, families: tuple[str, ...] | None,
            work: Path) -> dict[str, Any]:
    """One `run --timeout BUDGET` on the training dataset, validated on the simulated validation cohort."""
    out = work / name
    if out.exists():
        shutil.rmtree(out)
    argv = cli("run", train, "--out", str(out), "--n-trials", "100000", "--timeout", str(budget),
               "--validation-bfile", f"{sim}/validation", "--validation-pheno", f"{sim}/validation_pheno.csv",
               "--validation-covar", f"{sim}/validation_covar.csv")
    for family in families or ():
        argv += ["--family", family]
    load_before = os.getloadavg()[0]
    timing = timed_command(argv, env=checkout_env())
    if timing["returncode"] != 0:
        if "has no completed trial yet" in timing["stderr_tail"]:  # every trial was still running at the budget
            return {"name": name, "families": list(families or DEFAULT_FAMILIES), "budget": budget,
                    "validation": None, "completed_trials": 0, "seconds": timing["seconds"],
                    "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}
        return {"name": name, "error": timing["stderr_tail"][-500:]}
    metrics = json.loads((out / "metrics.json").read_text())
    key = {"binary": "roc_auc", "regression": "r2"}.get(metrics["task"], metrics["metric"])
    return {"name": name, "families": list(families or DEFAULT_FAMILIES), "budget": budget,
            "validation": metrics["validation"].get(key), "validation_metric": key,
            "cv": metrics["cv"][metrics["metric"]], "best_family": metrics["cv"]["best_family"],
            "best_params": metrics["cv"]["best_params"],
            "leaderboard": [{k: r.get(k) for k in ("family", "value", "n_complete")} for r in metrics["leaderboard"]],
            "seconds": timing["seconds"], "peak_rss_mib": timing["peak_rss_mib"],
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--sim", required=True, help="the `simulate` directory (validation.bed, ...)")
    parser.add_argument("--budget", type=int, default=180)
    parser.add_argument("--label", required=True, help="name of this cohort in the results file")
    parser.add_argument("--variants", default="with-lasso-path,without", help="which runs (comma-separated)")
    args = parser.parse_args()
    work = WORK / "path_search"
    work.mkdir(parents=True, exist_ok=True)
    variants = {"with-lasso-path": None, "without": old_defaults(args.train)}
    records = []
    for variant in args.variants.split(","):
        records.append(one_run(f"{args.label}-{variant}", args.train, args.sim, args.budget, variants[variant],
                               work))
        print(json.dumps(records[-1]), flush=True)
    out = Path("benchmarks/results/path_search.json")
    previous = json.loads(out.read_text()).get("cohorts", {}) if out.is_file() else {}
    kept = [r for r in previous.get(args.label, {}).get("records", [])
            if r["name"] not in {x["name"] for x in records}]
    ordered = sorted(kept + records, key=lambda r: not r["name"].endswith("with-lasso-path"))
    previous[args.label] = {"train": args.train, "records": ordered}
    write_result("path_search", {"protocol": __doc__.split("\n\n")[1], "cohorts": previous,
                                 "summary": summary(previous)})


def summary(cohorts: dict[str, Any]) -> list[dict]:
    """One README row per cohort: validation score and winner with and without lasso_path."""
    rows = []
    for label, cohort in cohorts.items():
        if len(cohort["records"]) != 2 or any("error" in r for r in cohort["records"]):
            continue
        with_path, without = cohort["records"]
        def outcome(record: dict) -> str:
            if record["validation"] is None:
                return "no trial finished within the budget"
            return f"{record['validation_metric']} {record['validation']:.3f} ({record['best_family']})"

        rows.append({"what": f"{label}: default search, {with_path['budget']} s budget, with / without lasso_path",
                     "result": f"validation {outcome(with_path)} / {outcome(without)}",
                     "target": ">= best of ridge, lasso, elastic net tuned by CV on all SNPs"})
    return rows


if __name__ == "__main__":
    main()
