"""The central driver: it alone asks and tells Optuna, workers only evaluate trials.

Why this pattern (docs/execution.md): workers need no database connection (remote clusters work), a worker
killed mid-trial costs only that task (Dask re-runs it elsewhere, the trial number stays the same), and
per-trial overhead is lower than workers writing through DaskStorage. The driver records
heartbeats for its in-flight trials, so trials of a killed driver are failed and retried
(RetryHeartbeatStaleTrialCallback) by the next driver.

Several drivers may share one PostgreSQL or MySQL study: each one counts the study's finished and running trials
and asks for a new trial while holding a database lock (``pg_advisory_lock`` / ``GET_LOCK``), so the total
number of finished trials is exact and no trial is asked beyond the target. Storages without such a lock fall
back to a check after ``ask`` (:func:`_surplus`).

Per-trial cost does not grow with the study: counts are ``SELECT count(*)`` queries, not trial lists; the
pruning snapshot sent to workers is bounded (:data:`HISTORY_LIMIT` recent trials plus the best one) and kept
incrementally; one trial per worker is asked ahead (prefetch) so workers do not wait for the driver.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import signal
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import optuna
from optuna.trial import TrialState

from genoml_search.search.objective import PruningContext, TrialResult, TrialSpec
from genoml_search.search.storage import server_lock
from genoml_search.signals import DeferredSignals

log = logging.getLogger(__name__)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
MAX_CONSECUTIVE_FAILURES = 20
MAX_CONSECUTIVE_TWINS = 25
"""Twins in a row (trials sampled with evaluated parameters) after which the search space counts as exhausted."""
HISTORY_LIMIT = 256  # finished trials sent to workers for pruning (recent ones, plus the best)
HEARTBEAT_EVERY = 5.0
SYNC_EVERY = 15.0
MAX_KILLED_RETRIES = 1  # a trial whose task killed its workers is re-enqueued this many times
WAIT_SECONDS = 2.0  # the longest wait for a result between two rounds of the loop


@dataclass
class DriverStats:
    """What the driver did in this run, and where its time went."""

    completed: int = 0
    pruned: int = 0
    failed: int = 0
    retried: int = 0
    surplus: int = 0
    stopped: int = 0  # still running at the time limit: failed and re-queued
    duplicates: int = 0  # sampled with an evaluated trial's parameters: told its value, not run again
    errors: list[str] = field(default_factory=list)
    seconds_total: float = 0.0
    seconds_waiting: float = 0.0  # blocked on workers; the rest is orchestration (ask, tell, storage)
    oof_stored: int = 0  # complete trials whose out-of-fold predictions went to the artifact store (#21)
    oof_bytes: int = 0
    oof_seconds: float = 0.0
    timeout_grace_seconds: float = 0.0  # time past the budget spent waiting for the study's first complete trial

    @property
    def timeout_overrun(self) -> bool:
        """Whether the run went past its time budget to wait for a first complete trial."""
        return self.timeout_grace_seconds > 0.0

    @property
    def overhead_seconds(self) -> float:
        """Driver time not spent waiting for workers."""
        return max(0.0, self.seconds_total - self.seconds_waiting)


def _rdb(study: optuna.Study) -> Any | None:
    """The RDBStorage behind a study (unwrapping Optuna's cache), or None for other storages."""
    storage = study._storage
    backend = getattr(storage, "_backend", storage)
    return backend if isinstance(backend, optuna.storages.RDBStorage) else None


def count_by_state(study: optuna.Study) -> collections.Counter:
    """The study's trial counts by state, read in one snapshot (one ``GROUP BY`` query on SQL storages).

    One snapshot matters: with two queries, a trial that another driver finishes between them is counted
    in neither (RUNNING in the second, not yet COMPLETE in the first), and one trial too many is asked.
    """
    rdb = _rdb(study)
    if rdb is None:
        return collections.Counter(t.state for t in study.get_trials(deepcopy=False))
    import sqlalchemy

    query = sqlalchemy.text("SELECT state, count(*) FROM trials WHERE study_id = :study GROUP BY state")
    with rdb.engine.connect() as connection:
        rows = connection.execute(query, {"study": study._study_id}).all()
    return collections.Counter({TrialState[str(state)]: int(count) for state, count in rows})


def count_states(study: optuna.Study, states: tuple[TrialState, ...]) -> int:
    """Number of the study's trials in ``states`` (one query)."""
    counts = count_by_state(study)
    return sum(counts[state] for state in states)


def count_finished(study: optuna.Study) -> int:
    """Trials that count toward ``--n-trials``: COMPLETE and PRUNED."""
    return count_states(study, FINISHED)


def pruning_history(study: optuna.Study, limit: int = HISTORY_LIMIT) -> tuple:
    """The finished trials' intermediate values, as the worker-side pruner needs them (bounded, see History)."""
    history = History(study.direction == optuna.study.StudyDirection.MAXIMIZE, limit)
    for t in study.get_trials(deepcopy=False, states=FINISHED):
        history.add(t.state.name, t.value, tuple(sorted(t.intermediate_values.items())))
    return history.snapshot()


class History:
    """The pruning snapshot: the ``limit`` most recent finished trials plus the best complete one.

    Rebuilding an in-memory study from the snapshot costs the worker about 0.1 ms per trial per fold, and the
    snapshot travels with every task, so it must not grow with the study. Recent trials are what a median or
    percentile pruner should compare against anyway while the sampler converges; the best trial is kept for
    the Wilcoxon pruner, which compares with it.
    """

    def __init__(self, maximize: bool, limit: int = HISTORY_LIMIT) -> None:
        self.maximize = maximize
        self.recent: collections.deque = collections.deque(maxlen=limit)
        self.best: tuple | None = None
        self._snapshot: tuple | None = ()

    def add(self, state: str, value: float | None, steps: tuple) -> None:
        entry = (state, value, steps)
        self.recent.append(entry)
        if state == "COMPLETE" and value is not None and (
                self.best is None or (value > self.best[1] if self.maximize else value < self.best[1])):
            self.best = entry
        self._snapshot = None

    def snapshot(self) -> tuple:
        if self._snapshot is None:
            entries = tuple(self.recent)
            if self.best is not None and not any(e is self.best for e in entries):
                entries = (self.best,) + entries
            self._snapshot = entries
        return self._snapshot


def recover_running_trials(study: optuna.Study) -> int:
    """Fail every RUNNING trial of the study and enqueue its parameters again (one driver per study only)."""
    storage: Any = study._storage  # the heartbeat API belongs to RDB storages, not to BaseStorage
    callback = storage.get_heartbeat_stale_trial_callback()
    recovered = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
            recovered += 1
            if callback is not None:
                callback(study, storage.get_trial(trial._trial_id))
    return recovered


@contextlib.contextmanager
def ask_lock(study: optuna.Study) -> Iterator[bool]:
    """Serialize "count, then ask" between drivers sharing a PostgreSQL/MySQL study; yields whether it locked.

    A session-level lock on its own connection: it is released when the block ends, or by the database
    when the driver dies (its connection closes).
    """
    rdb = _rdb(study)
    dialect = rdb.engine.dialect.name if rdb is not None else ""
    if rdb is None or dialect not in ("postgresql", "mysql"):
        yield False
        return
    key = zlib.crc32(f"genoml-search:{study._study_id}".encode()) & 0x7FFFFFFF
    with rdb.engine.connect() as connection, server_lock(connection, key):
        yield True


DRIVER_COUNT_ATTR = "genoml_search:drivers"


def claim_driver_number(study: optuna.Study) -> int:
    """This driver's number in the study: 0 for the first run on it, then 1, 2, ... for each later run,
    resumed or concurrent (atomic across drivers sharing a PostgreSQL/MySQL study, see :func:`ask_lock`)."""
    storage = study._storage
    with ask_lock(study):
        number = int(storage.get_study_system_attrs(study._study_id).get(DRIVER_COUNT_ATTR, 0))
        storage.set_study_system_attr(study._study_id, DRIVER_COUNT_ATTR, number + 1)
    return number


def _surplus(study: optuna.Study, trial: optuna.Trial, target: int) -> bool:
    """Whether ``trial`` is beyond the target once every lower-numbered live or finished trial is counted.

    Only for storages without :func:`ask_lock`: two drivers that ask at the same moment agree on which trial
    is the surplus one (the higher number), which is then told FAIL with user attribute ``surplus``.
    """
    rdb = _rdb(study)
    if rdb is None:
        live = study.get_trials(deepcopy=False, states=FINISHED + (TrialState.RUNNING,))
        return sum(t.number < trial.number for t in live) >= target
    import sqlalchemy

    query = sqlalchemy.text("SELECT count(*) FROM trials WHERE study_id = :study AND number < :number "
                            "AND state IN ('COMPLETE', 'PRUNED', 'RUNNING')")
    with rdb.engine.connect() as connection:
        ahead = int(connection.execute(query, {"study": study._study_id, "number": trial.number}).scalar())
    return ahead >= target


def run_trials(
    study: optuna.Study,
    client: Any,
    n_trials: int,
    make_spec: Callable[[optuna.Trial, PruningContext], TrialSpec],
    pruner: str,
    timeout: float | None = None,
    on_result: Callable[[TrialResult, int], None] | None = None,
    max_in_flight: int | None = None,
    evaluate: Callable[[TrialSpec], TrialResult] | None = None,
    prefetch: int | None = None,
    artifacts: Any = None,
) -> DriverStats:
    """Run trials on ``client`` until the study holds ``n_trials`` finished trials (or ``timeout`` passes).

    ``max_in_flight`` caps the trials submitted at once (default: the cluster's workers, see
    :func:`genoml_search.execute.cluster.capacity`, plus ``prefetch`` trials asked ahead, default
    ``min(2, workers)``); ``evaluate`` replaces :func:`genoml_search.search.objective.evaluate_trial` (tests, benchmarks).
    ``artifacts`` is an Optuna artifact store for the complete trials' out-of-fold predictions (None: not kept).
    """
    from genoml_search.search.objective import evaluate_trial

    plan = DriverPlan(n_trials, make_spec, pruner, timeout, on_result, max_in_flight, evaluate or evaluate_trial,
                      prefetch, artifacts)
    return Driver(study, client, plan).run()


@dataclass(frozen=True)
class DriverPlan:
    """What a driver run is asked to do (the arguments of :func:`run_trials`)."""

    n_trials: int
    make_spec: Callable[[optuna.Trial, PruningContext], TrialSpec]
    pruner: str
    timeout: float | None
    on_result: Callable[[TrialResult, int], None] | None
    max_in_flight: int | None
    evaluate: Callable[[TrialSpec], TrialResult]
    prefetch: int | None
    artifacts: Any = None  # Optuna artifact store for out-of-fold predictions (genoml_search.search.oof)


class Driver:
    """One run of the ask/tell loop: :meth:`ask` and :meth:`submit` trials, :meth:`handle` each result, and
    between rounds the :meth:`housekeeping` (heartbeats, other drivers' stale trials, new workers).

    SIGINT/SIGTERM are deferred to safe points (:class:`genoml_search.signals.DeferredSignals`); on any
    exception the trials in flight are failed and re-queued, so no trial stays RUNNING.
    """

    def __init__(self, study: optuna.Study, client: Any, plan: DriverPlan) -> None:
        self.study, self.client, self.plan = study, client, plan
        self.stats = DriverStats()
        self.started = time.monotonic()
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        self.direction: Literal["minimize", "maximize"] = "maximize" if maximize else "minimize"
        self.slots = self.n_slots()
        self.in_flight: dict[Any, tuple[optuna.Trial, TrialSpec]] = {}
        self.history = History(maximize)
        for entry in pruning_history(study):
            self.history.add(*entry)
        self.finished = count_finished(study)
        self.last_sync = self.last_beat = time.monotonic()
        self.consecutive_failures = 0
        self.consecutive_twins = 0
        self.exhausted = False  # every recent trial repeated an evaluated one (reuse_twin)
        self.grace_started: float | None = None  # when the budget ran out with no complete trial (in_grace)
        self.signals = DeferredSignals((signal.SIGINT, signal.SIGTERM), second_raises=True)

    def n_slots(self) -> int:
        """How many trials may be in flight: the workers plus the prefetch (or ``max_in_flight``)."""
        from genoml_search.execute.cluster import capacity

        if self.plan.max_in_flight:
            return self.plan.max_in_flight
        workers = capacity(self.client)
        return workers + (self.plan.prefetch if self.plan.prefetch is not None else min(2, workers))

    def out_of_time(self) -> bool:
        """Whether the ``timeout`` budget is spent."""
        timeout = self.plan.timeout
        return timeout is not None and time.monotonic() - self.started >= timeout

    def run(self) -> DriverStats:
        """The loop: submit, wait for some results, handle them, submit again, housekeeping; until done."""
        with self.signals:
            try:
                self.submit(first=True)
                while self.in_flight or (self.finished < self.plan.n_trials and not self.out_of_time()
                                         and not self.exhausted):
                    self.signals.check()
                    if self.in_flight and self.out_of_time() and not self.in_grace():
                        # The time limit is a budget, not a hint: a trial that would run on for minutes is
                        # stopped (failed and re-queued, so a resumed study evaluates it) rather than waited for.
                        self.stats.stopped += _stop_running(self.study, self.in_flight)
                        break
                    if not self.in_flight:
                        self.wait_for_other_drivers()
                        continue
                    for future in self.wait():
                        self.signals.check()
                        self.handle(future)
                    self.submit()  # before the housekeeping writes: workers are waiting for trials
                    self.housekeeping()
            except BaseException:
                self.abandon_in_flight()
                raise
            else:
                self.signals.check()  # a signal during the last tell still stops the run before the refit
            finally:
                self.stats.seconds_total = time.monotonic() - self.started
                if self.grace_started is not None and self.plan.timeout is not None:
                    self.stats.timeout_grace_seconds = max(0.0, self.stats.seconds_total - self.plan.timeout)
        return self.stats

    def in_grace(self) -> bool:
        """Whether the trials in flight may run on past the time budget: the study (all drivers, counted in the
        storage) has no COMPLETE trial yet, so stopping them would leave no model to refit. Logged once, when
        the grace begins; it ends with the first complete trial (then the rest is stopped as usual)."""
        if count_by_state(self.study)[TrialState.COMPLETE]:
            return False
        if self.grace_started is None:
            self.grace_started = time.monotonic()
            log.warning("time budget spent before any trial finished; waiting for the first trial to finish "
                        "(%d running; Ctrl-C stops)", len(self.in_flight))
        return True

    def ask(self) -> optuna.Trial | None:
        """A new trial, or None when finished + running trials (all drivers) already reach the target."""
        study = self.study
        with ask_lock(study) as locked:
            counts = count_by_state(study)
            self.finished = sum(counts[state] for state in FINISHED)
            if self.finished + counts[TrialState.RUNNING] >= self.plan.n_trials:
                return None
            trial = study.ask()
        if not locked and _surplus(study, trial, self.plan.n_trials):  # another driver asked at the same moment
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=TrialState.FAIL)
            self.stats.surplus += 1
            return None
        return trial

    def submit(self, first: bool = False) -> None:
        """Ask and submit trials until the slots are full, the target is reached or time is up.

        ``first``: the run's first submission, which fills the slots even when the budget is already spent if the
        study has no COMPLETE trial yet (a budget shorter than the start-up still ends with a model).
        """
        # the budget may run out during this very submission (asking is slow on a loaded machine): decided once
        ignore_time = first and not count_by_state(self.study)[TrialState.COMPLETE]
        while len(self.in_flight) < self.slots and (ignore_time or not self.out_of_time()) and not self.exhausted:
            self.signals.check()
            trial = self.ask()
            if trial is None:
                return
            pruning = PruningContext(self.plan.pruner, self.direction, self.history.snapshot())
            spec = self.plan.make_spec(trial, pruning)
            if self.reuse_twin(trial):
                continue
            self.consecutive_twins = 0
            future = self.client.submit(self.plan.evaluate, spec, pure=False,
                                        key=f"trial-{self.study._study_id}-{trial.number}-{time.time_ns()}")
            self.in_flight[future] = (trial, spec)

    def reuse_twin(self, trial: optuna.Trial) -> bool:
        """Tell ``trial`` its evaluated twin's value instead of running it again; after
        :data:`MAX_CONSECUTIVE_TWINS` twins in a row the space is taken as exhausted and no more are asked."""
        from genoml_search.search.study import evaluated_twin, tell_twin

        twin = evaluated_twin(self.study, trial)
        if twin is None:
            return False
        tell_twin(self.study, trial, twin)
        self.stats.completed += 1
        self.stats.duplicates += 1
        self.finished += 1
        self.consecutive_twins += 1
        if self.consecutive_twins >= MAX_CONSECUTIVE_TWINS:
            log.warning("the last %d sampled trials all repeated evaluated ones: the search space looks exhausted; "
                        "stopping the search", self.consecutive_twins)
            self.exhausted = True
        return True

    def wait(self) -> list[Any]:
        """The futures done after waiting a little for the first one (maybe none); never past the end of the
        time budget, so that the trials still running then are stopped (or given grace) on time."""
        waited = time.monotonic()
        seconds = WAIT_SECONDS
        if self.plan.timeout is not None and self.grace_started is None:
            seconds = min(seconds, max(0.05, self.started + self.plan.timeout - waited))
        done = _wait_for_some(list(self.in_flight), seconds)
        self.stats.seconds_waiting += time.monotonic() - waited
        return done

    def wait_for_other_drivers(self) -> None:
        """Nothing of ours in flight but the target not reached: other drivers' trials are running. Wait
        for them (or for their heartbeats to go stale), then try to submit again."""
        waited = time.monotonic()
        time.sleep(1.0)
        self.stats.seconds_waiting += time.monotonic() - waited
        optuna.storages.fail_stale_trials(self.study)
        self.slots = self.n_slots()
        self.submit()

    def handle(self, future: Any) -> None:
        """Record one finished task: tell the study, re-queue a trial that killed its workers, stop after
        too many failures in a row, extend the pruning history, call ``on_result``."""
        trial, spec = self.in_flight.pop(future)
        try:
            result: TrialResult = future.result()
            killed = False
        except Exception as error:  # the task itself died (KilledWorker: it killed its workers)
            result = TrialResult(trial.number, [], [], None, False, 0.0,
                                 error=f"{type(error).__name__}: {error}")
            killed = True
        self.finished = _record(self.study, trial, spec, result, self.stats, self.finished, self.plan.artifacts)
        if result.error is not None:
            self.consecutive_failures += 1
            if killed and trial.user_attrs.get("retries", 0) < MAX_KILLED_RETRIES:
                _requeue(self.study, trial, self.study._storage.get_trial(trial._trial_id).params)
                self.stats.retried += 1
            if self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                raise RuntimeError(f"{self.consecutive_failures} trials failed in a row; last error: "
                                   f"{result.error.splitlines()[0]}")
        else:
            self.consecutive_failures = 0
            self.history.add("PRUNED" if result.pruned else "COMPLETE", result.value, result.steps())
        if self.plan.on_result is not None:
            result.in_flight = len(self.in_flight)
            self.plan.on_result(result, self.finished)

    def housekeeping(self) -> None:
        """Heartbeats for the trials in flight; now and then, other drivers' stale trials and new workers."""
        now = time.monotonic()
        if now - self.last_beat >= HEARTBEAT_EVERY:
            storage: Any = self.study._storage  # heartbeats: an RDB storage method, not BaseStorage's
            for trial, _ in self.in_flight.values():
                storage.record_heartbeat(trial._trial_id)
            self.last_beat = now
        if now - self.last_sync >= SYNC_EVERY:  # see other drivers' stale trials and new workers
            optuna.storages.fail_stale_trials(self.study)
            self.finished = count_finished(self.study)
            self.slots = self.n_slots()
            self.last_sync = now

    def abandon_in_flight(self) -> None:
        """Cancel every task in flight; fail its trial and re-queue its parameters."""
        for future, (trial, _) in self.in_flight.items():
            future.cancel()
            _fail_and_requeue(self.study, trial)
        self.in_flight.clear()


