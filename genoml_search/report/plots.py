"""Report figures (matplotlib, Agg backend: no display needed). Each function returns a Figure or None."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # before pyplot: works headless, on clusters, in tests
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn import metrics as skm  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402

SMALL = (5.2, 4.0)
WIDE = (10.4, 4.0)
STATE_COLORS = {"COMPLETE": "#2b6cb0", "PRUNED": "#dd8452", "FAIL": "#c44e52", "RUNNING": "#8c8c8c",
                "WAITING": "#bbbbbb"}


def to_png(figure: Figure, dpi: int = 90) -> bytes:
    """PNG bytes of a figure (which is then closed)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _figure(size: tuple[float, float] = SMALL) -> tuple[Figure, plt.Axes]:
    figure, axes = plt.subplots(figsize=size, layout="constrained")
    axes.grid(alpha=0.3)
    return figure, axes


def optimization_history(trials: pd.DataFrame, metric: str, maximize: bool) -> Figure | None:
    """Trial values over trial number, one color per family, with the best-so-far line."""
    done = trials[(trials["state"] == "COMPLETE") & trials["value"].notna()].sort_values("trial")
    if done.empty:
        return None
    figure, axes = _figure(WIDE)
    for family, group in done.groupby("family"):
        axes.scatter(group["trial"], group["value"], s=18, alpha=0.8, label=family)
    best = done["value"].cummax() if maximize else done["value"].cummin()
    axes.step(done["trial"], best, where="post", color="black", linewidth=1.2, label="best so far")
    axes.set_xlabel("trial number")
    axes.set_ylabel(f"CV {metric}")
    axes.set_title("Optimization history (complete trials)")
    axes.legend(fontsize=8, loc="best", ncol=2)
    return figure


def trial_states(trials: pd.DataFrame) -> Figure | None:
    """Stacked bars: complete / pruned / failed trials per family."""
    if trials.empty:
        return None
    counts = trials.pivot_table(index="family", columns="state", values="trial", aggfunc="count", fill_value=0)
    figure, axes = _figure()
    bottom = np.zeros(len(counts))
    for state in [s for s in STATE_COLORS if s in counts.columns]:
        axes.barh(counts.index, counts[state], left=bottom, color=STATE_COLORS[state], label=state.lower())
        bottom += counts[state].to_numpy()
    axes.set_xlabel("trials")
    axes.set_title("Finished, pruned and failed trials")
    axes.legend(fontsize=8)
    return figure


def parameter_importance(importances: pd.DataFrame) -> Figure | None:
    """Horizontal bars of parameter importances, one panel per scope."""
    if importances.empty:
        return None
    scopes = list(dict.fromkeys(importances["scope"]))
    figure, axes_list = plt.subplots(1, len(scopes), figsize=(5.2 * len(scopes), 3.2), layout="constrained",
                                     squeeze=False)
    for axes, scope in zip(axes_list[0], scopes):
        part = importances[importances["scope"] == scope].sort_values("importance")
        axes.barh(part["parameter"].str.replace(r"^[a-z_]+__", "", regex=True), part["importance"], color="#2b6cb0")
        axes.set_xlim(0, 1)
        axes.set_xlabel("importance (fANOVA)")
        axes.set_title(f"{scope} (n={int(part['n_trials'].iloc[0])})", fontsize=10)
        axes.grid(alpha=0.3, axis="x")
    return figure


