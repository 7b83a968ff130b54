"""Model files: every family's pipeline round-trips, untrusted types are refused, versions are explained."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from genoml_search import model_io
from genoml_search.data.dataset import Dataset, write_dataset
from genoml_search.errors import UserError
from genoml_search.model_io import load_model, save_model, trust_types
from genoml_search.search.pipeline import build_pipeline
from genoml_search.search.registry import TASKS, families_for

import genoml_search.search.families.boosting  # noqa: F401  (register the shipped families)
import genoml_search.search.families.linear  # noqa: F401
import genoml_search.search.families.trees  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


def _training(tmp_path: Path) -> Dataset:
    genotypes = np.zeros((4, 3), dtype=np.int8)
    samples = pd.DataFrame({"ID": list("abcd"), "phenotype": [0.0, 1.0, 0.0, 1.0]})
    variants = pd.DataFrame({"id": ["r1", "r2", "r3"], "chrom": "1", "pos": [1, 2, 3], "counted_allele": "A",
                             "other_allele": "G", "freq": 0.1})
    write_dataset(tmp_path / "ds", genotypes, samples, variants, {"phenotype": {"task": "binary"}})
    return Dataset.open(tmp_path / "ds")


def _xy(task: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, (80, 8)).astype(np.float32)
    x[0, 0] = np.nan
    y = {"binary": (x[:, 1] > 1).astype(float), "multiclass": np.nan_to_num(x[:, 1]).astype(float),
         "regression": x[:, 1] + rng.normal(size=80)}[task]
    return x, y


def _cheap_params(family, task):
    """The family's parameters sampled by Optuna, with sizes capped so the test stays fast."""
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    params = family.suggest(trial, task)
    for key in ("n_estimators", "iterations", "max_iter"):
        if key in params:
            params[key] = min(params[key], 10)
    return params


@pytest.mark.parametrize("task", TASKS)
def test_every_registered_family_round_trips(task, tmp_path):
    """Contract: each family's fitted pipeline (with a covariate column) loads through the allow-list and
    predicts the same."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    training = _training(tmp_path)
    x, y = _xy(task)
    for family in families_for(task):
        pipe = build_pipeline(family, _cheap_params(family, task), task, 7, 1.0, n_covariates=1)
        pipe.fit(x, y)
        target = tmp_path / f"model-{family.name}"
        save_model(target, pipe, {"task": task, "family": family.name}, training)
        loaded, info = load_model(target)
        predict = "predict" if task == "regression" else "predict_proba"
        np.testing.assert_array_equal(getattr(loaded, predict)(x), getattr(pipe, predict)(x), err_msg=family.name)
        assert info["family"] == family.name and info["warnings"] == []


def test_untrusted_type_is_refused(tmp_path):
    """builtins.eval would have passed a "builtins." prefix rule; the exact allow-list refuses it."""
    from sklearn.preprocessing import FunctionTransformer

    evil = FunctionTransformer(func=eval)
    save_model(tmp_path / "m", evil, {"task": "binary"}, _training(tmp_path))
    with pytest.raises(UserError, match="not on the allow-list.*builtins.eval"):
        load_model(tmp_path / "m")


def test_trust_types_takes_exact_names_only():
    with pytest.raises(ValueError):
        trust_types("builtins.")
    with pytest.raises(ValueError):
        trust_types("mypkg.*")
    trust_types("mypkg.models.MyEstimator")
    assert "mypkg.models.MyEstimator" in model_io.TRUSTED_TYPES
    model_io.TRUSTED_TYPES.discard("mypkg.models.MyEstimator")


def test_format_and_version_mismatch_are_explained(tmp_path):
    x, y = _xy("binary")
    from sklearn.linear_model import LogisticRegression

    save_model(tmp_path / "m", LogisticRegression().fit(x[1:], y[1:]), {"task": "binary"}, _training(tmp_path))
    info_path = tmp_path / "m" / "model.json"
    info = json.loads(info_path.read_text())
    assert info["libraries"]["scikit-learn"]
    info["libraries"]["scikit-learn"] = "0.0.1"
    info["tool_version"] = "0.0.0"
    info_path.write_text(json.dumps(info))
    _, loaded = load_model(tmp_path / "m")
    assert any("scikit-learn 0.0.1 saved it" in n for n in loaded["warnings"])
    assert any("genoml-search 0.0.0" in n for n in loaded["warnings"])
    info["format"] = 99
    info_path.write_text(json.dumps(info))
    with pytest.raises(UserError, match="model format 99 .* is not format 1"):
        load_model(tmp_path / "m")
    info_path.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_model(tmp_path / "m")
    with pytest.raises(UserError, match="no model.json"):
        load_model(tmp_path)


def test_loads_and_predicts_in_a_fresh_process(tmp_path):
    x, y = _xy("binary")
    family = families_for("binary")[0]
    pipe = build_pipeline(family, _cheap_params(family, "binary"), "binary", 7, 1.0).fit(x, y)
    save_model(tmp_path / "m", pipe, {"task": "binary"}, _training(tmp_path))
    np.save(tmp_path / "x.npy", x)
    code = ("import sys, numpy as np; from genoml_search.model_io import load_model; "
            "m, _ = load_model(sys.argv[1]); np.save(sys.argv[2], m.predict_proba(np.load(sys.argv[3])))")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "m"), str(tmp_path / "p.npy"), str(tmp_path / "x.npy")],
                   check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), pipe.predict_proba(x))
