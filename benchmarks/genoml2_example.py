"""The bundled GenoML2 example: our default `run` with a 200 s budget, and GenoML2 1.5.4's defaults beside it.

`python -m benchmarks.genoml2_example [--genoml2-only] [--nice]`

Ours: `munge` (training bfile, phenotype, `training_addit.csv` as covariates), then `run --task binary` with
the validation cohort (`validation` bfile, phenotype, `validation_addit.csv`).

GenoML2: installed from the package registry into its own venv (benchmarks/work/venv-genoml2; it pins
numpy 1.26, pandas 2.3, scikit-learn 1.5.2, xgboost 2.0.3). GenoML2 downloads plink2 at run time unless a
working `plink2` sits in its executables folder; we point that folder (GENOML_DEP_DIR) at
benchmarks/work/genoml2-deps/ holding a two-line script that runs the plink2 on PATH, so nothing is
downloaded. Then its
default discrete pipeline on the same files: `munge` (training and validation together: --geno/--pheno/
--addit and --geno_test/--pheno_test/--addit_test), `train`, `tune`, `test`, every other option at its
default. Its validation predictions (Test/predictions.txt, case probabilities) are scored with our metric
code (genoml_search.core.metrics.score_all), so both tools are compared on the same 100 validation samples
with the same code. GenoML2's own Test/performance_metrics.txt is recorded too, labelled self-reported: its
"AUC" there is computed from hard 0/1 predictions, not probabilities.

`--genoml2-only` runs only the GenoML2 part and merges it into the existing result file, leaving our part as
it was measured. `--nice` runs GenoML2 (and its pip install) under `nice -n 19`, for a machine busy with
other work; its wall time is then not comparable with ours and the summary says so (load averages recorded).
If GenoML2 cannot be installed or plink2 is missing, the GenoML2 part records why and is skipped.

Caveat recorded with the numbers: every validation sample of this example is a near-copy of a training sample
(see the sample-structure report), so validation accuracy here is not accuracy on new people.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, ROOT, WORK, cli, timed_command, venv_python, write_result
from genoml_search.core.metrics import score_all

EXAMPLE = ROOT / "examples" / "genoml2-discrete"
BUDGET_SECONDS = 200  # munge + run + refit; the search itself gets 30 s less
GENOML2 = "genoml2==1.5.4"
GENOML2_VENV = WORK / "venv-genoml2"
GENOML2_DEPS = WORK / "genoml2-deps"  # GenoML2's executables folder: only a symlink to our plink2
NICE = ("nice", "-n", "19")


def ours() -> dict:
    """Our munge + run on the example; the result fields and summary rows of our part."""
    work = WORK / "genoml2_example"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    munge = timed_command(cli("munge", "--bfile", str(EXAMPLE / "training"), "--pheno",
                              str(EXAMPLE / "training_pheno.csv"), "--covar", str(EXAMPLE / "training_addit.csv"),
                              "--out", str(work / "dataset")))
    run = timed_command(cli("run", str(work / "dataset"), "--task", "binary", "--out", str(work / "run"),
                            "--n-trials", "100000", "--timeout", str(BUDGET_SECONDS - 30),
                            "--validation-bfile", str(EXAMPLE / "validation"),
                            "--validation-pheno", str(EXAMPLE / "validation_pheno.csv"),
                            "--validation-covar", str(EXAMPLE / "validation_addit.csv")))
    if munge["returncode"] or run["returncode"]:
        raise SystemExit(f"benchmark failed: {munge['stderr_tail']}{run['stderr_tail']}")
    metrics = json.loads((work / "run" / "metrics.json").read_text())
    result = {
        "budget_seconds": BUDGET_SECONDS,
        "munge_seconds": munge["seconds"],
        "run_seconds": run["seconds"],
        "wall_seconds": round(munge["seconds"] + run["seconds"], 1),
        "peak_rss_mib": max(munge["peak_rss_mib"], run["peak_rss_mib"]),
        "validation": metrics["validation"],
        "cv": {k: v for k, v in metrics["cv"].items() if k != "best_params"},
        "n_finished_trials": sum(row["n_complete"] for row in metrics["leaderboard"]),
        "genoml2_reference": {"defaults_roc_auc": 0.854, "defaults_minutes": 18, "best_documented_roc_auc": 0.943,
                              "best_documented_balanced_accuracy": 0.871},
        "target": {"roc_auc": 0.95, "seconds": 200},
    }
    val = metrics["validation"]
    result["summary"] = [
        {"what": "GenoML2 example, default run, 200 s budget: validation ROC-AUC",
         "result": f"{val['roc_auc']:.3f} (GenoML2: 0.854 defaults, 0.943 best documented)", "target": ">= 0.95"},
        {"what": "GenoML2 example: validation balanced accuracy",
         "result": f"{val['balanced_accuracy']:.3f} (GenoML2 best documented: 0.871)", "target": ""},
        {"what": "GenoML2 example: wall time munge + run",
         "result": f"{result['wall_seconds']} s (GenoML2 defaults: ~18 min)", "target": "<= 200 s"},
    ]
    return result


def genoml2_install(nice: bool) -> tuple[Path | None, str, dict[str, str]]:
    """GenoML2's `genoml` script in its venv, a note, and the environment that keeps it offline;
    or None and the reason it cannot run here."""
    python, note = venv_python(GENOML2_VENV, GENOML2, NICE if nice else ())
    plink2 = shutil.which("plink2")
    if python is None or plink2 is None:
        return None, note if python is None else "no plink2 on PATH (GenoML2 would download one)", {}
    probe = subprocess.run([str(python), "-c", "from importlib.metadata import version; print(version('genoml2'))"],
                           capture_output=True, text=True)
    if probe.stdout.strip() != GENOML2.split("==")[1]:
        return None, f"{GENOML2} not installed in {GENOML2_VENV} (delete it to re-create): {probe.stderr[-300:]}", {}
    GENOML2_DEPS.mkdir(parents=True, exist_ok=True)
    # a script, not a symlink: Debian's /usr/bin/plink2 is a wrapper that finds its binaries relative to
    # the path it was called by
    shim = GENOML2_DEPS / "plink2"
    shim.write_text(f'#!/bin/sh\nexec {plink2} "$@"\n')
    shim.chmod(0o755)
    env = {"GENOML_DEP_DIR": str(GENOML2_DEPS), "MPLBACKEND": "Agg"}
    return python.parent / "genoml", f"{note}; {shim.relative_to(ROOT)} runs {plink2}", env


def genoml2_commands(genoml: Path, prefix: Path, nice: bool) -> dict[str, list[str]]:
    """GenoML2's default discrete pipeline on the example, step name -> argv."""
    files = {"geno": "training", "pheno": "training_pheno.csv", "addit": "training_addit.csv",
             "geno_test": "validation", "pheno_test": "validation_pheno.csv", "addit_test": "validation_addit.csv"}
    munge_flags = [part for flag, name in files.items() for part in (f"--{flag}", str(EXAMPLE / name))]
    head = [*(NICE if nice else ()), str(genoml), "discrete", "supervised"]
    return {"munge": [*head, "munge", "--prefix", str(prefix), *munge_flags],
            **{step: [*head, step, "--prefix", str(prefix)] for step in ("train", "tune", "test")}}


