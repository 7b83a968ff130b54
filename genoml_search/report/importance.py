"""Which SNPs and covariates the final model relies on: permutation importance on the validation samples.

Permuting every column of a 100,000-SNP matrix is too slow, and unnecessary: columns the pipeline's
association filter dropped cannot matter (their importance is exactly 0). Candidates are the kept columns,
ranked by the model's own importances (|coefficient| on standardized inputs, or impurity/gain importances)
or, for models without them, by |correlation| with the phenotype on the validation samples; the top
``max_features`` are permuted ``n_repeats`` times each. Importance = score drop of the run's metric
(sign-adjusted so that positive always means "the model needs this feature").
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from genoml_search.core.metrics import get_metric
from genoml_search.core.scoring import predict_scores


def kept_columns(pipeline: Any, n_features: int) -> np.ndarray:
    """Indices of the input columns the fitted pipeline uses (its preprocessor's ``keep_`` mask)."""
    steps = getattr(pipeline, "named_steps", {})
    keep = getattr(steps.get("preprocess"), "keep_", None)
    mask = steps.get("ld_mask")  # an LD mask first: its columns, then the preprocessor's choice among them
    columns = mask.selected(n_features) if mask is not None else np.arange(n_features)
    return columns[np.flatnonzero(keep)] if keep is not None else columns


def model_importances(pipeline: Any, n_kept: int) -> np.ndarray | None:
    """The final estimator's own importance for each kept column, or None when it has none."""
    model = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    values = getattr(model, "feature_importances_", None)
    if values is None and getattr(model, "coef_", None) is not None:
        coef = np.atleast_2d(np.asarray(model.coef_, dtype=float))
        # up-weighted covariates (pipeline.CovariateWeight) have coefficients smaller by their factor
        factors = getattr(getattr(pipeline, "named_steps", {}).get("covariates"), "factors_", None)
        if factors is not None and coef.shape[1] == len(factors):
            coef = coef * factors
        values = np.abs(coef).sum(axis=0)
    if values is None:
        return None
    values = np.asarray(values, dtype=float).ravel()
    return values if len(values) == n_kept else None


def _abs_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (yc @ xc) / (np.sqrt((xc * xc).sum(axis=0)) * np.sqrt(yc @ yc))
    return np.nan_to_num(np.abs(r))


def permutation_importance(pipeline: Any, x: np.ndarray, y: np.ndarray, task: str, metric_name: str,
                           feature_names: list[str], max_features: int = 50, n_repeats: int = 5,
                           seed: int = 0) -> pd.DataFrame:
    """Permutation importance of the top candidate columns; ``x`` is permuted in place and restored."""
    metric = get_metric(metric_name, task)
    sign = 1.0 if metric.greater_is_better else -1.0
    kept = kept_columns(pipeline, x.shape[1])
    own = model_importances(pipeline, len(kept))
    if own is not None:
        ranking, ranked_by = own, "model importance"
    else:
        ranking, ranked_by = _abs_correlation(x[:, kept].astype(float), y.astype(float)), "|correlation|"
    order = np.argsort(-ranking, kind="stable")[:max_features]
    candidates = kept[order]
    baseline = metric.compute(y, predict_scores(pipeline, x, task))
    rng = np.random.default_rng(seed)
    rows = []
    for column, rank_value in zip(candidates, ranking[order]):
        original = x[:, column].copy()
        drops = []
        try:
            for _ in range(n_repeats):
                x[:, column] = original[rng.permutation(len(original))]
                drops.append(sign * (baseline - metric.compute(y, predict_scores(pipeline, x, task))))
        finally:
            x[:, column] = original
        rows.append({"feature": feature_names[column], "column": int(column),
                     "importance_mean": float(np.mean(drops)), "importance_std": float(np.std(drops)),
                     "model_importance" if own is not None else "abs_correlation": float(rank_value)})
    frame = pd.DataFrame(rows)
    frame.attrs.update({"baseline": baseline, "metric": metric_name, "ranked_by": ranked_by,
                        "n_kept": int(len(kept)), "n_permuted": int(len(candidates)), "n_repeats": n_repeats})
    if len(frame):
        frame = frame.sort_values("importance_mean", ascending=False, kind="stable").reset_index(drop=True)
    return frame


def annotate_features(importance: pd.DataFrame, variants: pd.DataFrame, n_snps: int) -> pd.DataFrame:
    """Add SNP ID, chromosome, position and counted allele (covariates get kind "covariate")."""
    out = importance.copy()
    snp = out["column"] < n_snps
    table = variants.reset_index(drop=True)
    index = out.loc[snp, "column"].to_numpy()
    out["kind"] = np.where(snp, "SNP", "covariate")
    for source, target in (("chrom", "chrom"), ("pos", "pos"), ("counted_allele", "counted_allele"),
                           ("other_allele", "other_allele"), ("freq", "counted_allele_freq")):
        if source in table.columns:
            values = pd.Series(pd.NA, index=out.index, dtype="object")
            values.loc[snp] = table[source].to_numpy()[index]
            out[target] = values
    first = ["feature", "kind", "chrom", "pos", "counted_allele", "other_allele", "counted_allele_freq"]
    return out[[c for c in first if c in out.columns] + [c for c in out.columns if c not in first]]
