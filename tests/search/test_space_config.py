from __future__ import annotations

import sys
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import optuna
import pytest

from genoml_search.errors import UserError
from genoml_search.search import registry
from genoml_search.search.registry import CategoricalParam, FloatParam, IntParam, families_for
from genoml_search.search.space_config import apply_family_config, load_families_module

SRC = "studies/x.toml"
STUDIES = Path(__file__).resolve().parents[2] / "studies"

USER_MODULE = '''
from genoml_search.search.registry import FloatParam, ModelFamily, register


@register
class Ridge(ModelFamily):
    """Ridge regression."""

    name = "{name}"
    tasks = frozenset({{"regression"}})
    needs_scaling = True

    def space(self, task):
        return [FloatParam("alpha", 1e-3, 100.0, log=True)]

    def build(self, params, task, random_state=0, n_jobs=1):
        from sklearn.linear_model import Ridge as SkRidge

        return SkRidge(**params)
'''


def parse(text: str) -> dict:
    return tomllib.loads(text)


def param(families, family: str, name: str, task: str = "binary"):
    return next(p for p in next(f for f in families if f.name == family).params(task) if p.name == name)


def test_default_is_every_family_for_the_task() -> None:
    assert [f.name for f in apply_family_config({}, "regression", SRC)] == [f.name for f in families_for("regression")]
    assert [f.name for f in apply_family_config(parse("[study]\ntask='binary'"), "binary", SRC)] == [
        f.name for f in families_for("binary")]


def test_selection_order_and_overrides() -> None:
    families = apply_family_config(parse('''
[study]
families = ["xgboost", "svm", "logistic"]
[families.xgboost]
n_estimators = {low = 50, high = 300, log = true}
max_depth = {high = 4}
learning_rate = 0.1
subsample = {choices = [0.5, 1]}
[families.svm]
kernel = {choices = ["rbf", "linear"]}
'''), "binary", SRC)
    assert [f.name for f in families] == ["xgboost", "svm", "logistic"]
    assert param(families, "xgboost", "n_estimators") == IntParam("n_estimators", 50, 300, log=True, limits=(1, None))
    depth = param(families, "xgboost", "max_depth")
    assert (depth.low, depth.high) == (1, 4)
    assert param(families, "xgboost", "learning_rate").choices == (0.1,)
    assert param(families, "xgboost", "subsample").choices == (0.5, 1.0)
    assert param(families, "svm", "kernel").choices == ("rbf", "linear")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(10):
        values = families[0].suggest(study.ask(), "binary")
        assert 50 <= values["n_estimators"] <= 300 and values["max_depth"] <= 4 and values["learning_rate"] == 0.1


def test_example_studies_parse() -> None:
    paths = sorted(STUDIES.glob("*.toml"))
    assert len(paths) >= 3, f"the example studies are missing from {STUDIES}"
    for path in paths:
        table = tomllib.loads(path.read_text())
        assert apply_family_config(table, table["study"]["task"], str(path))


