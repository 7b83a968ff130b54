"""Per-column association tests of features with the phenotype (the in-fold filter of SNPs and table columns)."""
from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.feature_selection import f_classif

from genoml_search.tasks import Task


def association_pvalues(x: np.ndarray, y: np.ndarray, task: str) -> np.ndarray:
    """Per-column association p-values: correlation t-test (binary, regression) or ANOVA F (multiclass)."""
    if task == Task.MULTICLASS:
        with np.errstate(invalid="ignore", divide="ignore"):
            _, p = f_classif(x, y)
        return np.nan_to_num(p, nan=1.0)
    n = x.shape[0]
    xc = x - x.mean(axis=0, dtype=np.float64)
    yc = (y - y.mean()).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (yc @ xc) / (np.sqrt((xc * xc).sum(axis=0)) * np.sqrt(yc @ yc))
        r = np.clip(np.nan_to_num(r), -0.999999, 0.999999)
        t = r * np.sqrt((n - 2) / (1 - r * r))
    return 2 * stats.t.sf(np.abs(t), df=n - 2)


N_BINS = 10  # quantile bins of the binned screen: enough to see a U shape, >= ~10 samples a bin from n = 100
_CHUNK = 2_048  # columns ranked at a time (a float64 rank copy of n x chunk, not of the whole table)


def _bin_codes(x: np.ndarray, n_bins: int) -> np.ndarray:
    """Per column, each sample's quantile bin 0..n_bins-1 (ties share a bin: ranks by ``min``)."""
    ranks = stats.rankdata(x, axis=0, method="min") - 1
    return np.minimum((ranks * n_bins) // x.shape[0], n_bins - 1).astype(np.int64)


def binned_association_pvalues(x: np.ndarray, y: np.ndarray, task: str, n_bins: int = N_BINS) -> np.ndarray:
    """Per-column p-values of a test that sees non-linear effects: each column cut into ``n_bins`` quantile bins,
    then a one-way ANOVA F of the phenotype across the bins (binary, regression) or a chi-square test of bins x
    classes (multiclass). A U-shaped effect (e.g. ``(x - 0.5)**2``) has no linear correlation but very different
    bin means. ``x`` must have no missing values (impute first)."""
    out = np.ones(x.shape[1])
    for start in range(0, x.shape[1], _CHUNK):
        block = np.asarray(x[:, start:start + _CHUNK], dtype=np.float64)
        out[start:start + block.shape[1]] = _binned_block(_bin_codes(block, n_bins), np.asarray(y, float), task, n_bins)
    return out


def _binned_block(codes: np.ndarray, y: np.ndarray, task: str, n_bins: int) -> np.ndarray:
    """The binned test over a block of bin codes (n x k); columns flattened into (column, bin) cells."""
    n, k = codes.shape
    cells = (codes + n_bins * np.arange(k)).ravel()  # row-major: cell of sample i, column j
    counts = np.bincount(cells, minlength=k * n_bins).reshape(k, n_bins).astype(np.float64)
    groups = (counts > 0).sum(axis=1)
    if task == Task.MULTICLASS:
        classes = np.unique(y, return_inverse=True)[1]
        n_classes = int(classes.max()) + 1
        joint = np.bincount(cells * n_classes + np.repeat(classes, k), minlength=k * n_bins * n_classes)
        observed = joint.reshape(k, n_bins, n_classes).astype(np.float64)
        expected = counts[:, :, None] * np.bincount(classes, minlength=n_classes)[None, None, :] / n
        with np.errstate(invalid="ignore", divide="ignore"):
            chi2 = np.where(expected > 0, (observed - expected) ** 2 / expected, 0.0).sum(axis=(1, 2))
        p = stats.chi2.sf(chi2, df=np.maximum((groups - 1) * (n_classes - 1), 1))
        return np.where(groups > 1, p, 1.0)
    yc = y - y.mean()
    sums = np.bincount(cells, weights=np.repeat(yc, k), minlength=k * n_bins).reshape(k, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        between = np.where(counts > 0, sums ** 2 / counts, 0.0).sum(axis=1)
        within = np.maximum(float(yc @ yc) - between, 1e-300)
        f = (between / np.maximum(groups - 1, 1)) / (within / np.maximum(n - groups, 1))
    p = stats.f.sf(f, np.maximum(groups - 1, 1), np.maximum(n - groups, 1))
    return np.where(groups > 1, np.nan_to_num(p, nan=1.0), 1.0)


def table_association_pvalues(x: np.ndarray, y: np.ndarray, task: str) -> np.ndarray:
    """The screen of numeric feature-table columns: the smaller of the linear and the binned test's p-values,
    Bonferroni-corrected for the two (so a linear effect keeps nearly all its power and a purely non-linear one
    is seen too). SNPs keep the linear test alone: dosage effects are additive."""
    linear = association_pvalues(x, y, task)
    binned = binned_association_pvalues(x, y, task)
    return np.minimum(1.0, 2.0 * np.minimum(linear, binned))
