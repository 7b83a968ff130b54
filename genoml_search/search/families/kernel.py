"""Support vector machines: SVC (probabilities by sigmoid calibration) and SVR (standardized target).

``gamma`` is absolute; on standardized features a squared distance is about 2 x n_features, so 1e-6..1e-1
covers "scale" for a few hundred up to 100,000 SNPs. Solver iterations and the kernel cache are capped so
that one trial cannot run away; a capped fit warns (ConvergenceWarning) and is scored as it is.
"""
from __future__ import annotations

from typing import Any

from genoml_search.search.families.linear import standardized_target
from genoml_search.search.registry import (
    TASKS, CategoricalParam, FloatParam, IntParam, ModelFamily, Param, Task, register,
)

MAX_ITER = 100_000
CACHE_MB = 500
CALIBRATION_FOLDS = 3


@register
class SVM(ModelFamily):
    """Kernel support vector machine (rbf, linear, poly)."""

    name = "svm"
    tasks = frozenset(TASKS)
    needs_scaling = True

    def space(self, task: str) -> list[Param]:
        space: list[Param] = [
            CategoricalParam("kernel", ("rbf", "linear", "poly")),
            FloatParam("C", 1e-3, 100.0, log=True, limits=(0.0, None)),
            FloatParam("gamma", 1e-6, 1e-1, log=True, when=("kernel", ("rbf", "poly")), limits=(0.0, None)),
            IntParam("degree", 2, 3, when=("kernel", ("poly",)), limits=(1, 5)),
        ]
        if task == Task.REGRESSION:
            space.append(FloatParam("epsilon", 0.01, 1.0, log=True, limits=(0.0, None)))
        return space

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC, SVR

        options = dict(params, max_iter=MAX_ITER, cache_size=CACHE_MB)
        if task == Task.REGRESSION:
            return standardized_target(SVR(**options))
        # SVC(probability=True) is deprecated in scikit-learn 1.9; this is its documented replacement
        return CalibratedClassifierCV(
            SVC(**options, random_state=random_state), method="sigmoid", cv=CALIBRATION_FOLDS,
            ensemble=False, n_jobs=n_jobs,
        )
