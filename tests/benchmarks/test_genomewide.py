"""The genome-wide benchmark's verdict: at least as good as the best CV-tuned baseline."""
from __future__ import annotations

from benchmarks.genomewide import difference_text, verdict


def _record(search: float) -> dict:
    return {"cohort": {"task": "regression"}, "search": {"validation": search},
            "baselines": {"lasso": {"validation": 0.2173784374319444}, "ridge": {"validation": 0.125}}}


def test_a_search_whose_model_is_the_baseline_meets_the_target_despite_float_rounding():
    tie = verdict(_record(0.21737843743194363))  # the same lasso fitted by the search and by the benchmark
    assert tie["best_baseline"] == "lasso" and tie["difference"] < 0 and tie["met"]
    assert difference_text(tie) == "0: the same scores to float rounding"
    below = verdict(_record(0.2173784374319444 - 1e-6))
    assert not below["met"] and difference_text(below) == "-0.0000"
    above = verdict(_record(0.2203))
    assert above["met"] and difference_text(above) == "+0.0029"
