"""MODEL_CARD.md states what the run measured."""
from __future__ import annotations

import json


def test_model_card_contents(binary_run):
    card = (binary_run / "model" / "MODEL_CARD.md").read_text()
    metrics = json.loads((binary_run / "metrics.json").read_text())
    for heading in ("## Data", "## Quality control", "## Model", "## Validation", "## Related samples",
                    "## Intended use", "## Versions"):
        assert heading in card, heading
    roc = metrics["validation"]["intervals"]["roc_auc"]
    assert f"| roc_auc | {roc['value']:.4f} | {roc['low']:.4f}-{roc['high']:.4f} | DeLong |" in card
    assert f"trial {metrics['cv']['best_trial']}" in card and "logistic" in card
    assert "the SNPs add" in card and "score.tsv" in card
    assert f"{metrics['cv']['n_cases']}/{metrics['cv']['n_controls']}" in card
    assert "scikit-learn" in card
