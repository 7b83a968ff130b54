"""`genoml-search run`: search model families with an Optuna study on Dask; refit the best, validate, save."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from genoml_search.flags import COUNT, NON_NEGATIVE, OPEN_FRACTION, POSITIVE, SEED, in_range


def run(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory written by `munge`.")],
    out: Annotated[Path, typer.Option("--out", help="Run directory: study.db, model/, metrics.json.")],
    task: Annotated[Optional[str], typer.Option(help="binary, regression or multiclass (default: the dataset's).")] = None,
    n_trials: Annotated[int, typer.Option(help="Target TOTAL of finished trials in the study (resumes).",
                                          callback=COUNT)] = 50,
    timeout: Annotated[Optional[float], typer.Option(
        help="Wall-clock budget in seconds for the search: no trial starts after it, and trials still running "
             "then are stopped and re-queued for a resumed run. If the study has no finished trial yet, the "
             "running ones go on until the first finishes, so the run ends with a model.",
        callback=POSITIVE)] = None,
    storage: Annotated[Optional[str], typer.Option(help="Study database URL (default sqlite:///OUT/study.db).")] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="Study name (default DATASET-TASK).")] = None,
    metric: Annotated[Optional[str], typer.Option(help="roc_auc, average_precision, log_loss, r2, ...")] = None,
    family: Annotated[Optional[list[str]], typer.Option("--family", help="Model family to search (repeatable).")] = None,
    folds: Annotated[int, typer.Option(help="CV folds.", callback=in_range(2))] = 5,
    repeats: Annotated[int, typer.Option(help="CV repeats.", callback=COUNT)] = 1,
    groups: Annotated[Optional[Path], typer.Option(
        help="Grouped CV: file of ID + group column (or a PLINK .fam: group = FID); a group never straddles folds.")] = None,
    group_col: Annotated[Optional[str], typer.Option(
        help="Group column of --groups (default GROUP, else FID), or without --groups a column of samples.tsv.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split, folds, sampler and models.", callback=SEED)] = 0,
    sampler: Annotated[str, typer.Option(help="tpe, random, qmc or cmaes.")] = "tpe",
    pruner: Annotated[str, typer.Option(help="none, median, percentile, wilcoxon, successive_halving, hyperband.")] = "median",
    fidelity: Annotated[str, typer.Option(
        help="Multi-fidelity: evaluate trials on 1/9, then 1/3 of the search samples before all, the best third "
             "going on (successive halving). auto: from 5,000 search samples; on; off.")] = "auto",
    snp_filter: Annotated[bool, typer.Option(help="Search an in-fold SNP association p-value threshold.")] = True,
    holdout: Annotated[float, typer.Option(help="Fraction held out for validation when no validation cohort.",
                                           callback=OPEN_FRACTION)] = 0.2,
    validation_bfile: Annotated[Optional[str], typer.Option(help="Validation cohort PLINK prefix.")] = None,
    validation_pfile: Annotated[Optional[str], typer.Option(help="Validation cohort PLINK 2 prefix "
                                                            "(.pgen/.pvar/.psam).")] = None,
    validation_pheno: Annotated[Optional[str], typer.Option(help="Validation phenotype file.")] = None,
    validation_covar: Annotated[Optional[str], typer.Option(help="Validation covariate file.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Local Dask workers (default: one per core).",
                                                   callback=in_range(1, 1024))] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="Existing Dask scheduler, e.g. tcp://host:8786.")] = None,
    scheduler_file: Annotated[Optional[str], typer.Option(help="Dask scheduler file.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="Study TOML: [study] families, "
                                                   "[families.NAME] ranges, [cluster] where trials run.")] = None,
    families_module: Annotated[Optional[Path], typer.Option(
        help="Python file registering your own model families (@register).")] = None,
    group_by_relatedness: Annotated[bool, typer.Option(
        "--group-by-relatedness", help="Grouped CV (and hold-out) from the related clusters found by munge's "
        "KING kinship: relatives never straddle folds.")] = False,
    relatedness_threshold: Annotated[float, typer.Option(
        help="Kinship above which --group-by-relatedness joins two samples (default 2^-3.5: second degree; "
        "2^-2.5 = 0.177 for first degree).", callback=in_range(0.0, 0.5, low_open=True))] = 2.0**-3.5,
    drop_related_validation: Annotated[bool, typer.Option(
        "--drop-related-validation", help="Score only validation samples unrelated to the training/search "
        "samples.")] = False,
    pcs: Annotated[int, typer.Option("--pcs", help="Add the first K genetic PCs (stored by munge) as "
                                     "covariates.", callback=NON_NEGATIVE)] = 0,
    ld_r2: Annotated[Optional[str], typer.Option(
        "--ld-r2", help="Use this LD mask of the dataset (an r2 threshold munge stored, or none: every QC'd "
        "SNP) in every trial instead of searching it.")] = None,
    validate_top: Annotated[int, typer.Option(help="Leaderboard: refit the best trial of the K best families "
                                              "and score it on the validation samples.",
                                              callback=NON_NEGATIVE)] = 3,
    ensemble: Annotated[str, typer.Option(
        help="Combine the best trials' out-of-fold predictions: greedy (weighted average, Caruana), stack "
        "(regularized linear meta-model) or none. The ensemble is the final model only if its nested CV beats "
        "the best single trial by more than one standard error of their per-fold difference.")] = "greedy",
    ensemble_top_k: Annotated[int, typer.Option(help="Trials (best first, any family) the ensemble may combine.",
                                                callback=in_range(1, 1000))] = 25,
    ensemble_rule: Annotated[str, typer.Option(
        help="When the ensemble is the final model: nested (only if its nested CV beats the best single "
        "trial by more than one standard error of their per-fold difference) or always.")] = "nested",
    ensemble_validate: Annotated[bool, typer.Option(
        "--ensemble-validate", help="Refit and validate the ensemble even when it is not the final model "
        "(costs its members' refits).")] = False,
    final_trial: Annotated[str, typer.Option(
        help="Which trial the final model refits: reference (the best trial, unless the lasso or ridge path on "
        "all SNPs is within one standard error of it per fold; then that reference model) or best (the best "
        "CV score).")] = "reference",
    artifacts: Annotated[Optional[Path], typer.Option(
        help="Directory of the trials' out-of-fold predictions (default OUT/artifacts; give a shared one when "
        "several machines run one PostgreSQL/MySQL study).")] = None,
) -> None:
    """Search model families with an Optuna study on Dask; refit the best, validate, save."""
    from genoml_search.execute.cluster import cluster_options
    from genoml_search._run import RunOptions
    options = RunOptions(dataset=dataset, out=out, task=task, n_trials=n_trials, timeout=timeout, storage=storage,
                         study_name=study, metric=metric, families=family, n_folds=folds, n_repeats=repeats,
                         groups_file=groups, group_col=group_col, config=config, seed=seed, sampler=sampler,
                         families_module=str(families_module) if families_module else None, pruner=pruner, fidelity=fidelity,
                         snp_filter=snp_filter, holdout=holdout, validation_bfile=validation_bfile,
                         validation_pfile=validation_pfile, validation_pheno=validation_pheno,
                         validate_top=validate_top, validation_covar=validation_covar,
                         group_by_relatedness=group_by_relatedness, relatedness_threshold=relatedness_threshold,
                         drop_related_validation=drop_related_validation, n_pcs=pcs, ld_r2=ld_r2, ensemble=ensemble,
                         ensemble_top_k=ensemble_top_k, artifacts=artifacts, ensemble_rule=ensemble_rule,
                         ensemble_validate=ensemble_validate, final_trial=final_trial, cluster=cluster_options(workers, scheduler, scheduler_file, config))
    print_run_summary(_search_with_progress(options))


def _search_with_progress(options: Any) -> Any:
    """Run the search with the terminal progress display; the run's summary."""
    from genoml_search._run import run as run_search
    from genoml_search.progress import log_steps
    from genoml_search.terminal import err_console

    progress = TrialProgress(options)
    try:
        with log_steps(err_console, "run", progress.show_step):  # steps on a terminal only
            summary = run_search(options, on_result=progress.on_result, on_start=progress.on_start)
    finally:
        progress.stop()
    return summary


