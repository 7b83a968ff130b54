"""`genoml-search run`: search a dataset with an Optuna study on Dask, refit the best pipeline, validate it.

Honest evaluation: the validation samples (a separate cohort harmonized to the training dataset, or a split
held out before the search, fixed by the seed) are never seen by the search; the cross-validation folds fit
all preprocessing on their own training part.
"""
from __future__ import annotations

import fcntl
import logging
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import optuna
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from genoml_search import __version__
from genoml_search.data.cohort_structure import KING_DUPLICATE, RELATED_THRESHOLD, STORED_THRESHOLD, groups_from_pairs, warning_text
from genoml_search.data.dataset import Dataset
from genoml_search.errors import StudyError, UserError
from genoml_search.evaluation.context import RefitContext
from genoml_search.evaluation.leaderboard import leaderboard_records
from genoml_search.evaluation.summary import training_counts, validation_extras
from genoml_search.export import write_model_extras
from genoml_search.execute.cluster import ClusterOptions, dask_client, dashboard_link
from genoml_search.execute.driver import (DriverStats, ask_lock, claim_driver_number, count_finished,
                                          recover_running_trials, run_trials)
from genoml_search.fileio import atomic_file, write_json
from genoml_search.model_io import save_model
from genoml_search.report.validation import EXCLUDED_VALIDATION  # IDs left out by --drop-related-validation
from genoml_search.core.metrics import DEFAULT_METRIC, get_metric, score_all
from genoml_search.core.features import features_from_dataset
from genoml_search.core.scoring import predict_scores
from genoml_search.search.objective import PRUNERS, CVSpec, PruningContext, TrialSpec, model_input
from genoml_search.search.groups import groups_for_samples, groups_from_column, groups_hash, read_groups_file
from genoml_search.search.pipeline import build_pipeline
from genoml_search.search.registry import ModelFamily, families_for, get_family
from genoml_search.search.space import family_and_params, suggest_pipeline
from genoml_search.search.space_config import read_study_toml
from genoml_search.signals import signals_as_interrupt
from genoml_search.tasks import Task
from genoml_search.search.warm_start import enqueue_starting_points
from genoml_search.search.storage import default_storage_url, is_sqlite, mask_url, open_storage
from genoml_search.search.study import driver_sampler, make_sampler, open_study, record_outcome

log = logging.getLogger(__name__)
DEFAULT_FAMILIES = ("lasso_path", "logistic", "ridge_h2", "elastic_net", "random_forest", "hist_gradient_boosting",
                    "xgboost")


@dataclass
class RunOptions:
    """Everything `genoml-search run` can be asked to do."""

    dataset: Path
    out: Path
    task: str | None = None
    n_trials: int = 50
    timeout: float | None = None
    storage: str | None = None
    study_name: str | None = None
    metric: str | None = None
    families: list[str] | None = None
    families_module: str | None = None
    config: Path | None = None
    n_folds: int = 5
    n_repeats: int = 1
    groups: np.ndarray | None = None  # one label per dataset sample; relatives share a label (grouped CV)
    groups_file: Path | None = None  # or: a file of ID + group column (or a .fam: group = FID)
    group_col: str | None = None  # the group column of groups_file, or of the dataset's samples.tsv
    group_by_relatedness: bool = False  # groups: clusters of related samples found at munge time (KING)
    relatedness_threshold: float = RELATED_THRESHOLD  # kinship above which two samples share a group
    drop_related_validation: bool = False  # score only validation samples unrelated to the search samples
    n_pcs: int = 0  # genetic PCs (PC1..PCK stored by munge) added as covariates
    seed: int = 0
    sampler: str = "tpe"
    pruner: str = "median"
    snp_filter: bool = True
    holdout: float = 0.2
    validation_dataset: Path | None = None
    validate_top: int = 3  # leaderboard: families whose best trial is refitted and validated
    cluster: ClusterOptions = field(default_factory=ClusterOptions)


@dataclass
class RunSummary:
    """What a run did and where its outputs are."""

    study_name: str
    storage: str
    n_finished: int
    stats: DriverStats
    metrics: dict[str, Any]
    dashboard: str | None


