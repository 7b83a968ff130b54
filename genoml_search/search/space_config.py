"""User control of the search space: family selection and range overrides from a study TOML, user families.

A study file selects families and narrows or widens their ranges::

    [study]
    families = ["logistic", "xgboost"]          # default: every family that supports the task

    [families.xgboost]
    n_estimators = {low = 50, high = 300, log = true}   # a range (keys may be given alone: {high = 300})
    max_depth = 4                                        # a fixed value
    learning_rate = {choices = [0.01, 0.1]}              # a list of values

    [families.logistic]
    l1_ratio = {low = 0.5, high = 1.0}

Every mistake is a one-line :class:`~genoml_search.errors.UserError` naming the file and the key, e.g.
``studies/x.toml: families.xgboost.max_depth: low (8) > high (2)``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
import tomllib
from pathlib import Path
from typing import Any

from genoml_search.errors import InputFileError, UserError
from genoml_search.search import registry
from genoml_search.search.registry import CategoricalParam, FloatParam, IntParam, ModelFamily, Param

RANGE_KEYS = ("low", "high", "log")


def read_study_toml(path: str | Path) -> dict[str, Any]:
    """Parse a study TOML file (``--config``: ``[study]``, ``[families.*]``, ``[cluster]``); a missing or
    unreadable file or a syntax error is a one-line :class:`InputFileError` naming the file (and line)."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError("no such file; give the study TOML with --config", path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InputFileError(f"not valid TOML ({error})", path) from None
    except OSError as error:
        raise InputFileError(f"cannot read ({error.strerror or type(error).__name__})", path) from None


def apply_family_config(table: dict[str, Any], task: str, source: str) -> list[ModelFamily]:
    """The families a study searches for ``task``, with the ranges of its ``[families.<name>]`` tables.

    ``table`` is the parsed TOML of the study file ``source`` (used in error messages). ``[study] families``
    selects and orders the families (default: all families for the task, by name); each
    ``[families.<name>]`` table must belong to a selected family and may override any of its parameters.
    """
    registry.check_task(task)
    study = table.get("study", {})
    if not isinstance(study, dict):
        raise UserError("study: must be a table ([study])", source)
    names = _selected_names(study, task, source)
    overrides_table = table.get("families", {})
    if not isinstance(overrides_table, dict):
        raise UserError("families: must be a table of [families.<name>] tables", source)
    for name in overrides_table:
        if name not in names:
            _known_family(name, f"families.{name}", source)
            raise UserError(
                f"families.{name}: {name!r} is not among the families searched ({', '.join(names)}); add it to "
                "[study] families or remove this table",
                source,
            )
    families = []
    for name in names:
        family = registry.get_family(name)
        entries = overrides_table.get(name, {})
        if not isinstance(entries, dict):
            raise UserError(f"families.{name}: must be a table of parameter overrides", source)
        space = {p.name: p for p in family.space(task)}
        overrides = {}
        for key, value in entries.items():
            where = f"families.{name}.{key}"
            if key not in space:
                raise UserError(
                    f"{where}: unknown parameter {key!r} of {name} for task {task}; its parameters: "
                    f"{', '.join(space)}",
                    source,
                )
            overrides[key] = parse_override(space[key], value, where, source)
        families.append(family.with_overrides(overrides) if overrides else family)
    return families


