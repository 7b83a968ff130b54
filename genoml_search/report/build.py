"""`genoml-search report`: one self-contained HTML page plus PNG and CSV files, written atomically.

Sources: the study (leaderboard, history, trial states, parameter importances) and, for a run directory,
the saved model, ``metrics.json`` and the validation samples rebuilt from the datasets (metrics with 95%
intervals, curves, confusion matrix or residuals, permutation importance of SNPs and covariates).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from genoml_search.versions import __version__
from genoml_search.errors import UserError
from genoml_search.data.dataset import MANIFEST
from genoml_search.versions import versions as library_versions
from genoml_search.export.tables import write_csv
from genoml_search.report import comparison, html, plots
from genoml_search.report.ensemble import ensemble_section
from genoml_search.report.importance import annotate_features, permutation_importance
from genoml_search.core.intervals import metric_intervals
from genoml_search.core.metrics import DEFAULT_METRIC, score_all
from genoml_search.search.study_summary import leaderboard, parameter_importances, trials_frame
from genoml_search.outputs import OutputKind, check_output, output_directory, safe_name
from genoml_search.run_directory import REPORT_DIR, MetricsRecord, RunDirectory
from genoml_search.search.storage import close_storage, mask_url, open_storage
from genoml_search.tasks import Task

log = logging.getLogger(__name__)
REPORT_FILE = "report.html"
LIBRARIES = ("numpy", "pandas", "scipy", "scikit-learn", "optuna", "distributed", "xgboost", "lightgbm",
             "catboost", "skops", "matplotlib", "bed-reader", "sqlalchemy")
METRIC_LABELS = {"roc_auc": "ROC-AUC", "average_precision": "PR-AUC (average precision)",
                 "balanced_accuracy": "balanced accuracy", "log_loss": "log loss", "brier": "Brier score",
                 "roc_auc_ovr": "ROC-AUC (macro one-vs-rest)", "r2": "R²", "rmse": "RMSE", "mae": "MAE"}


@dataclass
class ReportOptions:
    """What `genoml-search report` reads and where it writes."""

    run_dir: Path | None = None
    storage: str | None = None
    study: str | None = None
    report_dir: Path | None = None
    max_features: int = 50
    n_repeats: int = 5
    n_boot: int = 1000
    top_features: int = 30
    seed: int = 0


@dataclass
class ReportResult:
    """Where the report went and what it contains."""

    html: Path
    files: list[str]
    notes: list[str] = field(default_factory=list)


def versions() -> dict[str, str]:
    """genoml-search, Python and library versions of this process."""
    return library_versions(LIBRARIES, tool=True)


@contextmanager
def _opened_study(options: ReportOptions, record: MetricsRecord | None) -> Iterator[tuple[optuna.Study, str]]:
    """The study to report on and its storage URL: --study, else the run's (``metrics.json``), else the only
    one; the storage's connections are closed on leaving."""
    if options.storage:
        url = options.storage
    elif options.run_dir is not None:
        run_dir = RunDirectory(Path(options.run_dir))
        if not run_dir.study_db.is_file():
            raise UserError("no study.db in this run directory; give --storage URL for a shared study",
                            options.run_dir)
        url = run_dir.storage_url()
    else:
        raise UserError("give --out RUN_DIR, or --storage URL with --study NAME")
    storage = open_storage(url, create=False)
    try:
        names = [s.study_name for s in optuna.study.get_all_study_summaries(storage, include_best_trial=False)]
        name = options.study or (record.study if record is not None else None) or None  # v1 files may lack it
        if name is None:
            if len(names) != 1:
                raise UserError(f"{mask_url(url)} holds {len(names)} studies; choose one with --study "
                                f"({names[:10]})")
            name = names[0]
        if name not in names:
            raise UserError(f"no study {name!r} in {mask_url(url)}; known: {names[:10]}")
        yield optuna.load_study(study_name=name, storage=storage), url
    finally:
        close_storage(storage)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_text()) if path.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError("not valid JSON; re-run `genoml-search run`", path) from None
    if not isinstance(payload, dict):
        raise UserError("does not hold a JSON object; re-run `genoml-search run`", path)
    return payload


def _read_metrics(run_dir: Path | None) -> MetricsRecord | None:
    """The run's checked ``metrics.json`` record (``None`` for a study without run directory or metrics.json)."""
    return RunDirectory(run_dir).read_metrics() if run_dir is not None else None


