"""How well the theoretical expectation of the `simulated` grid is calibrated (issue #8).

The `simulated` benchmark compares each search with truth.json's expected accuracy (Daetwyler et al. 2008 with
an estimated M_e, Wray et al. 2010 for AUC), on one cohort per cell and one validation cohort of 1,000. When a
cell falls short, is the search short, the formula optimistic, or that one draw unlucky? This benchmark
answers it without any search: for every cell of the same grid it simulates several independent cohorts, with
a large validation cohort (5,000) so that the validation noise is small, and scores the predictor the formula
describes, ridge/BLUP over all simulated SNPs with the penalty from the true h2 (`simulated.blup_score`),
plus the oracle (the true genetic value + covariate effects). The mean BLUP / expected ratio over seeds is
how far the formula's figure is reachable by its own model on these cohorts.

`python -m benchmarks.expectation [--seeds N] [--seeds-large N] [--tasks T ...] [--resume]` writes
benchmarks/results/expectation.json (8 cohorts per cell at n_train = 2,000, about 10 s each, and 3 at
10,000, about 1 min each: about 1 h on 2 cores; finished cohorts are kept under benchmarks/work/ for
--resume).
"""
from __future__ import annotations

import argparse
import itertools
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, ROOT, WORK, checkout_env, timed_command, write_result
from benchmarks.simulated import (
    H2, N_CAUSAL, N_SNPS, N_TRAIN, PREVALENCE, TARGET_RATIO, TASKS, blup_score, expectations, metric_name,
    oracle_score, simulate_argv,
)

N_VALIDATION = 5_000  # R2 standard error ~0.01 at R2 0.3 (1,000 in `simulated`: ~0.025)
FIRST_SEED = 5_000  # apart from the `simulated` grid's seeds (100-123) and ld_prune_accuracy's (1,000+)


