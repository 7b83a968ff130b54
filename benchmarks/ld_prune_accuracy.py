"""How much prediction accuracy munge's LD pruning threshold costs (the default --indep-pairwise r2).

On simulated cohorts (block LD model, 2,000 training and 1,000 validation samples, 10,000 SNPs, default
covariates), the same linear predictor is fitted on all simulated SNPs and on the SNPs that
`genoml-search munge --indep-pairwise 50 5 R2` keeps, for several R2 thresholds. The predictor is ridge /
BLUP with covariates unpenalized and lambda = M (1 - h2) / h2 from the true h2 (`simulated.blup_score`), so
no choice is tuned on the validation cohort and the only difference between columns is the SNP set.

`python -m benchmarks.ld_prune_accuracy [--seeds N] [--resume]` writes benchmarks/results/ld_prune_accuracy.json.
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

from benchmarks.common import ROOT, WORK, checkout_env, cli, timed_command, write_result
from benchmarks.simulated import N_SNPS, blup_score, metric_name, simulate_argv

THRESHOLDS = ("0.5", "0.8", "0.9", "0.95")
H2 = (0.1, 0.3, 0.5)
N_CAUSAL = (100, 1_000)
TASKS = ("regression", "binary")
N_TRAIN, N_VALIDATION = 2_000, 1_000


def run_cohort(task: str, h2: float, n_causal: int, seed: int, work: Path) -> dict[str, Any]:
    """Simulate one cohort; score the ridge predictor on all SNPs and on each pruned set."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = checkout_env()
    sim = work / "sim"
    simulate = simulate_argv(sim, N_TRAIN, N_VALIDATION, h2, n_causal, task, seed)
    if timed_command(simulate, env=env, cwd=ROOT)["returncode"]:
        raise RuntimeError(f"simulate failed for seed {seed}")
    truth = json.loads((sim / "truth.json").read_text())
    record: dict[str, Any] = {"task": task, "h2": h2, "n_causal": n_causal, "seed": seed, "metric": metric_name(task),
                              "covariates_only": blup_score(sim, truth, task, snps=set())["score"],
                              "all_snps": blup_score(sim, truth, task)["score"], "pruned": {}}
    from genoml_search.data.dataset import Dataset

    for threshold in THRESHOLDS:
        dataset = work / f"dataset_{threshold}"
        munge = cli("munge", "--bfile", str(sim / "train"), "--pheno", str(sim / "train_pheno.csv"), "--covar",
                    str(sim / "train_covar.csv"), "--out", str(dataset), "--indep-pairwise", "50", "5", threshold,
                    "--no-kinship", "--pcs", "0")
        result = timed_command(munge, env=env, cwd=ROOT)
        if result["returncode"]:
            raise RuntimeError(f"munge failed: {result['stderr_tail']}")
        kept = set(Dataset.open(dataset, variants_only=True).variants["id"].astype(str))
        score = blup_score(sim, truth, task, kept)["score"]
        record["pruned"][threshold] = {
            "score": score, "n_snps": len(kept), "munge_seconds": round(result["seconds"], 2),
            "causal_kept_fraction": float(np.mean([snp in kept for snp in truth["causal_snps"]]))}
        shutil.rmtree(dataset)
    return record


def gain(record: dict, score: float) -> float:
    """What the SNPs add to a score: the score minus that of the covariates alone."""
    return score - record["covariates_only"]


def shares(records: list[dict]) -> list[tuple[str, int, int, dict[str, dict[str, float]]]]:
    """Per task and architecture: cohorts, and per threshold the mean share of the all-SNP gain kept, mean SNPs
    kept and mean share of causal SNPs kept."""
    groups = []
    for task, n_causal in itertools.product(TASKS, N_CAUSAL):
        group = [r for r in records if r["task"] == task and r["n_causal"] == n_causal]
        if not group:
            continue
        reference = float(np.mean([gain(r, r["all_snps"]) for r in group]))
        by_threshold = {}
        for threshold in THRESHOLDS:
            pruned = [r["pruned"][threshold] for r in group]
            by_threshold[threshold] = {
                "share": float(np.mean([gain(r, p["score"]) for r, p in zip(group, pruned)])) / reference,
                "snps": float(np.mean([p["n_snps"] for p in pruned])),
                "causal": float(np.mean([p["causal_kept_fraction"] for p in pruned]))}
        groups.append((task, n_causal, len(group), by_threshold))
    return groups


def summarize(records: list[dict]) -> list[dict]:
    """README rows: per task and architecture, the share of the all-SNP accuracy gain kept at each threshold."""
    rows = []
    for task, n_causal, n_cohorts, by_threshold in shares(records):
        parts = [f"r2 {t}: {v['share']:.0%} ({v['snps']:.0f} SNPs)" for t, v in by_threshold.items()]
        what = "R2" if task == "regression" else "AUC"
        rows.append({"what": f"{task}, {n_causal} causal SNPs, {n_cohorts} cohorts: {what} the SNPs add over the "
                             f"covariates with ridge on pruned SNPs, share of ridge on all {N_SNPS:,} SNPs",
                     "result": "; ".join(parts), "target": "default keeps >= 95%"})
    return rows


def markdown_table(records: list[dict]) -> str:
    """The docs table: share of the all-SNP gain kept, SNPs kept and causal SNPs kept, per setting."""
    lines = ["| trait | causal SNPs | cohorts | " + " | ".join(f"r^2 {t}" for t in THRESHOLDS) + " |",
             "|---|---|---|" + "---|" * len(THRESHOLDS)]
    for task, n_causal, n_cohorts, by_threshold in shares(records):
        cells = [f"{v['share']:.0%} ({v['snps']:,.0f} SNPs, {v['causal']:.0%} of causal)"
                 for v in by_threshold.values()]
        trait = "continuous (R2)" if task == "regression" else "binary (AUC)"
        lines.append(f"| {trait} | {n_causal:,} | {n_cohorts} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="cohorts per (task, h2, causal) cell")
    parser.add_argument("--resume", action="store_true", help="reuse cohorts already scored under benchmarks/work/")
    args = parser.parse_args()
    started = time.perf_counter()
    records: list[dict] = []
    for task, h2, n_causal in itertools.product(TASKS, H2, N_CAUSAL):
        for _ in range(args.seeds):
            seed = 1_000 + 10 * len(records)
            work = WORK / "ld_prune_accuracy" / f"cohort_{seed}"
            done = work / "cohort.json"
            if args.resume and done.is_file():
                records.append(json.loads(done.read_text()))
                continue
            record = run_cohort(task, h2, n_causal, seed, work)
            done.write_text(json.dumps(record, indent=2) + "\n")
            records.append(record)
            shares = ", ".join(f"{t}: {v['score']:.3f}" for t, v in record["pruned"].items())
            print(f"{task} h2={h2} causal={n_causal} seed={seed}: all {record['all_snps']:.3f}; {shares}", flush=True)
    payload = {
        "design": {"n_train": N_TRAIN, "n_validation": N_VALIDATION, "n_snps": N_SNPS, "ld_model": "blocks",
                   "window": "50 5", "thresholds": THRESHOLDS, "seeds_per_cell": args.seeds,
                   "model": "ridge/BLUP, covariates unpenalized, lambda = M (1 - h2) / h2 from the true h2 "
                            "(observed scale for binary); the same model on every SNP set"},
        "seconds": round(time.perf_counter() - started, 1),
        "cohorts": records,
        "summary": summarize(records),
    }
    path = write_result("ld_prune_accuracy", payload)
    print(markdown_table(records))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
