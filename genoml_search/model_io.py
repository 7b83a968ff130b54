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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genoml_search.versions import __version__
from genoml_search.data.cohort_structure import PCA_FILE
from genoml_search.data.dataset import MANIFEST, VARIANTS, Dataset
from genoml_search.errors import UserError
from genoml_search.tasks import TASKS
from genoml_search.versions import versions

if TYPE_CHECKING:
    import pandas as pd

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
    "genoml_search.search.pipeline.SnpColumns",  # an LD mask's columns (search/ld_choice.py)
    "genoml_search.search.tabular.TabularPreprocessor",
    # HistGB with native categories (munge --table) keeps a ColumnTransformer whose OrdinalEncoder check is
    # partial(check_array, ...): a function reference restored by name, not called while loading.
    "functools.partial",
    "sklearn.utils.validation.check_array",
    "genoml_search.search.families.discriminant.BoundedLDA",
    "genoml_search.search.families.discriminant.BoundedQDA",
    "genoml_search.search.families.linear.HeritabilityRidge",
    "genoml_search.search.families.paths.PenalizedPathModel",
    "genoml_search.search.families.paths.KernelRidgeModel",
    "genoml_search.ensemble.model.EnsembleModel",  # ensembles of the best trials (#21)
    "genoml_search.ensemble.combine.WeightedAverage",
    "genoml_search.ensemble.combine.LinearStack",
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

    from genoml_search.outputs import OutputKind, output_directory

    with output_directory(model_dir, OutputKind.MODEL) as tmp:
        sio.dump(pipeline, tmp / MODEL_FILE)
        shutil.copyfile(training.path / VARIANTS, tmp / VARIANTS)  # content only: modes follow the umask
        shutil.copyfile(training.path / MANIFEST, tmp / MANIFEST)
        if (training.path / PCA_FILE).is_file():  # new cohorts are projected onto the training PCs
            shutil.copyfile(training.path / PCA_FILE, tmp / PCA_FILE)
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
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError("model.json is not valid JSON; re-run `genoml-search run`", info_path) from None
    if not isinstance(info, dict) or info.get("tool") != "genoml-search" or info.get("format") != MODEL_FORMAT:
        found = info if isinstance(info, dict) else {}
        raise UserError(
            f"model format {found.get('format')!r} written by {found.get('tool')} {found.get('tool_version')} is "
            f"not format {MODEL_FORMAT} of genoml-search {__version__}; re-run `genoml-search run` with this "
            "version, or predict with the version that wrote the model",
            info_path,
        )
    ModelInfo.from_dict(info, info_path)  # checks every field a reader relies on
    return info


@dataclass
class ModelInfo:
    """The typed content of ``model.json`` (format :data:`MODEL_FORMAT`); its keys are an interface."""

    task: str
    family: str
    params: dict[str, Any]
    snp_p_threshold: float
    feature_names: list[str]
    n_snps: int
    classes: list[int] | None = None
    n_pcs: int = 0
    covariates: dict[str, Any] = field(default_factory=dict)
    dataset_hash: str | None = None
    dataset_path: str | None = None
    study: str | None = None
    best_trial: int | None = None

    @classmethod
    def from_dict(cls, info: dict[str, Any], path: Path) -> ModelInfo:
        """Check the fields of a parsed ``model.json``; a missing or mangled one is a one-line UserError."""
        def bad(key: str, expected: str) -> UserError:
            return UserError(f"model.json: {key} is {info.get(key)!r}, expected {expected}; the file was edited or "
                             "damaged: re-run `genoml-search run`", path)

        if info.get("task") not in TASKS:
            raise bad("task", "binary, regression or multiclass")
        names = info.get("feature_names")
        if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise bad("feature_names", "a list of names")
        n_snps = info.get("n_snps", 0)
        if not _is_count(n_snps) or (names is not None and n_snps > len(names)):
            raise bad("n_snps", f"a count of at most {len(names or [])}")
        threshold = info.get("snp_p_threshold", 1.0)
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 <= threshold <= 1:
            raise bad("snp_p_threshold", "a p-value")
        n_pcs = info.get("n_pcs") or 0
        if not _is_count(n_pcs):
            raise bad("n_pcs", "a count")
        classes = info.get("classes")
        if classes is not None and not (isinstance(classes, list) and all(_is_count(c) for c in classes)):
            raise bad("classes", "a list of class codes")
        if not isinstance(info.get("family", ""), str) or not isinstance(info.get("params") or {}, dict):
            raise bad("family", "a family name with a params object")
        covariates = info.get("covariates") or {}
        if not isinstance(covariates, dict):
            raise bad("covariates", "an object")
        return cls(info["task"], str(info.get("family", "")), dict(info.get("params") or {}), float(threshold),
                   list(names or []), n_snps, classes, n_pcs, covariates, info.get("dataset_hash"),
                   info.get("dataset_path"), info.get("study"), info.get("best_trial"))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_model_variants(model_dir: Path) -> pd.DataFrame:
    """The training variant table saved with a model, checked (columns, one row per training SNP)."""
    import pandas as pd

    from genoml_search.data.dataset import VARIANT_COLUMNS

    path = Path(model_dir) / VARIANTS
    try:
        variants = pd.read_csv(path, sep="\t", dtype={"id": str, "chrom": str, "counted_allele": str,
                                                      "other_allele": str})
    except FileNotFoundError:
        raise UserError("variants.tsv is missing; re-run `genoml-search run`", model_dir) from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise UserError(f"not a readable variant table ({str(error).splitlines()[0][:100]}); re-run "
                        "`genoml-search run`", path) from None
    missing = [c for c in VARIANT_COLUMNS if c not in variants.columns]
    if missing:
        raise UserError(f"columns {missing} are missing; the file was edited or damaged: re-run `genoml-search run`",
                        path)
    manifest = _read_manifest(model_dir)
    expected = manifest.get("n_variants")
    if expected is not None and len(variants) != expected:
        raise UserError(f"holds {len(variants)} variants, not the {expected} of the model's manifest.json; the file "
                        "was edited or damaged: re-run `genoml-search run`", path)
    if variants["id"].isna().any() or variants["id"].duplicated().any():
        raise UserError("variant IDs are missing or duplicated; re-run `genoml-search run`", path)
    return variants


def _read_manifest(model_dir: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((Path(model_dir) / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("manifest.json is missing; re-run `genoml-search run`", model_dir) from None
    except (ValueError, UnicodeDecodeError):
        raise UserError("manifest.json is not valid JSON; re-run `genoml-search run`", model_dir) from None
    if not isinstance(manifest, dict):
        raise UserError("manifest.json does not hold a JSON object; re-run `genoml-search run`", model_dir)
    return manifest


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
