"""The model-family registry: which families exist, their Optuna search spaces, how to build estimators.

A family declares its parameters as data (:class:`FloatParam`, :class:`IntParam`, :class:`CategoricalParam`),
so that ranges can be listed (``genoml-search families``), overridden from a study TOML and sampled by Optuna
with conditional subspaces. ``build`` turns sampled parameters into a scikit-learn compatible estimator.

Example::

    family = get_family("random_forest")
    params = family.suggest(trial, "binary")       # Optuna names: "random_forest__n_estimators", ...
    model = family.build(params, "binary", random_state=0)
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import optuna

from genoml_search.errors import UserError

TASKS: tuple[str, ...] = ("binary", "regression", "multiclass")
CLASSIFICATION: frozenset[str] = frozenset({"binary", "multiclass"})


@dataclass(frozen=True)
class FloatParam:
    """A float sampled uniformly (or log-uniformly) in [low, high]."""

    name: str
    low: float
    high: float
    log: bool = False
    when: tuple[str, tuple[Any, ...]] | None = None  # (other parameter, values) that activate this one

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": "float", "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class IntParam:
    """An integer sampled uniformly (or log-uniformly) in [low, high]."""

    name: str
    low: int
    high: int
    log: bool = False
    when: tuple[str, tuple[Any, ...]] | None = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": "int", "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class CategoricalParam:
    """One of a fixed list of choices."""

    name: str
    choices: tuple[Any, ...]
    when: tuple[str, tuple[Any, ...]] | None = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": "categorical", "choices": list(self.choices)}


Param = FloatParam | IntParam | CategoricalParam


class ModelFamily(ABC):
    """A kind of model: its tasks, its search space and how to build it.

    Subclasses set the class attributes and implement :meth:`space` and :meth:`build`.
    """

    name: ClassVar[str]
    tasks: ClassVar[frozenset[str]]
    needs_scaling: ClassVar[bool] = False
    handles_missing: ClassVar[bool] = False

    def __init__(self, overrides: dict[str, Param] | None = None) -> None:
        self.overrides = dict(overrides or {})

    @abstractmethod
    def space(self, task: str) -> list[Param]:
        """The parameters searched for ``task`` (before user overrides)."""

    @abstractmethod
    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        """A fresh, unfitted estimator for ``task`` from sampled ``params`` (unprefixed names)."""

    def params(self, task: str) -> list[Param]:
        """The parameters searched for ``task``, with user overrides applied."""
        return [self.overrides.get(p.name, p) for p in self.space(task)]

    def suggest(self, trial: optuna.trial.BaseTrial, task: str) -> dict[str, Any]:
        """Sample this family's parameters on ``trial`` under the names ``"<family>__<param>"``."""
        values: dict[str, Any] = {}
        for param in self.params(task):
            if param.when is not None and values.get(param.when[0]) not in param.when[1]:
                continue
            key = f"{self.name}__{param.name}"
            if isinstance(param, FloatParam):
                values[param.name] = trial.suggest_float(key, param.low, param.high, log=param.log)
            elif isinstance(param, IntParam):
                values[param.name] = trial.suggest_int(key, param.low, param.high, log=param.log)
            else:
                values[param.name] = trial.suggest_categorical(key, list(param.choices))
        return values

    def with_overrides(self, overrides: dict[str, Param]) -> ModelFamily:
        """A copy of this family with some parameter ranges replaced."""
        return type(self)({**self.overrides, **overrides})


_REGISTRY: dict[str, type[ModelFamily]] = {}


def register(family: type[ModelFamily]) -> type[ModelFamily]:
    """Class decorator adding a family to the registry (a user family may replace a built-in one)."""
    _REGISTRY[family.name] = family
    return family


def _load_builtins() -> None:
    from genoml_search.search.families import boosting, linear, trees  # noqa: F401  (registers on import)


def family_names() -> list[str]:
    """Names of every registered family."""
    _load_builtins()
    return sorted(_REGISTRY)


def get_family(name: str) -> ModelFamily:
    """A family by name; an unknown name is a :class:`UserError` listing the known names."""
    _load_builtins()
    if name not in _REGISTRY:
        raise UserError(f"unknown model family {name!r}; known families: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]()


def families_for(task: str) -> list[ModelFamily]:
    """Every registered family that supports ``task``."""
    if task not in TASKS:
        raise UserError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return [get_family(name) for name in family_names() if task in _REGISTRY[name].tasks]


def param_names(family: ModelFamily, task: str) -> set[str]:
    """Names of the parameters a family searches for a task."""
    return {p.name for p in family.space(task)}


def replace_range(param: Param, **changes: Any) -> Param:
    """A copy of ``param`` with new bounds or choices."""
    return replace(param, **changes)
