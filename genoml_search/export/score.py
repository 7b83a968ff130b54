"""plink2 ``--score`` export of a linear final model: per-allele SNP weights on the original dosage scale.

The saved pipeline is imputation (training means) -> SNP filter -> standardization -> covariate up-weighting
-> a linear model, so its linear predictor (log-odds for binary traits, the prediction for continuous ones) is

    eta = intercept + sum_j w_j * dosage_j + sum_k c_k * covariate_k

with ``w_j = coef_j * factor_j / sd_j`` and the intercept absorbing every centering (``- w_j * mean_j``).
``score.tsv`` holds ``ID``, ``ALLELE`` (the counted allele, whose 0/1/2 dosage the model sees) and ``WEIGHT``
for every SNP the model uses; ``plink2 --score score.tsv 1 2 3 header cols=+scoresums`` gives the SNP sum.
``score_covariates.tsv`` holds the ``intercept`` and each covariate's weight on its original scale (with the
training mean that stands in for a missing value). The export is checked against the pipeline's own output
before it is written; anything else (trees, kernels, multiclass) gets no score file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genoml_search.fileio import atomic_file
from genoml_search.tasks import Task

SCORE_FILE = "score.tsv"
COVARIATE_SCORE_FILE = "score_covariates.tsv"


@dataclass
class LinearScore:
    """The pipeline as one linear predictor over the original feature columns."""

    weights: np.ndarray  # one per input column (0 for SNPs the filter dropped)
    intercept: float
    fill_values: np.ndarray  # what a missing value of each column becomes (training means)


def _final_linear(model: Any) -> tuple[np.ndarray, float] | None:
    """(coef, intercept) of a single-output linear model, undoing a standardized target; None otherwise."""
    scale, shift = 1.0, 0.0
    if hasattr(model, "regressor_") and hasattr(model, "transformer_"):  # TransformedTargetRegressor
        transformer = model.transformer_
        if not (hasattr(transformer, "scale_") and hasattr(transformer, "mean_")):
            return None
        scale = float(np.ravel(transformer.scale_)[0]) if transformer.scale_ is not None else 1.0
        shift = float(np.ravel(transformer.mean_)[0])
        model = model.regressor_
    coef, intercept = getattr(model, "coef_", None), getattr(model, "intercept_", None)
    if coef is None or intercept is None:
        return None
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim == 2:
        if coef.shape[0] != 1:
            return None  # multiclass: one score per class
        coef = coef[0]
    return coef * scale, float(np.ravel(intercept)[0]) * scale + shift


def linear_score(pipeline: Any) -> LinearScore | None:
    """Compose the pipeline's steps into one linear predictor, or None if it is not linear."""
    steps = dict(getattr(pipeline, "named_steps", {}))  # an ensemble (#21) has no steps: not one linear score
    if "ld_mask" in steps:  # an LD mask first: the rest's score, spread back over the full column space
        return _masked_score(pipeline)
    preprocess, model = steps.get("preprocess"), steps.get("model")
    if set(steps) == {"model"} and hasattr(model, "raw_coef_"):  # path families: raw-scale coefficients
        return _path_score(model)
    if preprocess is None or model is None or set(steps) - {"preprocess", "scale", "covariates", "model"}:
        return None
    if not hasattr(preprocess, "keep_"):  # feature tables (munge --table): one-hot columns, no SNP-only score
        return None
    final = _final_linear(model)
    if final is None:
        return None
    coef, intercept = final
    keep = np.asarray(preprocess.keep_)
    mean, sd = np.zeros(int(keep.sum())), np.ones(int(keep.sum()))
    if "scale" in steps:
        scaler = steps["scale"]
        mean = np.asarray(scaler.mean_, dtype=np.float64) if scaler.mean_ is not None else mean
        sd = np.asarray(scaler.scale_, dtype=np.float64) if scaler.scale_ is not None else sd
    factors = np.asarray(steps["covariates"].factors_, dtype=np.float64) if "covariates" in steps else 1.0
    if len(coef) != keep.sum():
        return None
    kept_weights = coef * factors / sd
    weights = np.zeros(len(keep))
    weights[keep] = kept_weights
    return LinearScore(weights, float(intercept - kept_weights @ mean),
                       np.asarray(preprocess.fill_values_, dtype=np.float64))


