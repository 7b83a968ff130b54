"""The model-family registry: which families exist, their Optuna search spaces, how to build estimators.

A family declares its parameters as data (:class:`FloatParam`, :class:`IntParam`, :class:`CategoricalParam`),
so that ranges can be listed (``genoml-search families``), overridden from a study TOML and sampled by Optuna
with conditional subspaces. ``build`` turns sampled parameters into a scikit-learn compatible estimator.

Families come from three places, all registered with :func:`register`: the built-in modules in
``genoml_search/search/families/``, installed packages exposing the entry point group
``genoml_search.families`` (loaded on first use of the registry), and a user's Python file loaded with
:func:`genoml_search.search.space_config.load_families_module`.

Example::

    family = get_family("random_forest")
    params = family.suggest(trial, "binary")       # Optuna names: "random_forest__n_estimators", ...
    model = family.build(params, "binary", random_state=0)
"""
from __future__ import annotations

import copy
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from typing import Any, ClassVar, TypeGuard

import optuna

from genoml_search.errors import UserError
# Re-exported: family modules (built-in and plugins) import the task names from the registry.
from genoml_search.tasks import CLASSIFICATION as CLASSIFICATION, TASKS as TASKS, Task as Task
ENTRY_POINT_GROUP = "genoml_search.families"
"""Entry point group through which installed packages add model families."""

SEPARATOR = "__"
"""Separator between family and parameter in Optuna parameter names: ``"<family>__<param>"``."""

Condition = tuple[str, tuple[Any, ...]]  # (other parameter, values of it that activate this one)

FEATURES_PER_SPLIT = 500
"""Features a feature-fraction range reaches at its high end on any width (all of them up to this width)."""


@dataclass(frozen=True)
class _RangeParam:
    """A number sampled uniformly (or log-uniformly) in [low, high]; ``kind`` names it in listings."""

    kind: ClassVar[str]
    name: str
    low: float
    high: float
    log: bool = False
    when: Condition | None = None
    limits: tuple[float | None, float | None] = (None, None)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.kind, "low": self.low, "high": self.high, "log": self.log,
                **_describe_when(self.when)}


@dataclass(frozen=True)
class FloatParam(_RangeParam):
    """A float sampled uniformly (or log-uniformly) in [low, high].

    ``limits`` are the values the estimator accepts at all (``None`` = unbounded); user overrides are
    checked against them.
    """

    kind: ClassVar[str] = "float"


@dataclass(frozen=True)
class IntParam(_RangeParam):
    """An integer sampled uniformly (or log-uniformly) in [low, high]."""

    kind: ClassVar[str] = "int"
    low: int
    high: int
    limits: tuple[int | None, int | None] = (None, None)


@dataclass(frozen=True)
class CategoricalParam:
    """One of a fixed list of choices.

    A user may narrow ``choices`` to a subset of ``allowed`` (by default the declared choices).
    """

    name: str
    choices: tuple[Any, ...]
    when: Condition | None = None
    allowed: tuple[Any, ...] | None = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": "categorical", "choices": list(self.choices), **_describe_when(self.when)}

    @property
    def accepted(self) -> tuple[Any, ...]:
        """Every value ``build`` accepts for this parameter."""
        return self.choices if self.allowed is None else self.allowed


Param = FloatParam | IntParam | CategoricalParam


def fit_fraction_to_width(param: FloatParam, n_features: int) -> FloatParam:
    """A feature-fraction range (features per split or per tree) fitted to ``n_features`` columns.

    The declared ranges are sized for genotype matrices of ~100,000 SNPs (e.g. 0.001-0.5: 100 to 50,000
    features). On a narrow table they would give a tree 1-5 of 10 columns per split. The fitted range is
    [max(low, 1 / p), max(high, min(1, 500 / p))]: at least one feature, and up to all features when
    p <= 500 (:data:`FEATURES_PER_SPLIT`), so declared ranges stay as they are on wide matrices
    (p >= 1 / low and p >= 500 / high).
    """
    p = max(int(n_features), 1)
    high = max(param.high, min(1.0, FEATURES_PER_SPLIT / p))
    low = min(max(param.low, 1.0 / p), high)
    return param if (low, high) == (param.low, param.high) else replace(param, low=low, high=high)


def _describe_when(when: Condition | None) -> dict[str, Any]:
    return {} if when is None else {"when": {when[0]: list(when[1])}}


