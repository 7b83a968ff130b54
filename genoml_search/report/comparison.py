"""Report parts that answer a user's first questions: what the SNPs add over the covariates, how close the
other model families came, and (binary traits) the numbers a clinician reads. All come from ``metrics.json``
(written by `run`), so the report shows exactly what the run measured."""
from __future__ import annotations

from typing import Any, Callable

import pandas as pd

from genoml_search.report import html


def _label(metric: str, labels: dict[str, str]) -> str:
    return labels.get(metric, metric)


def increment_cards(validation: dict[str, Any], labels: dict[str, str]) -> list[tuple[str, str, str]]:
    """Headline cards: the validation score with and without genotypes and what the SNPs add (paired CI);
    ``validation`` is ``MetricsRecord.validation``."""
    increment, baseline = validation.get("snp_increment"), validation.get("baseline_covariates") or {}
    if not increment or increment.get("with_snps") is None:
        return []
    name = _label(increment["metric"], labels)
    p_value = increment.get("p_value")
    return [
        (f"with genotypes ({name})", f"{increment['with_snps']:.3f}", "final model, validation samples"),
        (f"covariates only ({name})", f"{increment['covariates_only']:.3f}", baseline.get("model", "")),
        ("what the SNPs add", f"{increment['difference']:+.3f}",
         f"95% CI {increment['low']:+.3f} to {increment['high']:+.3f}, {increment['method']}"
         + (f", p = {p_value:.2g}" if p_value is not None else "")),
    ]


def increment_paragraph(validation: dict[str, Any], labels: dict[str, str]) -> str:
    """One sentence under the headline saying how much of the score the covariates alone reach."""
    increment, baseline = validation.get("snp_increment"), validation.get("baseline_covariates") or {}
    if not increment or increment.get("with_snps") is None:
        return ""
    name = _label(increment["metric"], labels)
    if not baseline.get("covariates"):
        return (f"<p>No covariates: the baseline is the {html.escape(baseline.get('model', 'intercept-only model'))}"
                f"; the {name} above chance is all the genotypes'.</p>")
    cv = baseline.get("cv", {})
    return (f"<p><strong>Covariates alone</strong> ({html.escape(', '.join(baseline['covariates'][:8]))}"
            f"{' …' if len(baseline['covariates']) > 8 else ''}) reach {name} {increment['covariates_only']:.3f} "
            f"on the validation samples (CV {cv.get(increment['metric'], float('nan')):.3f}, same folds); the final "
            f"model with genotypes reaches {increment['with_snps']:.3f}. Differences by metric are in "
            "<code>snp_increment.csv</code>.</p>")


def increment_frame(validation: dict[str, Any]) -> pd.DataFrame:
    """Every metric's paired difference with-SNPs minus covariates-only (for the CSV beside the report)."""
    by_metric = (validation.get("snp_increment") or {}).get("by_metric") or {}
    return pd.DataFrame(list(by_metric.values()))


def leaderboard_frame(board: pd.DataFrame, validated_top: list[dict[str, Any]]) -> pd.DataFrame:
    """The study's leaderboard plus each family's validation score from the run (``MetricsRecord.leaderboard``:
    the top K refitted)."""
    validated = {r["family"]: r.get("validation") for r in validated_top if isinstance(r, dict)}
    frame = board.copy()
    frame["validation"] = frame["family"].map(validated)
    return frame


def leaderboard_html(board: pd.DataFrame, metric: str) -> str:
    """The leaderboard table: CV mean and sd, per-fold scores, trial counts, time, validation score."""
    shown = board.rename(columns={"cv_mean": f"CV {metric} (mean)", "cv_std": "CV sd", "n_folds": "folds",
                                  "n_complete": "complete", "n_pruned": "pruned", "n_fail": "failed",
                                  "seconds": "time (s)", "best_trial": "best trial", "fold_scores": "fold scores",
                                  "validation": f"validation {metric}"})
    shown["best trial"] = shown["best trial"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    shown["fold scores"] = shown["fold scores"].map(lambda v: " ".join(f"{x:.3f}" for x in v))
    shown["partial"] = shown["partial"].map(lambda v: "pruned: partial" if v else "")
    formats: dict[str, Callable[[Any], str]] = {"time (s)": lambda v: f"{v:.1f}"}
    return ("<p>Best trial of each model family: mean and standard deviation over its CV folds and the fold "
            "scores themselves; a family whose every trial was pruned shows its best partial mean (over the folds "
            "it finished, marked). The best families' best trials were refitted on all training samples and "
            "scored on the validation samples (<code>run --validate-top K</code>); time is summed over the "
            "family's trials.</p>" + html.table(shown, formats, scroll=True))


def binary_html(validation: dict[str, Any], cv: dict[str, Any]) -> tuple[str, list[tuple[str, str, str]]]:
    """Case/control counts, statistics at the threshold and the odds ratio per SD (HTML and headline cards),
    from ``MetricsRecord.validation`` and ``MetricsRecord.cv``."""
    stats = validation.get("at_threshold")
    if not stats:
        return "", []
    odds = validation.get("odds_ratio_per_sd") or {}

    def pct(value: Any) -> str:
        return "" if value is None else f"{value:.1%}"

    rows = pd.DataFrame([
        {"statistic": "sensitivity (cases called)", "value": pct(stats["sensitivity"]),
         "counts": f"{stats['tp']} of {stats['tp'] + stats['fn']}"},
        {"statistic": "specificity (controls called)", "value": pct(stats["specificity"]),
         "counts": f"{stats['tn']} of {stats['tn'] + stats['fp']}"},
        {"statistic": "PPV (called cases that are cases)", "value": pct(stats["ppv"]),
         "counts": f"{stats['tp']} of {stats['tp'] + stats['fp']}"},
        {"statistic": "NPV (called controls that are controls)", "value": pct(stats["npv"]),
         "counts": f"{stats['tn']} of {stats['tn'] + stats['fn']}"},
    ])
    text = (f"<p>Cases/controls: training (search) {cv.get('n_cases', '?')}/{cv.get('n_controls', '?')}, "
            f"validation {validation.get('n_cases')}/{validation.get('n_controls')}. Statistics at the documented "
            f"threshold: probability ≥ {stats['threshold']}.</p>" + html.table(rows))
    cards = [("cases / controls (validation)", f"{validation.get('n_cases')} / {validation.get('n_controls')}",
              f"training: {cv.get('n_cases', '?')} / {cv.get('n_controls', '?')}")]
    if odds.get("value") is not None:
        text += (f"<p>Odds ratio per SD of the risk score (log-odds): <strong>{odds['value']:.2f}</strong> "
                 f"(95% CI {odds['low']:.2f}-{odds['high']:.2f}; {html.escape(odds['method'])}).</p>")
        cards.append(("odds ratio per SD", f"{odds['value']:.2f}", f"95% CI {odds['low']:.2f}-{odds['high']:.2f}"))
    return text, cards
