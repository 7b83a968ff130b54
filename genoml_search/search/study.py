"""Creating, resuming and summarizing studies.

A study is tied to a dataset (its content hash) and a task; resuming with another dataset or task is refused.
Study attributes record what a report needs (tool version, dataset hash, metric, CV set-up), never credentials.
"""
from __future__ import annotations

from typing import Any, Literal

import numpy as np
import optuna
from optuna.trial import TrialState

from genoml_search.versions import __version__
from genoml_search.errors import StudyError
from genoml_search.search.storage import mask_url
from genoml_search.search.study_summary import best_trial, by_family, maximizes

SAMPLERS = ("tpe", "random", "cmaes", "qmc")


def make_sampler(name: str, seed: int | None) -> optuna.samplers.BaseSampler:
    """A sampler by name. TPE is multivariate with grouped conditional subspaces and a constant liar for
    parallel trials (see README "Sampler and pruner defaults")."""
    if name == "tpe":  # the setting measured by benchmarks/sampler.py (docs/families.md)
        from genoml_search.search.space import default_sampler

        return default_sampler(seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    raise StudyError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")


def driver_sampler(name: str, seed: int | None, driver_number: int) -> optuna.samplers.BaseSampler:
    """The sampler of a study's ``driver_number``-th run (0 for the first, see ``claim_driver_number``).

    The first run uses ``seed`` itself; later ones, resumed or concurrent, a distinct seed derived from both:
    with one seed for all, they would propose the first run's points again (random sampling, TPE's random
    start-up trials). QMC keeps ``seed``: it numbers its points in the study, so all drivers share one sequence.
    """
    if seed is not None and driver_number > 0 and name != "qmc":
        seed = int(np.random.SeedSequence([seed, driver_number]).generate_state(1)[0])
    return make_sampler(name, seed)


def open_study(
    storage: optuna.storages.BaseStorage,
    storage_url: str,
    name: str,
    direction: Literal["minimize", "maximize"],
    sampler: optuna.samplers.BaseSampler,
    identity: dict[str, Any],
    settings: dict[str, Any],
) -> optuna.Study:
    """Create the study or load it; ``identity`` (dataset hash, task, metric) must match a resumed study."""
    try:
        existing = {s.study_name for s in optuna.study.get_all_study_summaries(storage, include_best_trial=False)}
    except Exception as error:
        raise StudyError(f"cannot read studies from {mask_url(storage_url)}: {type(error).__name__}") from None
    if name in existing:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
        attrs = study.user_attrs
        for key, value in identity.items():
            if key in attrs and attrs[key] != value:
                raise StudyError(
                    f"study {name!r} in {mask_url(storage_url)} was made with {key}={attrs[key]!r}, not {value!r}; "
                    "use another --study name or the original dataset/task"
                )
        if study.direction.name.lower() != direction:
            raise StudyError(f"study {name!r} optimizes {study.direction.name.lower()}, not {direction}")
        if study.metric_names is None and "metric" in identity:  # a study made before metric names were set
            study.set_metric_names([identity["metric"]])
        return study
    study = optuna.create_study(storage=storage, study_name=name, direction=direction, sampler=sampler,
                                load_if_exists=True)
    for key, value in {**identity, **settings, "tool_version": __version__}.items():
        study.set_user_attr(key, value)
    if "metric" in identity:  # optuna-dashboard labels the objective with it
        study.set_metric_names([identity["metric"]])
    return study


def record_outcome(study: optuna.Study, metrics: dict[str, Any] | None = None, run_dir: str | None = None,
                   report: str | None = None) -> None:
    """Put what a user looks for in a dashboard into the study's user attributes: the run directory, the
    validation metrics (``validation_<metric>``), what the SNPs add, the last run's overrun of ``--timeout``
    (``timeout_grace_seconds``) and the report's path."""
    attrs: dict[str, Any] = {}
    if run_dir is not None:
        attrs["run_dir"] = run_dir
    if metrics:
        validation = metrics.get("validation", {})
        attrs.update({f"validation_{k}": round(float(v), 6) for k, v in validation.items()
                      if isinstance(v, float) and k != "threshold"})
        attrs["validation_source"] = validation.get("source")
        attrs["validation_n_samples"] = validation.get("n_samples")
        grace = (metrics.get("search") or {}).get("timeout_grace_seconds")
        if grace is not None:  # the last run's overrun of --timeout waiting for a first complete trial (0: none)
            attrs["timeout_grace_seconds"] = grace
        increment = validation.get("snp_increment") or {}
        if increment.get("difference") is not None:
            attrs["snp_increment"] = (f"{increment['metric']} {increment['difference']:+.4f} (95% CI "
                                      f"{increment['low']:+.4f} to {increment['high']:+.4f}) over covariates only "
                                      f"{increment['covariates_only']:.4f}")
    if report is not None:
        attrs["report"] = report
    for key, value in attrs.items():
        study.set_user_attr(key, value)


def trial_counts(study: optuna.Study) -> dict[str, int]:
    """Number of trials in each state."""
    counts = {state.name: 0 for state in TrialState}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] += 1
    return counts


def best_per_family(study: optuna.Study) -> list[dict[str, Any]]:
    """The best COMPLETE trial of every model family, best first."""
    maximize = maximizes(study)
    rows = []
    for family, group in by_family(study).items():
        complete = [t for t in group if t.state == TrialState.COMPLETE]
        best = best_trial(complete, maximize)
        if best is not None:
            rows.append({"family": family, "trial": best.number, "value": best.value, "n_complete": len(complete),
                         "fold_scores": best.user_attrs.get("fold_scores", [])})
    return sorted(rows, key=lambda r: r["value"], reverse=maximize)


TWIN_ATTRS_LEFT_OUT = frozenset({"starting_point", "retries", "surplus"})


def evaluated_twin(study: optuna.Study, trial: optuna.Trial) -> optuna.trial.FrozenTrial | None:
    """A COMPLETE trial of ``study`` whose parameters equal ``trial``'s (a family with no or only categorical
    parameters sampled again, e.g. ``ridge_path`` at the same LD mask): its CV score stands for this one's,
    since a trial's folds and seeds depend only on the study. Enqueued trials (fixed parameters: starting
    points, re-queued trials, a user's enqueue) have none: they were asked for as they are."""
    if "fixed_params" in study._storage.get_trial(trial._trial_id).system_attrs:
        return None
    params = trial.params
    for other in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if other.number != trial.number and other.params == params:
            return other
    return None


def tell_twin(study: optuna.Study, trial: optuna.Trial, twin: optuna.trial.FrozenTrial) -> None:
    """Finish ``trial`` with its evaluated twin's value and attributes (the penalty a path family chose, its
    out-of-fold predictions), marked ``duplicate_of``, without evaluating it again."""
    for key, value in twin.user_attrs.items():
        if key not in TWIN_ATTRS_LEFT_OUT:
            trial.set_user_attr(key, value)
    trial.set_user_attr("duplicate_of", twin.number)
    study.tell(trial, twin.value)