@pytest.mark.parametrize(("toml", "task", "message"), [
    ('[study]\nfamilies = ["xgb"]', "binary",
     "studies/x.toml: study.families: unknown model family 'xgb'; known families: adaboost, bagging,"),
    ('[study]\nfamilies = ["elastic_net"]', "binary",
     "study.families: elastic_net does not support task binary (it supports regression); families for binary:"),
    ('[study]\nfamilies = ["logistic"]', "regression", "logistic does not support task regression"),
    ('[families.xgboost]\nmax_depth = {low = 8, high = 2}', "binary",
     "studies/x.toml: families.xgboost.max_depth: low (8) > high (2)"),
    ('[families.xgboost]\nmax_depth = {low = 12}', "binary", "families.xgboost.max_depth: low (12) > high (10)"),
    ('[families.xgboost]\nlearning_rate = {low = 0.0, high = 0.3}', "binary",
     "families.xgboost.learning_rate: a log range needs low > 0, got low = 0.0"),
    ('[families.logistic]\nl1_ratio = {low = 0.0, high = 1.0, log = true}', "binary", "a log range needs low > 0"),
    ('[families.xgboost]\ndepth = 3', "binary",
     "families.xgboost.depth: unknown parameter 'depth' of xgboost for task binary; its parameters: n_estimators,"),
    ('[families.adaboost]\nloss = {choices = ["linear"]}', "binary", "unknown parameter 'loss' of adaboost"),
    ('[families.xgboost]\nmax_depth = {low = 1.5}', "binary", "families.xgboost.max_depth.low: must be an integer"),
    ('[families.xgboost]\nmax_depth = "deep"', "binary", "families.xgboost.max_depth: must be an integer, got 'deep'"),
    ('[families.xgboost]\nmax_depth = true', "binary", "must be an integer, got True"),
    ('[families.xgboost]\nsubsample = {high = "1"}', "binary", "families.xgboost.subsample.high: must be a number"),
    ('[families.xgboost]\nsubsample = {log = "yes"}', "binary", "families.xgboost.subsample.log: must be true or false"),
    ('[families.xgboost]\nsubsample = {lo = 0.5}', "binary", "families.xgboost.subsample: unknown key 'lo'"),
    ('[families.xgboost]\nsubsample = {}', "binary", "families.xgboost.subsample: empty table"),
    ('[families.xgboost]\nsubsample = {choices = [0.5], low = 0.1}', "binary", "either choices or low/high/log"),
    ('[families.xgboost]\nsubsample = {choices = []}', "binary", "choices must be a non-empty list"),
    ('[families.xgboost]\nsubsample = {choices = [0.5, 0.5]}', "binary", "repeat a value"),
    ('[families.xgboost]\nsubsample = {high = 2.0}', "binary",
     "families.xgboost.subsample: 2.0 is outside the values subsample accepts, [0.0, 1.0]"),
    ('[families.svm]\nkernel = {choices = ["rbf", "sigmoid"]}', "binary",
     "families.svm.kernel: 'sigmoid' is not a possible value; choose among ['rbf', 'linear', 'poly']"),
    ('[families.svm]\nkernel = {low = 1}', "binary", "families.svm.kernel: unknown key 'low'"),
    ('[families.random_forest]\nbootstrap = 1', "binary", "families.random_forest.bootstrap: 1 is not a possible value"),
    ('[families.mlp]\nbatch_size = 32.0', "binary", "32.0 is not a possible value"),
    ('[study]\nfamilies = ["logistic"]\n[families.xgboost]\nmax_depth = 3', "binary",
     "families.xgboost: 'xgboost' is not among the families searched (logistic)"),
    ('[families.xgbost]\nmax_depth = 3', "binary", "families.xgbost: unknown model family 'xgbost'"),
    ('[study]\nfamilies = "xgboost"', "binary", "study.families: must be a list of family names"),
    ('[study]\nfamilies = []', "binary", "study.families: is empty"),
    ('[study]\nfamilies = ["svm", "svm"]', "binary", "svm is listed twice"),
    ('families = 3', "binary", "families: must be a table"),
    ('[families]\nxgboost = 3', "binary", "families.xgboost: must be a table of parameter overrides"),
])
def test_errors_name_file_and_key(toml: str, task: str, message: str) -> None:
    with pytest.raises(UserError) as info:
        apply_family_config(parse(toml), task, SRC)
    text = str(info.value)
    assert "\n" not in text and text.startswith(SRC + ": ")
    assert message in text, text


def test_load_families_module(tmp_path: Path, clean_registry) -> None:
    path = tmp_path / "my_families.py"
    path.write_text(USER_MODULE.format(name="ridge"))
    assert load_families_module(path) == ["ridge"]
    assert "ridge" in registry.family_names()
    families = apply_family_config(parse('[study]\nfamilies = ["ridge", "elastic_net"]\n'
                                         '[families.ridge]\nalpha = {low = 0.1, high = 10}'), "regression", SRC)
    ridge = families[0]
    assert ridge.params("regression")[0] == FloatParam("alpha", 0.1, 10.0, log=True)
    params = ridge.suggest(optuna.create_study().ask(), "regression")
    model = ridge.build(params, "regression").fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    assert model.predict([[1.0]]).shape == (1,)