class ModelFamily(ABC):
    """A kind of model: its tasks, its search space and how to build it.

    Subclasses set the class attributes and implement :meth:`space` and :meth:`build`. ``build`` must
    return a fresh scikit-learn compatible estimator; for classification it must have ``predict_proba``.
    Given the same ``random_state`` it must give the same predictions.

    Class attributes:
        name: registry name; lowercase letters, digits and single underscores.
        tasks: the subset of :data:`TASKS` the family supports.
        needs_scaling: the objective should standardize features (inside folds) before this model.
        handles_missing: the model accepts NaN for missing genotypes (no imputation needed).
        covariate_weight: factor applied to the standardized covariate columns (with ``needs_scaling``
            only); penalized linear families set it large so their covariates are practically unpenalized
            fixed effects (see :class:`genoml_search.search.pipeline.CovariateWeight`); 1 leaves them as is.
        fits_path: the family evaluates a whole regularization path per fold from the int8 genotypes and
            chooses its penalty inside the trial (:mod:`genoml_search.search.path_cv`) instead of one fit
            per fold; its estimator imputes and standardizes itself.
        feature_fractions: names of the family's :class:`FloatParam` s that are a fraction of the feature
            columns (``max_features``, ``colsample_bytree``, ...); with :attr:`n_features` set, their ranges are
            fitted to the width (:func:`fit_fraction_to_width`) unless a study file overrides them.
        n_features: width of the feature matrix searched (SNPs, covariates, table columns), set with
            :meth:`with_width`; None (listings, plugins) leaves every range as declared.
        multi_fidelity: with ``run --fidelity`` on, the family's trials are cross-validated on 1/9, then 1/3
            of the search samples before all of them (:mod:`genoml_search.search.fidelity`); every built-in
            family keeps it (benchmarks/results/fidelity.json); False for a family whose trials are cheap at
            any n.
    """

    name: ClassVar[str]
    tasks: ClassVar[frozenset[Task]]
    needs_scaling: ClassVar[bool] = False
    handles_missing: ClassVar[bool] = False
    covariate_weight: ClassVar[float] = 1.0
    fits_path: ClassVar[bool] = False
    multi_fidelity: ClassVar[bool] = True
    feature_fractions: ClassVar[tuple[str, ...]] = ()
    n_features: int | None = None

    def __init__(self, overrides: dict[str, Param] | None = None) -> None:
        self.overrides = dict(overrides or {})

    @abstractmethod
    def space(self, task: str) -> list[Param]:
        """The parameters searched for ``task`` (before user overrides)."""

    @abstractmethod
    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        """A fresh, unfitted estimator for ``task`` from sampled ``params`` (unprefixed names)."""

    def missing_dependency(self) -> str | None:
        """Why the family cannot run here (an optional package is not installed, and how to install it), or
        None when it can."""
        return None

    def final_params(self, params: dict[str, Any], trial_attrs: dict[str, Any]) -> dict[str, Any]:
        """The parameters of the final refit from a trial's parameters and user attributes (path families
        add the penalty their trial chose)."""
        return params

    def cross_validate_path(self, design: Any, y: Any, folds: list[tuple[Any, Any]], task: str, metric: Any,
                            params: dict[str, Any], n_threads: int = 1, should_prune: Any = None,
                            report_per_fold: bool = False) -> Any:
        """Path families (``fits_path``): one regularization path per fold on ``design`` (a
        :class:`~genoml_search.search.paths.Design`), scored with ``metric`` on the held-out parts, the
        penalty chosen by the folds' mean; a :class:`~genoml_search.search.path_cv.PathCV`."""
        raise NotImplementedError(f"{self.name} does not fit a path")

    def library_defaults(self, task: str) -> dict[str, Any]:
        """The estimator library's default configuration in this family's parameters (unprefixed names), queued
        as an early trial on datasets of feature tables alone
        (:func:`~genoml_search.search.warm_start.enqueue_starting_points`); a value outside the searched range
        (e.g. ``max_depth=None``, ``reg_alpha=0``) is moved to the range's nearest end there. {} for none."""
        return {}

    def params(self, task: str) -> list[Param]:
        """The parameters searched for ``task``: user overrides applied, feature fractions fitted to
        :attr:`n_features` when it is set."""
        return [self.overrides.get(p.name, self._fitted(p)) for p in self.space(task)]

    def _fitted(self, param: Param) -> Param:
        if self.n_features is None or param.name not in self.feature_fractions or not isinstance(param, FloatParam):
            return param
        return fit_fraction_to_width(param, self.n_features)

    def with_width(self, n_features: int | None) -> ModelFamily:
        """A copy of this family whose feature-fraction ranges fit ``n_features`` columns (None: as declared)."""
        family = copy.copy(self)
        family.n_features = n_features
        return family

    def suggest(self, trial: optuna.trial.BaseTrial, task: str) -> dict[str, Any]:
        """Sample this family's parameters on ``trial`` under the names ``"<family>__<param>"``.

        A parameter with a ``when`` condition is sampled only if the condition's parameter was sampled
        with one of the listed values.
        """
        values: dict[str, Any] = {}
        for param in self.params(task):
            if param.when is not None and values.get(param.when[0]) not in param.when[1]:
                continue
            key = f"{self.name}{SEPARATOR}{param.name}"
            if isinstance(param, FloatParam):
                values[param.name] = trial.suggest_float(key, param.low, param.high, log=param.log)
            elif isinstance(param, IntParam):
                values[param.name] = trial.suggest_int(key, param.low, param.high, log=param.log)
            else:
                values[param.name] = trial.suggest_categorical(key, list(param.choices))
        return values

    def with_overrides(self, overrides: dict[str, Param]) -> ModelFamily:
        """A copy of this family with some parameter ranges replaced."""
        family = type(self)({**self.overrides, **overrides})
        family.n_features = self.n_features
        return family

    def describe(self, task: str | None = None) -> dict[str, Any]:
        """A plain-data description: name, tasks, flags, and the searched parameters.

        ``task`` selects the space of one task; ``None`` uses the first supported task in :data:`TASKS`
        order (spaces rarely differ between tasks; where they do, the docstring of the family says so).
        """
        if task is None:
            task = next(t for t in TASKS if t in self.tasks)
        return {
            "name": self.name,
            "tasks": [t for t in TASKS if t in self.tasks],
            "needs_scaling": self.needs_scaling,
            "handles_missing": self.handles_missing,
            "summary": _first_line(type(self).__doc__),
            "params": [p.describe() for p in self.params(task)],
            "feature_fractions": list(self.feature_fractions),
        }