def read_tsv(path: Path) -> list[dict[str, str]]:
    """Rows of a tab-separated file with a header."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def score_genoml2(prefix: Path) -> dict:
    """GenoML2's validation predictions scored with our metric code, plus its self-reported metrics."""
    rows = read_tsv(prefix / "Test" / "predictions.txt")
    y = np.array([int(float(row["CASE_REPORTED"])) for row in rows])
    probability = np.array([float(row["CASE_PROBABILITY"]) for row in rows])
    with open(EXAMPLE / "validation_pheno.csv", encoding="utf-8-sig") as handle:  # the file starts with a BOM
        validation_ids = {row["ID"] for row in csv.DictReader(handle)}
    self_reported = read_tsv(prefix / "Test" / "performance_metrics.txt")[0]
    return {"validation": {**score_all("binary", y, probability), "n_samples": len(rows), "threshold": 0.5,
                           "same_samples_as_ours": {row["ID"] for row in rows} == validation_ids},
            "algorithm": self_reported.pop("Algorithm"),
            "self_reported_test_metrics": {key: float(value) for key, value in self_reported.items()},
            "self_reported_note": "GenoML2's Test/performance_metrics.txt: AUC and log loss from hard 0/1 "
                                  "predictions, accuracies in percent"}


def genoml2(nice: bool) -> dict:
    """GenoML2's default pipeline on the example, timed per step; or why it was skipped or failed."""
    load_start = os.getloadavg()
    genoml, note, env = genoml2_install(nice)
    run = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "package": GENOML2,
           "install": note, "nice": 19 if nice else None, "load_avg_at_start": load_start}
    if genoml is None:
        return {**run, "skipped": note}
    work = WORK / "genoml2_example_genoml2"
    shutil.rmtree(work, ignore_errors=True)
    prefix = work / "outputs"
    prefix.mkdir(parents=True)  # GenoML2 appends to PREFIX/log.txt before creating PREFIX
    steps = {}
    for step, argv in genoml2_commands(genoml, prefix, nice).items():
        print(f"GenoML2 {step} ...", flush=True)
        # cwd: GenoML2's munge writes plink2's files into the working directory
        row = timed_command(argv, env=env, cwd=work)
        (work / f"{step}.log").write_text(row.pop("stdout"))
        steps[step] = row
        if row["returncode"]:
            run.update(failed=step, steps=steps, load_avg_at_end=os.getloadavg())
            return run
    run.update(steps=steps, wall_seconds=round(sum(row["seconds"] for row in steps.values()), 1),
               peak_rss_mib=max(row["peak_rss_mib"] for row in steps.values()),
               load_avg_at_end=os.getloadavg(), **score_genoml2(prefix))
    return run