class _Collector:
    """Figures and tables gathered for the page and for the files beside it."""

    def __init__(self) -> None:
        self.pngs: dict[str, bytes] = {}
        self.csvs: dict[str, pd.DataFrame] = {}
        self.notes: list[str] = []

    def figure(self, name: str, figure: Any, alt: str, caption: str = "") -> str:
        if figure is None:
            return ""
        png = plots.to_png(figure)
        self.pngs[f"{name}.png"] = png
        return html.image(png, alt, caption)


def build_report(options: ReportOptions) -> ReportResult:
    """Build the report and write it (atomically) into ``report_dir`` (default ``RUN_DIR/report``)."""
    run_dir = Path(options.run_dir) if options.run_dir else None
    if run_dir is not None and not run_dir.is_dir():
        raise UserError("run directory not found", run_dir)
    record = _read_metrics(run_dir)
    report_dir = Path(options.report_dir) if options.report_dir else (run_dir / REPORT_DIR if run_dir else None)
    if report_dir is not None:  # checked before the (long) work; a default from the study name is checked below
        _check_report_dir(report_dir, options, run_dir)
    with _opened_study(options, record) as (study, url):
        if report_dir is None:
            report_dir = _check_report_dir(Path(f"{safe_name(study.study_name)}-report"), options, run_dir)
        out = _Collector()
        document = _document(study, url, record, run_dir, options, out)
        with output_directory(report_dir, OutputKind.REPORT) as tmp:
            (tmp / REPORT_FILE).write_text(document, encoding="utf-8")
            for name, png in out.pngs.items():
                (tmp / name).write_bytes(png)
            for name, frame in out.csvs.items():  # integers as integers, floats to 6 digits (#18)
                write_csv(frame, tmp / name, full_precision="predictions" in name)
        from genoml_search.search.study import record_outcome

        record_outcome(study, report=str((report_dir / REPORT_FILE).resolve()))  # #18: optuna-dashboard shows it
    return ReportResult(report_dir / REPORT_FILE, [REPORT_FILE, *out.pngs, *out.csvs], out.notes)


def _document(study: optuna.Study, url: str, record: MetricsRecord | None, run_dir: Path | None,
              options: ReportOptions, out: _Collector) -> str:
    """The report page; its figures and tables are collected in ``out`` for the files beside it."""
    attrs = dict(study.user_attrs)
    task = (record.task if record else None) or attrs.get("task") or Task.BINARY
    metric = (record.metric if record else None) or attrs.get("metric") or DEFAULT_METRIC[task]
    cv, validation = (record.cv, record.validation) if record else ({}, {})
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE

    trials = trials_frame(study)
    board = comparison.leaderboard_frame(leaderboard(study), record.leaderboard if record else [])
    best_family = board["family"].iloc[0] if len(board) and pd.notna(board["cv_mean"].iloc[0]) else None
    param_imp = parameter_importances(study, best_family, options.seed)
    out.csvs.update({"leaderboard.csv": board.assign(fold_scores=board["fold_scores"].map(
                         lambda v: " ".join(f"{x:.6g}" for x in v))),
                     "trials.csv": trials, "param_importance.csv": param_imp})
    if len(comparison.increment_frame(validation)):
        out.csvs["snp_increment.csv"] = comparison.increment_frame(validation)

    sections: list[tuple[str, str, str]] = []
    headline = _headline(board, metric, trials)
    model_sections: list[tuple[str, str, str]] = []
    validation_cards: list[tuple[str, str, str]] = []
    model_dir = RunDirectory(run_dir).model_dir if run_dir else None
    if run_dir is not None and RunDirectory(run_dir).has_model():
        model_sections, validation_cards = _model_sections(run_dir, record, attrs, task, metric, options, out)
    elif run_dir is not None:
        out.notes.append("no model/ in the run directory: validation and feature sections are left out")
    first = comparison.increment_cards(validation, METRIC_LABELS)  # what the SNPs add: the first thing to see
    sections.append(("summary", "Summary", html.cards(first + headline + validation_cards)
                     + comparison.increment_paragraph(validation, METRIC_LABELS) + _notes(out.notes)))
    sections.extend(model_sections)
    ensemble = ensemble_section(cv, validation, metric if record else "", METRIC_LABELS)  # #21
    if ensemble:
        sections.append(("ensemble", "Ensemble", ensemble))
    sections.append(("leaderboard", "Leaderboard", comparison.leaderboard_html(board, metric)))
    sections.append(("search", "Search", _search_html(trials, param_imp, metric, maximize, out)))
    sections.append(("parameters", "Run parameters", _parameters_html(study, attrs, record, url, run_dir)))
    manifest = _read_json(model_dir / MANIFEST) if model_dir else {}
    if manifest:
        sections.append(("dataset", "Training dataset", _dataset_html(manifest)))
    sections.append(("versions", "Versions", _versions_html(run_dir)))
    subtitle = (f"study {study.study_name} · {task} · {metric} · storage {mask_url(url)} · generated "
                f"{datetime.now(timezone.utc).isoformat(timespec='seconds')} by genoml-search {__version__}")
    return html.page(f"genoml-search report: {study.study_name}", subtitle, sections)


