"""Shared fixtures for the execution tests: the bundled example as a Dataset, studies and trial specs."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "genoml2-discrete"
PYTHON = sys.executable


def worker_env() -> dict[str, str]:
    """Environment for subprocesses (CLI, dask scheduler/worker): import this worktree's code."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("COLUMNS", "200")
    return env


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled GenoML2 example munged into a Dataset directory (500 samples x ~485 SNPs)."""
    from genoml_search.data.munge import MungeOptions, munge

    out = tmp_path_factory.mktemp("data") / "ds"
    munge(MungeOptions(out=out, bfile=str(EXAMPLE / "training"), pheno=str(EXAMPLE / "training_pheno.csv"),
                       covar=str(EXAMPLE / "training_addit.csv")))
    return out


def make_study(url: str, name: str = "t", sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study:
    """A maximize study in ``url`` opened like `run` opens it (heartbeats, retry callback)."""
    from genoml_search.search.storage import open_storage

    return optuna.create_study(storage=open_storage(url), study_name=name, direction="maximize",
                               sampler=sampler or optuna.samplers.RandomSampler(seed=0), load_if_exists=True)


def spec_factory(dataset: Path, families: tuple[str, ...] = ("logistic",), n_folds: int = 3, snp_filter: bool = True):
    """A ``make_spec`` for run_trials that samples the real search space of ``families``."""
    from genoml_search.data.dataset import Dataset
    from genoml_search._run import suggest_trial
    from genoml_search.search.objective import CVSpec, TrialSpec
    from genoml_search.search.registry import get_family

    ds = Dataset.open(dataset)
    index = np.arange(len(ds.phenotype))
    fams = [get_family(name) for name in families]

    def make_spec(trial: optuna.Trial, pruning):
        family, params, threshold = suggest_trial(trial, fams, "binary", snp_filter)
        return TrialSpec(trial.number, str(ds.path.resolve()), ds.content_hash, "binary", "roc_auc", family, params,
                         threshold, index, CVSpec(n_folds, 1, 0), pruning=pruning)

    return make_spec


def assert_exact(study: optuna.Study, n_trials: int) -> None:
    """Exactly ``n_trials`` finished trials, distinct numbers, nothing left RUNNING."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == n_trials, [(t.number, t.state.name) for t in trials]
    assert len({t.number for t in trials}) == len(trials)
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