def _selected_names(study: dict[str, Any], task: str, source: str) -> list[str]:
    if "families" not in study:
        return [f.name for f in registry.families_for(task)]
    names = study["families"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise UserError(f"study.families: must be a list of family names, got {names!r}", source)
    if not names:
        raise UserError(
            f"study.families: is empty; name at least one of {', '.join(f.name for f in registry.families_for(task))}"
            " (or remove the key to search them all)",
            source,
        )
    seen: set[str] = set()
    for name in names:
        family = _known_family(name, "study.families", source)
        if task not in family.tasks:
            raise UserError(
                f"study.families: {name} does not support task {task} (it supports "
                f"{', '.join(t for t in registry.TASKS if t in family.tasks)}); families for {task}: "
                f"{', '.join(f.name for f in registry.families_for(task))}",
                source,
            )
        if name in seen:
            raise UserError(f"study.families: {name} is listed twice", source)
        seen.add(name)
    return names


def _known_family(name: str, where: str, source: str) -> type[ModelFamily]:
    if name not in registry.family_names():
        raise UserError(
            f"{where}: unknown model family {name!r}; known families: {', '.join(registry.family_names())}", source
        )
    return registry.family_class(name)


def parse_override(param: Param, value: Any, where: str, source: str) -> Param:
    """The parameter ``param`` as overridden by a TOML ``value`` found at key ``where`` of file ``source``.

    ``value`` is a fixed value, ``{choices = [...]}``, or (numeric parameters) ``{low, high, log}`` with
    missing keys taken from the built-in range.
    """
    if not isinstance(value, dict):
        return _choices(param, [value], where, source)
    if isinstance(param, CategoricalParam):
        allowed_keys: tuple[str, ...] = ("choices",)
    else:
        allowed_keys = ("choices", *RANGE_KEYS)
    unknown = [k for k in value if k not in allowed_keys]
    if unknown or not value:
        raise UserError(
            f"{where}: {'unknown key ' + repr(unknown[0]) if unknown else 'empty table'}; give "
            f"{_format_help(param)}",
            source,
        )
    if "choices" in value:
        if len(value) > 1:
            raise UserError(f"{where}: give either choices or low/high/log, not both", source)
        choices = value["choices"]
        if not isinstance(choices, list) or not choices:
            raise UserError(f"{where}: choices must be a non-empty list, got {choices!r}", source)
        return _choices(param, choices, where, source)
    assert isinstance(param, (FloatParam, IntParam))
    low = _number(param, value.get("low", param.low), f"{where}.low", source)
    high = _number(param, value.get("high", param.high), f"{where}.high", source)
    log = value.get("log", param.log)
    if not isinstance(log, bool):
        raise UserError(f"{where}.log: must be true or false, got {log!r}", source)
    if low > high:
        raise UserError(f"{where}: low ({low}) > high ({high})", source)
    if log and low <= 0:
        raise UserError(f"{where}: a log range needs low > 0, got low = {low}; set log = false or raise low", source)
    _check_limits(param, (low, high), where, source)
    return registry.replace_range(param, low=low, high=high, log=log)


def _choices(param: Param, choices: list[Any], where: str, source: str) -> Param:
    if len(set(map(repr, choices))) != len(choices):
        raise UserError(f"{where}: choices {choices!r} repeat a value", source)
    if isinstance(param, CategoricalParam):
        for choice in choices:
            if choice not in param.accepted or type(choice) is not type(_match(param.accepted, choice)):
                raise UserError(
                    f"{where}: {choice!r} is not a possible value; choose among {list(param.accepted)!r}", source
                )
        return registry.replace_range(param, choices=tuple(choices), allowed=param.accepted)
    values = tuple(_number(param, c, where, source) for c in choices)
    _check_limits(param, values, where, source)
    return CategoricalParam(param.name, values, when=param.when)


def _match(accepted: tuple[Any, ...], choice: Any) -> Any:
    return next(a for a in accepted if a == choice)


def _number(param: IntParam | FloatParam, value: Any, where: str, source: str) -> int | float:
    if isinstance(param, IntParam):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{where}: must be an integer, got {value!r}", source)
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{where}: must be a number, got {value!r}", source)
    return float(value)


def _check_limits(param: IntParam | FloatParam, values: tuple[int | float, ...], where: str, source: str) -> None:
    lower, upper = param.limits
    for v in values:
        if (lower is not None and v < lower) or (upper is not None and v > upper):
            bounds = f"[{'-inf' if lower is None else lower}, {'inf' if upper is None else upper}]"
            raise UserError(f"{where}: {v} is outside the values {param.name} accepts, {bounds}", source)


def _format_help(param: Param) -> str:
    if isinstance(param, CategoricalParam):
        return f"a value or {{choices = [...]}} among {list(param.accepted)!r}"
    return "a value, {low = ..., high = ..., log = true|false} or {choices = [...]}"


def load_families_module(path: str | Path) -> list[str]:
    """Import a user's Python file; its ``@register``-decorated ModelFamily subclasses join the registry.

    Returns the names of the families it registered (a name may replace a built-in family). A missing
    file, an import error or a file registering no family is a one-line :class:`UserError`. The module is
    marked for pickling by value so that Dask workers can unpickle its families without the file.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError("file not found; give a Python file defining @register ModelFamily subclasses", path)
    registry.family_names()  # built-ins first, so that the user's file may replace them
    before = dict(registry._REGISTRY)
    module_name = "genoml_search_user_families_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UserError("cannot be imported as a Python module (is it a .py file?)", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(module_name, None)
        registry._REGISTRY.clear()
        registry._REGISTRY.update(before)
        line = f" (line {error.lineno})" if isinstance(error, SyntaxError) and error.lineno else ""
        raise UserError(f"cannot import{line}: {type(error).__name__}: {error}", path) from error
    added = sorted(name for name, cls in registry._REGISTRY.items() if before.get(name) is not cls)
    if not added:
        raise UserError("defines no @register-decorated ModelFamily subclass", path)
    try:
        import cloudpickle

        cloudpickle.register_pickle_by_value(module)
    except (ImportError, AttributeError):  # pragma: no cover - cloudpickle ships with distributed
        pass
    return added
