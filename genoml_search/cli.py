"""The `genoml-search` command line: thin wrappers that parse flags, call the API and print with rich."""
from __future__ import annotations

import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from genoml_search import __version__
from genoml_search.errors import UserError

# rich_markup_mode=None: help texts are plain text, so TOML table names like [study] are shown, not eaten as markup
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="AutoML for genomics: PLINK cohorts to honest, tuned predictive models.")
console = Console(stderr=False)
err_console = Console(stderr=True)
STATE = {"verbosity": 0}


def _version(value: bool) -> None:
    if value:
        print(f"genoml-search {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="-v warnings, -vv info, -vvv debug and full tracebacks")] = 0,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """genoml-search: munge -> run -> status/report -> predict."""
    STATE["verbosity"] = verbose
    level = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    import optuna

    optuna.logging.set_verbosity({0: optuna.logging.ERROR, 1: optuna.logging.WARNING,
                                  2: optuna.logging.INFO}.get(verbose, optuna.logging.DEBUG))


@app.command()
def munge(
    out: Annotated[Path, typer.Option("--out", help="Dataset directory to write (replaced atomically).")],
    bfile: Annotated[Optional[str], typer.Option(help="PLINK 1 prefix of .bed/.bim/.fam.")] = None,
    pfile: Annotated[Optional[str], typer.Option(help="PLINK 2 prefix of .pgen/.pvar/.psam (needs pgenlib).")] = None,
    pheno: Annotated[Optional[str], typer.Option(help="Phenotype file (ID or FID IID column + phenotype).")] = None,
    pheno_name: Annotated[Optional[str], typer.Option(help="Phenotype column (default PHENO, else the first).")] = None,
    task: Annotated[str, typer.Option(help="binary, regression, multiclass or auto.")] = "auto",
    covar: Annotated[Optional[str], typer.Option(help="Covariate file (ID + columns).")] = None,
    max_covar_levels: Annotated[int, typer.Option(help="Most levels a text covariate may have.")] = 10,
    gwas: Annotated[Optional[str], typer.Option(help="External GWAS summary statistics (SNP and P columns).")] = None,
    gwas_p: Annotated[Optional[float], typer.Option(help="Keep SNPs with GWAS p <= this.")] = None,
    extract: Annotated[Optional[str], typer.Option(help="Keep only the SNP IDs listed in this file.")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Drop the SNP IDs listed in this file.")] = None,
    keep: Annotated[Optional[str], typer.Option(help="Keep only the samples listed (ID or FID IID).")] = None,
    remove: Annotated[Optional[str], typer.Option(help="Drop the samples listed (ID or FID IID).")] = None,
    mind: Annotated[float, typer.Option(help="Drop samples with missing call rate above this.")] = 0.1,
    geno: Annotated[float, typer.Option(help="Drop variants with missing call rate above this.")] = 0.05,
    maf: Annotated[float, typer.Option(help="Drop variants with minor allele frequency below this.")] = 0.01,
    hwe: Annotated[float, typer.Option(help="Drop variants with HWE exact test p below this.")] = 1e-6,
    hwe_controls_only: Annotated[bool, typer.Option(help="HWE on controls only (PLINK 1.9 style).")] = False,
    no_qc: Annotated[bool, typer.Option("--no-qc", help="Skip --mind/--geno/--maf/--hwe.")] = False,
    indep_pairwise: Annotated[Optional[tuple[str, str, str]], typer.Option(
        help="LD pruning WINDOW[kb] STEP R2 (PLINK semantics; PLINK 2's WINDOWkb R2 means step 1).")] = ("50", "5", "0.9"),
    skip_prune: Annotated[bool, typer.Option("--skip-prune", help="No LD pruning.")] = False,
    like: Annotated[Optional[Path], typer.Option(help="Harmonize to this training dataset instead of QC/pruning.")] = None,
    fill_missing: Annotated[bool, typer.Option(help="With --like: allow training SNPs absent here.")] = False,
    no_kinship: Annotated[bool, typer.Option("--no-kinship", help="Skip KING kinship (related pairs) of a "
                                             "training cohort.")] = False,
    kinship_max_samples: Annotated[int, typer.Option(help="Skip kinship above this many samples (memory grows "
                                                     "with n^2: ~2.3 GB at 10,000).")] = 10_000,
    pcs: Annotated[Optional[int], typer.Option("--pcs", help="Genetic PCs to fit on a training cohort "
                                               "(default 10 when it has >= 100 SNPs; 0: none).")] = None,
    table: Annotated[Optional[list[str]], typer.Option("--table", help="Feature table (CSV, TSV or Parquet; one "
                                                       "row per sample), alone or beside genotypes; repeatable.")] = None,
    id_column: Annotated[Optional[str], typer.Option(help="Sample ID column of the --table files (default ID, "
                                                     "IID, ...).")] = None,
    categorical: Annotated[Optional[list[str]], typer.Option("--categorical", help="Table columns to treat as "
                                                             "categorical (COL,COL,...), besides text ones.")] = None,
) -> None:
    """Turn PLINK genotypes and/or feature tables + phenotype + covariates into a Dataset directory."""
    from genoml_search.data.munge import MungeOptions, PruneParams, munge as run_munge
    from genoml_search.data.qc import QCParams

    qc = QCParams.disabled() if no_qc else QCParams(mind, geno, maf, hwe, hwe_controls_only)
    prune = None if skip_prune or indep_pairwise is None else PruneParams.parse(*indep_pairwise)
    options = MungeOptions(out=out, bfile=bfile, pfile=pfile, pheno=pheno, pheno_name=pheno_name, task=task,
                           covar=covar, max_covar_levels=max_covar_levels, gwas=gwas, gwas_p=gwas_p,
                           extract=extract, exclude=exclude, keep=keep, remove=remove, qc=qc, prune=prune,
                           like=str(like) if like else None, fill_missing=fill_missing, kinship=not no_kinship,
                           kinship_max_samples=kinship_max_samples, pcs=pcs, tables=list(table or []),
                           id_column=id_column, categorical=list(categorical or []))
    manifest = run_munge(options)
    table = Table(title=f"munge -> {out}")
    for column in ("step", "unit", "removed", "remaining", "reason"):
        table.add_column(column, justify="right" if column in ("removed", "remaining") else "left")
    for step in manifest["steps"]:
        table.add_row(step["step"], step["unit"], str(step["removed"]),
                      "" if step.get("remaining") is None else str(step["remaining"]), step["reason"])
    console.print(table)
    console.print(f"{manifest['n_samples']} samples x {manifest['n_variants']} variants, "
                  f"task {manifest['phenotype']['task']}, hash {manifest['content_hash']}")
    if manifest.get("feature_table"):
        from genoml_search.data.table_munge import table_lines

        for line in table_lines(manifest):
            console.print(line, markup=False, highlight=False)
    if manifest["phenotype"]["task"] == "binary":  # #18: case/control counts of the written dataset
        from genoml_search.data.dataset import Dataset
        from genoml_search.evaluation.binary import case_control_counts

        counts = case_control_counts(Dataset.open(out).phenotype)
        console.print(f"cases/controls: {counts['n_cases']}/{counts['n_controls']}")
    _print_structure(manifest)


def _print_structure(manifest: dict) -> None:
    from genoml_search.data.cohort_structure import warning_text

    related, pca = manifest.get("relatedness"), manifest.get("pca") or {}
    if related:
        if related.get("computed"):
            degrees = ", ".join(f"{n} {d}" for d, n in related["n_pairs_by_degree"].items() if n)
            console.print(f"kinship (KING, {related['n_snps']} SNPs): {related['n_related_pairs']} related pairs "
                          f"(second degree or closer; {related['n_duplicate_pairs']} duplicates) among "
                          f"{related['n_related_samples']} samples; pairs by degree: {degrees or 'none'}",
                          markup=False)
        else:
            console.print(f"kinship: {related['reason']}", markup=False)
    if pca.get("computed"):
        how = "projected onto the training PCs" if pca.get("projected") else "fitted"
        console.print(f"genetic PCs: {pca['n_components']} {how}", markup=False)
    elif pca.get("reason"):
        console.print(f"genetic PCs: {pca['reason']}", markup=False)
    text = warning_text(manifest.get("related_to_training"), "cohort",
                        "validating on them measures memorization, not generalization")
    if text:
        err_console.print(f"warning: {text}", markup=False, soft_wrap=True)


@app.command()
def run(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory written by `munge`.")],
    out: Annotated[Path, typer.Option("--out", help="Run directory: study.db, model/, metrics.json.")],
    task: Annotated[Optional[str], typer.Option(help="binary, regression or multiclass (default: the dataset's).")] = None,
    n_trials: Annotated[int, typer.Option(help="Target TOTAL of finished trials in the study (resumes).")] = 50,
    timeout: Annotated[Optional[float], typer.Option(
        help="Wall-clock budget in seconds for the search: no trial starts after it, and trials still running "
             "then are stopped and re-queued for a resumed run.")] = None,
    storage: Annotated[Optional[str], typer.Option(help="Study database URL (default sqlite:///OUT/study.db).")] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="Study name (default DATASET-TASK).")] = None,
    metric: Annotated[Optional[str], typer.Option(help="roc_auc, average_precision, log_loss, r2, ...")] = None,
    family: Annotated[Optional[list[str]], typer.Option("--family", help="Model family to search (repeatable).")] = None,
    folds: Annotated[int, typer.Option(help="CV folds.")] = 5,
    repeats: Annotated[int, typer.Option(help="CV repeats.")] = 1,
    groups: Annotated[Optional[Path], typer.Option(
        help="Grouped CV: file of ID + group column (or a PLINK .fam: group = FID); a group never straddles folds.")] = None,
    group_col: Annotated[Optional[str], typer.Option(
        help="Group column of --groups (default GROUP, else FID), or without --groups a column of samples.tsv.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split, folds, sampler and models.")] = 0,
    sampler: Annotated[str, typer.Option(help="tpe, random, qmc or cmaes.")] = "tpe",
    pruner: Annotated[str, typer.Option(help="none, median, percentile, wilcoxon, successive_halving, hyperband.")] = "median",
    snp_filter: Annotated[bool, typer.Option(help="Search an in-fold SNP association p-value threshold.")] = True,
    holdout: Annotated[float, typer.Option(help="Fraction held out for validation when no validation cohort.")] = 0.2,
    validation_bfile: Annotated[Optional[str], typer.Option(help="Validation cohort PLINK prefix.")] = None,
    validation_pfile: Annotated[Optional[str], typer.Option(help="Validation cohort PLINK 2 prefix "
                                                            "(.pgen/.pvar/.psam).")] = None,
    validation_pheno: Annotated[Optional[str], typer.Option(help="Validation phenotype file.")] = None,
    validation_covar: Annotated[Optional[str], typer.Option(help="Validation covariate file.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Local Dask workers (default: one per core).")] = None,
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
        "2^-2.5 = 0.177 for first degree).")] = 2.0**-3.5,
    drop_related_validation: Annotated[bool, typer.Option(
        "--drop-related-validation", help="Score only validation samples unrelated to the training/search "
        "samples.")] = False,
    pcs: Annotated[int, typer.Option("--pcs", help="Add the first K genetic PCs (stored by munge) as "
                                     "covariates.")] = 0,
    validate_top: Annotated[int, typer.Option(help="Leaderboard: refit the best trial of the K best families "
                                              "and score it on the validation samples.")] = 3,
) -> None:
    """Search model families with an Optuna study on Dask; refit the best, validate, save."""
    from genoml_search.execute.cluster import cluster_options
    from genoml_search.run import RunOptions, run as run_search

    validation_dataset = None
    if validation_bfile or validation_pfile or validation_pheno or validation_covar:
        if validation_bfile and validation_pfile:
            raise UserError("give one of --validation-bfile and --validation-pfile, not both")
        if not ((validation_bfile or validation_pfile) and validation_pheno):
            raise UserError("--validation-bfile (or --validation-pfile) and --validation-pheno go together")
        validation_dataset = _munge_validation(dataset, out, validation_bfile, validation_pheno, validation_covar,
                                               validation_pfile)
    options = RunOptions(dataset=dataset, out=out, task=task, n_trials=n_trials, timeout=timeout, storage=storage,
                         study_name=study, metric=metric, families=family, n_folds=folds, n_repeats=repeats,
                         groups_file=groups, group_col=group_col, config=config,
                         families_module=str(families_module) if families_module else None,
                         seed=seed, sampler=sampler, pruner=pruner, snp_filter=snp_filter, holdout=holdout,
                         validation_dataset=validation_dataset, group_by_relatedness=group_by_relatedness,
                         relatedness_threshold=relatedness_threshold,
                         drop_related_validation=drop_related_validation, n_pcs=pcs, validate_top=validate_top,
                         cluster=cluster_options(workers, scheduler, scheduler_file, config))
    progress = Progress(TextColumn("[bold]trials"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.description}"), console=err_console, transient=False)
    best: dict[str, float] = {}
    task_id = None

    def on_start(already: int, target: int, dashboard: str | None) -> None:
        nonlocal task_id
        if dashboard:
            err_console.print(f"Dask dashboard: {dashboard}")
        task_id = progress.add_task("", total=target, completed=already)
        progress.start()

    def on_result(result, finished: int) -> None:
        if result.value is not None:
            best["value"] = result.value if "value" not in best else (
                max(best["value"], result.value) if direction_max else min(best["value"], result.value))
        progress.update(task_id, completed=finished,
                        description=f"best {best['value']:.4f}" if "value" in best else "")

    from genoml_search.core.metrics import DEFAULT_METRIC, get_metric
    from genoml_search.data.dataset import Dataset

    the_task = task or Dataset.open(dataset).task
    direction_max = get_metric(metric or DEFAULT_METRIC[the_task], the_task).greater_is_better
    try:
        summary = run_search(options, on_result=on_result, on_start=on_start)
    finally:
        if task_id is not None:  # stopping a bar that never started prints a stray blank line
            progress.stop()
    _print_run_summary(summary)


def _munge_validation(dataset: Path, out: Path, bfile: str | None, pheno: str, covar: str | None,
                      pfile: str | None = None) -> Path:
    from genoml_search.data.munge import MungeOptions, munge as run_munge

    target = out / "validation_dataset"
    run_munge(MungeOptions(out=target, bfile=bfile, pfile=pfile, pheno=pheno, covar=covar, like=str(dataset),
                           fill_missing=True))
    return target


def _print_run_summary(summary) -> None:
    metrics = summary.metrics
    cv = metrics["cv"]
    console.print(f"study {summary.study_name} in {summary.storage}: {summary.n_finished} finished trials "
                  f"({summary.stats.completed} completed, {summary.stats.pruned} pruned, "
                  f"{summary.stats.failed} failed in this run"
                  + (f", {summary.stats.stopped} stopped at the time limit and re-queued" if summary.stats.stopped
                     else "") + ")")
    console.print(f"best: trial {cv['best_trial']} {cv['best_family']}  CV {metrics['metric']} "
                  f"{cv[metrics['metric']]:.4f}")
    from genoml_search.evaluation.summary import summary_lines

    for line in summary_lines(metrics):
        console.print(line, markup=False, highlight=False)
    from genoml_search.data.cohort_structure import warning_text

    related = metrics["validation"].get("related_to_training")
    text = warning_text(related, "validation")
    if text:
        if related.get("dropped"):
            text = (f"{related['n_related']} of {related['n_samples']} validation samples are related to a "
                    f"training sample and were left out; {related['n_scored']} scored")
        err_console.print(f"warning: {text}", markup=False, soft_wrap=True)
    table = Table(title=f"validation ({metrics['validation']['source']}, n={metrics['validation']['n_samples']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics["validation"].items():
        if isinstance(value, float) and key != "threshold":
            table.add_row(key, f"{value:.4f}")
    console.print(table)


@app.command()
def status(
    run_dir: Annotated[Optional[Path], typer.Argument(help="A run directory (uses its study.db).")] = None,
    storage: Annotated[Optional[str], typer.Option(help="Study database URL.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Deprecated spelling of RUN_DIR.")] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="Only this study.")] = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """List studies: trial counts by state, best trial per family and overall."""
    import optuna

    from genoml_search.search.storage import default_storage_url, mask_url, open_storage
    from genoml_search.search.study import best_per_family, trial_counts

    from genoml_search.deprecation import prefer

    out = prefer(run_dir, out, "RUN_DIR", "--out RUN_DIR")
    if storage is None and out is None:
        raise UserError("give RUN_DIR or --storage URL")
    url = storage or default_storage_url(out)
    if out is not None and storage is None and not (out / "study.db").is_file():
        raise UserError("no study.db in this run directory", out)
    backend = open_storage(url)
    summaries = optuna.study.get_all_study_summaries(backend, include_best_trial=False)
    names = [s.study_name for s in summaries if study is None or s.study_name == study]
    if study is not None and not names:
        raise UserError(f"no study {study!r} in {mask_url(url)}; known: {[s.study_name for s in summaries]}")
    report = []
    for name in names:
        loaded = optuna.load_study(study_name=name, storage=backend)
        families = best_per_family(loaded)
        report.append({"study": name, "direction": loaded.direction.name.lower(),
                       "task": loaded.user_attrs.get("task"), "metric": loaded.user_attrs.get("metric"),
                       "counts": trial_counts(loaded), "best_per_family": families,
                       "best": families[0] if families else None})
    if format == "json":
        print(json.dumps({"storage": mask_url(url), "studies": report}, indent=2, default=str))
        return
    console.print(f"storage {mask_url(url)}: {len(report)} stud{'y' if len(report) == 1 else 'ies'}")
    for entry in report:
        counts = ", ".join(f"{k.lower()} {v}" for k, v in entry["counts"].items() if v)
        console.print(f"[bold]{entry['study']}[/bold] ({entry['task']}, {entry['metric']}, "
                      f"{entry['direction']}): {counts or 'no trials'}")
        table = Table()
        for column in ("family", "best trial", entry["metric"] or "value", "complete trials"):
            table.add_column(column)
        for row in entry["best_per_family"]:
            table.add_row(row["family"], str(row["trial"]), f"{row['value']:.4f}", str(row["n_complete"]))
        console.print(table)
        if entry["best"]:
            console.print(f"best overall: trial {entry['best']['trial']} ({entry['best']['family']}) "
                          f"{entry['best']['value']:.4f}")


def _register_commands() -> None:
    from genoml_search.commands import register_all

    register_all(app)


_register_commands()


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2."""
    from genoml_search.fileio import install_signal_handlers

    install_signal_handlers()  # SIGTERM cleans up temporaries like Ctrl-C
    try:
        from genoml_search.argv import expand_indep_pairwise

        result = app(args=expand_indep_pairwise(sys.argv[1:]), standalone_mode=False)
        # With standalone_mode=False, click returns (not raises) the code of Ctrl-C (130, after its Abort) and Exit.
        if result == 130:
            raise KeyboardInterrupt
        if isinstance(result, int) and result:
            sys.exit(result)
    except UserError as error:
        if STATE["verbosity"] >= 3:
            traceback.print_exc()
        err_console.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted: outputs are unchanged and the study is consistent; rerun to resume",
                          markup=False)
        sys.exit(130)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as error:  # click usage errors and anything unexpected
        import click

        if isinstance(error, click.exceptions.ClickException):
            error.show()
            sys.exit(error.exit_code)
        if STATE["verbosity"] >= 3:
            raise
        err_console.print(f"internal error: {type(error).__name__}: {error} (run with -vvv for the traceback)",
                          markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
