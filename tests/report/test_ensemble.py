"""The report's ensemble section says when a discarded ensemble was not refitted (no validation score)."""
from __future__ import annotations

from genoml_search.report.ensemble import ensemble_section


def _metrics(refitted: bool) -> dict:
    record = {"method": "greedy", "chosen": False, "reason": "the ensemble does not beat the best single trial",
              "nested": 0.70, "optimistic": 0.72, "best_single": {"trial": 3, "roc_auc": 0.71}, "n_candidates": 5,
              "refitted": refitted, "members": [{"trial": 3, "family": "logistic", "weight": 1.0, "cv": 0.71}]}
    validation = {"best_single": {"roc_auc": 0.69}, "ensemble": {"roc_auc": 0.68} if refitted else None}
    return {"cv": {"ensemble": record}, "validation": validation}


def test_a_discarded_ensemble_is_reported_as_not_refitted():
    m = _metrics(refitted=False)
    page = ensemble_section(m["cv"], m["validation"], "roc_auc", {"roc_auc": "ROC-AUC"})
    assert page is not None and "not refitted" in page and "--ensemble-validate" in page
    assert "0.68" not in page


def test_a_validated_ensemble_shows_its_validation_score():
    m = _metrics(refitted=True)
    page = ensemble_section(m["cv"], m["validation"], "roc_auc", {"roc_auc": "ROC-AUC"})
    assert page is not None and "not refitted" not in page and "0.68" in page