def test_user_module_families_pickle_by_value(tmp_path: Path, clean_registry) -> None:
    import cloudpickle

    path = tmp_path / "plugin_fams.py"
    path.write_text(USER_MODULE.format(name="ridge_two"))
    load_families_module(path)
    family = registry.get_family("ridge_two")
    blob = cloudpickle.dumps(family)
    for name in [m for m in sys.modules if m.startswith("genoml_search_user_families_")]:
        del sys.modules[name]  # as on a Dask worker that never saw the file
    assert cloudpickle.loads(blob).space("regression")[0].name == "alpha"


@pytest.mark.parametrize(("content", "message"), [
    (None, "file not found"),
    ("def broken(:\n", "cannot import (line 1): SyntaxError"),
    ("import no_such_module_here\n", "cannot import: ModuleNotFoundError: No module named 'no_such_module_here'"),
    ("raise RuntimeError('boom')\n", "cannot import: RuntimeError: boom"),
    ("x = 1\n", "defines no @register-decorated ModelFamily subclass"),
    (USER_MODULE.format(name="Bad Name"), "must be lowercase letters"),
])
def test_load_families_module_errors(tmp_path: Path, clean_registry, content: str | None, message: str) -> None:
    path = tmp_path / "user.py"
    if content is not None:
        path.write_text(content)
    before = registry.family_names()
    with pytest.raises(UserError) as info:
        load_families_module(path)
    assert str(info.value).startswith(str(path)) and message in str(info.value) and "\n" not in str(info.value)
    assert registry.family_names() == before


def _fake_entry_points(points: list[EntryPoint]):
    def entry_points(group: str):
        assert group == registry.ENTRY_POINT_GROUP
        return points
    return entry_points


def test_entry_points_are_loaded_on_first_use(tmp_path: Path, monkeypatch, clean_registry) -> None:
    (tmp_path / "gs_plugin_module.py").write_text(USER_MODULE.format(name="plugin_ridge"))
    (tmp_path / "gs_plugin_class.py").write_text(
        USER_MODULE.format(name="plugin_class").replace("@register\n", ""))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "entry_points", _fake_entry_points([
        EntryPoint("ridge", "gs_plugin_module", registry.ENTRY_POINT_GROUP),
        EntryPoint("klass", "gs_plugin_class:Ridge", registry.ENTRY_POINT_GROUP),
    ]))
    monkeypatch.setattr(registry, "_loaded", False)
    names = registry.family_names()
    assert {"plugin_ridge", "plugin_class", "xgboost"} <= set(names)
    assert "plugin_class" in [f.name for f in families_for("regression")]


def test_broken_entry_point_is_a_user_error(monkeypatch, clean_registry) -> None:
    monkeypatch.setattr(registry, "entry_points", _fake_entry_points([
        EntryPoint("bad", "gs_no_such_plugin_module", registry.ENTRY_POINT_GROUP)]))
    with pytest.raises(UserError, match="entry point 'bad' .* failed to load: ModuleNotFoundError"):
        registry.load_entry_points()


def test_categorical_override_keeps_the_accepted_values() -> None:
    svm = apply_family_config(parse('[families.svm]\nkernel = {choices = ["linear"]}'), "binary", SRC)
    kernel = param(svm, "svm", "kernel")
    assert kernel == CategoricalParam("kernel", ("linear",), allowed=("rbf", "linear", "poly"))


def test_broken_entry_point_fails_every_use(monkeypatch, clean_registry) -> None:
    monkeypatch.setattr(registry, "entry_points", _fake_entry_points([
        EntryPoint("bad", "gs_no_such_plugin_module", registry.ENTRY_POINT_GROUP)]))
    monkeypatch.setattr(registry, "_loaded", False)
    for _ in range(2):
        with pytest.raises(UserError, match="entry point 'bad'"):
            registry.family_names()
