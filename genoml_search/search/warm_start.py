"""Starting points queued as the first trials of a new study.

Polygenic traits want an almost pure L2 penalty over all SNPs (ridge / GBLUP-like): a corner of the
penalized-linear spaces (``l1_ratio`` = 0, no SNP filter) that TPE's random start-up reaches rarely within a
short budget (benchmarks/results/simulated.json: regression, h2 0.5, 1,000 causal SNPs). Queuing it once per
family costs a trial or two and lets the sampler learn from it.
"""
from __future__ import annotations

from typing import Any

import optuna

from genoml_search.search.registry import CategoricalParam, ModelFamily

STARTING_POINTS: dict[str, dict[str, Any]] = {
    "logistic": {"C": 0.02, "l1_ratio": 0.0},
    "elastic_net": {"alpha": 3.0, "l1_ratio": 0.0},
}


def _inside(param: Any, value: Any) -> bool:
    if isinstance(param, CategoricalParam):
        return value in param.choices
    return param.low <= value <= param.high


def enqueue_starting_points(study: optuna.Study, families: list[ModelFamily], task: str, snp_filter: bool) -> int:
    """Queue the starting points of the searched families in a study with no trials yet; return how many.

    A point is skipped when a study file narrowed a range so that it no longer contains the point's value.
    """
    if study.trials:
        return 0
    queued = 0
    for family in families:
        point = STARTING_POINTS.get(family.name)
        if point is None:
            continue
        params = {p.name: p for p in family.params(task)}
        if any(name not in params or not _inside(params[name], value) for name, value in point.items()):
            continue
        values: dict[str, Any] = {"family": family.name, **{f"{family.name}__{k}": v for k, v in point.items()}}
        if snp_filter:
            values["snp_p_threshold"] = 1.0
        study.enqueue_trial(values, user_attrs={"starting_point": True}, skip_if_exists=True)
        queued += 1
    return queued