@contextmanager
def single_driver_lock(out: Path) -> Iterator[None]:
    """Refuse a second `run` on the same output directory (its SQLite study) while one is running."""
    out.mkdir(parents=True, exist_ok=True)
    handle = open(out / ".run.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StudyError(f"another `genoml-search run` is using {out}; wait for it, or share a study between "
                         "runs through a PostgreSQL/MySQL --storage") from None
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def choose_families(options: RunOptions, task: str) -> list[ModelFamily]:
    """The families searched: a study TOML's ``[study]``/``[families.*]`` tables (ranges overridden), narrowed
    to ``--family`` names if given; else the ``--family`` names; else the defaults that support the task."""
    if options.config is not None:
        from genoml_search.search.space_config import apply_family_config

        table = read_study_toml(options.config)
        if "study" in table or "families" in table:
            families = apply_family_config(table, task, str(options.config))
            if options.families:
                missing = sorted(set(options.families) - {f.name for f in families})
                if missing:
                    raise UserError(f"--family {missing} are not among the families of {options.config}")
                families = [f for f in families if f.name in options.families]
            return families
    if options.families:
        families = [get_family(name) for name in options.families]
        unsupported = [f.name for f in families if task not in f.tasks]
        if unsupported:
            raise UserError(f"families {unsupported} do not support the {task} task")
        return families
    available = {f.name: f for f in families_for(task)}
    return [available[name] for name in DEFAULT_FAMILIES if name in available]


def families_of_resumed_study(study: optuna.Study, families: list[ModelFamily],
                              options: RunOptions) -> list[ModelFamily]:
    """The families a resumed study keeps searching: the ones it was made with (its ``family`` choices cannot
    change). Without ``--family``/``--config`` these are taken over, so a study made by an earlier version with
    other default families resumes; a different explicit choice is a user error."""
    recorded = study.user_attrs.get("families")
    names = [f.name for f in families]
    if not recorded or recorded == names:
        return families
    from_config = options.config is not None and bool({"study", "families"} & set(read_study_toml(options.config)))
    if options.families or from_config:
        raise StudyError(f"study {study.study_name!r} searches the families {', '.join(recorded)}, not "
                         f"{', '.join(names)}; use another --study name, or the same families")
    log.info("resuming study %s with its own families: %s", study.study_name, ", ".join(recorded))
    return [get_family(name) for name in recorded]


