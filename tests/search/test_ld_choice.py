"""LD masks searched by a study: sampling ``ld_r2``, trials on exactly the mask's columns, datasets without masks."""
from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from genoml_search.core.features import load_features
from genoml_search.data.dataset import Dataset, mask_column, write_dataset
from genoml_search.errors import UserError
from genoml_search.search.ld_choice import LD_ATTR, check_fixed_mask, suggest_ld_mask, trial_snp_columns
from genoml_search.search.objective import CVSpec, TrialSpec, evaluate_trial
from genoml_search.search.pipeline import build_pipeline
from genoml_search.search.registry import get_family
from tests.search.conftest import make_dataset, noise_genotypes

N, M = 240, 40
SIGNAL = np.arange(0, 8)  # SNPs that carry the trait; the mask "0.5" leaves them out


def _masked_dataset(path) -> Dataset:
    """SNPs 0-7 determine the phenotype; mask 0.5 keeps only noise SNPs (8..), mask 0.9 keeps everything."""
    rng = np.random.default_rng(5)
    g = noise_genotypes(N, M, 5)
    risk = g[:, SIGNAL].sum(axis=1)
    y = (risk + rng.normal(0, 0.5, N) > np.median(risk)).astype(float)
    samples = pd.DataFrame({"ID": [f"s{i}" for i in range(N)], "phenotype": y, "AGE": rng.normal(50, 5, N)})
    variants = pd.DataFrame({"id": [f"rs{j}" for j in range(M)], "chrom": "1", "pos": np.arange(M) * 1000 + 1,
                             "counted_allele": "A", "other_allele": "G", "freq": 0.3})
    variants[mask_column("0.9")] = True
    variants[mask_column("0.5")] = np.arange(M) >= len(SIGNAL)
    manifest = {"phenotype": {"task": "binary"}, "covariates": {"columns": ["AGE"]},
                "ld_masks": {"masks": ["0.9", "0.5"], "default": "0.9", "window": 50, "step": 5}}
    write_dataset(path, g, samples, variants, manifest)
    return Dataset.open(path)


@pytest.fixture(scope="module")
def masked(tmp_path_factory) -> Dataset:
    return _masked_dataset(tmp_path_factory.mktemp("masked") / "ds")


def test_a_study_samples_the_threshold_and_records_it(masked) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    chosen = []
    for _ in range(12):
        trial = study.ask()
        chosen.append(suggest_ld_mask(trial, masked.ld_choices(), None, masked.default_ld_mask()))
        assert trial.params["ld_r2"] == chosen[-1]
        study.tell(trial, 0.5)
    assert set(chosen) == {"none", "0.9", "0.5"}
    assert [t.user_attrs[LD_ATTR] for t in study.trials] == chosen
    fixed = study.ask()
    assert suggest_ld_mask(fixed, masked.ld_choices(), "0.5", "0.9") == "0.5" and "ld_r2" not in fixed.params
    assert check_fixed_mask(masked, "0.50") == "0.5" and check_fixed_mask(masked, "NONE") == "none"
    with pytest.raises(UserError, match="stores the LD masks none, 0.9, 0.5"):
        check_fixed_mask(masked, "0.2")


def _spec(dataset: Dataset, family: str, params: dict, mask: str | None) -> TrialSpec:
    return TrialSpec(0, str(dataset.path), dataset.content_hash, "binary", "roc_auc", family, params, 1.0,
                     np.arange(N), CVSpec(3, 1, 0), ld_mask=mask)


@pytest.mark.parametrize("family,params", [("logistic", {"C": 1.0, "l1_ratio": 0.0}),
                                           ("lasso_path", {"l1_ratio": 1.0})])
def test_a_trial_uses_exactly_the_masked_columns(masked, family, params) -> None:
    if get_family(family).missing_dependency():
        pytest.skip(get_family(family).missing_dependency())
    with_signal = evaluate_trial(_spec(masked, family, params, "0.9"))
    without = evaluate_trial(_spec(masked, family, params, "0.5"))
    assert with_signal.error is None and without.error is None, (with_signal.error, without.error)
    assert with_signal.value > 0.8 and abs(without.value - 0.5) < 0.15  # the masked-out SNPs carry the trait
    features = load_features(str(masked.path), masked.content_hash, 0, "0.5")
    np.testing.assert_array_equal(features.snp_columns, np.arange(len(SIGNAL), M))
    if family == "logistic":  # the float copy is as wide as the mask (plus the covariate), never wider
        assert features.x.shape == (N, M - len(SIGNAL) + 1)
        assert features.feature_names[0] == f"rs{len(SIGNAL)}"


def test_refit_pipeline_on_the_full_columns_selects_the_mask(masked) -> None:
    trial = optuna.trial.create_trial(params={"ld_r2": "0.5"}, distributions={
        "ld_r2": optuna.distributions.CategoricalDistribution(["none", "0.9", "0.5"])}, value=0.5)
    masks = {name: masked.snp_columns(name) for name in masked.ld_choices()}
    columns = trial_snp_columns(trial, masks, "0.9")
    np.testing.assert_array_equal(columns, np.arange(len(SIGNAL), M))
    from genoml_search.core.features import features_from_dataset

    full = features_from_dataset(masked)
    pipeline = build_pipeline(get_family("logistic"), {"C": 1.0, "l1_ratio": 0.0}, "binary", full.n_snps,
                              n_covariates=1, snp_columns=columns).fit(full.x, full.y)
    assert pipeline.named_steps["ld_mask"].transform(full.x).shape[1] == M - len(SIGNAL) + 1
    assert pipeline.named_steps["model"].coef_.shape[1] == M - len(SIGNAL) + 1
    shuffled = full.x.copy()
    shuffled[:, SIGNAL] = shuffled[::-1][:, SIGNAL]  # columns outside the mask do not change a prediction
    np.testing.assert_allclose(pipeline.predict_proba(shuffled), pipeline.predict_proba(full.x))


def test_a_dataset_without_masks_samples_nothing_and_uses_every_snp(tmp_path) -> None:
    g = noise_genotypes(60, 12, 1)
    old = make_dataset(tmp_path / "old", g, (np.arange(60) % 2).astype(float))
    assert old.ld_choices() == [] and old.default_ld_mask() is None and old.snp_columns(None) is None
    trial = optuna.create_study().ask()
    assert suggest_ld_mask(trial, old.ld_choices(), None, old.default_ld_mask()) is None and not trial.params
    assert check_fixed_mask(old, "none") == "none"
    with pytest.raises(UserError):
        check_fixed_mask(old, "0.9")
    spec = TrialSpec(0, str(old.path), old.content_hash, "binary", "roc_auc", "logistic", {"C": 1.0, "l1_ratio": 0.0},
                     1.0, np.arange(60), CVSpec(3, 1, 0))
    assert evaluate_trial(spec).error is None
    assert load_features(str(old.path), old.content_hash).x.shape == (60, 12)
