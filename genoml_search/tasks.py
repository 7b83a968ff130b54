"""The prediction tasks, and everything that differs between them, in one place.

:class:`Task` is the vocabulary (a ``StrEnum``: its values are the strings of the CLI, the dataset manifest,
``metrics.json`` and the study attributes, and a member compares equal to its string). Each task has one
:class:`TaskKind` strategy, reached through :attr:`Task.kind`: whether it is a classification, its default and
reported metrics, its CV splitter, the scores its metrics take and the columns ``predict`` writes.

Adding a task (e.g. survival) is one new :class:`Task` member plus one :class:`TaskKind` subclass added to
``_KINDS``; model families then declare it in their ``tasks``.

This module sits at the bottom of the package (beside ``errors``): the data layer reads phenotypes per task.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

import numpy as np

from genoml_search.errors import UserError


class Task(StrEnum):
    """A prediction task; the value is the interface string."""

    BINARY = "binary"
    REGRESSION = "regression"
    MULTICLASS = "multiclass"

    @property
    def kind(self) -> TaskKind:
        """The strategy of this task."""
        return _KINDS[self]

    @property
    def is_classification(self) -> bool:
        """Whether the phenotype is a class label (stratified splits, probabilities)."""
        return self.kind.classification

    @classmethod
    def parse(cls, value: str) -> Task:
        """The task named ``value``; an unknown name is a one-line :class:`UserError` listing the tasks."""
        try:
            return cls(value)
        except ValueError:
            raise UserError(f"unknown task {str(value)!r}; choose one of {', '.join(TASKS)}") from None


class TaskKind:
    """What differs between tasks. Subclasses set the class attributes and override what they need."""

    task: ClassVar[Task]
    classification: ClassVar[bool]
    default_metric: ClassVar[str]
    reported_metrics: ClassVar[tuple[str, ...]]
    threshold: ClassVar[float | None] = None
    """The probability above which a sample is called a case (``metrics.json`` ``validation.threshold``)."""

    def accepts_phenotype_of(self, dataset_task: Task) -> bool:
        """Whether a dataset munged for ``dataset_task`` can be searched as this task."""
        return dataset_task == self.task

    def cv_splitter(self, n_folds: int, seed: int, grouped: bool) -> Any:
        """A shuffled k-fold splitter: stratified for classification, by group when ``grouped``."""
        from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

        if grouped:
            cls: Any = StratifiedGroupKFold if self.classification else GroupKFold
        else:
            cls = StratifiedKFold if self.classification else KFold
        return cls(n_folds, shuffle=True, random_state=seed)

    def scores(self, model: Any, x: np.ndarray) -> np.ndarray:
        """What the task's metrics take from a fitted model (see :meth:`Metric.compute`)."""
        return np.asarray(model.predict_proba(x), dtype=float)

    def prediction_columns(self, scores: np.ndarray, classes: list[Any]) -> dict[str, Any]:
        """The columns ``predict`` writes after ``ID``, from :meth:`scores` and the class labels."""
        columns: dict[str, Any] = {f"probability_{label}": scores[:, i] for i, label in enumerate(classes)}
        columns["prediction"] = [classes[i] for i in scores.argmax(axis=1)]
        return columns


class BinaryKind(TaskKind):
    """Case/control: scores are P(case)."""

    task = Task.BINARY
    classification = True
    default_metric = "roc_auc"
    reported_metrics = ("roc_auc", "average_precision", "balanced_accuracy", "log_loss", "brier")
    threshold = 0.5

    def scores(self, model: Any, x: np.ndarray) -> np.ndarray:
        return super().scores(model, x)[:, 1]

    def prediction_columns(self, scores: np.ndarray, classes: list[Any]) -> dict[str, Any]:
        return {"probability": scores}


class MulticlassKind(TaskKind):
    """K classes: scores are the class-probability matrix. A 0/1 phenotype may be searched as two classes."""

    task = Task.MULTICLASS
    classification = True
    default_metric = "roc_auc_ovr"
    reported_metrics = ("roc_auc_ovr", "log_loss", "balanced_accuracy")

    def accepts_phenotype_of(self, dataset_task: Task) -> bool:
        return dataset_task in (Task.MULTICLASS, Task.BINARY)


class RegressionKind(TaskKind):
    """A quantitative trait: scores are the predictions."""

    task = Task.REGRESSION
    classification = False
    default_metric = "r2"
    reported_metrics = ("r2", "rmse", "mae")

    def scores(self, model: Any, x: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(x), dtype=float)

    def prediction_columns(self, scores: np.ndarray, classes: list[Any]) -> dict[str, Any]:
        return {"prediction": scores}


_KINDS: dict[Task, TaskKind] = {kind.task: kind for kind in (BinaryKind(), RegressionKind(), MulticlassKind())}

TASKS: tuple[Task, ...] = tuple(Task)
"""Every task, in the order listings show them."""

CLASSIFICATION: frozenset[Task] = frozenset(t for t in Task if t.is_classification)
"""The classification tasks."""
