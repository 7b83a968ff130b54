"""Everything a run adds to its validation metrics beyond the score itself (one call from `run`)."""
from __future__ import annotations

from typing import Any

import numpy as np

from genoml_search.evaluation.baseline import compare_with_covariates
from genoml_search.evaluation.binary import binary_summary, case_control_counts
from genoml_search.evaluation.context import RefitContext
from genoml_search.evaluation.labelled import interval_records
from genoml_search.tasks import Task


def validation_extras(context: RefitContext, scores: np.ndarray, cv_value: float | None) -> dict[str, Any]:
    """``baseline_covariates``, ``snp_increment`` and, for binary traits, case/control counts, statistics at
    the threshold, odds ratio per SD and risk by decile of the validation samples."""
    extras = compare_with_covariates(context, scores, cv_value)
    if len(context.y_val):
        extras["intervals"] = interval_records(context.task, context.y_val, scores, seed=context.seed)
    if context.task == Task.BINARY and len(context.y_val):
        extras.update(binary_summary(context.y_val, scores))
    return extras


def training_counts(context: RefitContext) -> dict[str, Any]:
    """Case/control counts of the search samples (binary traits), for ``metrics.json``'s ``cv`` part."""
    return case_control_counts(context.y_search) if context.task == Task.BINARY else {}


def summary_lines(metrics: dict[str, Any]) -> list[str]:
    """Plain lines for the end of `run`: case/control counts (binary) and the score with and without SNPs."""
    lines = []
    cv, validation = metrics.get("cv", {}), metrics.get("validation", {})
    if "n_cases" in cv:
        lines.append(f"cases/controls: training {cv['n_cases']}/{cv['n_controls']}"
                     + (f", validation {validation['n_cases']}/{validation['n_controls']}"
                        if "n_cases" in validation else ""))
    increment, baseline = validation.get("snp_increment"), validation.get("baseline_covariates") or {}
    if increment and increment.get("with_snps") is not None:
        lines.append(f"validation {increment['metric']}: with genotypes {increment['with_snps']:.4f}, "
                     f"covariates only {increment['covariates_only']:.4f} ({baseline.get('model')}); the SNPs add "
                     f"{increment['difference']:+.4f} (95% CI {increment['low']:+.4f} to {increment['high']:+.4f}, "
                     f"{increment['method']})")
    return lines


def labelled_lines(metrics: dict[str, Any], path: Any) -> list[str]:
    """Plain lines for `predict --pheno`: each metric with its 95% interval, case/control counts."""
    lines = [f"scored {metrics['n_samples']} labelled samples -> {path}"]
    if "n_cases" in metrics:
        lines.append(f"cases/controls: {metrics['n_cases']}/{metrics['n_controls']}")
    for name, interval in metrics.get("intervals", {}).items():
        lines.append(f"  {name}: {interval['value']:.4f} (95% CI {interval['low']:.4f}-{interval['high']:.4f}, "
                     f"{interval['method']})")
    return lines
