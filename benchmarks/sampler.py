"""Which Optuna sampler setting finds good cross-family models fastest? Measured on the bundled example.

For each setting and seed: a study over the binary families on examples/genoml2-discrete/training (500 samples
x 500 SNPs), objective = stratified 5-fold CV ROC-AUC of Pipeline(mean imputation, scaling if the family
needs it, model), each fold fitted on its training part only. Trials run as if ``--parallel`` workers were
busy: the sampler asks while that many trials are still running (this is what ``constant_liar`` is about).

    python -m benchmarks.sampler [--trials 60] [--seeds 3] [--parallel 4]

Writes benchmarks/results/sampler.json and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import sklearn
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from genoml_search.data.plink import MISSING, read_plink
from genoml_search.search.registry import families_for, get_family
from genoml_search.search.space import make_sampler, suggest_pipeline

EXAMPLE = Path("examples/genoml2-discrete")
RESULT = Path("benchmarks/results/sampler.json")
SETTINGS = ("random", "tpe_liar", "tpe_multivariate", "tpe_multivariate_group", "tpe_multivariate_group_noliar")
# Families whose 5-fold CV on 500 x 500 takes seconds, not minutes, so that the benchmark stays ~10 minutes.
FAST_FAMILIES = ("logistic", "sgd", "lda", "qda", "knn", "svm", "xgboost", "lightgbm")


def load_example() -> tuple[np.ndarray, np.ndarray]:
    """Genotypes as float (NaN = missing) and the 0/1 phenotype aligned by sample ID."""
    data = read_plink(EXAMPLE / "training")
    pheno = pd.read_csv(EXAMPLE / "training_pheno.csv", dtype={"ID": str}).set_index("ID")["PHENO"]
    ids = data.samples["iid"].astype(str)
    keep = ids.isin(pheno.index).to_numpy()
    X = data.genotypes[keep].astype(np.float32)
    X[data.genotypes[keep] == MISSING] = np.nan
    y = pheno.loc[ids[keep]].to_numpy().astype(int)
    return X, y


def sampler_for(setting: str, seed: int) -> optuna.samplers.BaseSampler:
    if setting == "tpe_multivariate":  # Optuna 5 defaults: multivariate, constant liar, no groups
        return optuna.samplers.TPESampler(seed=seed)
    return make_sampler(setting, seed)


def run(setting: str, seed: int, X: np.ndarray, y: np.ndarray, trials: int, parallel: int,
        family_names: tuple[str, ...]) -> dict:
    families = [get_family(n) for n in family_names]
    study = optuna.create_study(direction="maximize", sampler=sampler_for(setting, seed))
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    pending: deque = deque()
    values, chosen, seconds = [], [], []
    asked = 0
    while len(values) < trials:
        while len(pending) < parallel and asked < trials:
            trial = study.ask()
            pending.append((trial, *suggest_pipeline(trial, families, "binary")))
            asked += 1
        trial, family, params = pending.popleft()
        steps = [SimpleImputer(strategy="mean")]
        if family.needs_scaling:
            steps.append(StandardScaler())
        model = make_pipeline(*steps, family.build(params, "binary", random_state=seed, n_jobs=1))
        start = time.perf_counter()
        try:
            value = float(np.mean(cross_val_score(model, X, y, cv=cv, scoring="roc_auc")))
            study.tell(trial, value)
        except Exception:  # noqa: BLE001 - a failed trial counts as chance level here
            value = 0.5
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        seconds.append(time.perf_counter() - start)
        values.append(value)
        chosen.append(family.name)
    best = np.maximum.accumulate(values)
    return {"setting": setting, "seed": seed, "values": values, "families": chosen,
            "best": float(best[-1]), "mean_best_so_far": float(best.mean()),
            "best_at_20": float(best[min(19, trials - 1)]), "seconds": float(np.sum(seconds))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--families", default=",".join(FAST_FAMILIES), help="comma-separated, or 'all' (much slower)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    threadpool_limits(1)  # one core: OpenMP/BLAS pools spin badly on a shared machine
    X, y = load_example()
    names = tuple(f.name for f in families_for("binary")) if args.families == "all" else tuple(args.families.split(","))
    runs = []
    start = time.perf_counter()
    for seed in range(args.seeds):
        for setting in args.settings.split(","):
            runs.append(run(setting, seed, X, y, args.trials, args.parallel, names))
            r = runs[-1]
            print(f"{setting:32s} seed {seed}: best {r['best']:.4f} mean-best-so-far {r['mean_best_so_far']:.4f} "
                  f"({r['seconds']:.0f} s)", flush=True)
    summary = {}
    for setting in args.settings.split(","):
        rs = [r for r in runs if r["setting"] == setting]
        summary[setting] = {key: {"mean": float(np.mean([r[key] for r in rs])), "sd": float(np.std([r[key] for r in rs]))}
                            for key in ("best", "best_at_20", "mean_best_so_far", "seconds")}
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": {"optuna": optuna.__version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__},
        "data": f"{EXAMPLE}/training: {X.shape[0]} samples x {X.shape[1]} SNPs, {int(y.sum())} cases",
        "trials": args.trials, "seeds": args.seeds, "parallel": args.parallel, "families": list(names),
        "wall_seconds": time.perf_counter() - start, "summary": summary, "runs": runs,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=1))
    print(f"\n{args.trials} trials x {args.seeds} seeds, {args.parallel} trials in flight, {len(names)} families\n")
    print("| setting | best CV AUC | best after 20 | mean best-so-far | trial seconds per run |")
    print("|---|---|---|---|---|")
    for setting, s in summary.items():
        print(f"| {setting} | {s['best']['mean']:.4f} ± {s['best']['sd']:.4f} | {s['best_at_20']['mean']:.4f} | "
              f"{s['mean_best_so_far']['mean']:.4f} ± {s['mean_best_so_far']['sd']:.4f} | {s['seconds']['mean']:.0f} |")


if __name__ == "__main__":
    main()
