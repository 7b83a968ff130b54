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
