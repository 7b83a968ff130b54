"""The expectation calibration: per-cell means and standard errors over cohorts, and the README rows."""
from __future__ import annotations

import json

import pytest

from benchmarks.expectation import kept_cohorts, summarize_cells, summary_rows


def record(task: str, n_causal: int, seed: int, blup: float, expected: float = 0.05) -> dict:
    return {"task": task, "n_train": 2_000, "h2": 0.1, "n_causal": n_causal, "seed": seed, "metric": "r2",
            "expected": expected, "max": 0.12, "blup": blup, "blup_ratio": blup / expected,
            "covariates_only": 0.02, "oracle": 0.12, "m_effective": 2_000.0}


def test_cells_average_their_own_cohorts_with_a_standard_error():
    records = [record("regression", 100, 1, 0.04), record("regression", 100, 2, 0.06),
               record("regression", 1_000, 3, 0.03), record("regression", 1_000, 4, 0.03),
               record("regression", 1_000, 5, 0.03)]
    sparse, polygenic = summarize_cells(records)
    assert (sparse["cohorts"], polygenic["cohorts"]) == (2, 3)
    assert sparse["blup"] == pytest.approx(0.05) and sparse["blup_ratio"] == pytest.approx(1.0)
    assert sparse["blup_se"] == pytest.approx(0.01)  # sd 0.01414 / sqrt(2)
    assert polygenic["blup_ratio"] == pytest.approx(0.6) and polygenic["blup_ratio_se"] == pytest.approx(0.0)
    # expected 0.05 over covariates-only 0.02: BLUP 0.03 reaches a third of that gain
    assert polygenic["blup_genetic_share"] == pytest.approx(1 / 3)


def test_summary_names_the_cells_below_the_target():
    cells = summarize_cells([record("regression", 100, 1, 0.05), record("regression", 1_000, 2, 0.04)])
    (row,) = summary_rows(cells)
    assert row["result"] == "80%-100% (mean 90%); below 90%: h2=0.1 n=2000 causal=1000 (80.0%)"


def test_a_run_of_some_tasks_keeps_the_other_tasks_cohorts(tmp_path):
    previous = tmp_path / "expectation.json"
    assert kept_cohorts(previous, ["binary"]) == ([], {})
    cohorts = [record("regression", 100, 1, 0.04), {**record("binary", 100, 2, 0.6), "metric": "roc_auc"}]
    previous.write_text(json.dumps({"design": {"seeds_per_cell": {"2000": 8, "10000": 3}}, "cohorts": cohorts}))
    records, seeds = kept_cohorts(previous, ["binary"])
    assert records == cohorts[:1] and seeds == {"regression": {"2000": 8, "10000": 3}}
    previous.write_text(json.dumps({"design": {"seeds_per_task": {"regression": {"2000": 8}, "binary": {"2000": 4}}},
                                    "cohorts": cohorts}))
    assert kept_cohorts(previous, ["regression"]) == (cohorts[1:], {"binary": {"2000": 4}})
