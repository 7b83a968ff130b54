"""What a run leaves for use outside genoml-search: a plink2 ``--score`` file for linear models and a model card."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd


def write_model_extras(model_dir: Path, pipeline: Any, info: dict[str, Any], metrics: dict[str, Any],
                       variants: pd.DataFrame) -> list[str]:
    """Write ``score.tsv`` + ``score_covariates.tsv`` (linear final models) and ``MODEL_CARD.md`` into the model
    directory; return the names written."""
    from genoml_search.export.model_card import write_model_card
    from genoml_search.export.score import write_score_files

    try:
        written = write_score_files(model_dir, pipeline, info, variants)
    except Exception as error:  # an export that cannot be checked is left out; it must not lose the run
        logging.getLogger(__name__).warning("no plink2 score export for this model: %s", error)
        written = []
    written.append(write_model_card(model_dir, info, metrics, score_files=bool(written)))
    return written