def _masked_score(pipeline: Any) -> LinearScore | None:
    from sklearn.pipeline import Pipeline

    mask = pipeline.named_steps["ld_mask"]
    inner = linear_score(Pipeline(pipeline.steps[1:]))
    if inner is None:
        return None
    n_features = int(mask.n_features_in_)
    selected = mask.selected(n_features)
    weights, fill = np.zeros(n_features), np.zeros(n_features)  # SNPs outside the mask: weight 0
    weights[selected], fill[selected] = inner.weights, inner.fill_values
    return LinearScore(weights, inner.intercept, fill)


def _path_score(model: Any) -> LinearScore | None:
    coef = np.asarray(model.raw_coef_, dtype=np.float64)
    if coef.ndim == 2 and coef.shape[1] != 1:
        return None  # multinomial: one score per class
    intercept = float(np.ravel(model.intercept_)[0])
    return LinearScore(coef.reshape(-1), intercept, np.asarray(model.fill_values_, dtype=np.float64).reshape(-1))


def linear_predictor(pipeline: Any, x: np.ndarray, task: str) -> np.ndarray:
    """The pipeline's own linear predictor: log-odds of class 1 (binary) or the prediction (regression)."""
    if task == Task.BINARY:
        if hasattr(pipeline, "decision_function"):
            return np.asarray(pipeline.decision_function(x), dtype=np.float64).ravel()
        p = np.clip(pipeline.predict_proba(x)[:, 1], 1e-15, 1 - 1e-15)
        return np.log(p / (1 - p))
    return np.asarray(pipeline.predict(x), dtype=np.float64)


def apply_score(score: LinearScore, x: np.ndarray) -> np.ndarray:
    """eta for feature rows ``x`` (missing values replaced by the training means, like the pipeline)."""
    filled = np.where(np.isnan(x), score.fill_values, x).astype(np.float64)
    return score.intercept + filled @ score.weights


def check_score(score: LinearScore, pipeline: Any, x: np.ndarray, task: str) -> bool:
    """Whether the composed predictor reproduces the pipeline on rows ``x`` (to 1e-5 of its spread)."""
    ours, theirs = apply_score(score, x), linear_predictor(pipeline, x, task)
    spread = max(float(np.ptp(theirs)), 1e-12)
    return bool(np.allclose(ours, theirs, rtol=0, atol=1e-5 * spread + 1e-8))


def write_score_files(model_dir: Path, pipeline: Any, info: dict[str, Any], variants: pd.DataFrame,
                      check_rows: np.ndarray | None = None) -> list[str]:
    """Write ``score.tsv`` and ``score_covariates.tsv`` for a linear binary/continuous model; [] otherwise."""
    if info.get("task") not in (Task.BINARY, Task.REGRESSION):
        return []
    score = linear_score(pipeline)
    if score is None:
        return []
    n_snps = int(info["n_snps"])
    if len(score.weights) != len(info.get("feature_names", score.weights)):
        return []
    probe = check_rows  # real rows where given; else random dosages and covariates near their means
    if probe is None:
        rng = np.random.default_rng(0)
        probe = np.tile(score.fill_values, (8, 1))
        probe[:, :n_snps] = rng.integers(0, 3, (8, n_snps))
        probe[:, n_snps:] += rng.normal(0, 0.5, (8, len(score.weights) - n_snps))
    if not check_score(score, pipeline, probe, info["task"]):
        return []
    snp_weights = score.weights[:n_snps]
    used = np.flatnonzero(snp_weights != 0)
    table = pd.DataFrame({"ID": variants["id"].to_numpy()[used], "ALLELE": variants["counted_allele"].to_numpy()[used],
                          "WEIGHT": snp_weights[used]})
    names = list(info.get("feature_names", []))[n_snps:]
    covariates = pd.DataFrame({"term": ["intercept", *names],
                               "weight": [score.intercept, *score.weights[n_snps:]],
                               "missing_value": [np.nan, *score.fill_values[n_snps:]]})
    with atomic_file(Path(model_dir) / SCORE_FILE) as handle:
        table.to_csv(handle, sep="\t", index=False, float_format="%.10g")
    with atomic_file(Path(model_dir) / COVARIATE_SCORE_FILE) as handle:
        covariates.to_csv(handle, sep="\t", index=False, float_format="%.10g")
    return [SCORE_FILE, COVARIATE_SCORE_FILE]
