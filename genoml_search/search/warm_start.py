"""Starting points queued as the first trials of a new study.

Polygenic traits want an almost pure L2 penalty over all SNPs (ridge / GBLUP-like): a corner of the
penalized-linear spaces (``l1_ratio`` = 0, no SNP filter) that TPE's random start-up reaches rarely within a
short budget (benchmarks/results/simulated.json: regression, h2 0.5, 1,000 causal SNPs). Queuing it costs a
trial or two per family and lets the sampler learn from it.

The penalty strength is derived from the data, not fixed: with standardized SNPs and a trait of variance 1, the
best linear unbiased predictor is ridge regression with penalty lambda = M (1 - h2) / h2 on the sum of squared
errors (M SNPs each explaining h2 / M; Daetwyler et al. 2008, GBLUP). One point per heritability in
:data:`RIDGE_H2`. On simulated cohorts of 2,000 samples and ~5,900 SNPs after munging, RidgeCV picked alpha
5,600 (h2 0.5) and 56,000 (h2 0.1) where this gives 5,900 and 53,000; the in-pipeline 5-fold CV optimum of
logistic regression was C ~3e-4 at h2 0.5, i.e. 1 / C ~ lambda / 2 (:data:`LOGISTIC_PER_RIDGE`).

On datasets of feature tables alone (``munge --table``, no genotypes) the tree families' library defaults
(:meth:`~genoml_search.search.registry.ModelFamily.library_defaults`) are queued first: on a 10-column
regression table (benchmarks/tabular.py, friedman1_5k) a 60 s search that had to find a good forest or
boosting configuration by sampling ended 0.18 R2 behind FLAML, which starts from such defaults.
"""
from __future__ import annotations

from typing import Any

import optuna

from genoml_search.data.dataset import NO_PRUNING
from genoml_search.search.final_choice import REFERENCE_ATTR
from genoml_search.search.registry import CategoricalParam, ModelFamily, Param

RIDGE_H2: tuple[float, ...] = (0.5, 0.25, 0.1)
"""Heritabilities whose ridge penalty the starting points take: penalties 3x apart. With only 0.5 and 0.1
(9x apart), replicate cohorts of a polygenic trait at h2 0.3 (2,000 samples, 1,000 causal SNPs) ended their
90 s search at half the validation R2 of ridge with the true h2: neither point was close and the sampler did
not find the pure-L2 corner between them (benchmarks/simulated.py --extra-seeds)."""
REPLACED_BY_RIDGE_H2 = frozenset({"elastic_net"})
"""Families whose ridge-like points are not queued when ``ridge_h2`` is searched too: ``ridge_h2`` chooses
the penalty inside each fold, while three queued penalties compete on one noisy CV score each and the luckiest
wins the model selection. In the three polygenic simulated cells at 2,000 samples the best queued elastic net
beat ``ridge_h2`` in CV by 0.001-0.010 R2 each time; in the h2 0.3 cell it then scored 0.078 on validation,
where ``ridge_h2`` refitted on the same cohort scores 0.088 (docs/families.md)."""
REPLACED_BY_RIDGE_PATH = frozenset({"ridge_h2", "elastic_net", "logistic"})
"""Families whose ridge-like points are not queued when ``ridge_path`` is searched: it fits the same model over
all SNPs from the int8 genotypes through the Gram matrix, with the penalty chosen along a path inside the trial,
where their points each fit one penalty on a float copy (a queued logistic ridge point on 3,000 x 60,000 SNPs
ran 271 s of a 300 s budget; benchmarks/results/genomewide.json)."""
PATH_START_MASK = NO_PRUNING
"""The path families' starting points use every QC'd SNP (``ld_r2`` ``none``), the other families' the
dataset's default LD mask: a penalized path handles LD itself and its cost barely depends on near-duplicate
SNPs. In the five genome-wide cohorts of benchmarks/results/genomewide.json (3,000-10,000 samples, 60,000
SNPs) the search's lasso started at the 0.9 mask ended 0.003-0.007 below the same lasso on all QC'd SNPs on
validation in each of the three sparse cohorts (a causal SNP pruned for a near-duplicate tags it imperfectly).
The sampler still searches ``ld_r2`` after these first trials."""
LOGISTIC_PER_RIDGE = 0.5
"""1 / C of logistic regression per unit of the ridge penalty lambda (measured, see the module docstring)."""


def ridge_penalty(n_snps: int, h2: float) -> float:
    """The ridge (GBLUP) penalty M (1 - h2) / h2 on the sum of squared errors, for standardized SNPs."""
    return n_snps * (1.0 - h2) / h2


def _two_digits(value: float) -> float:
    return float(f"{value:.2g}")


