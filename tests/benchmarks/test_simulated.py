"""The simulated benchmark's reference models: the fast RidgeCV baseline and the BLUP calibration."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.ld_prune_accuracy import summarize
from benchmarks.simulated import blup_score, grid, ridge_loo, selected
from genoml_search.data.simulate import SimulationSpec, simulate_cohorts


@pytest.mark.parametrize("n, p", [(300, 500), (600, 200)])  # the Gram and the covariance routes
def test_ridge_loo_is_sklearns_ridgecv(n, p):
    rng = np.random.default_rng(n)
    x = rng.binomial(2, 0.3, size=(n, p)).astype(float)
    x[rng.random(x.shape) < 0.01] = np.nan
    y = np.nan_to_num(x) @ rng.normal(0, 0.1, p) + rng.normal(size=n)
    x_new = rng.binomial(2, 0.3, size=(40, p)).astype(float)
    alphas = np.logspace(0, 4, 13)
    alpha, prediction = ridge_loo(x, y, x_new, alphas)
    reference = make_pipeline(SimpleImputer(), StandardScaler(), RidgeCV(alphas=alphas)).fit(x, y)
    assert alpha == reference[-1].alpha_
    np.testing.assert_allclose(prediction, reference.predict(x_new), atol=1e-9)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "c"
    spec = SimulationSpec(n_train=600, n_validation=300, n_snps=1000, h2=0.6, n_causal=30, task="regression",
                          seed=4)
    return out, simulate_cohorts(spec, out)


def test_blup_with_the_true_h2_learns_the_genetics_and_a_snp_subset_is_respected(cohort):
    out, truth = cohort
    full = blup_score(out, truth, "regression")
    covariates_only = blup_score(out, truth, "regression", snps=set())
    assert full["n_snps"] == 1000 and covariates_only["n_snps"] == 0
    assert full["lambda"] == pytest.approx(1000 * 0.4 / 0.6, abs=0.1)  # recorded to one decimal
    assert covariates_only["score"] < 0.08  # V_c is 0.023
    assert full["score"] > covariates_only["score"] + 0.1
    causal = blup_score(out, truth, "regression", snps=set(truth["causal_snps"]))
    assert causal["n_snps"] == 30 and causal["score"] > full["score"]  # knowing the causal SNPs helps


def test_blup_on_a_shuffled_phenotype_is_at_chance(cohort, tmp_path):
    out, truth = cohort
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    for path in out.iterdir():
        (shuffled / path.name).write_bytes(path.read_bytes())
    pheno = (shuffled / "train_pheno.csv").read_text().splitlines()
    values = [line.split(",")[1] for line in pheno[1:]]
    np.random.default_rng(0).shuffle(values)
    (shuffled / "train_pheno.csv").write_text(
        "\n".join([pheno[0]] + [f"{line.split(',')[0]},{v}" for line, v in zip(pheno[1:], values)]) + "\n")
    assert blup_score(shuffled, json.loads((out / "truth.json").read_text()), "regression")["score"] < 0.05


def test_prune_summary_is_the_share_of_the_snp_gain_over_covariates():
    record = {"task": "regression", "n_causal": 100, "covariates_only": 0.02, "all_snps": 0.12,
              "pruned": {t: {"score": score, "n_snps": n, "causal_kept_fraction": n / 100} for t, score, n in
                         (("0.5", 0.07, 50), ("0.8", 0.10, 80), ("0.9", 0.11, 90), ("0.95", 0.12, 95))}}
    rows = summarize([record])
    assert len(rows) == 1
    assert rows[0]["result"].startswith("r2 0.5: 50% (50 SNPs); r2 0.8: 80% (80 SNPs); r2 0.9: 90%")


def test_replicate_cohorts_are_averaged_with_the_cells_own_cohort():
    from benchmarks.simulated import replicate_summary, replicates_row, with_replicates

    def cell_record(seed: int, achieved: float, blup: float) -> dict:
        return {"cell": {"seed": seed}, "label": "regression h2=0.1 n=2000 causal=1000", "achieved": achieved,
                "expected": 0.03, "ratio": achieved / 0.03, "blup_ratio": blup / 0.03, "oracle": 0.1,
                "n_finished_trials": 40, "baseline": {"score": 0.01}, "blup": {"score": blup}}

    record = with_replicates(cell_record(113, 0.015, 0.018),
                             [replicate_summary(cell_record(1113, 0.03, 0.03)),
                              replicate_summary(cell_record(2113, 0.036, 0.033))])
    assert record["n_cohorts"] == 3 and [c["seed"] for c in record["replicates"]] == [1113, 2113]
    assert record["mean_ratio"] == pytest.approx((0.5 + 1.0 + 1.2) / 3)
    assert record["mean_blup_ratio"] == pytest.approx((0.6 + 1.0 + 1.1) / 3)
    assert replicates_row(record)["result"] == "90% of expected (50%, 100%, 120%); BLUP true h2 90%"


def test_only_takes_a_full_cell_name_exactly_and_other_text_as_a_substring():
    names = {cell.name for cell in grid(False)}
    picked = [c.name for c in grid(False) if selected(c, ["regression-h2_0.1-n_2000-causal_100"], names)]
    assert picked == ["regression-h2_0.1-n_2000-causal_100"]
    picked = [c.name for c in grid(False) if selected(c, ["regression-h2_0.1-n_2000"], names)]
    assert sorted(picked) == ["regression-h2_0.1-n_2000-causal_100", "regression-h2_0.1-n_2000-causal_1000"]