class TrialProgress:
    """The run's terminal display on stderr (:class:`genoml_search.progress.TrialBar`: trials done/target,
    elapsed, ETA, running trials, best value), and the message of a resumed run with nothing to do."""

    def __init__(self, options: Any) -> None:
        from genoml_search.terminal import err_console

        self.options = options
        self.console = err_console
        self.bar: Any = None

    def on_start(self, already: int, target: int, dashboard: str | None) -> None:
        """The search starts (``already`` of ``target`` trials finished)."""
        from genoml_search.core.metrics import DEFAULT_METRIC, get_metric
        from genoml_search.data.dataset import Dataset
        from genoml_search.progress import TrialBar

        if already >= target:  # a resumed run with nothing to do says so, and how to add trials
            self.console.print(f"the study already has {already} finished trials (--n-trials {target} is a total): "
                               f"no new trial; refitting and validating its best. Add trials with a larger total, "
                               f"e.g. --n-trials {already + 50}", soft_wrap=True)
            return
        task = self.options.task or Dataset.open(self.options.dataset).task  # checked by run before this call
        maximize = get_metric(self.options.metric or DEFAULT_METRIC[task], task).greater_is_better
        if dashboard:
            self.console.print(f"Dask dashboard: {dashboard}")
        self.bar = TrialBar(self.console, maximize, self.options.timeout)
        self.bar.start(already, target)

    def on_result(self, result: Any, finished: int) -> None:
        """A trial finished (``finished`` trials in the study now)."""
        if self.bar is not None:
            self.bar.update(finished, result.value, getattr(result, "in_flight", None))

    def show_step(self, message: str) -> None:
        """After the search: the refit and validation steps in the bar's description."""
        if self.bar is not None:
            self.bar.step(message)

    def stop(self) -> None:
        """Stop the bar (a no-op if it never started)."""
        if self.bar is not None:
            self.bar.stop()


