"""Saving and loading the final model with skops (no pickle), plus what predicting on a new cohort needs."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from genoml_search import __version__
from genoml_search.data.dataset import MANIFEST, VARIANTS, Dataset
from genoml_search.errors import UserError
from genoml_search.fileio import atomic_directory

MODEL_FILE = "model.skops"
MODEL_INFO = "model.json"
MODEL_FORMAT = 1
# Module prefixes whose types may be loaded from a model file; anything else is refused.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "xgboost.", "lightgbm.", "catboost.", "genoml_search.",
                    "builtins.", "collections.", "_catboost", "xgboost", "lightgbm", "catboost")


def save_model(model_dir: Path, pipeline: Any, info: dict[str, Any], training: Dataset) -> Path:
    """Write ``model.skops``, ``model.json`` and the training variant table/manifest, atomically."""
    import skops.io as sio

    with atomic_directory(model_dir) as tmp:
        sio.dump(pipeline, tmp / MODEL_FILE)
        shutil.copy(training.path / VARIANTS, tmp / VARIANTS)
        shutil.copy(training.path / MANIFEST, tmp / MANIFEST)
        payload = {"format": MODEL_FORMAT, "tool": "genoml-search", "tool_version": __version__, **info}
        (tmp / MODEL_INFO).write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return model_dir


def load_model(model_dir: Path) -> tuple[Any, dict[str, Any]]:
    """Load a saved model, refusing unknown formats, other tool versions' formats and untrusted types."""
    import skops.io as sio

    info_path = Path(model_dir) / MODEL_INFO
    if not info_path.is_file():
        raise UserError("no model.json here; give the output directory of `genoml-search run`", model_dir)
    try:
        info = json.loads(info_path.read_text())
    except json.JSONDecodeError:
        raise UserError("model.json is not valid JSON; re-run `genoml-search run`", info_path) from None
    if info.get("tool") != "genoml-search" or info.get("format") != MODEL_FORMAT:
        raise UserError(
            f"model format {info.get('format')!r} from {info.get('tool')} {info.get('tool_version')} is not "
            f"format {MODEL_FORMAT} of genoml-search {__version__}; re-run `genoml-search run` with this version",
            info_path,
        )
    path = Path(model_dir) / MODEL_FILE
    untrusted = sio.get_untrusted_types(file=path)
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise UserError(f"model file contains types that are not trusted: {refused[:3]}; refusing to load", path)
    return sio.load(path, trusted=untrusted), info
