"""Accuracy on simulated cohorts against the theoretical expectation (issue #8).

For every cell of h2 x n_train x causal SNPs x task, the real CLI simulates a training and an independent
validation cohort (`simulate`), munges the training cohort with the defaults (`munge`), and runs the default
search for a fixed wall-clock budget (`run --timeout T`, validation cohort harmonized by `run`). Each cell
records the validation AUC (binary) or R2 (regression) from metrics.json against truth.json's
`expected_*_with_covariates` (Daetwyler + Wray; covariates are model features) and `max_*_with_covariates`,
the ratio achieved / expected, a plain penalized-linear baseline on the same munged features (mean
imputation + scaling + LogisticRegressionCV / RidgeCV), and an oracle (the true genetic value + covariate
effects) scored on the same validation cohort, which shows how far sampling noise moves the maximum.

`python -m benchmarks.simulated` runs the full 24-cell grid (about 1 h 30 min on 2 cores);
`--quick` runs 8 cells at n_train = 2,000 with a 120 s budget (about 30 min). Finished cells are kept under
benchmarks/work/simulated/ and reused with `--resume`. `--only TEXT` reruns the cells whose name contains
TEXT and keeps the others from the existing result file (each cell records the date it was `measured`).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, ROOT, WORK, checkout_env, cli, timed_command, write_result

N_SNPS = 10_000  # M_e ~ 2,300: expectations span chance to near-max over the grid, and n=10,000 trials stay ~1-2 min
N_VALIDATION = 1_000  # AUC standard error ~0.02, R2 standard error ~0.02-0.03
PREVALENCE = 0.3  # the simulate default
H2 = (0.1, 0.3, 0.5)
N_TRAIN = (2_000, 10_000)
N_CAUSAL = (100, 1_000)
TASKS = ("binary", "regression")
FULL_BUDGET = {2_000: 90, 10_000: 150}  # seconds of search (`run --timeout`) per cell
QUICK_BUDGET = 120
# the quick subset: every h2 with 100 causal SNPs, and the polygenic contrast at h2 = 0.5
QUICK_CELLS = {(h2, 2_000, causal) for h2 in H2 for causal in (100,)} | {(0.5, 2_000, 1_000)}
TARGET_RATIO = 0.9


@dataclass(frozen=True)
class Cell:
    """One grid cell; ``seed`` depends only on the cell, so quick cells repeat the full grid's cells."""

    h2: float
    n_train: int
    n_causal: int
    task: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.task}-h2_{self.h2}-n_{self.n_train}-causal_{self.n_causal}"

    @property
    def label(self) -> str:
        return f"{self.task} h2={self.h2} n={self.n_train} causal={self.n_causal}"


def grid(quick: bool) -> list[Cell]:
    """The cells to run, in a fixed order (seed = 100 + position in the full grid)."""
    cells = []
    for index, (task, n_train, h2, causal) in enumerate(itertools.product(TASKS, N_TRAIN, H2, N_CAUSAL)):
        if not quick or (h2, n_train, causal) in QUICK_CELLS:
            cells.append(Cell(h2, n_train, causal, task, 100 + index))
    return cells


def metric_name(task: str) -> str:
    return "roc_auc" if task == "binary" else "r2"


def expectations(truth: dict, task: str) -> dict[str, float]:
    """Expected and maximum validation accuracy of a genotype + covariate predictor (truth.json)."""
    expected = truth["expected"]
    if task == "binary":
        return {"expected": expected["expected_auc_with_covariates"], "max": expected["max_auc_with_covariates"],
                "expected_genotypes_only": expected["expected_auc"], "max_genotypes_only": expected["max_auc"]}
    return {"expected": expected["expected_r2_with_covariates"], "max": expected["max_r2_with_covariates"],
            "expected_genotypes_only": expected["expected_r2"], "max_genotypes_only": expected["max_r2"]}