def run_cohort(task: str, n_train: int, h2: float, n_causal: int, seed: int, work: Path) -> dict[str, Any]:
    """Simulate one cohort; score BLUP with the true h2 and the oracle on its validation cohort."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sim = work / "sim"
    simulate = simulate_argv(sim, n_train, N_VALIDATION, h2, n_causal, task, seed)
    result = timed_command(simulate, env=checkout_env(), cwd=ROOT)
    if result["returncode"]:
        raise RuntimeError(f"simulate failed for seed {seed}: {result['stderr_tail']}")
    truth = json.loads((sim / "truth.json").read_text())
    limits = expectations(truth, task)
    blup = blup_score(sim, truth, task)
    record = {"task": task, "n_train": n_train, "h2": h2, "n_causal": n_causal, "seed": seed,
              "metric": metric_name(task), **limits, "blup": blup["score"], "blup_seconds": blup["seconds"],
              "blup_ratio": blup["score"] / limits["expected"],
              "covariates_only": blup_score(sim, truth, task, snps=set())["score"],
              "oracle": oracle_score(sim, truth, task), "m_effective": truth["m_effective"],
              "realized": truth["realized"]}
    shutil.rmtree(sim)
    return record


def cell_label(task: str, n_train: int, h2: float, n_causal: int) -> str:
    return f"{task} h2={h2} n={n_train} causal={n_causal}"


def _mean_se(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=float)
    se = float(array.std(ddof=1) / np.sqrt(len(array))) if len(array) > 1 else float("nan")
    return float(array.mean()), se


def summarize_cells(records: list[dict]) -> list[dict]:
    """Per cell: cohorts, mean expected, mean BLUP score and ratio (with standard errors over cohorts)."""
    cells = []
    for task, n_train, h2, n_causal in itertools.product(TASKS, N_TRAIN, H2, N_CAUSAL):
        group = [r for r in records
                 if (r["task"], r["n_train"], r["h2"], r["n_causal"]) == (task, n_train, h2, n_causal)]
        if not group:
            continue
        ratio, ratio_se = _mean_se([r["blup_ratio"] for r in group])
        blup, blup_se = _mean_se([r["blup"] for r in group])
        # the share of the formula's gain over the covariates alone that BLUP reaches (a ratio of means: at
        # h2 0.1, n 2,000 the expected gain is ~0.01 R2, so per-cohort ratios are mostly noise)
        def mean(key: str, group: list[dict] = group) -> float:
            return float(np.mean([r[key] for r in group]))

        covariates, expected = mean("covariates_only"), mean("expected")
        genetic = (blup - covariates) / (expected - covariates)
        cells.append({"label": cell_label(task, n_train, h2, n_causal), "task": task, "n_train": n_train, "h2": h2,
                      "n_causal": n_causal, "cohorts": len(group), "metric": group[0]["metric"],
                      "expected": expected, "blup": blup, "blup_se": blup_se,
                      "blup_ratio": ratio, "blup_ratio_se": ratio_se, "blup_genetic_share": genetic,
                      "covariates_only": covariates,
                      "oracle": mean("oracle"), "max": mean("max"), "m_effective": mean("m_effective")})
    return cells


def markdown_table(cells: list[dict]) -> str:
    """The docs table: per cell, the expectation and what its own model reaches on average."""
    lines = ["| cell | cohorts | expected | BLUP, true h2 (mean +- SE) | BLUP / expected | covariates only | "
             "BLUP's share of the expected gain over covariates | oracle | M_e |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        se, ratio_se = ((f" +- {c['blup_se']:.3f}", f" +- {c['blup_ratio_se']:.0%}") if c["cohorts"] > 1 else ("", ""))
        lines.append(f"| {c['label']} | {c['cohorts']} | {c['expected']:.3f} | {c['blup']:.3f}{se} "
                     f"| {c['blup_ratio']:.0%}{ratio_se} | {c['covariates_only']:.3f} | "
                     f"{c['blup_genetic_share']:.0%} | "
                     f"{c['oracle']:.3f} | {c['m_effective']:,.0f} |")
    return "\n".join(lines)


def summary_rows(cells: list[dict]) -> list[dict]:
    """README rows: per task, the range of BLUP / expected over cells, and the cells below the target."""
    rows = []
    for task in TASKS:
        group = [c for c in cells if c["task"] == task]
        if not group:
            continue
        ratios = [c["blup_ratio"] for c in group]
        short = [f"{c['label'].split(' ', 1)[1]} ({c['blup_ratio']:.1%})" for c in group
                 if c["blup_ratio"] < TARGET_RATIO]
        cohorts = sorted({c["cohorts"] for c in group})
        rows.append({"what": f"{task}: BLUP with the true h2 / expected accuracy, {len(group)} cells x "
                             f"{'-'.join(map(str, cohorts))} cohorts, validation {N_VALIDATION:,}",
                     "result": f"{min(ratios):.0%}-{max(ratios):.0%} (mean {np.mean(ratios):.0%}); below "
                               f"{TARGET_RATIO:.0%}: "
                               + (", ".join(short) if short else "none"),
                     "target": "calibration of the `simulated` target"})
    return rows


def kept_cohorts(previous: Path, tasks: list[str]) -> tuple[list[dict], dict[str, Any]]:
    """The cohorts of an existing result file whose task is not in ``tasks``, and their seeds per cell size."""
    if not previous.is_file():
        return [], {}
    old = json.loads(previous.read_text())
    records = [r for r in old["cohorts"] if r["task"] not in tasks]
    kept = {r["task"] for r in records}
    if "seeds_per_task" in old["design"]:
        return records, {task: n for task, n in old["design"]["seeds_per_task"].items() if task in kept}
    return records, {task: old["design"]["seeds_per_cell"] for task in kept}  # one setting for every task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=8, help="cohorts per cell at n_train = 2,000")
    parser.add_argument("--seeds-large", type=int, default=3, help="cohorts per cell at n_train = 10,000")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS,
                        help="tasks to run; the other tasks' cohorts are kept from the existing result file")
    parser.add_argument("--resume", action="store_true", help="reuse cohorts already scored under benchmarks/work/")
    args = parser.parse_args()
    started = time.perf_counter()
    records, seeds = kept_cohorts(RESULTS / "expectation.json", args.tasks)
    seeds.update({task: {min(N_TRAIN): args.seeds, max(N_TRAIN): args.seeds_large} for task in args.tasks})
    for index, (task, n_train, h2, n_causal) in enumerate(itertools.product(TASKS, N_TRAIN, H2, N_CAUSAL)):
        if task not in args.tasks:
            continue
        for repeat in range(args.seeds if n_train == min(N_TRAIN) else args.seeds_large):
            seed = FIRST_SEED + 100 * index + repeat
            work = WORK / "expectation" / f"cohort_{seed}"
            done = work / "cohort.json"
            if args.resume and done.is_file():
                records.append(json.loads(done.read_text()))
                continue
            record = run_cohort(task, n_train, h2, n_causal, seed, work)
            done.write_text(json.dumps(record, indent=2) + "\n")
            records.append(record)
            print(f"{cell_label(task, n_train, h2, n_causal)} seed={seed}: expected {record['expected']:.3f}, "
                  f"BLUP {record['blup']:.3f} ({record['blup_ratio']:.0%}), oracle {record['oracle']:.3f}",
                  flush=True)
    cells = summarize_cells(records)
    payload = {
        "design": {"n_validation": N_VALIDATION, "n_snps": N_SNPS, "prevalence": PREVALENCE, "ld_model": "blocks",
                   "seeds_per_task": seeds, "grid": "the `simulated` grid (h2 x n_train x causal x task)",
                   "expected": "truth.json expected_{auc,r2}_with_covariates",
                   "blup": "ridge over all simulated SNPs, covariates unpenalized, lambda = M (1 - h2) / h2 from "
                           "the true (observed-scale for binary) h2"},
        "seconds": round(time.perf_counter() - started, 1),  # of this invocation: resumed cohorts are not rerun
        "cells": cells,
        "cohorts": records,
        "summary": summary_rows(cells),
    }
    path = write_result("expectation", payload)
    print(markdown_table(cells))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