def split_search_validation(
    y: np.ndarray, task: str, holdout: float, seed: int, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the search samples and of the held-out validation samples (fixed by the seed).

    Stratified by class for classification; with ``groups``, whole groups go to one side (relatives of a
    validation sample are never searched on).
    """
    if not 0.0 < holdout < 1.0:
        raise UserError(f"--holdout {holdout} must be between 0 and 1 (exclusive)")
    index = np.arange(len(y))
    if groups is not None:
        splitter = GroupShuffleSplit(n_splits=1, test_size=holdout, random_state=seed)
        search, validation = next(splitter.split(index, y, groups))
    else:
        stratify = y if Task(task).is_classification else None
        search, validation = train_test_split(index, test_size=holdout, random_state=seed, stratify=stratify)
    return np.sort(search), np.sort(validation)


def resolve_groups(options: RunOptions, dataset: Dataset) -> np.ndarray | None:
    """The group label of every dataset sample (``None``: ungrouped CV)."""
    ids = dataset.samples["ID"].astype(str).to_numpy()
    if options.group_by_relatedness:
        if options.groups is not None or options.groups_file is not None or options.group_col is not None:
            raise UserError("--group-by-relatedness replaces --groups/--group-col; give only one of them")
        if options.relatedness_threshold < STORED_THRESHOLD:
            raise UserError(f"--relatedness-threshold {options.relatedness_threshold} is below the "
                            f"{STORED_THRESHOLD:.4f} (third degree) down to which munge stores related pairs")
        pairs = dataset.related_pairs()
        if pairs is None:
            reason = (dataset.manifest.get("relatedness") or {}).get("reason", "not computed by this version")
            raise UserError(f"--group-by-relatedness: the dataset has no kinship estimate ({reason}); re-munge "
                            "without --no-kinship (raise --kinship-max-samples if needed)", dataset.path)
        return groups_from_pairs(ids, pairs, options.relatedness_threshold)
    if options.groups is not None:
        groups = np.asarray(options.groups)
        if groups.shape != (len(ids),):
            raise UserError(f"groups has shape {groups.shape}, expected one label per sample ({len(ids)})")
        return groups
    if options.groups_file is not None:
        return groups_for_samples(ids, read_groups_file(options.groups_file, options.group_col))
    if options.group_col is not None:
        return groups_from_column(dataset.samples, options.group_col, dataset.path)
    return None


def suggest_trial(trial: optuna.Trial, families: list[ModelFamily], task: str, snp_filter: bool) -> tuple[str, dict, float]:
    """Sample a family, its parameters and the in-fold SNP p-value threshold."""
    family, params = suggest_pipeline(trial, families, task)
    threshold = trial.suggest_float("snp_p_threshold", 1e-6, 1.0, log=True) if snp_filter else 1.0
    return family.name, params, threshold


def run(options: RunOptions, on_result: Callable[[Any, int], None] | None = None,
        on_start: Callable[[int, int, str | None], None] | None = None) -> RunSummary:
    """Run (or resume) the study to ``n_trials`` finished trials, refit the best pipeline and validate it.

    ``n_trials`` is the target total of finished (complete or pruned) trials in the study, so rerunning the
    same command after an interruption resumes. SIGINT/SIGTERM stop cleanly: in-flight trials are failed and
    their parameters re-queued, no trial stays RUNNING, and ``KeyboardInterrupt`` propagates.
    """
    with signals_as_interrupt():  # SIGTERM like Ctrl-C: a batch system's kill also stops cleanly
        return _run(options, on_result, on_start)


def _run(options: RunOptions, on_result: Callable[[Any, int], None] | None,
         on_start: Callable[[int, int, str | None], None] | None) -> RunSummary:
    dataset = Dataset.open(options.dataset)
    task = Task.parse(options.task) if options.task else dataset.task
    if not task.kind.accepts_phenotype_of(dataset.task):
        raise UserError(f"--task {task} does not fit the dataset's {dataset.task} phenotype", options.dataset)
    if options.pruner not in PRUNERS:
        raise UserError(f"unknown pruner {options.pruner!r}; choose one of {', '.join(PRUNERS)}")
    metric = get_metric(options.metric or DEFAULT_METRIC[task], task)
    if options.families_module:
        from genoml_search.search.space_config import load_families_module

        load_families_module(options.families_module)
    families = choose_families(options, task)
    from genoml_search.search.tabular import families_for_tables  # munge --table: no genotype-only families

    families = families_for_tables(families, dataset, explicit=bool(options.families))
    validation = Dataset.open(options.validation_dataset) if options.validation_dataset else None
    if validation is not None and validation.manifest.get("like", {}).get("content_hash") != dataset.content_hash:
        raise UserError("validation dataset was not harmonized to this training dataset (munge it with --like)",
                        options.validation_dataset)

    y = dataset.phenotype
    groups = resolve_groups(options, dataset)
    if validation is None:
        search_index, holdout_index = split_search_validation(y, task, options.holdout, options.seed, groups)
    else:
        search_index, holdout_index = np.arange(len(y)), np.array([], dtype=int)
    search_groups = None if groups is None else groups[search_index]
    _check_cv_feasible(y[search_index], task, options.n_folds, search_groups)
    _warn_large_group(search_groups, options.n_folds)
    _check_pcs(options.n_pcs, dataset, validation)
    related, excluded = validation_relatedness(dataset, validation, search_index, holdout_index,
                                               options.drop_related_validation)
    options.out.mkdir(parents=True, exist_ok=True)
    if len(holdout_index):
        with atomic_file(options.out / "holdout_samples.txt") as handle:
            handle.write("ID\n" + "".join(f"{i}\n" for i in dataset.samples["ID"].astype(str).to_numpy()[holdout_index]))
    excluded_file = options.out / EXCLUDED_VALIDATION
    if excluded:
        with atomic_file(excluded_file) as handle:
            handle.write("ID\n" + "".join(f"{i}\n" for i in sorted(excluded)))
    elif excluded_file.exists():
        excluded_file.unlink()

    storage_url = options.storage or default_storage_url(options.out)
    name = options.study_name or f"{dataset.path.resolve().name}-{task}"
    # identity: what makes trial values comparable; a resumed study must match it exactly
    identity = {"dataset_hash": dataset.content_hash, "task": task, "metric": metric.name,
                "holdout": 0.0 if validation is not None else options.holdout, "seed": options.seed,
                "n_folds": options.n_folds, "n_repeats": options.n_repeats, "groups_hash": groups_hash(groups)}
    if options.n_pcs:
        identity["n_pcs"] = options.n_pcs
    settings = {"families": [f.name for f in families], "sampler": options.sampler, "pruner": options.pruner,
                "snp_filter": options.snp_filter, "dataset": str(dataset.path.resolve()),
                "n_search_samples": int(len(search_index)), "group_by_relatedness": options.group_by_relatedness,
                "n_groups": None if search_groups is None else int(len(np.unique(search_groups)))}
    lock = single_driver_lock(options.out) if is_sqlite(storage_url) else _no_lock()
    with lock:
        storage = open_storage(storage_url)
        study = open_study(storage, storage_url, name, metric.direction, make_sampler(options.sampler, options.seed),
                           identity, settings)
        families = families_of_resumed_study(study, families, options)
        driver_number = claim_driver_number(study)
        study.sampler = driver_sampler(options.sampler, options.seed, driver_number)
        if is_sqlite(storage_url):
            recovered = recover_running_trials(study)
            if recovered:
                log.warning("re-queued %d trial(s) left RUNNING by an interrupted run", recovered)
        else:
            optuna.storages.fail_stale_trials(study)
        n_train = len(search_index) * (options.n_folds - 1) // options.n_folds  # samples a CV fit sees
        with ask_lock(study):  # drivers starting together on a new study: only one queues the starting points
            enqueue_starting_points(study, families, task, options.snp_filter, dataset.genotypes.shape[1], n_train)
        cv = CVSpec(options.n_folds, options.n_repeats, options.seed)

        def make_spec(trial: optuna.Trial, pruning: PruningContext) -> TrialSpec:
            family, params, threshold = suggest_trial(trial, families, task, options.snp_filter)
            # a first heartbeat at once: a trial without any is never detected as stale if this driver dies
            storage.record_heartbeat(trial._trial_id)
            trial.set_user_attr("tool_version", __version__)
            trial.set_user_attr("dataset_hash", dataset.content_hash)
            return TrialSpec(trial.number, str(dataset.path.resolve()), dataset.content_hash, task, metric.name,
                             family, params, threshold, search_index, cv, groups=search_groups,
                             random_state=options.seed, families_module=options.families_module, pruning=pruning,
                             n_pcs=options.n_pcs)

        stats = DriverStats()
        dashboard = None
        already = count_finished(study)
        if already < options.n_trials:
            with dask_client(options.cluster) as client:
                dashboard = dashboard_link(client)
                if on_start is not None:
                    on_start(already, options.n_trials, dashboard)
                try:
                    stats = run_trials(study, client, options.n_trials, make_spec, options.pruner,
                                       options.timeout, on_result=on_result)
                except KeyboardInterrupt:
                    if is_sqlite(storage_url):  # we are the only driver: nothing may stay RUNNING
                        recover_running_trials(study)
                    raise
        elif on_start is not None:
            on_start(already, options.n_trials, None)
        finished = count_finished(study)
        metrics = refit_and_validate(study, dataset, validation, families, task, metric.name, search_index,
                                     holdout_index, options, search_groups, related, excluded)
    return RunSummary(name, mask_url(storage_url), finished, stats, metrics, dashboard)


@contextmanager
def _no_lock() -> Iterator[None]:
    yield


def _warn_large_group(groups: np.ndarray | None, n_folds: int) -> None:
    if groups is None:
        return
    sizes = np.bincount(np.unique(groups, return_inverse=True)[1])
    if sizes.max() > len(groups) / n_folds:
        log.warning("the largest sample group holds %d of %d search samples, more than one fold's share; with few "
                    "SNPs, KING's second-degree calls are noisy (raise --relatedness-threshold)", sizes.max(),
                    len(groups))


def _check_pcs(n_pcs: int, dataset: Dataset, validation: Dataset | None) -> None:
    if n_pcs < 0:
        raise UserError(f"--pcs {n_pcs} must be 0 or more")
    if n_pcs:
        from genoml_search.data.cohort_structure import pc_names

        clash = sorted(set(pc_names(n_pcs)) & set(dataset.covariate_names))
        if clash:
            raise UserError(f"--pcs {n_pcs}: covariates {clash} clash with the genetic PC names; rename them",
                            dataset.path)
        dataset.pcs(n_pcs)
        if validation is not None:
            validation.pcs(n_pcs)


def validation_relatedness(
    dataset: Dataset,
    validation: Dataset | None,
    search_index: np.ndarray,
    holdout_index: np.ndarray,
    drop: bool,
) -> tuple[dict[str, Any], set[str]]:
    """How many validation samples duplicate or are related to a search sample, and the IDs to leave out.

    A validation cohort carries the counts computed by ``munge --like``; a held-out split is checked against
    the search samples with the training dataset's related pairs. With ``drop`` the related samples are left
    out of scoring; refused when relatedness was not checked or when nothing would be left.
    """
    ids = dataset.samples["ID"].astype(str).to_numpy()
    if validation is not None:
        summary = dict(validation.manifest.get("related_to_training")
                       or {"checked": False, "reason": "the validation dataset was munged by an older version",
                           "n_samples": int(validation.manifest["n_samples"]), "threshold": RELATED_THRESHOLD})
        related_ids = set(summary.pop("related_ids", []))
        n_samples = int(validation.manifest["n_samples"])
    else:
        n_samples = len(holdout_index)
        pairs = dataset.related_pairs()
        if pairs is None:
            reason = (dataset.manifest.get("relatedness") or {}).get("reason", "not computed by this version")
            summary = {"checked": False, "reason": f"no kinship in the training dataset ({reason})"}
            related_ids = set()
        else:
            pairs = pairs[pairs["kinship"] > RELATED_THRESHOLD]
            held, searched = set(ids[holdout_index]), set(ids[search_index])
            best: dict[str, float] = {}
            for a, b, k in zip(pairs["id1"], pairs["id2"], pairs["kinship"]):  # few pairs: a loop is fine
                for x, y in ((a, b), (b, a)):
                    if x in held and y in searched:
                        best[x] = max(best.get(x, 0.0), float(k))
            related_ids = set(best)
            summary = {"checked": True, "n_duplicates": sum(v > KING_DUPLICATE for v in best.values()),
                       "n_related": len(best)}
        summary.update({"n_samples": n_samples, "threshold": RELATED_THRESHOLD})
    summary = {k: v for k, v in summary.items() if k not in ("seconds", "reference")}
    if drop:
        if not summary.get("checked"):
            raise UserError(f"--drop-related-validation: relatedness to the training samples could not be checked "
                            f"({summary.get('reason')})")
        if related_ids and len(related_ids) >= n_samples:
            raise UserError(f"--drop-related-validation: all {n_samples} validation samples are related to training "
                            "samples; nothing left to score (validate on an independent cohort)")
    summary["dropped"] = bool(drop)
    summary["n_scored"] = n_samples - (len(related_ids) if drop else 0)
    text = warning_text(summary, "validation")
    if text:
        log.warning("%s", text)
    return summary, related_ids if drop else set()


def _check_cv_feasible(y: np.ndarray, task: str, n_folds: int, groups: np.ndarray | None = None) -> None:
    if n_folds < 2:
        raise UserError("--folds must be at least 2")
    if groups is not None and len(np.unique(groups)) < n_folds:
        raise UserError(f"{len(np.unique(groups))} sample groups are too few for {n_folds}-fold grouped CV")
    if Task(task).is_classification:
        _, counts = np.unique(y, return_counts=True)
        if counts.min() < n_folds:
            raise UserError(f"the smallest class has {counts.min()} search samples, fewer than --folds {n_folds}")
    elif len(y) < 2 * n_folds:
        raise UserError(f"{len(y)} search samples are too few for {n_folds}-fold CV")


def refit_and_validate(
    study: optuna.Study,
    dataset: Dataset,
    validation: Dataset | None,
    families: list[ModelFamily],
    task: str,
    metric_name: str,
    search_index: np.ndarray,
    holdout_index: np.ndarray,
    options: RunOptions,
    search_groups: np.ndarray | None = None,
    related: dict[str, Any] | None = None,
    excluded: set[str] | None = None,
) -> dict[str, Any]:
    """Refit the best trial's pipeline on all search samples, save it, score the validation samples."""
    try:
        best = study.best_trial
    except ValueError:
        raise StudyError(f"study {study.study_name!r} has no completed trial yet; run more trials") from None
    family, params = family_and_params(best.params, families)
    params = family.final_params(params, best.user_attrs)  # path families: the penalty chosen by CV
    threshold = best.params.get("snp_p_threshold", 1.0)
    data = features_from_dataset(dataset, options.n_pcs)
    pipeline = build_pipeline(family, params, task, data.n_snps, threshold, options.seed, n_jobs=1,
                              n_covariates=data.n_covariates, tabular=data.tabular)
    pipeline.fit(model_input(data, family, search_index), data.y[search_index])  # int8 for path families
    if validation is not None:
        val_data = features_from_dataset(validation, options.n_pcs)
        val_rows, source = np.arange(len(val_data.y)), "cohort"
    else:
        val_data, val_rows, source = data, holdout_index, "holdout"
    y_val, ids_val = val_data.y[val_rows], val_data.sample_ids[val_rows]
    keep = ~np.isnan(y_val)
    if excluded:
        keep &= ~np.isin(ids_val.astype(str), list(excluded))
    x_val = model_input(val_data, family, val_rows[keep])  # int8 rows for path families, else float rows
    y_val, keep = y_val[keep], np.ones(int(keep.sum()), dtype=bool)
    if related is not None:
        related = {**related, "n_scored": int(len(y_val))}
    scores = predict_scores(pipeline, x_val, task)
    validation_metrics = score_all(task, y_val[keep], scores[keep]) if keep.any() else {}
    fold_scores = best.user_attrs.get("fold_scores", [])
    context = RefitContext(data, search_index, x_val, y_val, task, metric_name,  # #18: baseline, leaderboard
                           CVSpec(options.n_folds, options.n_repeats, options.seed), search_groups, options.seed)
    validation_metrics.update(validation_extras(context, scores, best.value))
    metrics = {
        "task": task,
        "metric": metric_name,
        "study": study.study_name,
        "cv": {metric_name: best.value, "std": float(np.std(fold_scores)) if fold_scores else None,
               "fold_scores": fold_scores, "best_trial": best.number, "best_family": family.name,
               "best_params": best.params, "n_folds": options.n_folds, "n_repeats": options.n_repeats,
               "n_samples": int(len(search_index)), "grouped": search_groups is not None,
               "n_groups": None if search_groups is None else int(len(np.unique(search_groups))),
               **training_counts(context)},
        "validation": {**validation_metrics, "source": source, "n_samples": int(keep.sum()),
                       "threshold": Task(task).kind.threshold,
                       **({"related_to_training": related} if related is not None else {})},
        "leaderboard": leaderboard_records(study, families, context, options.validate_top,
                                           (best.number, validation_metrics.get(metric_name))),
        "tool_version": __version__,
    }
    info = {"task": task, "family": family.name, "params": params, "snp_p_threshold": threshold,
            "feature_names": data.feature_names, "n_snps": data.n_snps,
            "covariates": dataset.manifest.get("covariates", {}), "dataset_hash": dataset.content_hash,
            "classes": sorted({int(v) for v in data.y}) if Task(task).is_classification else None,
            "study": study.study_name, "best_trial": best.number, "n_pcs": options.n_pcs,
            "dataset_path": str(dataset.path.resolve())}
    save_model(options.out / "model", pipeline, info, dataset)
    write_json(options.out / "metrics.json", metrics)
    write_model_extras(options.out / "model", pipeline, info, metrics, dataset.variants)  # #18: score, card
    record_outcome(study, metrics, str(options.out.resolve()))  # #18: shown by optuna-dashboard
    return metrics
