"""Summaries a clinician expects for a binary trait: case/control counts, sensitivity, specificity, PPV and
NPV at the documented threshold, the odds ratio per standard deviation of the risk score, risk by decile.

The risk score is the model's log-odds (logit of the predicted probability), standardized on the scored
samples; the odds ratio per SD comes from a one-covariate logistic regression with a Wald 95% interval.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

THRESHOLD = 0.5  # the documented classification threshold (balanced accuracy, confusion matrix)


def case_control_counts(y: np.ndarray) -> dict[str, int]:
    """Number of cases (1) and controls (0), ignoring missing values."""
    y = np.asarray(y, dtype=float)
    return {"n_cases": int((y == 1).sum()), "n_controls": int((y == 0).sum())}


def _ratio(numerator: int, denominator: int) -> float | None:
    return float(numerator / denominator) if denominator else None


def threshold_statistics(y: np.ndarray, probability: np.ndarray, threshold: float = THRESHOLD) -> dict[str, Any]:
    """Confusion counts, sensitivity, specificity, PPV and NPV of ``probability >= threshold``."""
    y = np.asarray(y).astype(int)
    called = np.asarray(probability) >= threshold
    tp, fn = int((called & (y == 1)).sum()), int((~called & (y == 1)).sum())
    fp, tn = int((called & (y == 0)).sum()), int((~called & (y == 0)).sum())
    return {"threshold": threshold, "sensitivity": _ratio(tp, tp + fn), "specificity": _ratio(tn, tn + fp),
            "ppv": _ratio(tp, tp + fp), "npv": _ratio(tn, tn + fn), "tp": tp, "fp": fp, "tn": tn, "fn": fn}


def risk_score(probability: np.ndarray) -> np.ndarray:
    """The model's log-odds, from its probabilities (clipped away from 0 and 1)."""
    p = np.clip(np.asarray(probability, dtype=float), 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def odds_ratio_per_sd(y: np.ndarray, probability: np.ndarray, level: float = 0.95) -> dict[str, Any]:
    """Odds ratio of the trait per SD of the risk score (logistic regression by Newton's method, Wald CI)."""
    score = risk_score(probability)
    sd = score.std()
    if not np.isfinite(sd) or sd == 0 or len(np.unique(y)) < 2:
        return {"value": None, "low": None, "high": None, "method": "undefined (constant score or one class)"}
    design = np.column_stack([np.ones(len(score)), (score - score.mean()) / sd])
    y = np.asarray(y, dtype=float)
    beta = np.zeros(2)
    for _ in range(100):
        p = 1 / (1 + np.exp(-design @ beta))
        information = design.T @ (design * (p * (1 - p))[:, None])
        step = np.linalg.solve(information + 1e-12 * np.eye(2), design.T @ (y - p))
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    p = 1 / (1 + np.exp(-design @ beta))
    information = design.T @ (design * (p * (1 - p))[:, None])
    try:
        se = float(np.sqrt(np.linalg.inv(information)[1, 1]))
    except np.linalg.LinAlgError:  # the fit diverged (e.g. a near-constant score): no finite odds ratio
        return {"value": None, "low": None, "high": None, "method": "undefined (the logistic fit did not converge)"}
    z = stats.norm.ppf(0.5 + level / 2)
    return {"value": float(np.exp(beta[1])), "low": float(np.exp(beta[1] - z * se)),
            "high": float(np.exp(beta[1] + z * se)), "method": "logistic regression on the standardized "
            "log-odds, Wald interval"}


def risk_by_decile(y: np.ndarray, probability: np.ndarray, n_bins: int = 10) -> list[dict[str, Any]]:
    """Observed case fraction and mean predicted probability in each decile of the risk score."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "p": np.asarray(probability, dtype=float)})
    bins = min(n_bins, len(frame))
    if bins < 2:
        return []
    frame["decile"] = pd.qcut(frame["p"].rank(method="first"), bins, labels=False) + 1
    grouped = frame.groupby("decile")
    table = pd.DataFrame({"n": grouped.size(), "n_cases": grouped["y"].sum(), "observed": grouped["y"].mean(),
                          "mean_predicted": grouped["p"].mean()}).reset_index()
    return [{"decile": int(r.decile), "n": int(r.n), "n_cases": int(r.n_cases), "observed": float(r.observed),
             "mean_predicted": float(r.mean_predicted)} for r in table.itertuples()]


def binary_summary(y: np.ndarray, probability: np.ndarray, threshold: float = THRESHOLD) -> dict[str, Any]:
    """Everything above for one set of scored samples, for ``metrics.json``'s validation part."""
    return {**case_control_counts(y), "at_threshold": threshold_statistics(y, probability, threshold),
            "odds_ratio_per_sd": odds_ratio_per_sd(y, probability), "risk_by_decile": risk_by_decile(y, probability)}