def _check_report_dir(report_dir: Path, options: ReportOptions, run_dir: Path | None) -> Path:
    """The ownership rule (genoml_search.outputs) for the report directory; the run's files are inputs."""
    inputs = [run_dir] if run_dir is not None and report_dir.resolve() != (run_dir / REPORT_DIR).resolve() else []
    if run_dir is not None:
        rd = RunDirectory(run_dir)
        inputs += [rd.model_dir, rd.metrics_file, rd.study_db, rd.validation_dataset, rd.holdout_file]
    from genoml_search.search.storage import sqlite_path

    database = sqlite_path(options.storage) if options.storage else None
    return check_output(report_dir, OutputKind.REPORT, inputs=[*inputs, database], flag="--report-dir")


def _notes(notes: list[str]) -> str:
    return "".join(f"<div class=\"note\">{html.escape(n)}</div>" for n in notes)


def _headline(board: pd.DataFrame, metric: str, trials: pd.DataFrame) -> list[tuple[str, str, str]]:
    counts = trials["state"].value_counts()
    items = [("trials", str(len(trials)), f"{counts.get('COMPLETE', 0)} complete, {counts.get('PRUNED', 0)} "
                                          f"pruned, {counts.get('FAIL', 0)} failed")]
    if len(board) and pd.notna(board["cv_mean"].iloc[0]):
        top = board.iloc[0]
        std = f" ± {top['cv_std']:.3f}" if pd.notna(top["cv_std"]) else ""
        items.append((f"best CV {METRIC_LABELS.get(metric, metric)}", f"{top['cv_mean']:.3f}",
                      f"{top['family']}, trial {int(top['best_trial'])}{std} over folds"))
    return items


def _relatedness_paragraph(related: dict[str, Any]) -> str:
    """The validation section's line on samples related to training (a visible warning when any)."""
    if not related.get("checked", True):
        return (f"<p class=\"warning\"><strong>Relatedness to training not checked:</strong> "
                f"{html.escape(str(related.get('reason')))}</p>")
    n_related, n = related.get("n_related", 0), related.get("n_samples", 0)
    counts = (f"{n_related} of {n} validation samples are related to a training sample (KING kinship > "
              f"{related.get('threshold', 0):.4f}), {related.get('n_duplicates', 0)} of them duplicates")
    if not n_related:
        return f"<p>Relatedness to training: {counts}.</p>"
    action = (f"they were left out (--drop-related-validation): {related.get('n_scored')} samples scored."
              if related.get("dropped") else
              "they are scored, so these metrics measure partly memorization; rerun with "
              "--drop-related-validation or validate on an independent cohort.")
    return (f"<p class=\"warning\" style=\"border:2px solid #c0392b;padding:.5em;background:#fdecea\">"
            f"<strong>Warning:</strong> {counts}; {action}</p>")