def score(task: str, y: np.ndarray, prediction: np.ndarray) -> float:
    """Validation AUC (binary) or R2 (regression), as metrics.json computes them."""
    from sklearn.metrics import r2_score, roc_auc_score

    return float(roc_auc_score(y, prediction) if task == "binary" else r2_score(y, prediction))


def oracle_score(sim: Path, truth: dict, task: str) -> float:
    """Validation score of the true liability minus noise: genetic value + covariate effects."""
    import pandas as pd

    from genoml_search.data.plink import read_plink

    data = read_plink(sim / "validation")
    column = {name: i for i, name in enumerate(data.variants["id"].astype(str))}
    causal = np.array([column[name] for name in truth["causal_snps"]])
    value = truth["liability_intercept"] + data.genotypes[:, causal].astype(np.float64) @ np.array(truth["causal_effects"])
    covar = pd.read_csv(sim / "validation_covar.csv").set_index("ID").loc[data.samples["iid"].astype(str)]
    for name, effect in truth["covariate_effects"].items():
        value += effect * covar[name].to_numpy(dtype=np.float64)
    pheno = pd.read_csv(sim / "validation_pheno.csv").set_index("ID").loc[data.samples["iid"].astype(str)]
    return score(task, pheno.iloc[:, 0].to_numpy(dtype=np.float64), value)


