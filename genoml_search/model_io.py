"""Saving and loading the final model with skops (no pickle), plus what predicting on a new cohort needs.

A model directory (``RUN_DIR/model``) holds ``model.skops`` (the fitted pipeline), ``model.json`` (format,
tool and library versions, task, family, feature names, classes), and the training dataset's ``variants.tsv``
and ``manifest.json`` (what a new cohort is harmonized to), plus its ``pca.npz`` when it has one (what a new
cohort's genetic PCs are projected onto).

Loading never unpickles: skops rebuilds objects from their type names, and only the types skops trusts by
default (scikit-learn estimators, numpy arrays, ...) plus the exact type names in :data:`TRUSTED_TYPES` are
accepted. A family that needs another type adds its exact name with :func:`trust_types`; prefixes are never
trusted (``builtins.`` alone would admit ``builtins.eval``).
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from genoml_search import __version__
from genoml_search.data.cohort_structure import PCA_FILE
from genoml_search.data.dataset import MANIFEST, VARIANTS, Dataset
from genoml_search.errors import UserError
from genoml_search.fileio import atomic_directory
from genoml_search.versions import versions

log = logging.getLogger(__name__)

MODEL_FILE = "model.skops"
MODEL_INFO = "model.json"
MODEL_FORMAT = 1
# Libraries whose version can change what a loaded model predicts; recorded at save time, compared at load.
MODEL_LIBRARIES = ("scikit-learn", "numpy", "scipy", "skops", "xgboost", "lightgbm", "catboost")

_DISTANCES = ("Euclidean", "SEuclidean", "Manhattan", "Chebyshev", "Minkowski", "Hamming", "Canberra",
              "BrayCurtis", "Jaccard", "Matching", "Dice", "RogersTanimoto", "RussellRao", "SokalMichener",
              "SokalSneath", "Mahalanobis", "Haversine")
# Exact type names (beyond skops' own defaults) that model files of the registered families contain.
# PyFuncDistance (calls a Python function) and anything callable by name are deliberately absent.
TRUSTED_TYPES: set[str] = {
    "genoml_search.search.pipeline.GenotypePreprocessor",
    "genoml_search.search.pipeline.CovariateWeight",
    "genoml_search.search.tabular.TabularPreprocessor",
    # HistGB with native categories (munge --table) keeps a ColumnTransformer whose OrdinalEncoder check is
    # partial(check_array, ...): a function reference restored by name, not called while loading.
    "functools.partial",
    "sklearn.utils.validation.check_array",
    "genoml_search.search.families.discriminant.BoundedLDA",
    "genoml_search.search.families.discriminant.BoundedQDA",
    "genoml_search.search.families.linear.HeritabilityRidge",
    "genoml_search.search.families.paths.PenalizedPathModel",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "catboost.core.CatBoostClassifier",
    "catboost.core.CatBoostRegressor",
    "collections.OrderedDict",
    *(f"sklearn.metrics._dist_metrics.{name}Distance{bits}" for name in _DISTANCES for bits in ("64", "32")),
}


def trust_types(*names: str) -> None:
    """Allow more exact type names in model files (for a family whose estimator needs them)."""
    for name in names:
        if not name or name.endswith(".") or "*" in name:
            raise ValueError(f"trust exact type names, not prefixes or patterns: {name!r}")
        TRUSTED_TYPES.add(name)


def library_versions(names: tuple[str, ...] = MODEL_LIBRARIES) -> dict[str, str]:
    """Installed versions of ``names`` (absent libraries are left out), plus Python's."""
    return versions(names)


def save_model(model_dir: Path, pipeline: Any, info: dict[str, Any], training: Dataset) -> Path:
    """Write ``model.skops``, ``model.json`` and the training variant table/manifest, atomically."""
    import skops.io as sio

    with atomic_directory(model_dir) as tmp:
        sio.dump(pipeline, tmp / MODEL_FILE)
        shutil.copy(training.path / VARIANTS, tmp / VARIANTS)
        shutil.copy(training.path / MANIFEST, tmp / MANIFEST)
        if (training.path / PCA_FILE).is_file():  # new cohorts are projected onto the training PCs
            shutil.copy(training.path / PCA_FILE, tmp / PCA_FILE)
        payload = {"format": MODEL_FORMAT, "tool": "genoml-search", "tool_version": __version__,
                   "libraries": library_versions(), **info}
        (tmp / MODEL_INFO).write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return model_dir


def read_model_info(model_dir: Path) -> dict[str, Any]:
    """``model.json`` of a model directory, checked for the format this version writes."""
    info_path = Path(model_dir) / MODEL_INFO
    if not info_path.is_file():
        raise UserError("no model.json here; give the model/ directory written by `genoml-search run`", model_dir)
    try:
        info = json.loads(info_path.read_text())
    except json.JSONDecodeError:
        raise UserError("model.json is not valid JSON; re-run `genoml-search run`", info_path) from None
    if not isinstance(info, dict) or info.get("tool") != "genoml-search" or info.get("format") != MODEL_FORMAT:
        found = info if isinstance(info, dict) else {}
        raise UserError(
            f"model format {found.get('format')!r} written by {found.get('tool')} {found.get('tool_version')} is "
            f"not format {MODEL_FORMAT} of genoml-search {__version__}; re-run `genoml-search run` with this "
            "version, or predict with the version that wrote the model",
            info_path,
        )
    return info


def version_mismatches(info: dict[str, Any]) -> list[str]:
    """Human-readable differences between the versions a model was saved with and the installed ones."""
    notes = []
    if info.get("tool_version") != __version__:
        notes.append(f"genoml-search {info.get('tool_version')} saved it, {__version__} is installed")
    installed = library_versions()
    for name, saved in (info.get("libraries") or {}).items():
        if name != "python" and installed.get(name) not in (None, saved):
            notes.append(f"{name} {saved} saved it, {installed[name]} is installed")
    return notes


def find_model_dir(path: str | Path) -> Path:
    """Accept a run directory (``RUN_DIR/model``) or the model directory itself."""
    path = Path(path)
    if (path / MODEL_INFO).is_file():
        return path
    if (path / "model" / MODEL_INFO).is_file():
        return path / "model"
    raise UserError("no model here (neither model.json nor model/model.json); give the --out directory of "
                    "`genoml-search run`", path)


def load_model(model_dir: Path) -> tuple[Any, dict[str, Any]]:
    """Load a saved model, refusing unknown formats and types outside the allow-list.

    Version differences (tool or libraries) are logged as warnings and returned in ``info["warnings"]``: the
    model loads, but predictions may differ slightly from the saved run's.
    """
    import skops.io as sio

    model_dir = Path(model_dir)
    info = read_model_info(model_dir)
    path = model_dir / MODEL_FILE
    if not path.is_file():
        raise UserError("model.skops is missing; re-run `genoml-search run`", model_dir)
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as error:  # not a zip, corrupt schema, ...
        raise UserError(f"not a readable skops model file ({type(error).__name__}); re-run `genoml-search run`",
                        path) from None
    refused = sorted(t for t in untrusted if t not in TRUSTED_TYPES)
    if refused:
        raise UserError(f"model file contains types that are not on the allow-list: {refused[:5]}; refusing to "
                        "load it (if a custom family needs them, add them with model_io.trust_types)", path)
    notes = version_mismatches(info)
    for note in notes:
        log.warning("%s: %s; predictions may differ slightly from the run's", path, note)
    model = sio.load(path, trusted=untrusted)
    return model, {**info, "warnings": notes}
