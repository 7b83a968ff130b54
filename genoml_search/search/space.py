"""The cross-family search space: a categorical ``family`` choice, then that family's conditional subspace.

Optuna parameter names: ``"family"`` for the choice, ``"<family>__<param>"`` for the chosen family's
parameters, so every trial of a study reads back unambiguously with :func:`family_and_params`.

Example::

    families = apply_family_config(toml_table, "binary", "studies/x.toml")
    study = optuna.create_study(direction="maximize", sampler=default_sampler(seed=0))
    trial = study.ask()
    family, params = suggest_pipeline(trial, families, "binary")
    model = family.build(params, "binary", random_state=0)
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import optuna

from genoml_search.errors import UserError
from genoml_search.search.registry import SEPARATOR, ModelFamily

FAMILY_PARAM = "family"
"""Optuna name of the categorical family choice."""


def suggest_pipeline(
    trial: optuna.trial.BaseTrial, families: Sequence[ModelFamily], task: str
) -> tuple[ModelFamily, dict[str, Any]]:
    """Sample a family (categorical ``"family"``) and then its parameters on ``trial``.

    The family choices are the names of ``families`` in their order; keep that order fixed for a study
    (Optuna refuses a categorical whose choices change between trials).
    """
    if not families:
        raise UserError(f"no model family to search for task {task}")
    by_name = {f.name: f for f in families}
    name = trial.suggest_categorical(FAMILY_PARAM, list(by_name))
    family = by_name[name]
    return family, family.suggest(trial, task)


def family_and_params(
    trial_params: Mapping[str, Any], families: Sequence[ModelFamily]
) -> tuple[ModelFamily, dict[str, Any]]:
    """The family and its unprefixed parameters from a finished trial's ``params`` (e.g. for the final refit)."""
    by_name = {f.name: f for f in families}
    name = trial_params[FAMILY_PARAM]
    if name not in by_name:
        raise UserError(f"trial used model family {name!r}, which is not among {', '.join(by_name)}")
    prefix = name + SEPARATOR
    return by_name[name], {k[len(prefix):]: v for k, v in trial_params.items() if k.startswith(prefix)}


# The setting below was chosen by measurement: see benchmarks/sampler.py and docs/families.md.
DEFAULT_SAMPLER = "tpe_multivariate_group"
STARTUP_TRIALS = 10


def make_sampler(setting: str, seed: int | None = None) -> optuna.samplers.BaseSampler:
    """A sampler by setting name: ``random``, ``tpe`` (Optuna defaults, independent),
    ``tpe_multivariate_group`` (joint model per conditional group), or ``tpe_multivariate_group_noliar``."""
    if setting == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if setting == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=False, constant_liar=False)
    if setting == "tpe_liar":
        return optuna.samplers.TPESampler(seed=seed, multivariate=False, constant_liar=True)
    if setting in ("tpe_multivariate_group", "tpe_multivariate_group_noliar"):
        with warnings.catch_warnings():  # `group` is marked experimental since Optuna 2.8
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=seed, multivariate=True, group=True, n_startup_trials=STARTUP_TRIALS,
                constant_liar=setting == "tpe_multivariate_group",
            )
    raise ValueError(f"unknown sampler setting {setting!r}")


def default_sampler(seed: int | None = None) -> optuna.samplers.BaseSampler:
    """The sampler genoml-search uses unless told otherwise (chosen by ``benchmarks/sampler.py``)."""
    return make_sampler(DEFAULT_SAMPLER, seed)