def blup_score(sim: Path, truth: dict, task: str, snps: set[str] | None = None) -> dict[str, Any]:
    """The predictor Daetwyler's formula describes, on this cohort: ridge (BLUP) over all simulated SNPs.

    Standardized SNPs (training means and SDs, mean imputation), covariates unpenalized (projected out), and
    the penalty set from the *true* heritability, lambda = M (1 - h2) / h2 (observed-scale h2 for binary
    traits, as the expectation uses), so nothing is tuned on the validation cohort. Its score says what the
    expectation's own model reaches on this very cohort: a calibration of the expectation, not a competitor.
    ``snps`` restricts the model to those variant IDs (e.g. a munged dataset's), M being their number.
    """
    import pandas as pd
    from scipy import linalg, stats

    from genoml_search.data.plink import read_plink

    started = time.perf_counter()

    def load(prefix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        data = read_plink(sim / prefix)
        ids = data.samples["iid"].astype(str)
        genotypes = data.genotypes
        if snps is not None:
            genotypes = genotypes[:, data.variants["id"].astype(str).isin(snps).to_numpy()]
        covar = pd.read_csv(sim / f"{prefix}_covar.csv").set_index("ID").loc[ids].to_numpy(dtype=np.float64)
        pheno = pd.read_csv(sim / f"{prefix}_pheno.csv").set_index("ID").loc[ids].iloc[:, 0].to_numpy(np.float64)
        return genotypes, np.column_stack([np.ones(len(ids)), covar]), pheno

    g_train, c_train, y_train = load("train")
    g_val, c_val, y_val = load("validation")
    h2 = truth["spec"]["h2"]
    if task == "binary":  # Dempster & Lerner: the heritability of the 0/1 trait
        k = truth["spec"]["prevalence"]
        h2 = h2 * stats.norm.pdf(stats.norm.isf(k)) ** 2 / (k * (1 - k))

    def standardize(g: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
        x = g.astype(np.float64)
        x[g < 0] = np.nan
        return np.nan_to_num((x - mean) / sd, nan=0.0)

    x = g_train.astype(np.float64)
    x[g_train < 0] = np.nan
    mean = np.nanmean(x, axis=0)
    sd = np.nanstd(x, axis=0)
    sd[~(sd > 0)] = 1.0
    x = standardize(g_train, mean, sd)
    residual = lambda m: m - c_train @ np.linalg.lstsq(c_train, m, rcond=None)[0]  # noqa: E731
    xr, yr = residual(x), residual(y_train)
    penalty = x.shape[1] * (1 - h2) / h2
    # dual form (n x n) when there are fewer samples than SNPs
    if xr.shape[0] <= xr.shape[1]:
        beta = xr.T @ linalg.solve(xr @ xr.T + penalty * np.eye(xr.shape[0]), yr, assume_a="pos")
    else:
        beta = linalg.solve(xr.T @ xr + penalty * np.eye(xr.shape[1]), xr.T @ yr, assume_a="pos")
    gamma = np.linalg.lstsq(c_train, y_train - x @ beta, rcond=None)[0]
    prediction = standardize(g_val, mean, sd) @ beta + c_val @ gamma
    return {"model": f"ridge over {'the given' if snps is not None else 'all simulated'} SNPs, lambda = "
                     "M (1 - h2) / h2 from the true h2, covariates unpenalized",
            "lambda": round(float(penalty), 1), "n_snps": int(x.shape[1]),
            "score": score(task, y_val, prediction), "seconds": round(time.perf_counter() - started, 1)}


RIDGE_ALPHAS = np.logspace(1, 6, 21)


def ridge_loo(x: np.ndarray, y: np.ndarray, x_new: np.ndarray, alphas: np.ndarray) -> tuple[float, np.ndarray]:
    """``RidgeCV(alphas)`` after mean imputation and standardization: its leave-one-out penalty, and predictions.

    The same numbers as the sklearn pipeline (to 1e-14 in a check); intercept unpenalized. sklearn forms a
    p x p matrix product per alpha (21 of them took 11 min at 10,000 x 9,000 here); one eigendecomposition
    of X'X (or XX') gives every alpha's hat-matrix diagonal and fit.
    """
    mean = np.nanmean(x, axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    imputed = np.where(np.isnan(x), mean, x)  # SimpleImputer, then StandardScaler on the imputed matrix
    sd = imputed.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    del imputed

    def standardize(a: np.ndarray) -> np.ndarray:
        return np.nan_to_num((np.asarray(a, dtype=np.float64) - mean) / sd, nan=0.0)

    z = standardize(x)
    centered = y - y.mean()
    n, p = z.shape
    if n > p:  # X'X = V S V', left singular vectors U = X V / sqrt(s)
        s, v = np.linalg.eigh(z.T @ z)
        u = z @ v
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(s > 1e-9 * s.max(), u / np.sqrt(np.maximum(s, 1e-300)), 0.0)
    else:  # XX' = U S U'
        s, u = np.linalg.eigh(z @ z.T)
    s = np.maximum(s, 0.0)
    uy = u.T @ centered
    u2 = u * u
    best = (np.inf, alphas[0])
    for alpha in alphas:
        shrink = s / (s + alpha)
        leverage = u2 @ shrink + 1.0 / n  # + the unpenalized intercept's
        residual = (centered - u @ (shrink * uy)) / (1.0 - leverage)
        best = min(best, (float(np.mean(residual**2)), float(alpha)))
    alpha = best[1]
    # beta = X' U diag(1 / (s + alpha)) U' y, which is (X'X + alpha I)^-1 X'y
    beta = z.T @ (u @ (uy / (s + alpha)))
    return alpha, standardize(x_new) @ beta + y.mean()


def baseline(train: Path, validation: Path, task: str) -> dict[str, Any]:
    """Penalized linear model on the munged features (SNPs + covariates), fit on all training samples.

    Mean imputation and standardization in the pipeline; covariates are penalized like SNPs (a plain model:
    scaling them 100x to leave them practically unpenalized took lbfgs 340 s instead of 36 s at n = 2,000,
    for +0.02 AUC at h2 = 0.3).
    """
    import warnings

    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from genoml_search.data.dataset import Dataset
    from genoml_search.core.features import features_from_dataset

    started = time.perf_counter()
    data = features_from_dataset(Dataset.open(train))
    vdata = features_from_dataset(Dataset.open(validation))
    if task == "regression":  # RidgeCV's leave-one-out choice, computed with one eigendecomposition
        alpha, prediction = ridge_loo(data.x, data.y, vdata.x, RIDGE_ALPHAS)
        keep = ~np.isnan(vdata.y)
        return {"model": "RidgeCV (exact leave-one-out over alphas, one eigendecomposition)", "alpha": alpha,
                "score": score(task, vdata.y[keep], prediction[keep]),
                "seconds": round(time.perf_counter() - started, 1)}
    model = LogisticRegressionCV(Cs=np.logspace(-5, -1, 9), cv=5, scoring="roc_auc", max_iter=1000)
    pipeline = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler(), model)
    with warnings.catch_warnings():  # sklearn 1.9 announces LogisticRegressionCV attribute changes
        warnings.simplefilter("ignore", FutureWarning)
        pipeline.fit(data.x, data.y)
    prediction = pipeline.predict_proba(vdata.x)[:, 1]
    penalty = {"C": float(np.ravel(pipeline[-1].C_)[0])}
    keep = ~np.isnan(vdata.y)
    return {"model": type(model).__name__, **penalty, "score": score(task, vdata.y[keep], prediction[keep]),
            "seconds": round(time.perf_counter() - started, 1)}


def study_trials(run: Path) -> dict[str, Any]:
    """Trials of the run's study by family and state, with median seconds per finished trial."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{run / 'study.db'}"
    study = optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)
    families: dict[str, dict[str, Any]] = {}
    for trial in study.get_trials(deepcopy=False):
        row = families.setdefault(trial.params.get("family", "?"), {"seconds": []})
        row[trial.state.name] = row.get(trial.state.name, 0) + 1
        if trial.datetime_complete and trial.datetime_start:
            row["seconds"].append((trial.datetime_complete - trial.datetime_start).total_seconds())
    for row in families.values():
        seconds = row.pop("seconds")
        row["median_seconds"] = round(float(np.median(seconds)), 1) if seconds else None
    totals = {state: sum(row.get(state, 0) for row in families.values()) for state in ("COMPLETE", "PRUNED", "FAIL")}
    return {"by_family": families, **{f"n_{k.lower()}": v for k, v in totals.items()}}


def add_study_facts(record: dict, work: Path) -> dict:
    """Fill the trial counts (also for cells recorded before they were added)."""
    facts = study_trials(work / "run")
    record.pop("n_finished_trials", None)  # old name: it counted COMPLETE trials only
    record.update(trials=facts, n_completed_trials=facts["n_complete"],
                  n_finished_trials=facts["n_complete"] + facts["n_pruned"])
    return record


def selected(cell: Cell, only: list[str], names: set[str]) -> bool:
    """Whether ``--only`` picks the cell: a full cell name picks that cell alone (``...causal_100`` is not
    ``...causal_1000``), any other text every cell whose name contains it."""
    return any(cell.name == text if text in names else text in cell.name for text in only)


def simulate_argv(out: Path, n_train: int, n_validation: int, h2: float, n_causal: int, task: str,
                  seed: int) -> list[str]:
    """`genoml-search simulate` of a benchmark cohort: N_SNPS SNPs, prevalence PREVALENCE, default covariates."""
    return cli("simulate", "--out", str(out), "--n-train", str(n_train), "--n-validation", str(n_validation),
               "--n-snps", str(N_SNPS), "--h2", str(h2), "--n-causal", str(n_causal), "--task", task,
               "--prevalence", str(PREVALENCE), "--seed", str(seed))


def run_cell(cell: Cell, budget: int, workers: int | None, work: Path) -> dict[str, Any]:
    """Simulate, munge, search and score one cell; its record is also written to WORK/CELL/cell.json."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sim, dataset, run = work / "sim", work / "dataset", work / "run"
    env = checkout_env()
    load_before = os.getloadavg()[0]
    steps = {
        "simulate": simulate_argv(sim, cell.n_train, N_VALIDATION, cell.h2, cell.n_causal, cell.task, cell.seed),
        "munge": cli("munge", "--bfile", str(sim / "train"), "--pheno", str(sim / "train_pheno.csv"), "--covar",
                     str(sim / "train_covar.csv"), "--out", str(dataset)),
        "run": cli("run", str(dataset), "--out", str(run), "--n-trials", "100000", "--timeout", str(budget),
                   "--validation-bfile", str(sim / "validation"), "--validation-pheno",
                   str(sim / "validation_pheno.csv"), "--validation-covar", str(sim / "validation_covar.csv"),
                   *(["--workers", str(workers)] if workers else [])),
    }
    timings = {}
    for step, argv in steps.items():
        result = timed_command(argv, env=env, cwd=ROOT)
        if result["returncode"]:
            raise RuntimeError(f"{cell.name}: {step} failed: {result['stderr_tail']}")
        timings[step] = {"seconds": result["seconds"], "peak_rss_mib": result["peak_rss_mib"]}
    truth = json.loads((sim / "truth.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    name = metric_name(cell.task)
    limits = expectations(truth, cell.task)
    achieved = metrics["validation"][name]
    base = baseline(dataset, run / "validation_dataset", cell.task)
    blup = blup_score(sim, truth, cell.task)
    from genoml_search.data.dataset import Dataset

    kept = set(Dataset.open(dataset, variants_only=True).variants["id"].astype(str))
    leaderboard = metrics["leaderboard"]
    record = {
        "cell": asdict(cell), "label": cell.label, "metric": name, "budget_seconds": budget,
        "achieved": achieved, **limits, "ratio": achieved / limits["expected"],
        "oracle": oracle_score(sim, truth, cell.task), "baseline": base,
        "baseline_ratio": base["score"] / limits["expected"], "blup": blup,
        "blup_ratio": blup["score"] / limits["expected"],
        "cv_best": metrics["cv"][name], "best_family": metrics["cv"]["best_family"],
        "best_snp_p_threshold": metrics["cv"]["best_params"].get("snp_p_threshold"),
        "leaderboard": [{k: row[k] for k in ("family", "value", "n_complete") if k in row} for row in leaderboard],
        "m_effective": truth["m_effective"], "realized": truth["realized"],
        "n_variants_after_munge": len(kept),
        "causal_kept_fraction": float(np.mean([snp in kept for snp in truth["causal_snps"]])),
        "timings": timings, "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    add_study_facts(record, work)
    if cell.task == "binary":  # AUC ratios flatter: 0.5 is chance, so also the share of the gain over chance
        record["gain_ratio"] = (achieved - 0.5) / (limits["expected"] - 0.5)
    (work / "cell.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def summary_row(record: dict) -> dict[str, str]:
    """One README row: achieved vs expected (ratio), baseline, maximum."""
    short = "AUC" if record["metric"] == "roc_auc" else "R2"
    return {"what": f"{record['label']}: validation {short} vs expected",
            "result": f"{short} {record['achieved']:.3f} vs expected {record['expected']:.3f} "
                      f"({record['ratio']:.0%}), baseline {record['baseline']['score']:.3f}, "
                      + (f"BLUP true h2 {record['blup']['score']:.3f} ({record['blup_ratio']:.0%}), "
                         if "blup" in record else "")
                      + f"max {record['max']:.3f}",
            "target": f">= {TARGET_RATIO:.0%} of expected"}


def replicates_row(record: dict) -> dict[str, str]:
    """A README row for a cell run on several cohorts: the mean ratios over them."""
    ratios = ", ".join(f"{c['ratio']:.0%}" for c in [replicate_summary(record), *record["replicates"]])
    return {"what": f"{record['label']}: mean over {record['n_cohorts']} cohorts (seeds)",
            "result": f"{record['mean_ratio']:.0%} of expected ({ratios}); BLUP true h2 "
                      f"{record['mean_blup_ratio']:.0%}",
            "target": f">= {TARGET_RATIO:.0%} of expected"}


def replicates_table(records: list[dict]) -> str:
    """The docs table of the cells run on several cohorts."""
    lines = ["| cell | cohorts | achieved / expected per cohort | mean | BLUP, true h2: mean | trials per cohort |",
             "|---|---|---|---|---|---|"]
    for r in records:
        if "replicates" not in r:
            continue
        cohorts = [replicate_summary(r), *r["replicates"]]
        per_cohort = ", ".join(f"{c['ratio']:.0%}" for c in cohorts)
        lines.append(f"| {r['label']} | {r['n_cohorts']} | {per_cohort} | "
                     f"{r['mean_ratio']:.0%} | {r['mean_blup_ratio']:.0%} | "
                     f"{', '.join(str(c.get('n_finished_trials', '?')) for c in cohorts)} |")
    return "\n".join(lines)


def table(records: list[dict]) -> str:
    lines = ["| cell | metric | achieved | expected | ratio | baseline | BLUP, true h2 (ratio) | oracle | max | "
             "trials (pruned) | best family | causal kept |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['label']} | {r['metric']} | {r['achieved']:.3f} | {r['expected']:.3f} | "
                     f"{r['ratio']:.0%} | {r['baseline']['score']:.3f} | "
                     f"{r['blup']['score']:.3f} ({r['blup_ratio']:.0%}) | "
                     f"{r['oracle']:.3f} | {r['max']:.3f} | "
                     f"{r['n_finished_trials']} ({r['trials']['n_pruned']}) | {r['best_family']} | {r['causal_kept_fraction']:.0%} |")
    return "\n".join(lines)


EXTRA_SEED_STEP = 1_000  # --extra-seeds: cohort k of a cell has seed cell.seed + k x this


def replicate_summary(record: dict) -> dict[str, Any]:
    """What a replicate cohort of a cell keeps: its seed, scores, ratios and trial count."""
    keys = ("achieved", "expected", "ratio", "blup_ratio", "oracle", "n_finished_trials", "best_family", "measured")
    return {"seed": record["cell"]["seed"], **{k: record[k] for k in keys if k in record},
            "baseline": record["baseline"]["score"], "blup": record["blup"]["score"]}


def with_replicates(record: dict, replicates: list[dict]) -> dict:
    """The cell's record with its replicate cohorts and the means over all of its cohorts (itself included)."""
    cohorts = [replicate_summary(record), *replicates]
    means = {f"mean_{key}": float(np.mean([c[key] for c in cohorts])) for key in ("ratio", "blup_ratio")}
    return {**record, "replicates": replicates, "n_cohorts": len(cohorts), **means}


def previous_cells(quick: bool) -> dict[str, dict]:
    """The cells of the existing result file (same mode), by label; each keeps the date it was measured."""
    path = RESULTS / "simulated.json"
    if not path.is_file():
        return {}
    result = json.loads(path.read_text())
    if result.get("mode", "").startswith("quick") != quick:
        return {}
    return {r["label"]: {"measured": result["date"], **r} for r in result["cells"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="8 cells at n_train=2,000, 120 s budget (~30 min)")
    parser.add_argument("--budget", type=int, help="search seconds per cell (default: 120 quick; 90 / 150 full, by n_train)")
    parser.add_argument("--workers", type=int, help="Dask workers per run (default: the run default)")
    parser.add_argument("--resume", action="store_true", help="reuse finished cells under benchmarks/work/")
    parser.add_argument("--finished-only", action="store_true",
                        help="with --resume: write the result from the cells already finished, run no new ones")
    parser.add_argument("--only", action="append", metavar="TEXT",
                        help="run only the cells whose name contains TEXT, or the one cell named TEXT (repeatable, "
                             "e.g. binary-h2_0.5-n_10000); "
                             "the other cells are kept from the existing result file, with their own date")
    parser.add_argument("--extra-seeds", type=int, default=0, metavar="K",
                        help="for the cells run (see --only), also K cohorts from other seeds, stored in the cell's "
                             "record as `replicates`; a cell already in the result file is kept, not rerun")
    args = parser.parse_args()
    root = WORK / "simulated"
    records, failed = [], []
    previous = previous_cells(args.quick)

    def cell_record(cell: Cell, budget: int, work: Path) -> dict | None:
        """A finished cell under WORK (with --resume), or a new run of it; None if it failed."""
        done = work / "cell.json"
        if args.resume and done.is_file() and json.loads(done.read_text())["budget_seconds"] == budget:
            return add_study_facts(json.loads(done.read_text()), work)
        if args.finished_only:
            return None
        print(f"== {cell.label}, seed {cell.seed} (budget {budget} s)", flush=True)
        try:
            r = run_cell(cell, budget, args.workers, work)
        except Exception as error:  # record and go on: one broken cell should not lose the others
            print(f"   failed: {error}", file=sys.stderr, flush=True)
            failed.append({"cell": cell.label, "seed": cell.seed, "error": str(error)[:2000]})
            return None
        print(f"   {r['metric']} {r['achieved']:.3f} vs expected {r['expected']:.3f} ({r['ratio']:.0%}), baseline "
              f"{r['baseline']['score']:.3f}, BLUP {r['blup']['score']:.3f}, oracle {r['oracle']:.3f}, "
              f"{r['n_finished_trials']} trials", flush=True)
        return r

    full_names = {cell.name for cell in grid(False)}
    for cell in grid(args.quick):
        budget = args.budget or (QUICK_BUDGET if args.quick else FULL_BUDGET[cell.n_train])
        if args.only and not selected(cell, args.only, full_names):
            if cell.label in previous:
                records.append(previous[cell.label])
            continue
        if args.extra_seeds and cell.label in previous:
            record = previous[cell.label]
        else:
            record = cell_record(cell, budget, root / cell.name)
        if record is None:
            continue
        replicates = []
        for k in range(1, args.extra_seeds + 1):
            other = replace(cell, seed=cell.seed + EXTRA_SEED_STEP * k)
            extra = cell_record(other, budget, root / f"{cell.name}-seed_{other.seed}")
            if extra is not None:
                replicates.append(replicate_summary(extra))
        if replicates:
            record = with_replicates(record, replicates)
        records.append(record)
    reached = [r["label"] for r in records if r["ratio"] >= TARGET_RATIO]
    payload = {
        "mode": ("quick" if args.quick else "full") + (" (finished cells only)" if args.finished_only else "")
        + (f" (rerun: cells matching {', '.join(args.only)}; the others from the previous file)" if args.only else ""),
        "design": {"n_snps": N_SNPS, "n_validation": N_VALIDATION, "prevalence": PREVALENCE, "ld_model": "blocks",
                   "covariates": "AGE=0.01, SEX=0.2 (simulate defaults)", "munge": "defaults",
                   "search": "run defaults, --n-trials 100000 --timeout BUDGET",
                   "expected": "truth.json expected_{auc,r2}_with_covariates",
                   "baseline": "mean impute + standardize + LogisticRegressionCV(Cs 1e-5..1, 5-fold AUC) / "
                               "RidgeCV(alphas 1e1..1e6, GCV)",
                   "blup": "ridge over all simulated SNPs (no QC, no pruning), covariates unpenalized, "
                           "lambda = M (1 - h2) / h2 from the true (observed-scale for binary) h2: the predictor "
                           "the Daetwyler expectation describes, scored on the same validation cohort"},
        "target_ratio": TARGET_RATIO,
        "cells_reaching_target": f"{len(reached)} of {len(records)}",
        "cells": records,
        "failed": failed,
        "summary": [summary_row(r) for r in records] + [replicates_row(r) for r in records if "replicates" in r]
        + [{"what": "cells reaching >= 90% of expected", "result": f"{len(reached)} of {len(records)}",
            "target": "all"}],
    }
    path = write_result("simulated", payload)
    print(table(records))
    if any("replicates" in r for r in records):
        print(replicates_table(records))
    print(f"wrote {path}; {len(reached)} of {len(records)} cells reach {TARGET_RATIO:.0%} of expected")
    if failed:
        raise SystemExit(f"{len(failed)} cell(s) failed")


if __name__ == "__main__":
    main()