def print_run_summary(summary: Any) -> None:
    """The study's counts, the best trial and the validation metrics of a finished run."""
    from rich.table import Table

    from genoml_search.data.cohort_structure import warning_text
    from genoml_search.terminal import console, err_console

    metrics, stats = summary.metrics, summary.stats
    cv = metrics["cv"]
    stopped = f", {stats.stopped} stopped at the time limit and re-queued" if stats.stopped else ""
    if stats.duplicates:
        stopped += f"; {stats.duplicates} repeated an evaluated trial's parameters and took its score"
    console.print(f"study {summary.study_name} in {summary.storage}: {summary.n_finished} finished trials "
                  f"({stats.completed} completed, {stats.pruned} pruned, {stats.failed} failed in this run{stopped})",
                  soft_wrap=True)
    if stats.timeout_overrun:
        err_console.print(f"note: the --timeout budget was spent before any trial finished; the run waited "
                          f"{stats.timeout_grace_seconds:.0f} s more for the first one (metrics.json: "
                          "search.timeout_grace_seconds)", soft_wrap=True)
    console.print(f"best: trial {cv['best_trial']} {cv['best_family']}  CV {metrics['metric']} "
                  f"{cv[metrics['metric']]:.4f}")
    selection = cv.get("selection") or {}
    if selection.get("trial") is not None and selection.get("trial") != selection.get("best_cv_trial"):
        console.print(f"final trial: {selection['reason']}", soft_wrap=True)
    from genoml_search.evaluation.summary import summary_lines

    for line in summary_lines(metrics):
        console.print(line)
    ensemble = cv.get("ensemble") or {}
    if ensemble.get("method", "none") != "none":
        used = "the final model" if ensemble.get("chosen") else "not used"
        console.print(f"ensemble ({ensemble['method']}): {used}: {ensemble.get('reason')}", soft_wrap=True)
    related = metrics["validation"].get("related_to_training")
    text = warning_text(related, "validation")
    if text:
        if related.get("dropped"):
            text = (f"{related['n_related']} of {related['n_samples']} validation samples are related to a "
                    f"training sample and were left out; {related['n_scored']} scored")
        err_console.print(f"warning: {text}", soft_wrap=True)
    table = Table(title=f"validation ({metrics['validation']['source']}, n={metrics['validation']['n_samples']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics["validation"].items():
        if isinstance(value, float) and key != "threshold":
            table.add_row(key, f"{value:.4f}")
    console.print(table)


def register(app: Any) -> None:
    """Add the `run` command to the CLI."""
    app.command(name="run")(run)
