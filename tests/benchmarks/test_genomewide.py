"""The genome-wide benchmark's verdict: at least as good as the best CV-tuned baseline."""
from __future__ import annotations

from benchmarks.genomewide import difference_text, verdict


def _record(search: float) -> dict:
    return {"cohort": {"task": "regression"}, "search": {"validation": search},
            "baselines": {"lasso": {"validation": 0.2173784374319444}, "ridge": {"validation": 0.125}}}


def test_a_search_whose_model_is_the_baseline_meets_the_target_at_the_solvers_tolerance():
    for same_model in (0.21737843743194363, 0.2173784374319444 - 1.9e-7):  # fitted by the search and the benchmark
        tie = verdict(_record(same_model))
        assert tie["best_baseline"] == "lasso" and tie["difference"] < 0 and tie["met"]
        assert difference_text(tie) == "0: the same model, equal to the solver's tolerance"
    below = verdict(_record(0.2173784374319444 - 2e-6))
    assert not below["met"] and difference_text(below) == "-0.0000"
    above = verdict(_record(0.2203))
    assert above["met"] and difference_text(above) == "+0.0029"