def _record(study: optuna.Study, trial: optuna.Trial, spec: TrialSpec, result: TrialResult,
            stats: DriverStats, finished: int, artifacts: Any = None) -> int:
    """Store one trial's outcome; returns the updated count of finished trials."""
    for step, value in result.steps():  # with fidelity: every fold of every rung (search/fidelity.py)
        trial.report(value, step)
    trial.set_user_attr("family", spec.family)
    trial.set_user_attr("fold_scores", result.fold_scores)
    trial.set_user_attr("seconds", round(result.seconds, 3))
    for key, value in result.attrs.items():  # e.g. the penalty a path family chose
        trial.set_user_attr(key, value)
    if result.error is not None:
        first = result.error.splitlines()[0]
        trial.set_user_attr("error", first[:500])
        study.tell(trial, state=TrialState.FAIL)
        stats.failed += 1
        stats.errors.append(first)
        log.warning("trial %d failed: %s", trial.number, first)
        return finished
    if result.pruned:
        study.tell(trial, state=TrialState.PRUNED)
        stats.pruned += 1
    else:
        if artifacts is not None and result.oof is not None:  # before tell: a finished trial takes no attributes
            _store_oof(trial, result.oof, artifacts, stats)
        study.tell(trial, result.value)
        stats.completed += 1
    return finished + 1