_REGISTRY: dict[str, type[ModelFamily]] = {}
_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_loaded = False


def register(family: type[ModelFamily]) -> type[ModelFamily]:
    """Class decorator adding a family to the registry (a user family may replace a built-in one).

    The class must be a :class:`ModelFamily` with a valid ``name`` and ``tasks`` within :data:`TASKS`.
    """
    if not (isinstance(family, type) and issubclass(family, ModelFamily)):
        raise TypeError(f"@register expects a ModelFamily subclass, got {family!r}")
    name = getattr(family, "name", None)
    if not valid_name(name):
        raise UserError(
            f"model family class {family.__qualname__}: name {name!r} must be lowercase letters, digits and "
            "single underscores (and not 'family')"
        )
    tasks = getattr(family, "tasks", None)
    if not tasks or not set(tasks) <= set(TASKS):
        raise UserError(f"model family {name!r}: tasks {tasks!r} must be a non-empty subset of {', '.join(TASKS)}")
    family.tasks = frozenset(Task(t) for t in tasks)
    _REGISTRY[name] = family
    return family


def valid_name(name: object) -> TypeGuard[str]:
    """Whether ``name`` may name a family: lowercase letters, digits and single underscores, not ``family``."""
    return isinstance(name, str) and bool(_NAME.match(name)) and name != "family"


def _load_builtins() -> None:
    """Import the built-in families and installed entry points, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True  # set first: a plugin may use the registry while it is imported
    from genoml_search.search.families import (  # noqa: F401  (registers on import)
        boosting, discriminant, kernel, linear, neighbors, neural, paths, trees,
    )
    try:
        load_entry_points()
    except Exception:
        _loaded = False  # report a broken plugin on every use, not just the first
        raise


def load_entry_points() -> list[str]:
    """Load every ``genoml_search.families`` entry point; return the names of the families they registered.

    An entry point may name a module (whose ``@register`` classes join on import) or a ModelFamily class
    (registered here if it was not decorated).
    """
    before = dict(_REGISTRY)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = point.load()
        except Exception as error:  # a broken plugin must not look like a bug of ours
            raise UserError(
                f"entry point {point.name!r} ({point.value}) of group {ENTRY_POINT_GROUP} failed to load: "
                f"{type(error).__name__}: {error}"
            ) from error
        if isinstance(obj, type) and issubclass(obj, ModelFamily) and _REGISTRY.get(obj.name) is not obj:
            register(obj)
    return sorted(name for name, cls in _REGISTRY.items() if before.get(name) is not cls)


def family_names() -> list[str]:
    """Names of every registered family."""
    _load_builtins()
    return sorted(_REGISTRY)


def family_class(name: str) -> type[ModelFamily]:
    """The registered class of a family; an unknown name is a :class:`UserError` listing the known names."""
    _load_builtins()
    if name not in _REGISTRY:
        raise UserError(f"unknown model family {name!r}; known families: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def get_family(name: str) -> ModelFamily:
    """A family by name (without overrides); an unknown name is a :class:`UserError` listing the known names."""
    return family_class(name)()


def families_for(task: str) -> list[ModelFamily]:
    """Every registered family that supports ``task``, sorted by name."""
    check_task(task)
    return [get_family(name) for name in family_names() if task in _REGISTRY[name].tasks]


def check_task(task: str) -> Task:
    """The :class:`Task` named ``task``; an unknown name is a :class:`UserError`."""
    return Task.parse(task)


def replace_range(param: Param, **changes: Any) -> Param:
    """A copy of ``param`` with new bounds or choices."""
    return replace(param, **changes)


def _first_line(doc: str | None) -> str:
    """The first paragraph of a docstring, on one line."""
    return " ".join((doc or "").strip().split("\n\n")[0].split())