def _model_sections(run_dir: Path, record: MetricsRecord | None, attrs: dict[str, Any], task: str, metric: str,
                    options: ReportOptions, out: _Collector) -> tuple[list, list]:
    from genoml_search.model_io import load_model
    from genoml_search.core.scoring import prediction_frame
    from genoml_search.report.validation import load_validation

    model, info = load_model(RunDirectory(run_dir).model_dir)
    out.notes.extend(f"model versions: {note}" for note in info.get("warnings", []))
    saved = record.validation if record else {}  # the validation metrics `run` measured
    data = load_validation(run_dir, model, info, saved.get("source"), attrs)
    y, scores = data.y, data.scores
    recomputed = score_all(task, y, scores)
    differ = [k for k, v in recomputed.items() if k in saved and not np.isclose(v, saved[k], rtol=0, atol=1e-9)]
    if differ:
        out.notes.append(f"recomputed validation metrics differ from metrics.json for {differ}: the datasets or "
                         "library versions changed since the run")
    intervals = metric_intervals(task, y, scores, options.n_boot, options.seed)
    interval_frame = pd.DataFrame([i.as_dict() for i in intervals])
    predictions = prediction_frame(model, info, data.features)
    predictions.insert(1, "y_true", y)
    out.csvs["validation_metrics.csv"] = interval_frame
    out.csvs["validation_predictions.csv"] = predictions

    main = next((i for i in intervals if i.metric == metric), intervals[0])
    cards = [(f"validation {METRIC_LABELS.get(main.metric, main.metric)}", f"{main.value:.3f}",
              f"95% CI {main.low:.3f}-{main.high:.3f} ({data.source}, n={len(y)})"),
             ("final model", info.get("family", "?"), _model_inputs(model, info))]

    rows = interval_frame.assign(metric=interval_frame["metric"].map(lambda m: METRIC_LABELS.get(m, m)))
    body = [f"<p>{len(y)} validation samples ({'separate cohort harmonized to the training variants' if data.source == 'cohort' else 'held out of the training dataset before the search'}); "
            "never seen by the search. Intervals: "
            + ("DeLong for ROC-AUC, stratified percentile bootstrap " if task == Task.BINARY else
               "stratified percentile bootstrap " if task == Task.MULTICLASS else "percentile bootstrap ")
            + f"({options.n_boot} replicates){' otherwise' if task == Task.BINARY else ''}.</p>",
            html.table(rows[["metric", "value", "low", "high", "method"]])]
    related = saved.get("related_to_training")
    if related:
        body.insert(1, _relatedness_paragraph(related))
        if related.get("n_related") and not related.get("dropped"):
            out.notes.append(f"{related['n_related']} of {related['n_samples']} validation samples are related to "
                             "training samples: validation metrics are optimistic")
    figs = _validation_figures(task, y, scores, saved, out)
    if task != Task.REGRESSION:
        binary_text, binary_cards = comparison.binary_html(saved, record.cv if record else {})
        body.append(binary_text)
        cards.extend(binary_cards)
    body.append(f"<div class=\"figs\">{''.join(figs)}</div>")
    sections = [("validation", "Validation", "".join(body))]

    importance = permutation_importance(model, data.features.x, y, task, metric, data.features.feature_names,
                                        options.max_features, options.n_repeats, options.seed)
    from genoml_search.model_io import read_model_variants

    variants = read_model_variants(RunDirectory(run_dir).model_dir)
    if len(importance):
        attrs_imp = dict(importance.attrs)
        importance = annotate_features(importance, variants, data.features.n_snps)
        out.csvs["importance.csv"] = importance
        shown = importance.head(options.top_features).drop(columns=["column"])
        text = (f"<p>Drop in validation {metric} when one feature's values are shuffled ({attrs_imp['n_repeats']} "
                f"repeats; mean ± sd). The model uses {attrs_imp['n_kept']} features after its in-fold SNP filter; "
                f"the top {attrs_imp['n_permuted']} by {attrs_imp['ranked_by']} were permuted (the others cannot "
                "matter more than the filter allows and are not shown). Allele columns: the counted allele is "
                "the one whose dosage (0/1/2) the model sees.</p>")
        plot = out.figure("feature_importance", plots.feature_importance(importance, metric), "feature importance")
        sections.append(("features", "Top SNPs and covariates",
                         text + f"<div class=\"figs\">{plot}</div>" + html.table(shown, {"pos": _plain_int}, scroll=True)))
    return sections, cards


def _validation_figures(task: str, y: np.ndarray, scores: np.ndarray, saved: dict[str, Any],
                        out: _Collector) -> list:
    """The validation figures for this task, in report order."""
    figs = []
    if task == Task.REGRESSION:
        figs.append(out.figure("observed_vs_predicted", plots.observed_vs_predicted(y, scores),
                               "observed vs predicted"))
        figs.append(out.figure("residuals", plots.residuals(y, scores), "residuals"))
        return figs
    labels = [0, 1] if task == Task.BINARY else list(range(scores.shape[1]))
    predicted = (scores >= 0.5).astype(int) if task == Task.BINARY else scores.argmax(axis=1)
    rule = "probability ≥ 0.5" if task == Task.BINARY else "most probable class (argmax)"
    figs.append(out.figure("roc", plots.roc_curves(y, scores), "ROC curve"))
    figs.append(out.figure("precision_recall", plots.pr_curves(y, scores), "precision-recall curve"))
    figs.append(out.figure("calibration", plots.calibration(y, scores), "calibration curve"))
    figs.append(out.figure("confusion_matrix", plots.confusion(y, predicted, labels), "confusion matrix",
                           f"predicted class: {rule}"))
    figs.append(out.figure("risk_by_decile", plots.risk_by_decile(saved.get("risk_by_decile") or []),
                           "risk by decile", "observed case fraction by decile of the risk score"))
    return figs


