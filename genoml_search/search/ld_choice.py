"""LD pruning as a searched choice: which LD mask's SNP columns a trial uses.

munge stores the QC'd variants with one boolean column per LD-pruning threshold (:mod:`genoml_search.data.dataset`:
``ld_r2_0.9``, ...). A study on such a dataset samples the categorical ``ld_r2`` among ``none`` (every stored
variant) and the stored thresholds, for every family (a trial then sees only the mask's columns: in-fold
filter, features and importances all on them); ``run --ld-r2 R2`` fixes it instead. The mask a trial used is
also recorded as its user attribute ``ld_mask``, so refits (final model, leaderboard, ensemble members) take
the same columns: their pipelines start with :class:`~genoml_search.search.pipeline.SnpColumns` over the
dataset's full column space. A dataset without masks (an explicit ``--indep-pairwise``, ``--skip-prune``, an
earlier version) samples nothing and uses every stored variant, as before.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import optuna

from genoml_search.data.dataset import NO_PRUNING, Dataset
from genoml_search.errors import UserError

LD_PARAM = "ld_r2"
"""Optuna name of the categorical LD-mask choice."""
LD_ATTR = "ld_mask"
"""Trial user attribute naming the mask the trial used (also when it was fixed, not sampled)."""


def check_fixed_mask(dataset: Dataset, fixed: str | None) -> str | None:
    """The ``--ld-r2`` choice as a mask name of the dataset (``none``, or a stored threshold), checked."""
    if fixed is None:
        return None
    name = NO_PRUNING if fixed.strip().lower() == NO_PRUNING else _canonical(fixed)
    choices = dataset.ld_choices() or [NO_PRUNING]
    if name not in choices:
        raise UserError(f"--ld-r2 {fixed}: this dataset stores the LD masks {', '.join(choices)}; choose one of "
                        "them, or re-munge with --ld-masks", dataset.path)
    return name


def _canonical(text: str) -> str:
    try:
        return format(float(text), "g")
    except ValueError:
        raise UserError(f"--ld-r2 {text}: expected an r2 threshold such as 0.9, or none") from None


def suggest_ld_mask(trial: optuna.Trial, choices: Sequence[str], fixed: str | None, default: str | None) -> str | None:
    """The mask of a new trial: ``fixed`` when given, else sampled among ``choices`` (``ld_r2``) when there are
    several, else ``default``; recorded as the trial's ``ld_mask`` user attribute."""
    if fixed is not None:
        name: str | None = fixed
    elif len(choices) > 1:
        name = str(trial.suggest_categorical(LD_PARAM, list(choices)))
    else:
        name = default
    if name is not None:
        trial.set_user_attr(LD_ATTR, name)
    return name


def trial_ld_mask(params: Mapping[str, Any], user_attrs: Mapping[str, Any], default: str | None) -> str | None:
    """The mask a finished trial used: its ``ld_r2`` parameter, its ``ld_mask`` attribute, or ``default``."""
    return params.get(LD_PARAM) or user_attrs.get(LD_ATTR) or default


def trial_snp_columns(trial: Any, masks: Mapping[str, np.ndarray | None], default: str | None) -> np.ndarray | None:
    """The SNP columns (indices into the dataset's variants) of a finished trial's mask; None for all."""
    name = trial_ld_mask(trial.params, trial.user_attrs, default)
    if name is None or name == NO_PRUNING:
        return None
    if name not in masks:
        raise UserError(f"trial {trial.number} used the LD mask {name!r}, which this dataset does not store")
    return masks[name]


def dataset_masks(dataset: Dataset) -> dict[str, np.ndarray | None]:
    """Every LD mask of a dataset by name (``none``: None, all columns)."""
    return {name: dataset.snp_columns(name) for name in dataset.ld_choices()}