def _store_oof(trial: optuna.Trial, oof: Any, artifacts: Any, stats: DriverStats) -> None:
    """Write a complete trial's out-of-fold predictions; a failure costs the ensemble this trial, not the run."""
    from genoml_search.search.oof import store_oof

    try:
        stored = store_oof(trial, oof, artifacts)
    except Exception as error:  # a full disk, an unwritable directory
        log.warning("trial %d: out-of-fold predictions not stored (%s: %s)", trial.number, type(error).__name__,
                    error)
        return
    stats.oof_stored += 1
    stats.oof_bytes += stored.n_bytes
    stats.oof_seconds += stored.seconds


def _requeue(study: optuna.Study, trial: optuna.Trial, params: dict[str, Any]) -> None:
    retries = trial.user_attrs.get("retries", 0) + 1
    study.enqueue_trial(params, user_attrs={"retry_of": trial.number, "retries": retries}, skip_if_exists=False)


def _wait_for_some(futures: list[Any], seconds: float = WAIT_SECONDS) -> list[Any]:
    """The futures that are done after waiting up to ``seconds`` for the first one (maybe none)."""
    import distributed

    try:
        done, _ = distributed.wait(futures, timeout=seconds, return_when="FIRST_COMPLETED")
    except TimeoutError:
        return []
    return list(done)


def _stop_running(study: optuna.Study, in_flight: dict[Any, tuple[optuna.Trial, TrialSpec]]) -> int:
    """Cancel the running trials (FAIL, re-queued, user attribute ``stopped``); return how many."""
    for future, (trial, _) in in_flight.items():
        future.cancel()
        trial.set_user_attr("stopped", "time limit")
        _fail_and_requeue(study, trial)
    stopped = len(in_flight)
    if stopped:
        log.warning("stopped %d trial(s) still running at the time limit; they are re-queued for a resumed run",
                    stopped)
    in_flight.clear()
    return stopped


def _fail_and_requeue(study: optuna.Study, trial: optuna.Trial) -> None:
    """An interrupted trial: FAIL it and enqueue its parameters so that the next run evaluates them."""
    try:
        frozen = study._storage.get_trial(trial._trial_id)
        if frozen.state == TrialState.RUNNING:
            study.tell(trial, state=TrialState.FAIL)
            study.enqueue_trial(frozen.params, user_attrs={"retry_of": trial.number}, skip_if_exists=False)
    except Exception as error:  # best effort while shutting down
        log.debug("could not requeue trial %d: %s", trial.number, error)
