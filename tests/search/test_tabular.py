"""In-fold preprocessing of feature tables: categorical levels and one-hot columns come from the fold's
training rows only, rare and unseen levels are pooled, native encoders get pandas categories, numeric NaN
is imputed with training means only for families that need it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genoml_search.search.registry import get_family
from genoml_search.search.pipeline import build_pipeline
from genoml_search.search.tabular import TabularLayout, TabularPreprocessor, encoding_for


def _matrix() -> tuple[np.ndarray, np.ndarray]:
    """One SNP, a numeric column, a categorical with 4 manifest levels, one covariate."""
    rng = np.random.default_rng(0)
    n = 60
    category = np.repeat([0.0, 1.0, 2.0], 20)  # level 3 never appears in training rows
    x = np.column_stack([rng.integers(0, 3, n), rng.normal(size=n), category, rng.normal(size=n)]).astype(np.float32)
    y = (category == 1).astype(float)
    return x, y


def _preprocessor(**kwargs) -> TabularPreprocessor:
    return TabularPreprocessor(n_snps=1, kinds=("numeric", "categorical"), n_levels=(0, 4), **kwargs)


def test_onehot_columns_fitted_on_training_rows_only():
    x, y = _matrix()
    train = x[:40]  # levels 0 and 1 only: level 2 lives in the held-out rows
    step = _preprocessor(encoding="onehot").fit(train, y[:40])
    assert step.n_categorical_outputs == 3  # kept levels 0, 1 + other
    out = step.transform(x)
    assert out.shape == (60, 3 + 3)  # one-hot block, SNP + numeric, covariate last
    assert np.array_equal(out[40:, :3], np.tile([0, 0, 1], (20, 1)))  # level 2 unseen in the fold: "other"
    assert np.array_equal(out[:20, 0], np.ones(20)) and np.array_equal(out[20:40, 1], np.ones(20))
    assert np.array_equal(out[:, -1], x[:, 3])  # covariates stay last


def test_rare_levels_pooled_and_missing_gives_zeros():
    x, y = _matrix()
    x[:3, 2] = 3.0  # level 3 in 3 training rows: fewer than min_level_count 5
    x[5, 2] = np.nan
    step = _preprocessor(encoding="onehot").fit(x, y)
    out = step.transform(x)
    assert step.n_categorical_outputs == 4  # levels 0, 1, 2 + other
    assert np.array_equal(out[:3, :4], np.tile([0, 0, 0, 1], (3, 1)))
    assert np.array_equal(out[5, :4], np.zeros(4))


def test_onehot_cap_keeps_the_most_frequent_levels():
    x, y = _matrix()
    step = _preprocessor(encoding="onehot", max_levels=1).fit(x[:45], y[:45])  # level 1: 20, level 0: 20, 2: 5
    assert step.n_categorical_outputs == 2


def test_native_frame_has_categories_first():
    x, y = _matrix()
    x[7, 2] = np.nan
    step = _preprocessor(encoding="native").fit(x[:40], y[:40])
    frame = step.transform(x)
    assert isinstance(frame, pd.DataFrame) and isinstance(frame.dtypes.iloc[0], pd.CategoricalDtype)
    codes = frame.iloc[:, 0].cat.codes.to_numpy()
    assert set(codes[40:]) == {2}  # other (2 kept levels)
    assert codes[7] == 3  # missing: its own category


def test_numeric_imputed_with_training_means_only_when_asked():
    x, y = _matrix()
    x[0, 1] = np.nan
    imputed = _preprocessor(encoding="onehot", impute=True).fit(x[:40], y[:40]).transform(x)
    raw = _preprocessor(encoding="onehot", impute=False).fit(x[:40], y[:40]).transform(x)
    assert imputed[0, 4] == pytest.approx(np.nanmean(x[:40, 1]))
    assert np.isnan(raw[0, 4])


def test_association_filter_covers_numeric_table_columns_not_covariates():
    x, y = _matrix()
    rng = np.random.default_rng(3)
    x[:, 1] = y + rng.normal(scale=0.1, size=60)  # strongly associated numeric table column
    step = _preprocessor(encoding="onehot", snp_p_threshold=1e-6).fit(x, y)
    assert list(step.numeric_keep_) == [1, 3]  # the SNP (noise) filtered out, covariate always kept


@pytest.mark.parametrize("name", ["catboost", "lightgbm", "hist_gradient_boosting", "logistic", "knn"])
def test_each_family_fits_and_predicts(name):
    x, y = _matrix()
    family = get_family(name)
    layout = TabularLayout(1, ("numeric", "categorical"), (0, 4), 1)
    params = {p.name: (p.choices[0] if hasattr(p, "choices") else p.low) for p in family.params("binary")
              if p.when is None}
    pipeline = build_pipeline(family, params, "binary", 1, tabular=layout)
    pipeline.fit(x[:40], y[:40])
    probabilities = pipeline.predict_proba(x[40:])
    assert probabilities.shape == (20, 2)
    assert encoding_for(name) == ("native" if name in ("catboost", "lightgbm", "hist_gradient_boosting") else "onehot")


def test_native_families_receive_the_categorical_column_as_a_category():
    x, y = _matrix()
    layout = TabularLayout(1, ("numeric", "categorical"), (0, 4), 1)
    models = {}
    for name in ("lightgbm", "hist_gradient_boosting", "catboost"):
        family = get_family(name)
        params = {p.name: (p.choices[0] if hasattr(p, "choices") else p.low) for p in family.params("binary")
                  if p.when is None}
        models[name] = build_pipeline(family, params, "binary", 1, tabular=layout).fit(x, y).named_steps["model"]
    assert models["lightgbm"].booster_.pandas_categorical == [[0, 1, 2, 3, 4]]  # 3 kept levels, other, missing
    assert list(models["hist_gradient_boosting"].is_categorical_) == [True, False, False, False]
    assert models["catboost"].get_params()["cat_features"] == [0]


@pytest.mark.parametrize("name", ["logistic", "lightgbm"])
def test_shuffled_phenotype_gives_chance_on_a_munged_table(tmp_path, name):
    """The breast-cancer table with its diagnosis shuffled: the in-fold pipeline must not find signal."""
    import importlib.util

    from genoml_search.core.features import features_from_dataset
    from genoml_search.core.metrics import get_metric
    from genoml_search.core.scoring import predict_scores
    from genoml_search.data.dataset import Dataset
    from genoml_search.data.munge import MungeOptions, munge
    from genoml_search.search.objective import CVSpec, make_folds
    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location("make_example", ROOT / "examples" / "tabular" / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    frame = module.example_frame()
    frame["diagnosis"] = np.random.default_rng(5).permutation(frame["diagnosis"].to_numpy())
    frame.to_csv(tmp_path / "shuffled.csv", index=False, na_rep="NA")
    munge(MungeOptions(out=tmp_path / "ds", tables=[str(tmp_path / "shuffled.csv")], pheno_name="diagnosis"))
    data = features_from_dataset(Dataset.open(tmp_path / "ds"))
    family = get_family(name)
    params = {p.name: (p.choices[0] if hasattr(p, "choices") else p.low) for p in family.params("binary")
              if p.when is None}
    metric = get_metric("roc_auc", "binary")
    scores = []
    for train, test in make_folds(data.y, "binary", CVSpec(5, 1, 0)):
        model = build_pipeline(family, params, "binary", data.n_snps, 0.05, tabular=data.tabular)
        model.fit(data.x[train], data.y[train])
        scores.append(metric.compute(data.y[test], predict_scores(model, data.x[test], "binary")))
    assert abs(np.mean(scores) - 0.5) < 0.08, scores


# --- the in-fold screen of table columns ---------------------------------------------------------------------

def _quadratic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A SNP-like column and a numeric table column with the same purely quadratic effect, one covariate."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(size=n)
    x = np.column_stack([u, u, rng.normal(size=n)]).astype(np.float32)
    return x, 20 * (u - 0.5) ** 2 + rng.normal(size=n)


def test_a_quadratic_only_table_column_survives_a_strict_threshold_a_snp_does_not():
    """Table columns get the non-linear screen; SNPs keep the linear test (additive dosages)."""
    x, y = _quadratic(400, 0)
    step = TabularPreprocessor(n_snps=1, kinds=("numeric",), n_levels=(0,), task="regression",
                               snp_p_threshold=1e-6).fit(x, y)
    assert list(step.numeric_keep_) == [1, 2]  # the table column kept, the SNP (same values) dropped, covariate


def test_the_table_screen_is_fitted_on_the_training_rows_only():
    """The column carries the quadratic effect in the first half of the rows only: kept when the filter is
    fitted there, dropped when fitted on the other half."""
    x, y = _quadratic(600, 1)
    y[300:] = np.random.default_rng(2).permutation(y[300:])
    def kept(rows: slice) -> bool:
        step = TabularPreprocessor(n_snps=0, kinds=("numeric", "numeric"), n_levels=(0, 0), task="regression",
                                   snp_p_threshold=1e-4).fit(x[rows][:, 1:], y[rows])
        return 0 in step.numeric_keep_
    assert kept(slice(0, 300)) and not kept(slice(300, 600))


def test_screening_table_columns_on_all_samples_leaks_the_in_fold_screen_stays_at_chance():
    """Pure noise, 120 samples x 1,000 table columns: the 10 columns the screen ranks first on ALL samples give a
    high CV AUC; the same screen inside each fold (the pipeline, ~10 columns kept) stays at chance."""
    from sklearn.linear_model import LogisticRegression

    from genoml_search.core.association import table_association_pvalues
    from genoml_search.core.metrics import get_metric
    from genoml_search.core.scoring import predict_scores
    from genoml_search.search.objective import CVSpec, make_folds

    layout = TabularLayout(0, ("numeric",) * 1000, (0,) * 1000, 0)
    family = get_family("logistic")
    metric = get_metric("roc_auc", "binary")
    leaky, ours = [], []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(120, 1000)).astype(np.float32)
        y = rng.integers(0, 2, 120).astype(float)
        top = np.argsort(table_association_pvalues(x, y, "binary"))[:10]  # screened on ALL samples: the leak
        leaky_folds, our_folds = [], []
        for train, test in make_folds(y, "binary", CVSpec(5, 1, 0)):
            model = LogisticRegression(max_iter=1000).fit(x[train][:, top], y[train])
            leaky_folds.append(metric.compute(y[test], model.predict_proba(x[test][:, top])[:, 1]))
            pipeline = build_pipeline(family, {"C": 1.0, "l1_ratio": 0.0}, "binary", 0, 0.01, tabular=layout)
            pipeline.fit(x[train], y[train])
            our_folds.append(metric.compute(y[test], predict_scores(pipeline, x[test], "binary")))
        leaky.append(np.mean(leaky_folds))
        ours.append(np.mean(our_folds))
    assert min(leaky) > 0.75, leaky
    assert abs(np.mean(ours) - 0.5) < 0.1 and max(ours) < 0.65, ours


def test_feature_width_and_tables_only(tmp_path):
    """A table-only dataset counts its table columns and is tables_only; a genotype one counts SNPs and
    covariates (plus PCs asked for) and is not."""
    from genoml_search.data.dataset import Dataset
    from genoml_search.data.munge import MungeOptions, munge
    from genoml_search.search.tabular import feature_width, tables_only
    from tests.search.conftest import make_dataset, noise_genotypes

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"ID": [f"r{i}" for i in range(40)], "a": rng.normal(size=40), "b": rng.normal(size=40),
                          "colour": rng.choice(["red", "blue", "green"], 40), "y": rng.normal(size=40)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    munge(MungeOptions(out=tmp_path / "table_ds", tables=[str(tmp_path / "t.csv")], pheno_name="y",
                       task="regression"))
    table = Dataset.open(tmp_path / "table_ds")
    assert tables_only(table) and feature_width(table) == 3
    genotypes = make_dataset(tmp_path / "geno_ds", noise_genotypes(30, 25, 0), rng.normal(size=30), "regression",
                             covariates={"AGE": rng.normal(size=30)})
    assert not tables_only(genotypes) and feature_width(genotypes) == 26 and feature_width(genotypes, n_pcs=4) == 30