def genoml2_rows(run: dict) -> list[dict]:
    """The README rows of the GenoML2 part."""
    what = "GenoML2 example: GenoML2 1.5.4 defaults (munge, train, tune, test) run here"
    if "validation" not in run:
        reason = run.get("skipped") or f"failed in {run.get('failed')}: see genoml2_run in the result file"
        return [{"what": what, "result": f"not run: {reason}", "target": ""}]
    val, own = run["validation"], run["self_reported_test_metrics"]
    timing = f"{run['wall_seconds'] / 60:.0f} min wall, {run['peak_rss_mib']:.0f} MiB peak"
    if run["nice"]:
        timing += (f" (under nice -n 19 beside other jobs, load {run['load_avg_at_start'][0]:.1f} -> "
                   f"{run['load_avg_at_end'][0]:.1f}: not comparable with our time)")
    return [{"what": f"{what}: validation ROC-AUC / balanced accuracy (our metric code, its probabilities)",
             "result": f"{val['roc_auc']:.3f} / {val['balanced_accuracy']:.3f} ({run['algorithm']}; self-reported "
                       f"from hard labels: AUC {own['AUC']:.3f}, balanced accuracy {own['Balanced_Accuracy']:.1f}%)",
             "target": "ours >= GenoML2"},
            {"what": "GenoML2 example: GenoML2 1.5.4 defaults wall time and memory", "result": timing,
             "target": "ours faster"}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--genoml2-only", action="store_true",
                        help="run only GenoML2 and merge it into the existing result file")
    parser.add_argument("--ours-only", action="store_true",
                        help="run only genoml-search and keep the GenoML2 run of the existing result file")
    parser.add_argument("--nice", action="store_true", help="run GenoML2 and its install under nice -n 19")
    args = parser.parse_args()
    path = RESULTS / "genoml2_example.json"
    if (args.genoml2_only or args.ours_only) and not path.is_file():
        raise SystemExit(f"--genoml2-only and --ours-only need an existing {path}")
    previous = json.loads(path.read_text()) if path.is_file() else {}
    result = previous if args.genoml2_only else ours()
    if args.ours_only:
        run = previous["genoml2_run"]
        run["measured"] = run.get("measured") or previous.get("date")  # when GenoML2 itself was run
    else:
        run = genoml2(args.nice)
        run["summary"] = genoml2_rows(run)
    result["genoml2_run"] = run
    if args.genoml2_only:
        path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    else:
        path = write_result("genoml2_example", result)
    val = result["validation"]
    print(f"wrote {path}: ours validation ROC-AUC {val['roc_auc']:.4f}, balanced accuracy "
          f"{val['balanced_accuracy']:.4f}, {result['wall_seconds']} s; GenoML2: {run['summary'][0]['result']}")


if __name__ == "__main__":
    main()