def _plain_int(value: Any) -> str:
    return "" if value is None or pd.isna(value) else str(int(value))


def _model_inputs(model: Any, info: dict[str, Any]) -> str:
    from genoml_search.report.importance import kept_columns

    n_snps = int(info.get("n_snps", 0))
    kept = kept_columns(model, len(info.get("feature_names", [])))
    snps = int((kept < n_snps).sum())
    mask = (info.get("ld_mask") or {}).get("name")
    pruned = f", LD mask r2 {mask}" if mask and mask != "none" else ""
    return (f"uses {snps} of {n_snps} SNPs (in-fold p ≤ {info.get('snp_p_threshold', 1.0):.2g}{pruned}) "
            f"+ {len(kept) - snps} covariates")


def _search_html(trials: pd.DataFrame, param_imp: pd.DataFrame, metric: str, maximize: bool,
                 out: _Collector) -> str:
    history = out.figure("optimization_history", plots.optimization_history(trials, metric, maximize),
                         "optimization history")
    states = out.figure("trial_states", plots.trial_states(trials), "trial states per family")
    text = ("<p>Parameter importances (Optuna fANOVA) are computed on two views because the space is "
            "conditional: the shared parameters over all complete trials, and the best family's own "
            "parameters over that family's complete trials.</p>")
    imp = out.figure("param_importance", plots.parameter_importance(param_imp), "parameter importances")
    if not imp:
        imp = "<p class=\"muted\">Too few complete trials with varying parameters for importances.</p>"
    return f"{history}<div class=\"figs\">{states}</div>{text}{imp}"


def _parameters_html(study: optuna.Study, attrs: dict[str, Any], record: MetricsRecord | None, url: str,
                     run_dir: Path | None) -> str:
    pairs = [("study", study.study_name), ("storage", mask_url(url)), ("direction", study.direction.name.lower())]
    if run_dir is not None:
        pairs.append(("run directory", str(run_dir)))
    pairs += [(k, json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in sorted(attrs.items())]
    best = record.cv.get("best_params", {}) if record else {}
    parts = [html.key_values(pairs)]
    if best:
        parts.append("<h3>Best trial's parameters</h3>" + html.key_values(sorted(best.items())))
    return "".join(parts)


def _dataset_html(manifest: dict[str, Any]) -> str:
    inputs = manifest.get("inputs", {})
    pairs = [("samples", manifest.get("n_samples")), ("variants", manifest.get("n_variants")),
             ("content hash", manifest.get("content_hash")), ("task", manifest.get("phenotype", {}).get("task")),
             ("covariates", ", ".join(manifest.get("covariates", {}).get("columns", [])) or "none"),
             ("genotypes", inputs.get("bfile") or inputs.get("pfile")), ("phenotype file", inputs.get("pheno")),
             ("covariate file", inputs.get("covar")), ("GWAS file", inputs.get("gwas")),
             ("counted allele", manifest.get("counted_allele")), ("created", manifest.get("created")),
             ("munged with", f"genoml-search {manifest.get('tool_version')}")]
    steps = pd.DataFrame(manifest.get("steps", []))
    table = html.table(steps) if len(steps) else ""
    return html.key_values([(k, v) for k, v in pairs if v is not None]) + "<h3>Munge steps</h3>" + table


def _versions_html(run_dir: Path | None) -> str:
    now = versions()
    saved: dict[str, Any] = {}
    if run_dir is not None and RunDirectory(run_dir).has_model():
        from genoml_search.model_io import MODEL_INFO

        info = _read_json(RunDirectory(run_dir).model_dir / MODEL_INFO)
        saved = {"genoml-search": info.get("tool_version"), **(info.get("libraries") or {})}
    frame = pd.DataFrame([{"package": k, "report": v, "model saved with": saved.get(k, "")}
                          for k, v in now.items()])
    return html.table(frame)
