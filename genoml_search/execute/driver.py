"""The central driver: it alone asks and tells Optuna, workers only evaluate trials.

Why this pattern (measured in DESIGN.md): workers need no database connection (remote clusters work), a
worker killed mid-trial costs only that task (Dask re-runs it elsewhere, the trial number stays the same), and
per-trial overhead is lower than workers writing through DaskStorage. The driver records heartbeats for its
in-flight trials, so trials of a killed driver are failed and retried (RetryFailedTrialCallback) by the next
driver, and several drivers can share one PostgreSQL study with an exact total trial count.
"""
from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from genoml_search.search.objective import PruningContext, TrialResult, TrialSpec

log = logging.getLogger(__name__)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
MAX_CONSECUTIVE_FAILURES = 20


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the driver."""


@dataclass
class DriverStats:
    """What the driver did in this run."""

    completed: int = 0
    pruned: int = 0
    failed: int = 0
    retried: int = 0
    errors: list[str] = field(default_factory=list)


def count_finished(study: optuna.Study) -> int:
    """Trials that count toward ``--n-trials``: COMPLETE and PRUNED."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def pruning_history(study: optuna.Study) -> tuple:
    """The finished trials' intermediate values, as the worker-side pruner needs them."""
    return tuple(
        (t.state.name, t.value, tuple(sorted(t.intermediate_values.items())))
        for t in study.get_trials(deepcopy=False, states=FINISHED)
    )


def recover_running_trials(study: optuna.Study) -> int:
    """Fail every RUNNING trial of the study and enqueue its parameters again (one driver per study only)."""
    storage = study._storage
    callback = storage.get_heartbeat_stale_trial_callback()
    recovered = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
            recovered += 1
            if callback is not None:
                callback(study, storage.get_trial(trial._trial_id))
    return recovered


def _surplus(study: optuna.Study, trial: optuna.Trial, target: int) -> bool:
    """Whether ``trial`` is beyond the target once every lower-numbered live or finished trial is counted."""
    ahead = [t for t in study.get_trials(deepcopy=False, states=FINISHED + (TrialState.RUNNING,))
             if t.number < trial.number]
    return len(ahead) >= target


def run_trials(
    study: optuna.Study,
    client: Any,
    n_trials: int,
    make_spec: Callable[[optuna.Trial, PruningContext], TrialSpec],
    pruner: str,
    timeout: float | None = None,
    on_result: Callable[[TrialResult, int], None] | None = None,
    max_in_flight: int | None = None,
) -> DriverStats:
    """Run trials on ``client`` until the study holds ``n_trials`` finished trials (or ``timeout`` passes)."""
    from genoml_search.search.objective import evaluate_trial

    stats = DriverStats()
    storage = study._storage
    direction = "maximize" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "minimize"
    started = time.monotonic()
    slots = max_in_flight or max(1, len(client.scheduler_info().get("workers", {})) or 1)
    in_flight: dict[Any, tuple[optuna.Trial, TrialSpec]] = {}
    history = pruning_history(study)
    finished = count_finished(study)
    last_sync = last_beat = time.monotonic()
    consecutive_failures = 0

    def out_of_time() -> bool:
        return timeout is not None and time.monotonic() - started >= timeout

    def submit_more() -> None:
        nonlocal finished
        while len(in_flight) < slots and not out_of_time():
            running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
            if finished + running >= n_trials:
                return
            trial = study.ask()
            if _surplus(study, trial, n_trials):  # another driver asked at the same moment
                trial.set_user_attr("surplus", True)
                study.tell(trial, state=TrialState.FAIL)
                return
            spec = make_spec(trial, PruningContext(pruner, direction, history))
            future = client.submit(evaluate_trial, spec, pure=False,
                                   key=f"trial-{study._study_id}-{trial.number}-{time.time_ns()}")
            in_flight[future] = (trial, spec)

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def interrupt(signum: int, frame: Any) -> None:
        raise Interrupted(signal.Signals(signum).name)

    for sig in previous:
        signal.signal(sig, interrupt)
    try:
        submit_more()
        while in_flight or (finished < n_trials and not out_of_time()):
            if not in_flight:
                # Other drivers' trials are running: wait for them (or for their heartbeats to go stale).
                time.sleep(1.0)
                optuna.storages.fail_stale_trials(study)
                finished = count_finished(study)
                submit_more()
                continue
            for future in _wait_for_some(list(in_flight)):
                trial, spec = in_flight.pop(future)
                try:
                    result: TrialResult = future.result()
                except Exception as error:  # the task itself died (e.g. KilledWorker): retry its parameters
                    result = TrialResult(trial.number, [], [], None, False, 0.0, error=f"{type(error).__name__}: {error}")
                for step, value in enumerate(result.reported):
                    trial.report(value, step)
                trial.set_user_attr("family", spec.family)
                trial.set_user_attr("fold_scores", result.fold_scores)
                trial.set_user_attr("seconds", round(result.seconds, 3))
                if result.error is not None:
                    trial.set_user_attr("error", result.error.splitlines()[0][:500])
                    study.tell(trial, state=TrialState.FAIL)
                    stats.failed += 1
                    stats.errors.append(result.error.splitlines()[0])
                    consecutive_failures += 1
                    log.warning("trial %d failed: %s", trial.number, result.error.splitlines()[0])
                    if consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                        raise RuntimeError(f"{consecutive_failures} trials failed in a row; last error: "
                                           f"{result.error.splitlines()[0]}")
                elif result.pruned:
                    study.tell(trial, state=TrialState.PRUNED)
                    stats.pruned += 1
                    finished += 1
                    consecutive_failures = 0
                else:
                    study.tell(trial, result.value)
                    stats.completed += 1
                    finished += 1
                    consecutive_failures = 0
                if not result.error:
                    history = history + ((("PRUNED" if result.pruned else "COMPLETE"), result.value,
                                          tuple(enumerate(result.reported))),)
                if on_result is not None:
                    on_result(result, finished)
            now = time.monotonic()
            if now - last_beat >= 5:
                for trial, _ in in_flight.values():
                    storage.record_heartbeat(trial._trial_id)
                last_beat = now
            if now - last_sync >= 15:  # see other drivers' progress and stale trials
                optuna.storages.fail_stale_trials(study)
                finished = count_finished(study)
                history = pruning_history(study)
                last_sync = now
            submit_more()
    except BaseException:
        for future, (trial, _) in in_flight.items():
            future.cancel()
            _fail_and_requeue(study, trial)
        in_flight.clear()
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return stats


def _wait_for_some(futures: list[Any], seconds: float = 2.0) -> list[Any]:
    """The futures that are done after waiting up to ``seconds`` for the first one (maybe none)."""
    import distributed

    try:
        done, _ = distributed.wait(futures, timeout=seconds, return_when="FIRST_COMPLETED")
    except TimeoutError:
        return []
    return list(done)


def _fail_and_requeue(study: optuna.Study, trial: optuna.Trial) -> None:
    """An interrupted trial: FAIL it and enqueue its parameters so that the next run evaluates them."""
    try:
        frozen = study._storage.get_trial(trial._trial_id)
        if frozen.state == TrialState.RUNNING:
            study.tell(trial, state=TrialState.FAIL)
            study.enqueue_trial(frozen.params, user_attrs={"retry_of": trial.number}, skip_if_exists=False)
    except Exception as error:  # best effort while shutting down
        log.debug("could not requeue trial %d: %s", trial.number, error)
