"""`genoml-search run`: search a dataset with an Optuna study on Dask, refit the best pipeline, validate it.

Honest evaluation: the validation samples (a separate cohort harmonized to the training dataset, or a split
held out before the search, fixed by the seed) are never seen by the search; the cross-validation folds fit
all preprocessing on their own training part.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

import numpy as np
import optuna

from genoml_search.versions import __version__
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
from genoml_search.model_io import save_model
from genoml_search.outputs import OutputKind, check_output, write_marker
from genoml_search.run_directory import REPLACED, VALIDATION_DATASET, MetricsRecord, RunDirectory
from genoml_search.validation_split import split_search_validation
from genoml_search.core.metrics import DEFAULT_METRIC, get_metric, score_all
from genoml_search.core.features import features_from_dataset
from genoml_search.core.scoring import predict_scores
from genoml_search.search.fidelity import FIDELITY_MODES, Fidelity, resumed_fidelity, rung_sizes
from genoml_search.search.objective import PRUNERS, CVSpec, PruningContext, TrialSpec, model_input
from genoml_search.search.oof import artifact_store
from genoml_search.ensemble.build import METHODS as ENSEMBLE_METHODS, RULES as ENSEMBLE_RULES
from genoml_search.ensemble.parallel import available_threads
from genoml_search.search.final_choice import RULES as FINAL_TRIAL_RULES, choose_final_trial
from genoml_search.search.ld_choice import (LD_PARAM, check_fixed_mask, suggest_ld_mask, trial_ld_mask,
                                            trial_snp_columns)
from genoml_search.search.groups import groups_for_samples, groups_from_column, groups_hash, read_groups_file
from genoml_search.search.pipeline import build_pipeline
from genoml_search.search.registry import ModelFamily, families_for, get_family
from genoml_search.search.space import family_and_params, suggest_pipeline
from genoml_search.search.space_config import read_study_toml
from genoml_search.signals import signals_as_interrupt
from genoml_search.tasks import Task
from genoml_search.search.warm_start import PATH_START_MASK, enqueue_starting_points
from genoml_search.search.storage import check_storage_url, close_storage, mask_url, open_storage, sqlite_path
from genoml_search.search.study import SAMPLERS, driver_sampler, make_sampler, open_study, record_outcome

log = logging.getLogger(__name__)
DEFAULT_FAMILIES = ("lasso_path", "ridge_path", "logistic", "ridge_h2", "elastic_net", "random_forest", "hist_gradient_boosting",
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
    ld_r2: str | None = None  # --ld-r2: use this LD mask in every trial instead of searching it (ld_choice.py)
    seed: int = 0
    sampler: str = "tpe"
    pruner: str = "median"
    fidelity: str = "auto"  # multi-fidelity rungs on training samples: auto (from 5,000 search samples), on, off
    snp_filter: bool = True
    holdout: float = 0.2
    validation_dataset: Path | None = None  # a cohort already munged --like the dataset
    validation_bfile: str | None = None  # or: a cohort to munge --like the dataset into OUT/validation_dataset
    validation_pfile: str | None = None  # (PLINK 2 files instead of --validation-bfile)
    validation_pheno: str | None = None
    validation_covar: str | None = None
    validate_top: int = 3  # leaderboard: families whose best trial is refitted and validated
    ensemble: str = "greedy"  # none | greedy | stack: the ensemble of the best trials (#21)
    ensemble_top_k: int = 25  # trials (best first, any family) the ensemble may combine
    artifacts: Path | None = None  # where trials' out-of-fold predictions go (default OUT/artifacts)
    ensemble_rule: str = "nested"  # nested: final only if its nested CV beats the best trial (1-SE); always
    ensemble_validate: bool = False  # refit and validate the ensemble even when it is not the final model
    final_trial: str = "reference"  # reference | best: which trial the final model refits (search/final_choice.py)
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
def single_driver_lock(database: Path, created: list[Path]) -> Iterator[None]:
    """Hold an exclusive lock on a SQLite study file for the whole run: a second `run` on the same file (same
    or another ``--out``) is refused at once. The lock is ``flock`` on the database file itself (SQLite's own
    locks are POSIX record locks, independent of it), so no lock file is left behind. A database file created
    here is appended to ``created`` (removed again if the run is refused)."""
    existed = database.exists()
    try:
        fd = os.open(database, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:
        raise StudyError(f"cannot open the SQLite study file ({error.strerror}); choose a writable --storage/--out",
                         database) from None
    if not existed:
        created.append(database)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StudyError(f"another `genoml-search run` is using the SQLite study {database}; wait for it, or share "
                         "a study between runs through a PostgreSQL/MySQL --storage") from None
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


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
        for family in families:
            if family.missing_dependency():
                raise UserError(f"--family {family.name}: {family.missing_dependency()}")
        return families
    available = {f.name: f for f in families_for(task)}
    defaults = [available[name] for name in DEFAULT_FAMILIES if name in available]
    for family in [f for f in defaults if f.missing_dependency()]:  # e.g. adelie after a plain pip install
        log.warning("not searching %s by default: %s", family.name, family.missing_dependency())
    return [f for f in defaults if not f.missing_dependency()]


def _without_oversized_kernels(families: list[ModelFamily], n_search: int, n_snps: int,
                               options: RunOptions) -> list[ModelFamily]:
    """The default families without ``ridge_path`` when one of its trials, multi-fidelity rungs included, would
    not end within ``--timeout`` (:func:`~genoml_search.search.ridge_cv.estimated_trial_seconds`: it would hold
    a worker for the whole search and give nothing); a family named with ``--family`` stays."""
    from genoml_search.search.ridge_cv import estimated_trial_seconds

    if options.families or "ridge_path" not in [f.name for f in families] or options.timeout is None:
        return families
    seconds = sum(estimated_trial_seconds(n * (options.n_folds - 1) // options.n_folds, n, n_snps, options.n_folds)
                  for n in rung_sizes(n_search, options.n_folds, options.fidelity))  # every rung it runs
    if seconds <= options.timeout:
        return families
    log.warning("not searching ridge_path by default: one trial on %d samples x %d SNPs takes about %.0f s on a "
                "core, more than --timeout %g s; a longer --timeout or --family ridge_path searches it",
                n_search, n_snps, seconds, options.timeout)
    return [f for f in families if f.name != "ridge_path"]


FLOAT_COPY_SHARE = 0.5  # of a local worker's memory: the most a trial's float genotype copy may take


def _without_oversized_float_copies(families: list[ModelFamily], dataset: Dataset,
                                    options: RunOptions) -> list[ModelFamily]:
    """The default families without those that need a float copy of the genotype matrix (every family but the
    path families) when that copy (4 bytes per genotype) would take more than :data:`FLOAT_COPY_SHARE` of a
    local worker's memory: at 50,000 x 100,000 SNPs it is 20 GB, and each such trial would only be killed for
    its memory. Families named with ``--family`` or a study file stay, as do remote clusters' (unknown size)."""
    from genoml_search.execute.cluster import local_worker_memory

    memory = local_worker_memory(options.cluster)
    copy_bytes = 4 * len(dataset.samples) * len(dataset.variants)
    if options.families or options.config is not None or memory is None or copy_bytes <= FLOAT_COPY_SHARE * memory:
        return families
    dropped = [f.name for f in families if not f.fits_path]
    if dropped:
        log.warning("not searching %s by default: their float copy of the genotypes (%.1f GiB) would exceed half "
                    "of a worker's memory (%.1f GiB); the path families read the int8 matrix (--family forces "
                    "a family)", ", ".join(dropped), copy_bytes / 2**30, memory / 2**30)
    return [f for f in families if f.fits_path]


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
    """Sample a family, its parameters and the in-fold SNP p-value threshold (not for path families, whose
    penalty selects the SNPs)."""
    family, params = suggest_pipeline(trial, families, task)
    filtered = snp_filter and not family.fits_path
    threshold = trial.suggest_float("snp_p_threshold", 1e-6, 1.0, log=True) if filtered else 1.0
    return family.name, params, threshold


