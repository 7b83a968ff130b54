"""LD pruning as a searched choice (#22 item 3): what the r2 threshold does to `lasso_path` and the default search.

Two simulated cohorts (`genoml-search simulate`, block LD, an unrelated validation cohort): a sparse binary
trait (100 causal SNPs, h2 0.5) and a polygenic one (2,000 causal SNPs, h2 0.3), ~2,500 training samples x
25,000 SNPs. Phases (each appends its records to benchmarks/results/ld_masks.json):

* ``lasso``: the training cohort munged once per threshold (``--skip-prune``, ``--indep-pairwise 50 5 R2``),
  then ``genoml-search run --family lasso_path --n-trials 1`` (the queued lasso trial: 5-fold path CV with the
  penalty chosen inside, refitted on all training samples) validated on the validation cohort.
* ``search``: the default munge (QC'd set + LD masks) and the default ``run --timeout BUDGET``, with the
  threshold searched (``ld_r2``) and with it fixed to one mask (``--ld-r2 R2``).

    nice -n 5 python -m benchmarks.ld_masks --phase lasso [--cohorts sparse,polygenic] [--thresholds none,0.9,0.5]
    nice -n 5 python -m benchmarks.ld_masks --phase search --budget 300 [--settings searched,0.9]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any

from benchmarks.common import DATA, RESULTS, WORK, checkout_env, cli, timed_command, write_result

COHORTS = {
    "sparse": {"task": "binary", "h2": 0.5, "n_causal": 100, "seed": 11},
    "polygenic": {"task": "binary", "h2": 0.3, "n_causal": 2000, "seed": 12},
}
N_TRAIN, N_VALIDATION, N_SNPS = 2500, 1000, 25_000
RESULT = "ld_masks"
EARLIER = {"source": "benchmarks/results/path_solvers.json (adelie rows; docs/families.md, 2026-12)",
           "cohort": "simulated sparse binary, 3,000 x 30,000 SNPs, h2 0.5, 100 causal",
           "validation_auc": {"none (29,882 SNPs)": 0.759, "0.9 (26,669 SNPs)": 0.759, "0.5 (17,426 SNPs)": 0.737}}


def simulated(name: str) -> Path:
    """The simulate directory of a cohort (made once under benchmarks/data)."""
    spec = COHORTS[name]
    sim = DATA / "ld_masks" / name
    if not (sim / "truth.json").is_file():
        done = timed_command(cli("simulate", "--out", str(sim), "--n-train", str(N_TRAIN), "--n-validation",
                                 str(N_VALIDATION), "--n-snps", str(N_SNPS), "--n-chromosomes", "5",
                                 "--h2", str(spec["h2"]), "--n-causal", str(spec["n_causal"]), "--task",
                                 spec["task"], "--seed", str(spec["seed"]), "--overwrite"), env=checkout_env())
        if done["returncode"]:
            raise SystemExit(done["stderr_tail"])
    return sim


def munged(sim: Path, name: str, prune: list[str]) -> Path:
    """The training cohort munged with ``prune`` flags into benchmarks/work/ld_masks/NAME."""
    out = WORK / "ld_masks" / name
    if not (out / "manifest.json").is_file():
        done = timed_command(cli("munge", "--bfile", f"{sim}/train", "--pheno", f"{sim}/train_pheno.csv",
                                 "--covar", f"{sim}/train_covar.csv", "--out", str(out), "--no-kinship", *prune),
                             env=checkout_env())
        if done["returncode"]:
            raise SystemExit(done["stderr_tail"])
    return out


def run_once(dataset: Path, sim: Path, out: Path, extra: list[str]) -> dict[str, Any]:
    """`genoml-search run` on a dataset, validated on the simulated validation cohort."""
    if out.exists():
        shutil.rmtree(out)
    argv = cli("run", str(dataset), "--out", str(out), "--validation-bfile", f"{sim}/validation",
               "--validation-pheno", f"{sim}/validation_pheno.csv", "--validation-covar",
               f"{sim}/validation_covar.csv", "--ensemble", "none", "--validate-top", "1", *extra)
    load_before = os.getloadavg()
    timing = timed_command(argv, env=checkout_env())
    record: dict[str, Any] = {"seconds": timing["seconds"], "peak_rss_mib": timing["peak_rss_mib"],
                              "load_before": [round(x, 2) for x in load_before],
                              "load_after": [round(x, 2) for x in os.getloadavg()]}
    if timing["returncode"]:
        return {**record, "error": timing["stderr_tail"][-600:]}
    metrics = json.loads((out / "metrics.json").read_text())
    snps = json.loads((dataset / "manifest.json").read_text())["n_variants"]
    return {**record, "n_variants": snps, "validation_auc": metrics["validation"].get("roc_auc"),
            "cv_auc": metrics["cv"][metrics["metric"]], "best_family": metrics["cv"]["best_family"],
            "best_params": metrics["cv"]["best_params"],
            "covariates_only_auc": (metrics["validation"].get("baseline_covariates") or {}).get("roc_auc"),
            "n_trials": sum(r["n_complete"] for r in metrics["leaderboard"])}


def lasso_phase(cohorts: list[str], thresholds: list[str]) -> list[dict[str, Any]]:
    """One lasso_path trial per cohort and threshold."""
    records = []
    for name in cohorts:
        sim = simulated(name)
        for threshold in thresholds:
            prune = ["--skip-prune"] if threshold == "none" else ["--indep-pairwise", "50", "5", threshold]
            dataset = munged(sim, f"{name}-r2-{threshold}", prune)
            record = run_once(dataset, sim, WORK / "ld_masks" / f"run-{name}-lasso-{threshold}",
                              ["--family", "lasso_path", "--n-trials", "1"])
            records.append({"phase": "lasso", "cohort": name, "ld_r2": threshold, **record})
            print(json.dumps(records[-1]), flush=True)
            save(records)
    return records


def search_phase(cohorts: list[str], settings: list[str], budget: int) -> list[dict[str, Any]]:
    """The default search at a wall budget, threshold searched or fixed."""
    records = []
    for name in cohorts:
        sim = simulated(name)
        dataset = munged(sim, f"{name}-default", [])
        for setting in settings:
            extra = ["--n-trials", "100000", "--timeout", str(budget)]
            if setting != "searched":
                extra += ["--ld-r2", setting]
            record = run_once(dataset, sim, WORK / "ld_masks" / f"run-{name}-search-{setting}", extra)
            records.append({"phase": "search", "cohort": name, "ld_r2": setting, "budget": budget, **record})
            print(json.dumps(records[-1]), flush=True)
            save(records)
    return records


def save(records: list[dict[str, Any]]) -> None:
    """Merge ``records`` into the result file (same phase, cohort, threshold and budget replaced)."""
    path = RESULTS / f"{RESULT}.json"
    previous = json.loads(path.read_text()).get("records", []) if path.is_file() else []
    key = lambda r: (r["phase"], r["cohort"], r["ld_r2"], r.get("budget"))  # noqa: E731
    new = {key(r) for r in records}
    merged = [r for r in previous if key(r) not in new] + records
    write_result(RESULT, {"protocol": __doc__.split("\n\n")[1], "cohorts": COHORTS,
                          "sizes": {"n_train": N_TRAIN, "n_validation": N_VALIDATION, "n_snps": N_SNPS},
                          "earlier": EARLIER, "records": merged, "summary": summary(merged)})


def summary(records: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One docs/benchmarks.md row per cohort and phase."""
    rows = []
    for phase in ("lasso", "search"):
        for name in COHORTS:
            group = [r for r in records if r["phase"] == phase and r["cohort"] == name and "error" not in r]
            if not group:
                continue
            cells = "; ".join(f"{r['ld_r2']}: {r['validation_auc']:.3f} ({r['n_variants']:,} SNPs, "
                              f"{r['seconds']:.0f} s)" for r in group if r.get("validation_auc") is not None)
            loads = [r["load_before"][0] for r in group]
            what = ("lasso_path, one trial" if phase == "lasso" else
                    f"default search, {group[0].get('budget')} s") + (
                f", {name} binary cohort, by LD r2 (load average {min(loads):.0f}-{max(loads):.0f} on 2 cores)")
            rows.append({"what": what, "result": f"validation AUC {cells}",
                         "target": "defaults follow the measurement"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=("lasso", "search"), required=True)
    parser.add_argument("--cohorts", default=",".join(COHORTS))
    parser.add_argument("--thresholds", default="none,0.95,0.9,0.8,0.5")
    parser.add_argument("--settings", default="searched,0.9")
    parser.add_argument("--budget", type=int, default=300)
    args = parser.parse_args()
    cohorts = args.cohorts.split(",")
    if args.phase == "lasso":
        lasso_phase(cohorts, args.thresholds.split(","))
    else:
        search_phase(cohorts, args.settings.split(","), args.budget)


if __name__ == "__main__":
    main()