def starting_points(family: str, n_snps: int, n_train: int) -> list[dict[str, Any]]:
    """The ridge-like points of a family (unprefixed parameters), one per :data:`RIDGE_H2`; one point for
    ``ridge_h2`` and ``ridge_path`` (no parameter: all SNPs) and for ``lasso_path`` (the lasso, ``l1_ratio``
    1); [] for others.

    ``n_train``: samples a trial fits on (a CV fold's training part); the elastic net's ``alpha`` is on the
    mean-loss scale (lambda / n), logistic regression's ``C`` multiplies the summed loss (1 / C ~ lambda / 2).
    """
    if family == "ridge_h2":  # chooses its own penalty: one trial on all SNPs
        return [{}]
    if family == "lasso_path":  # the lasso path; its first point (lambda_max) is the covariates-only model
        return [{"l1_ratio": 1.0}]
    if family == "ridge_path":  # no parameter: the ridge path over all SNPs
        return [{}]
    points = []
    for h2 in RIDGE_H2:
        penalty = ridge_penalty(max(n_snps, 1), h2)
        if family == "elastic_net":
            points.append({"alpha": _two_digits(penalty / max(n_train, 1)), "l1_ratio": 0.0})
        elif family == "logistic":
            points.append({"C": _two_digits(1.0 / (LOGISTIC_PER_RIDGE * penalty)), "l1_ratio": 0.0})
    return points


def _inside(param: Any, value: Any) -> bool:
    if isinstance(param, CategoricalParam):
        return value in param.choices
    return param.low <= value <= param.high


def _nearest(param: Param, value: Any) -> Any:
    """``value`` moved into ``param``'s range (None, an unlimited depth, to its high end); None for a
    categorical value that is not a choice."""
    if isinstance(param, CategoricalParam):
        return value if value in param.choices else None
    if value is None:
        return param.high
    return min(max(value, param.low), param.high)


def default_points(families: list[ModelFamily], task: str) -> list[tuple[ModelFamily, dict[str, Any]]]:
    """Each family's library defaults (unprefixed parameters), moved into its searched ranges; families
    without defaults (or with a default that is no choice of a categorical) are left out."""
    points = []
    for family in families:
        defaults = family.library_defaults(task)
        if not defaults:
            continue
        params = {p.name: p for p in family.params(task)}
        point = {name: _nearest(params[name], value) for name, value in defaults.items() if name in params}
        if all(value is not None for value in point.values()):
            points.append((family, point))
    return points


def enqueue_starting_points(study: optuna.Study, families: list[ModelFamily], task: str, snp_filter: bool,
                            n_snps: int, n_train: int, extra: dict[str, Any] | None = None,
                            tables_only: bool = False, path_extra: dict[str, Any] | None = None) -> int:
    """Queue the starting points of the searched families in a study with no trials yet; return how many
    (none of the elastic net's when ``ridge_h2`` is searched too, see :data:`REPLACED_BY_RIDGE_H2`).

    ``n_snps`` and ``n_train`` (samples per CV training part) set the penalty strength. A point is skipped
    when its value lies outside the family's range (e.g. a study file narrowed it). ``extra`` adds
    study-level parameters to every point (the default LD mask ``ld_r2`` when the study searches it);
    ``path_extra``, when given, replaces it for the path families' points (their mask: every QC'd SNP, see
    :data:`PATH_START_MASK`). ``tables_only`` (a dataset of feature tables without genotypes): first the library defaults of the
    families that have them (:func:`default_points`), in the order of ``families``.
    """
    if study.trials:
        return 0
    names = {family.name for family in families}
    queued = 0
    for family, point in default_points(families, task) if tables_only else []:
        _enqueue(study, family, point, extra, snp_filter, {"library_defaults": True})
        queued += 1
    # path families first: one trial covers a whole penalty path, including the covariates-only model
    for family in sorted(families, key=lambda f: not f.fits_path):
        if family.name in REPLACED_BY_RIDGE_H2 and "ridge_h2" in names:
            continue
        if family.name in REPLACED_BY_RIDGE_PATH and "ridge_path" in names:
            continue
        params = {p.name: p for p in family.params(task)}
        for point in starting_points(family.name, n_snps, n_train):
            if any(name not in params or not _inside(params[name], value) for name, value in point.items()):
                continue
            _enqueue(study, family, point, path_extra if family.fits_path and path_extra is not None else extra,
                     snp_filter, {REFERENCE_ATTR: True} if family.fits_path else None)
            queued += 1
    return queued


def _enqueue(study: optuna.Study, family: ModelFamily, point: dict[str, Any], extra: dict[str, Any] | None,
             snp_filter: bool, attrs: dict[str, Any] | None = None) -> None:
    """Queue one starting point (unprefixed parameters of ``family``) with the study-level ``extra`` values;
    with the SNP filter searched, the point keeps every SNP (path families have no filter)."""
    values: dict[str, Any] = {"family": family.name, **{f"{family.name}__{k}": v for k, v in point.items()},
                              **(extra or {})}
    if snp_filter and not family.fits_path:
        values["snp_p_threshold"] = 1.0
    study.enqueue_trial(values, user_attrs={"starting_point": True, **(attrs or {})}, skip_if_exists=True)