@dataclass
class RunPlan:
    """Everything a run decided and checked before writing anything (the output of :func:`prepare`)."""

    options: RunOptions
    run_dir: RunDirectory
    dataset: Dataset
    task: str
    metric_name: str
    direction: Literal["minimize", "maximize"]
    families: list[ModelFamily]
    groups: np.ndarray | None
    search_index: np.ndarray
    holdout_index: np.ndarray
    storage_url: str
    study_name: str
    identity: dict[str, Any]
    settings: dict[str, Any]
    validation: Dataset | None = None  # set once the validation cohort is munged (or given)
    related: dict[str, Any] | None = None
    excluded: set[str] = field(default_factory=set)
    fidelity: Fidelity = field(default_factory=Fidelity)  # the study's rungs of training samples

    @property
    def search_groups(self) -> np.ndarray | None:
        """Group labels of the search samples (``None``: ungrouped CV)."""
        return None if self.groups is None else self.groups[self.search_index]

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite study file, locked for the run (``None`` for server storages)."""
        return sqlite_path(self.storage_url)


def run(options: RunOptions, on_result: Callable[[Any, int], None] | None = None,
        on_start: Callable[[int, int, str | None], None] | None = None) -> RunSummary:
    """Run (or resume) the study to ``n_trials`` finished trials, refit the best pipeline and validate it.

    ``n_trials`` is the target total of finished (complete or pruned) trials in the study, so rerunning the
    same command after an interruption resumes. Everything is checked before anything is written, and a run
    refused after that (a study made with another seed or dataset, a concurrent run on the SQLite file, a bad
    validation cohort) leaves the output directory and the storage as they were. SIGINT/SIGTERM stop cleanly:
    in-flight trials are failed and their parameters re-queued, no trial stays RUNNING, and
    ``KeyboardInterrupt`` propagates.
    """
    with signals_as_interrupt():  # SIGTERM like Ctrl-C: a batch system's kill also stops cleanly
        plan = prepare(options)
        created = _make_directories([plan.run_dir.path] + ([plan.sqlite_file.parent] if plan.sqlite_file else []))
        lock = single_driver_lock(plan.sqlite_file, created) if plan.sqlite_file else _no_lock()
        try:
            with lock:
                study = _open_and_commit(plan, created)
                created = []  # committed: the study and its files are the user's results from now on
                finished, stats, dashboard = search(plan, study, on_result, on_start)
                metrics = finalize(plan, study, stats)
        finally:
            _remove_created(created)
    return RunSummary(plan.study_name, mask_url(plan.storage_url), finished, stats, metrics, dashboard)


def prepare(options: RunOptions) -> RunPlan:
    """Check every flag, input and output of a run and decide its samples, families and study; write nothing."""
    _check_counts(options)
    dataset = Dataset.open(options.dataset)
    dataset.genotypes  # a truncated or foreign genotype matrix is refused now, before anything is written
    task = Task.parse(options.task) if options.task else dataset.task
    if not task.kind.accepts_phenotype_of(dataset.task):
        raise UserError(f"--task {task} does not fit the dataset's {dataset.task} phenotype", options.dataset)
    if options.pruner not in PRUNERS:
        raise UserError(f"unknown pruner {options.pruner!r}; choose one of {', '.join(PRUNERS)}")
    if options.fidelity not in FIDELITY_MODES:
        raise UserError(f"--fidelity {options.fidelity!r}: choose one of {', '.join(FIDELITY_MODES)}")
    if options.ensemble not in ENSEMBLE_METHODS:
        raise UserError(f"--ensemble {options.ensemble!r}: choose one of {', '.join(ENSEMBLE_METHODS)}")
    if options.ensemble_rule not in ENSEMBLE_RULES:
        raise UserError(f"--ensemble-rule {options.ensemble_rule!r}: choose one of {', '.join(ENSEMBLE_RULES)}")
    if options.final_trial not in FINAL_TRIAL_RULES:
        raise UserError(f"--final-trial {options.final_trial!r}: choose one of {', '.join(FINAL_TRIAL_RULES)}")
    if options.ensemble_top_k < 1:
        raise UserError(f"--ensemble-top-k {options.ensemble_top_k} must be 1 or more")
    if options.sampler not in SAMPLERS:
        raise UserError(f"unknown sampler {options.sampler!r}; choose one of {', '.join(SAMPLERS)}")
    metric = get_metric(options.metric or DEFAULT_METRIC[task], task)
    if options.families_module:
        from genoml_search.search.space_config import load_families_module

        load_families_module(options.families_module)
    families = choose_families(options, task)
    from genoml_search.search.tabular import families_for_tables  # munge --table: no genotype-only families

    families = families_for_tables(families, dataset, explicit=bool(options.families))
    run_dir = RunDirectory(Path(options.out))
    _check_outputs(options, run_dir)
    with_cohort = _validation_cohort_given(options)
    validation = _given_validation(options, dataset)
    groups = resolve_groups(options, dataset)
    y = dataset.phenotype
    if validation is None and not with_cohort:
        search_index, holdout_index = split_search_validation(y, task, options.holdout, options.seed, groups)
    else:
        search_index, holdout_index = np.arange(len(y)), np.array([], dtype=int)
    search_groups = None if groups is None else groups[search_index]
    _check_cv_feasible(y[search_index], task, options.n_folds, search_groups)
    families = _without_oversized_kernels(families, len(search_index), len(dataset.variants), options)
    families = _without_oversized_float_copies(families, dataset, options)
    _warn_large_group(search_groups, options.n_folds)
    _check_pcs(options.n_pcs, dataset, validation)
    check_fixed_mask(dataset, options.ld_r2)
    if options.storage:
        check_storage_url(options.storage)
    storage_url = options.storage or run_dir.storage_url()
    _check_sqlite_writable(storage_url)
    name = options.study_name or f"{dataset.path.resolve().name}-{task}"
    if len(name) > 500:
        raise UserError(f"--study: the name is {len(name)} characters long; Optuna stores at most 500")
    # identity: what makes trial values comparable; a resumed study must match it exactly
    identity = {"dataset_hash": dataset.content_hash, "task": task, "metric": metric.name,
                "holdout": 0.0 if validation is not None or with_cohort else options.holdout, "seed": options.seed,
                "n_folds": options.n_folds, "n_repeats": options.n_repeats, "groups_hash": groups_hash(groups)}
    if options.n_pcs:
        identity["n_pcs"] = options.n_pcs
    settings = {"families": [f.name for f in families], "sampler": options.sampler, "pruner": options.pruner,
                "snp_filter": options.snp_filter, "dataset": str(dataset.path.resolve()),
                "n_search_samples": int(len(search_index)), "group_by_relatedness": options.group_by_relatedness,
                "n_groups": None if search_groups is None else int(len(np.unique(search_groups)))}
    fidelity = Fidelity(rung_sizes(len(search_index), options.n_folds, options.fidelity, y[search_index], task),
                        options.seed)
    settings["fidelity_rungs"] = list(fidelity.sizes)  # a resumed study keeps them (resumed_fidelity)
    plan = RunPlan(options, run_dir, dataset, task, metric.name, metric.direction, families, groups, search_index,
                   holdout_index, storage_url, name, identity, settings, validation, fidelity=fidelity)
    if not with_cohort:
        plan.related, plan.excluded = validation_relatedness(dataset, validation, search_index, holdout_index,
                                                             options.drop_related_validation)
    return plan


def _check_counts(options: RunOptions) -> None:
    """Range checks of the numeric options (the CLI checks them too, for API callers)."""
    if options.n_trials < 1:
        raise UserError(f"--n-trials {options.n_trials} must be 1 or more")
    if options.timeout is not None and not options.timeout > 0:
        raise UserError(f"--timeout {options.timeout} must be a positive number of seconds")
    if options.n_repeats < 1:
        raise UserError(f"--repeats {options.n_repeats} must be 1 or more")
    if not 0.0 < options.holdout < 1.0:
        raise UserError(f"--holdout {options.holdout} must be between 0 and 1 (exclusive)")
    if options.seed < 0:
        raise UserError(f"--seed {options.seed} must be 0 or more")
    if options.cluster.workers is not None and options.cluster.workers < 1:
        raise UserError(f"--workers {options.cluster.workers} must be 1 or more")


def _validation_cohort_given(options: RunOptions) -> bool:
    genotypes = options.validation_bfile or options.validation_pfile
    given = [genotypes, options.validation_pheno, options.validation_covar]
    if options.validation_bfile and options.validation_pfile:
        raise UserError("give one of --validation-bfile and --validation-pfile, not both")
    if any(given) and not (genotypes and options.validation_pheno):
        raise UserError("--validation-bfile (or --validation-pfile) and --validation-pheno go together")
    if any(given) and options.validation_dataset is not None:
        raise UserError("give a validation cohort (--validation-bfile/--validation-pheno) or a validation dataset, "
                        "not both")
    return bool(genotypes)


def _given_validation(options: RunOptions, dataset: Dataset) -> Dataset | None:
    if options.validation_dataset is None:
        return None
    validation = Dataset.open(options.validation_dataset)
    if validation.manifest.get("like", {}).get("content_hash") != dataset.content_hash:
        raise UserError("validation dataset was not harmonized to this training dataset (munge it with --like)",
                        options.validation_dataset)
    return validation


def _check_outputs(options: RunOptions, run_dir: RunDirectory) -> None:
    """The ownership rule for OUT and the model directory inside it (genoml_search.outputs)."""
    bfiles = [f"{options.validation_bfile}{s}" for s in (".bed", ".bim", ".fam")] if options.validation_bfile else []
    bfiles += [f"{options.validation_pfile}{s}" for s in (".pgen", ".pvar", ".psam")] if options.validation_pfile else []
    inputs = [options.dataset, options.groups_file, options.config, options.families_module,
              options.validation_dataset, options.validation_pheno, options.validation_covar, *bfiles]
    replaced = [name for name in REPLACED
                if name != VALIDATION_DATASET or options.validation_bfile or options.validation_pfile]
    check_output(run_dir.path, OutputKind.RUN, inputs=inputs, protected=replaced)
    if run_dir.model_dir.exists():
        check_output(run_dir.model_dir, OutputKind.MODEL, flag="--out (its model/)")


def _check_sqlite_writable(url: str) -> None:
    database = sqlite_path(url)
    if database is None:
        return
    from genoml_search.fileio import can_create_in, nearest_existing

    if database.is_dir():
        raise UserError("the SQLite study file is a directory; give a file in --storage", database)
    if database.exists() and not os.access(database, os.R_OK | os.W_OK):
        raise UserError("the SQLite study file is not writable; fix its permissions or choose another "
                        "--storage/--out", database)
    where = nearest_existing(database.parent)
    if not where.is_dir() or not can_create_in(where):
        raise UserError(f"cannot write the SQLite study in {where} (SQLite writes journal files beside it); "
                        "choose a writable --storage/--out", database)


def _open_and_commit(plan: RunPlan, created: list[Path]) -> optuna.Study:
    """Under the lock: munge the validation cohort beside OUT, open (or create) the study, which may refuse,
    then move everything in place. Until this returns, a failure leaves OUT as it was."""
    from genoml_search.fileio import remove_stale_work_directories

    remove_stale_work_directories(plan.run_dir.path, STAGING_PREFIX)  # of a run killed with kill -9
    staging = _munge_validation_staged(plan) if _validation_cohort_given(plan.options) else None
    existing: set[str] | None = None
    try:
        storage = open_storage(plan.storage_url)
        existing = _study_names(storage)
        study = open_study(storage, plan.storage_url, plan.study_name, plan.direction,
                           make_sampler(plan.options.sampler, plan.options.seed), plan.identity, plan.settings)
        plan.families = families_of_resumed_study(study, plan.families, plan.options)
        from genoml_search.search.tabular import feature_width  # feature fractions fitted to the data width

        width = feature_width(plan.dataset, plan.options.n_pcs)
        plan.families = [family.with_width(width) for family in plan.families]
        plan.fidelity = resumed_fidelity(study.user_attrs.get("fidelity_rungs"), plan.fidelity,
                                         plan.options.fidelity, plan.study_name)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if existing is not None and plan.study_name not in existing and plan.sqlite_file is None:
            with contextlib.suppress(Exception):  # a study this run created a moment ago
                optuna.delete_study(study_name=plan.study_name, storage=storage)
        if existing is not None:  # a refused run (e.g. from Python) keeps no connection, nor SQLite's -wal/-shm
            close_storage(storage)
        raise
    _commit_run_files(plan, staging)
    return study


def _study_names(storage: optuna.storages.BaseStorage) -> set[str]:
    return {s.study_name for s in optuna.study.get_all_study_summaries(storage, include_best_trial=False)}


STAGING_PREFIX = ".genoml-run-"


def _munge_validation_staged(plan: RunPlan) -> Path:
    """Munge the validation cohort --like the dataset into a hidden directory of OUT; return it."""
    from genoml_search.data.munge import MungeOptions, munge as run_munge
    from genoml_search.fileio import remove_stale_work_directories

    options = plan.options
    remove_stale_work_directories(plan.run_dir.path, STAGING_PREFIX)
    staging = plan.run_dir.path / f"{STAGING_PREFIX}{os.getpid()}-validation"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        run_munge(MungeOptions(out=staging, bfile=options.validation_bfile, pfile=options.validation_pfile,
                               pheno=options.validation_pheno,
                               covar=options.validation_covar, like=str(plan.dataset.path), fill_missing=True))
        plan.validation = Dataset.open(staging)
        _check_pcs(options.n_pcs, plan.dataset, plan.validation)
        plan.related, plan.excluded = validation_relatedness(plan.dataset, plan.validation, plan.search_index,
                                                             plan.holdout_index, options.drop_related_validation)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _commit_run_files(plan: RunPlan, staging: Path | None) -> None:
    """The study accepted the run: write the marker, the validation cohort and the validation ID lists."""
    from genoml_search.fileio import replace_directory

    run_dir = plan.run_dir
    write_marker(run_dir.path, OutputKind.RUN, files=REPLACED)
    if staging is not None:
        replace_directory(staging, run_dir.validation_dataset)
        plan.validation = Dataset.open(run_dir.validation_dataset)
    if len(plan.holdout_index):
        ids = plan.dataset.samples["ID"].astype(str).to_numpy()[plan.holdout_index]
        run_dir.write_ids(run_dir.holdout_file, ids)
    if plan.excluded:
        run_dir.write_ids(run_dir.excluded_file, sorted(plan.excluded))
    elif run_dir.excluded_file.exists():
        run_dir.excluded_file.unlink()


def _make_directories(directories: list[Path]) -> list[Path]:
    """Create ``directories`` (and missing parents); return the topmost ones created, for :func:`_remove_created`."""
    created: list[Path] = []
    for directory in directories:
        missing = [d for d in [directory, *directory.parents] if not d.exists()]
        if missing:
            directory.mkdir(parents=True)
            created.append(missing[-1])
    return created


def _remove_created(created: list[Path]) -> None:
    """Undo a refused run: remove the files and directories it created (newest first)."""
    for path in reversed(created):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            for sibling in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
                with contextlib.suppress(FileNotFoundError):
                    sibling.unlink()


def search(plan: RunPlan, study: optuna.Study, on_result: Callable[[Any, int], None] | None,
           on_start: Callable[[int, int, str | None], None] | None) -> tuple[int, DriverStats, str | None]:
    """Run trials on Dask until the study holds ``n_trials`` finished ones; return (finished, stats, dashboard)."""
    options, task, dataset = plan.options, plan.task, plan.dataset
    storage: Any = study._storage  # heartbeats: an RDB storage method, not BaseStorage's
    driver_number = claim_driver_number(study)
    study.sampler = driver_sampler(options.sampler, options.seed, driver_number)
    if plan.sqlite_file is not None:
        recovered = recover_running_trials(study)
        if recovered:
            log.warning("re-queued %d trial(s) left RUNNING by an interrupted run", recovered)
    else:
        optuna.storages.fail_stale_trials(study)
    n_train = len(plan.search_index) * (options.n_folds - 1) // options.n_folds  # samples a CV fit sees
    fixed_mask = check_fixed_mask(dataset, options.ld_r2)
    masks, start_mask = dataset.ld_choices(), fixed_mask or dataset.default_ld_mask()
    start_columns = dataset.snp_columns(start_mask)  # the starting points use the default mask's SNPs
    mask_searched = len(masks) > 1 and fixed_mask is None
    from genoml_search.search.tabular import tables_only

    with ask_lock(study):  # drivers starting together on a new study: only one queues the starting points
        enqueue_starting_points(study, plan.families, task, options.snp_filter,
                                dataset.genotypes.shape[1] if start_columns is None else len(start_columns), n_train,
                                extra={LD_PARAM: start_mask} if mask_searched else None,
                                tables_only=tables_only(dataset),
                                path_extra={LD_PARAM: PATH_START_MASK} if mask_searched else None)
    cv = CVSpec(options.n_folds, options.n_repeats, options.seed)

    def make_spec(trial: optuna.Trial, pruning: PruningContext) -> TrialSpec:
        family, params, threshold = suggest_trial(trial, plan.families, task, options.snp_filter)
        ld_mask = suggest_ld_mask(trial, masks, fixed_mask, dataset.default_ld_mask())
        # a first heartbeat at once: a trial without any is never detected as stale if this driver dies
        storage.record_heartbeat(trial._trial_id)
        trial.set_user_attr("tool_version", __version__)
        trial.set_user_attr("dataset_hash", dataset.content_hash)
        return TrialSpec(trial.number, str(dataset.path.resolve()), dataset.content_hash, task, plan.metric_name,
                         family, params, threshold, plan.search_index, cv, groups=plan.search_groups,
                         random_state=options.seed, families_module=options.families_module, pruning=pruning,
                         n_pcs=options.n_pcs, ld_mask=ld_mask, fidelity=plan.fidelity)

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
                                   options.timeout, on_result=on_result,
                                   artifacts=artifact_store(plan.run_dir.path, options.artifacts))  # #21
            except KeyboardInterrupt:
                if plan.sqlite_file is not None:  # we are the only driver: nothing may stay RUNNING
                    recover_running_trials(study)
                raise
    elif on_start is not None:
        on_start(already, options.n_trials, None)
    return count_finished(study), stats, dashboard


def finalize(plan: RunPlan, study: optuna.Study, stats: DriverStats | None = None) -> dict[str, Any]:
    """Refit the best trial, save the model, score the validation samples and write metrics.json (with this
    run's search ``stats``: trial counts, time, a time budget overrun)."""
    return refit_and_validate(RefitRequest(study, plan.dataset, plan.validation, plan.families, plan.task,
                                           plan.metric_name, plan.search_index, plan.holdout_index, plan.options,
                                           plan.search_groups, plan.related, plan.excluded, stats))


def search_record(stats: DriverStats | None, timeout: float | None) -> dict[str, Any]:
    """``metrics.json``'s ``search``: what this run's driver did, and whether it overran ``--timeout`` to wait
    for the study's first complete trial (``timeout_grace_seconds``, 0 when it did not)."""
    stats = stats or DriverStats()
    return {"timeout": timeout, "seconds": round(stats.seconds_total, 3), "completed": stats.completed,
            "pruned": stats.pruned, "failed": stats.failed, "stopped": stats.stopped,
            "timeout_grace_seconds": round(stats.timeout_grace_seconds, 3)}


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


@dataclass
class RefitRequest:
    """What refitting the best trial needs: the study, the data and the samples of each side."""

    study: optuna.Study
    dataset: Dataset
    validation: Dataset | None
    families: list[ModelFamily]
    task: str
    metric_name: str
    search_index: np.ndarray
    holdout_index: np.ndarray
    options: RunOptions
    search_groups: np.ndarray | None = None
    related: dict[str, Any] | None = None
    excluded: set[str] | None = None
    stats: DriverStats | None = None  # this run's search (metrics.json ``search``); None: no search ran


def _no_complete_trial(r: RefitRequest) -> StudyError:
    """The error of a study without a complete trial, saying why when this run's trials all failed."""
    stats = r.stats
    why = ""
    if stats is not None and stats.failed and not stats.completed:
        why = f" (the {stats.failed} trial(s) of this run failed; first error: {stats.errors[0][:200]})"
    return StudyError(f"study {r.study.study_name!r} has no completed trial yet{why}; run more trials")


def refit_and_validate(request: RefitRequest) -> dict[str, Any]:
    """Refit the best trial's pipeline on all search samples, save it, score the validation samples; write
    ``model/`` and ``metrics.json`` and return the metrics."""
    r, options = request, request.options
    try:
        selection = choose_final_trial(r.study, options.final_trial)
    except ValueError:
        raise _no_complete_trial(r) from None
    best = selection.trial
    if best.number != selection.best.number:
        log.info("final model: %s", selection.reason)
    family, params = family_and_params(best.params, r.families)
    params = family.final_params(params, best.user_attrs)  # path families: the penalty chosen by CV
    threshold = best.params.get("snp_p_threshold", 1.0)
    data = features_from_dataset(r.dataset, options.n_pcs)  # the full column space; the mask is a pipeline step
    ld_mask = trial_ld_mask(best.params, best.user_attrs, data.ld_default)
    snp_columns = trial_snp_columns(best, data.ld_masks, data.ld_default)
    # the Dask workers are gone: a path family's solver may use every CPU of this process (refit_threads.json)
    n_jobs = available_threads() if family.fits_path else 1
    pipeline = build_pipeline(family, params, r.task, data.n_snps, threshold, options.seed, n_jobs=n_jobs,
                              n_covariates=data.n_covariates, tabular=data.tabular, snp_columns=snp_columns)
    log.info("refitting trial %d (%s) on %d samples", best.number, family.name, len(r.search_index))
    pipeline.fit(model_input(data, family, r.search_index), data.y[r.search_index])  # int8 for path families
    scored = _score_validation(r, pipeline, data, family)
    single_metrics = scored.metrics
    ensemble = _ensemble_step(r, pipeline, data, scored, best.number)  # #21: the ensemble of the best trials
    if ensemble.chosen:  # its nested CV beat the best single trial: it is the final model
        pipeline = ensemble.model
        scored = dataclasses.replace(scored, scores=ensemble.scores, metrics=ensemble.validation or {})
    context = RefitContext(data, r.search_index, scored.data, scored.rows, r.task, r.metric_name,  # baseline, leaderboard
                           CVSpec(options.n_folds, options.n_repeats, options.seed), r.search_groups, options.seed)
    validation_metrics = {**scored.metrics, **validation_extras(context, scored.scores, best.value)}
    related = None if r.related is None else {**r.related, "n_scored": len(scored.y)}
    fold_scores = best.user_attrs.get("fold_scores", [])
    groups = r.search_groups
    record = MetricsRecord(
        task=r.task, metric=r.metric_name, study=r.study.study_name,
        cv={r.metric_name: best.value, "std": float(np.std(fold_scores)) if fold_scores else None,
            "fold_scores": fold_scores, "best_trial": best.number, "best_family": family.name,
            "best_params": best.params, "n_folds": options.n_folds, "n_repeats": options.n_repeats,
            "n_samples": int(len(r.search_index)), "grouped": groups is not None,
            "n_groups": None if groups is None else int(len(np.unique(groups))), **training_counts(context),
            "ensemble": ensemble.cv, "final_model": "ensemble" if ensemble.chosen else "single",
            "selection": selection.record()},
        validation={**validation_metrics, "source": scored.source, "n_samples": len(scored.y),
                    "threshold": Task(r.task).kind.threshold,
                    **({"related_to_training": related} if related is not None else {}),
                    "ensemble": ensemble.validation, "best_single": single_metrics},
        leaderboard=leaderboard_records(r.study, r.families, context, options.validate_top,
                                        (best.number, single_metrics.get(r.metric_name))),
        tool_version=__version__, search=search_record(r.stats, options.timeout))
    info = {"task": r.task, "family": family.name, "params": params, "snp_p_threshold": threshold,
            "feature_names": data.feature_names, "n_snps": data.n_snps,
            "covariates": r.dataset.manifest.get("covariates", {}), "dataset_hash": r.dataset.content_hash,
            "classes": sorted({int(v) for v in data.y}) if Task(r.task).is_classification else None,
            "study": r.study.study_name, "best_trial": best.number, "n_pcs": options.n_pcs,
            "ld_mask": {"name": ld_mask or "none", "n_snps": data.n_snps if snp_columns is None else len(snp_columns)},
            "dataset_path": str(r.dataset.path.resolve())}
    if ensemble.chosen:
        info.update({"family": "ensemble", "params": {"method": ensemble.cv["method"]}, "snp_p_threshold": 1.0,
                     "ensemble": {k: ensemble.cv[k] for k in ("method", "members", "nested", "optimistic")}})
    run_dir = RunDirectory(Path(options.out))
    save_model(run_dir.model_dir, pipeline, info, r.dataset)
    metrics = record.as_dict()
    run_dir.write_metrics(record)
    write_model_extras(run_dir.model_dir, pipeline, info, metrics, r.dataset.variants)  # score file, model card
    write_marker(run_dir.model_dir, OutputKind.MODEL)  # the marker lists the extras too: all ours
    record_outcome(r.study, metrics, str(run_dir.path.resolve()))  # shown by optuna-dashboard
    return metrics


def _ensemble_step(r: RefitRequest, pipeline: Any, data: Any, scored: ScoredValidation, best_trial: int) -> Any:
    """The ensemble of the study's best trials (genoml_search.ensemble); a failure keeps the single model."""
    from genoml_search.ensemble.finalize import EnsembleOutcome, EnsembleRequest, ensemble_step

    options = r.options
    request = EnsembleRequest(r.study, r.families, r.task, get_metric(r.metric_name, r.task), data, r.search_index,
                              scored.data, scored.rows, scored.y, pipeline,
                              artifact_store(Path(options.out), options.artifacts),
                              options.ensemble, options.ensemble_top_k, options.seed, options.ensemble_rule,
                              options.ensemble_validate, scored.scores, best_trial)
    try:
        return ensemble_step(request)
    except Exception as error:  # the single best model is still a complete result
        log.warning("ensemble step failed (%s: %s); the final model is the best single trial",
                    type(error).__name__, error)
        return EnsembleOutcome({"method": options.ensemble, "chosen": False,
                                "reason": f"failed: {type(error).__name__}: {str(error)[:200]}"})


@dataclass
class ScoredValidation:
    """The validation samples the refitted model scored: the feature matrix they come from and their rows
    (the covariates-only baseline and the leaderboard refits read them without a float genotype copy),
    phenotype, scores, metrics, source."""

    data: Any
    rows: np.ndarray
    y: np.ndarray
    scores: np.ndarray
    metrics: dict[str, float]
    source: str


def _score_validation(r: RefitRequest, pipeline: Any, data: Any, family: ModelFamily) -> ScoredValidation:
    """Score the validation samples (missing phenotypes and excluded relatives left out)."""
    if r.validation is not None:
        val_data = features_from_dataset(r.validation, r.options.n_pcs)
        val_rows, source = np.arange(len(val_data.y)), "cohort"
    else:
        val_data, val_rows, source = data, r.holdout_index, "holdout"
    y_val, ids_val = val_data.y[val_rows], val_data.sample_ids[val_rows]
    keep = ~np.isnan(y_val)
    if r.excluded:
        keep &= ~np.isin(ids_val.astype(str), list(r.excluded))
    scored_rows = val_rows[keep]
    x_val = model_input(val_data, family, scored_rows)  # int8 rows for path families, else float rows
    y_val = y_val[keep]
    scores = predict_scores(pipeline, x_val, r.task)
    metrics = score_all(r.task, y_val, scores) if len(y_val) else {}
    return ScoredValidation(val_data, scored_rows, y_val, scores, metrics, source)