def _class_scores(y: np.ndarray, scores: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, 0/1 truth, score) per curve: one for binary, one-vs-rest per class for multiclass."""
    if scores.ndim == 1:
        return [("class 1", (y == 1).astype(int), scores)]
    return [(f"class {k}", (y == k).astype(int), scores[:, k]) for k in range(scores.shape[1])]


def roc_curves(y: np.ndarray, scores: np.ndarray) -> Figure:
    """ROC curve(s) with AUC in the legend."""
    figure, axes = _figure()
    for label, truth, score in _class_scores(y, scores):
        if truth.min() == truth.max():
            continue
        fpr, tpr, _ = skm.roc_curve(truth, score)
        axes.plot(fpr, tpr, label=f"{label} (AUC {skm.auc(fpr, tpr):.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.set_title("ROC curve" + (" (one vs rest)" if scores.ndim == 2 else ""))
    axes.legend(fontsize=8, loc="lower right")
    return figure


def pr_curves(y: np.ndarray, scores: np.ndarray) -> Figure:
    """Precision-recall curve(s) with average precision and the prevalence baseline."""
    figure, axes = _figure()
    for label, truth, score in _class_scores(y, scores):
        if truth.min() == truth.max():
            continue
        precision, recall, _ = skm.precision_recall_curve(truth, score)
        ap = skm.average_precision_score(truth, score)
        line, = axes.plot(recall, precision, label=f"{label} (AP {ap:.3f})")
        axes.axhline(truth.mean(), linestyle=":", color=line.get_color(), linewidth=0.8)
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_ylim(0, 1.02)
    axes.set_title("Precision-recall curve (dotted: prevalence)")
    axes.legend(fontsize=8, loc="lower left")
    return figure


def calibration(y: np.ndarray, scores: np.ndarray, n_bins: int = 10) -> Figure:
    """Reliability diagram: observed frequency against mean predicted probability, per quantile bin."""
    figure, axes = _figure()
    for label, truth, score in _class_scores(y, scores):
        if truth.min() == truth.max():
            continue
        bins = max(2, min(n_bins, len(truth) // 10))
        observed, predicted = calibration_curve(truth, score, n_bins=bins, strategy="quantile")
        axes.plot(predicted, observed, marker="o", markersize=4, label=label)
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8, label="perfect")
    axes.set_xlabel("mean predicted probability")
    axes.set_ylabel("observed frequency")
    axes.set_title("Calibration (quantile bins)")
    axes.legend(fontsize=8, loc="upper left")
    return figure


def confusion(y: np.ndarray, predicted: np.ndarray, labels: list) -> Figure:
    """Confusion matrix with counts and row percentages."""
    matrix = skm.confusion_matrix(y, predicted, labels=labels)
    figure, axes = plt.subplots(figsize=(4.4, 3.8), layout="constrained")
    axes.imshow(matrix, cmap="Blues")
    totals = matrix.sum(axis=1, keepdims=True).clip(min=1)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            dark = matrix[i, j] > matrix.max() / 2
            axes.text(j, i, f"{matrix[i, j]}\n{100 * matrix[i, j] / totals[i, 0]:.0f}%", ha="center",
                      va="center", color="white" if dark else "black", fontsize=9)
    names = [str(label) for label in labels]
    axes.set_xticks(range(len(labels)), names)
    axes.set_yticks(range(len(labels)), names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("observed")
    axes.set_title("Confusion matrix")
    return figure


def observed_vs_predicted(y: np.ndarray, predicted: np.ndarray) -> Figure:
    """Scatter of observed against predicted with the identity line."""
    figure, axes = _figure()
    axes.scatter(predicted, y, s=12, alpha=0.6)
    low, high = float(min(y.min(), predicted.min())), float(max(y.max(), predicted.max()))
    axes.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=0.8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("observed")
    axes.set_title("Observed vs predicted")
    return figure


def residuals(y: np.ndarray, predicted: np.ndarray) -> Figure:
    """Residuals (observed - predicted) against predicted."""
    figure, axes = _figure()
    axes.scatter(predicted, y - predicted, s=12, alpha=0.6)
    axes.axhline(0, linestyle="--", color="grey", linewidth=0.8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("residual (observed - predicted)")
    axes.set_title("Residuals")
    return figure


def feature_importance(importance: pd.DataFrame, metric: str, top: int = 20) -> Figure | None:
    """Top features by permutation importance with their spread over repeats."""
    if importance.empty:
        return None
    part = importance.head(top).iloc[::-1]
    figure, axes = plt.subplots(figsize=(5.2, 0.9 + 0.24 * len(part)), layout="constrained")
    colors = ["#2b6cb0" if kind == "SNP" else "#55a868" for kind in part.get("kind", ["SNP"] * len(part))]
    axes.barh(part["feature"].astype(str), part["importance_mean"], xerr=part["importance_std"], color=colors,
              error_kw={"linewidth": 0.8})
    axes.axvline(0, color="grey", linewidth=0.8)
    axes.set_xlabel(f"drop in {metric} when permuted")
    axes.set_title("Permutation importance (validation; green: covariate)", fontsize=10)
    axes.grid(alpha=0.3, axis="x")
    return figure


def risk_by_decile(deciles: list[dict]) -> Figure | None:
    """Observed case fraction (bars) and mean predicted probability (line) per decile of the risk score."""
    if not deciles:
        return None
    frame = pd.DataFrame(deciles)
    figure, axes = _figure()
    axes.bar(frame["decile"], frame["observed"], color="#2b6cb0", alpha=0.8, label="observed case fraction")
    axes.plot(frame["decile"], frame["mean_predicted"], "o-", color="#dd8452", label="mean predicted probability")
    axes.set_xticks(frame["decile"])
    axes.set_xlabel("decile of the risk score (1 = lowest)")
    axes.set_ylabel("fraction of cases")
    axes.set_ylim(0, 1)
    axes.legend(loc="upper left")
    return figure
