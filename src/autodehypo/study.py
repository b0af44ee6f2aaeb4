"""The study driver: keep the workers busy with asked candidates, tell each result, store.

The driver is the only writer of the study's SQLite file, one transaction per
step: a candidate asked is stored with the optimizer state after the ask, a
finished trial with its told value and the state after the tell. A resumed
driver loads that state, ends whatever the dead driver's trials left running,
runs again the asked trials that had not finished, and asks on. Between asks
and tells the optimizer's schedule decides: ``generational`` waits for a whole
generation, ``async`` gives a free worker a new candidate at once.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .algorithms import Candidate, Search, make_optimizer
from .algorithms.multifidelity import MultiFidelityDE
from .answers import RecordedAnswers, answer, params_key
from .budget import Tally, budget_spent, trial_units
from .continuation import write_context
from .config import SEARCH_DEFAULTS_VERSION, ConfigError, NewerStudyError, StudyConfig, parse_config
from .energy import CpuTimeEstimate, EnergyReading, MeterUnavailable, choose, co2e_grams, open_meters
from .environment import collect_environment
from .execution import Executor, LocalExecutor, SlurmError, SlurmExecutor, TrialOutcome
from .objectives import ObjectiveError, build_objective
from .processes import end_group
from .space import ENCODING_VERSION
from .storage import (COMPLETE, DB_NAME, FAILED, PENDING, RUNNING, Storage, StorageError,
                      TrialRecord, diagnose)
from .driver_lock import LOCK_NAME, DriverLock
from .told_value import ToldValuePolicy, ToldVectorPolicy, measure_objectives
from .trial_progress import PROGRESS_FILE, read_progress, remove_live, write_live



class Interrupted(Exception):
    """The driver was asked to stop (SIGINT, SIGTERM); the study can be resumed."""


@dataclass
class LiveTrial:
    """A running trial as seen from the driver: how long, how much, and what it last reported."""

    number: int
    elapsed_s: float
    cpu_s: float | None = None
    energy_j: float | None = None  # estimated from CPU time so far; measured figures come at the end
    report: dict[str, Any] = field(default_factory=dict)  # the last line of its progress.jsonl

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "elapsed_s": self.elapsed_s, "cpu_s": self.cpu_s,
                "energy_j": self.energy_j, "energy_source": "estimate", "report": self.report}


@dataclass
class Progress:
    """A snapshot of a running study, for progress displays."""

    generation: int
    evaluations: int
    failed: int
    running: int
    best_value: float | None
    energy_j: float
    elapsed_s: float
    config: StudyConfig
    energy_sources: tuple[str, ...] = ()
    finished: bool = False
    live: tuple[LiveTrial, ...] = ()
    front_size: int | None = None  # several objectives: the non-dominated completed trials so far
    units: float = 0.0  # finished trials in full-fidelity equivalents (= evaluations without fidelities)


class Study:
    """A study on disk. Use :meth:`create` or :meth:`open`, then :meth:`run`."""

    def __init__(self, directory: Path, config: StudyConfig, storage: Storage, objective: Any):
        self.directory = Path(directory)
        self.config = config
        self.storage = storage
        self.objective = objective
        self.estimate = CpuTimeEstimate(config.energy.watts_per_core, config.energy.gpu_watts)
        self.meters: list = []
        self._meter_tokens: dict[int, list] = {}
        self._stop_signal: int | None = None
        self._tally: Tally | None = None
        self.policy = (ToldVectorPolicy(config.objectives) if config.objectives
                       else ToldValuePolicy(config.direction, config.failure_value))
        self._held: list[TrialRecord] = []  # finished trials not told yet
        self._told_seq = 0
        self._lock: DriverLock | None = None
        self._live: tuple[LiveTrial, ...] = ()
        self._live_at = 0.0
        self._answers = RecordedAnswers()

    # -- construction -------------------------------------------------------
    @classmethod
    def create(cls, directory: str | Path, config: dict[str, Any] | StudyConfig,
               config_text: str = "", objective: Callable[[dict[str, Any]], Any] | None = None
               ) -> "Study":
        """Check the config, build the objective, then create the study directory.

        Nothing is written when the config or the objective is at fault.
        """
        directory = Path(directory)
        raw, cfg, obj = cls._prepare(directory, config, objective)
        try:
            created = _make_directory(directory)
        except OSError as exc:
            raise StorageError(f"{directory}: cannot create the study directory: "
                               f"{exc.strerror or exc}") from None
        try:
            storage = Storage.create(directory, raw, config_text, space_encoding=ENCODING_VERSION,
                                     search_defaults=SEARCH_DEFAULTS_VERSION)
        except BaseException:
            if created:  # empty unless another driver created its study here meanwhile: then keep it
                try:
                    directory.rmdir()
                except OSError:
                    pass
            raise
        return cls(directory, cfg, storage, obj)

    @classmethod
    def check(cls, directory: str | Path, config: dict[str, Any] | StudyConfig,
              objective: Callable[[dict[str, Any]], Any] | None = None) -> StudyConfig:
        """Everything :meth:`create` checks, creating nothing."""
        return cls._prepare(Path(directory), config, objective)[1]

    @classmethod
    def _prepare(cls, directory: Path, config: dict[str, Any] | StudyConfig,
                 objective: Callable[[dict[str, Any]], Any] | None) -> tuple[dict[str, Any], StudyConfig, Any]:
        raw = config.raw if isinstance(config, StudyConfig) else dict(config)
        if objective is not None:
            raw = {**raw, "objective": {**raw.get("objective", {}), "type": "python",
                                        "function": _import_path(objective)}}
        cfg = parse_config(raw, default_name=directory.name, encoding=ENCODING_VERSION,
                           defaults=SEARCH_DEFAULTS_VERSION)
        _check_runnable(cfg, raw)
        obj = _build(cfg, objective)
        _open_meters(cfg)  # an explicitly named meter that does not work here is a config error
        if cfg.executor.get("type", "local") == "local" and cfg.executor.get("gpus_per_trial"):
            _local_executor(lambda params: 0.0, cfg.executor)  # more workers than the GPUs allow
        if (directory / DB_NAME).exists() or (directory / DB_NAME).is_symlink():
            raise StorageError(f"{directory} already holds a study; continue it with "
                               f"`autodehypo resume {directory}` or choose another --dir")
        lock = directory / LOCK_NAME
        if lock.is_dir() or lock.exists() and not lock.is_file():
            raise StorageError(f"{lock}: not a regular file where the driver's lock file belongs; "
                               "remove it and try again")
        if directory.exists() and not directory.is_dir():
            raise StorageError(f"{directory}: not a directory; choose another --dir")
        return raw, cfg, obj

    @classmethod
    def open(cls, directory: str | Path,
             objective: Callable[[dict[str, Any]], Any] | None = None) -> "Study":
        directory = Path(directory)
        storage, cfg = open_storage(directory)
        try:
            obj = _build(cfg, objective)
        except BaseException:
            storage.close()
            raise
        return cls(directory, cfg, storage, obj)

    def close(self) -> None:
        self.storage.close()

    # -- the loop -----------------------------------------------------------
    def run(self, progress: Callable[[Progress], None] | None = None) -> Progress:
        """Run (or continue) until the budget is spent. Raises :class:`Interrupted` on a signal."""
        if self.storage.meta("state") == "finished":
            return self._progress(self._optimizer(self.storage.current_state()),
                                  self.storage.meta("driver_elapsed_s", 0.0),
                                  0, finished=True)
        lock = self._lock = DriverLock(self.directory)
        try:
            self.meters, sources = _open_meters(self.config)
            # One environment per run session: a resumed study may run on another node or software.
            self.storage.set_meta(energy_sources={**sources, "estimate": "ok"},
                                  environments=[*self.storage.meta("environments", []),
                                                collect_environment()])
            self._end_leftovers()
        except BaseException:
            lock.release()
            raise
        old_handlers = {s: signal.signal(s, self._on_signal)
                        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
        try:
            self.storage.set_meta(state="running")
            result = self._loop(progress)
            self.storage.set_meta(state="finished")
            return result
        except Interrupted:
            self.storage.set_meta(state="interrupted")
            raise
        except OSError as exc:  # the study's own files: disk full, permissions
            if exc.errno not in _STORAGE_ERRNOS:
                raise
            raise StorageError(diagnose(self.directory / DB_NAME, exc)) from None
        finally:
            for s, h in old_handlers.items():
                signal.signal(s, h)
            lock.release()

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._stop_signal = signum

    def _end_leftovers(self) -> None:
        """End what the trials of a driver that died (SIGKILL, node crash) left running.

        Before any trial runs again: otherwise a trial's old processes (a command's children,
        which the kernel does not kill with their parent) would run beside its rerun.
        """
        leftovers = self.storage.unfinished_with_processes()
        for trial in leftovers:
            if trial.pgid_start:
                end_group(trial.pgid, trial.pgid_start)
            trial.pgid = trial.pgid_start = None
        if leftovers:
            self.storage.update_trials(leftovers, ("pgid", "pgid_start"))

    def _optimizer(self, current: dict[str, Any] | None) -> Search:
        """The study's search, continued from ``current`` (Storage.current_state) when there is one."""
        cfg = self.config
        opt = build_optimizer(cfg)
        # A repeated configuration is not asked; a model sees each configuration as one point.
        opt.set_key(lambda x: params_key(cfg.space.decode(x)), lambda x: cfg.space.encode(cfg.space.decode(x)))
        if current is not None:
            load_search(opt, current["state"], self.directory / DB_NAME, current["history"])
        return opt

    def _loop(self, progress: Callable[[Progress], None] | None) -> Progress:
        cfg = self.config
        current = self.storage.current_state()
        opt = self._optimizer(current)
        elapsed_before = current["driver_elapsed_s"] if current else 0.0
        session_start = time.monotonic()
        executor = self._executor()
        (self.directory / "trials").mkdir(exist_ok=True)
        stored = self.storage.trials()
        self._tally = Tally.of(stored, cfg.direction, self._max_fidelity(), getattr(self.policy, "signs", ()))
        self._answers = RecordedAnswers(stored)
        self._told_seq = self.storage.next_told_seq()
        outstanding = self._outstanding(opt, stored)
        self._held = [t for t in outstanding if t.status in (COMPLETE, FAILED)]
        queue = [t for t in outstanding if t.status not in (COMPLETE, FAILED)]
        running: dict[int, TrialRecord] = {}
        waiting: list[TrialRecord] = []

        def elapsed() -> float:
            return elapsed_before + time.monotonic() - session_start

        def report() -> None:
            if progress is not None:
                progress(self._progress(opt, elapsed(), len(executor.running), live=self._live))

        # A trial whose Slurm job outlived the previous driver (requeued) is followed, not rerun.
        for trial in [t for t in queue if t.status == RUNNING and t.job_id and executor.outlives_driver]:
            queue.remove(trial)
            executor.attach(trial.number, trial.job_id, dict(trial.params), self._trial_dir(trial))
            self._meter_tokens[trial.number] = [(m, m.start()) for m in self.meters]
            running[trial.number] = trial
        self._settle(opt, [], elapsed())  # results an older driver stored but did not tell
        report()
        try:
            while True:
                self._check_signal()
                queue[:0], waiting = waiting, []  # their twins may have finished
                starting, repeats, waiting = self._fill(opt, executor, queue, running, elapsed)
                if repeats:
                    for trial in repeats:
                        self._tally.add(trial)
                    self._settle(opt, repeats, elapsed())
                    report()
                if starting:
                    self._start(executor, starting)
                    running.update((t.number, t) for t in starting)
                    report()
                if not running:
                    if repeats:
                        continue  # they may have completed a generation: ask again
                    break  # the budget is spent (or nothing is left to ask)
                ended = executor.wait(timeout=1.0)
                for meter in self.meters:  # often enough to catch counter wrap-arounds
                    meter.poll()
                if ended:
                    done = [self._record(running.pop(number), outcome) for number, outcome in ended]
                    for trial in done:
                        self._tally.add(trial)
                        self._answers.remember(trial)
                    self._settle(opt, done, elapsed())
                    finished = {t.number for t in done}
                    self._live = tuple(t for t in self._live if t.number not in finished)
                watched = self._watch(executor, running, elapsed())
                if (ended or watched) and running:  # else the next start, or the end, reports
                    report()
        finally:
            if running and self._stop_signal == signal.SIGUSR1 and executor.outlives_driver:
                executor.detach()  # the jobs go on; the requeued driver follows them
            elif running:  # stopped: these run again on resume
                executor.kill_all()
                for trial in running.values():
                    trial.status, trial.job_id, trial.pgid, trial.pgid_start = PENDING, None, None, None
                self.storage.update_trials(list(running.values()),
                                           ("status", "job_id", "pgid", "pgid_start"))
        self.storage.set_meta(driver_elapsed_s=elapsed())
        self._live = ()
        remove_live(self.directory)
        final = self._progress(opt, elapsed(), 0, finished=True)
        if progress is not None:
            progress(final)
        return final

    def _fill(self, opt: Search, executor, queue: list[TrialRecord], running: dict[int, TrialRecord],
              elapsed: Callable[[], float]) -> tuple[list[TrialRecord], list[TrialRecord], list[TrialRecord]]:
        """Trials for the free slots: first the queue (asked before, not yet run), then new
        asks, until the slots are full, the budget is spent or the optimizer waits.

        Returns those to start, those answered from the record, and those waiting for a twin
        that is training now (they go back to the queue)."""
        starting: list[TrialRecord] = []
        repeats: list[TrialRecord] = []
        waiting: list[TrialRecord] = []
        busy = {params_key(t.params) for t in running.values()}
        while (executor.free_slots > len(starting) + len(waiting) and not self._spent(
                elapsed(), [*running.values(), *starting, *repeats, *waiting])):
            trial = queue.pop(0) if queue else self._ask(opt, elapsed())
            if trial is None:
                break  # generational: the rest of the generation is out
            if not self.config.noisy:  # never pay twice for one configuration
                earlier = self._answers.earlier(trial)
                if earlier is not None:
                    repeats.append(answer(trial, earlier))
                    continue
                if params_key(trial.params) in busy:
                    waiting.append(trial)
                    continue
                busy.add(params_key(trial.params))
            starting.append(trial)
        return starting, repeats, waiting

    def _outstanding(self, opt: Search, stored: list[TrialRecord]) -> list[TrialRecord]:
        """The stored trials of the candidates the optimizer waits for, in the order asked.

        A candidate with no trial (a file from before per-candidate asks deleted the unstarted
        trials of an interrupted generation) gets its trial back.
        """
        by_number = {t.number: t for t in stored}
        if by_number and max(by_number) >= opt.asked:
            raise StorageError(f"{self.directory}: trial {max(by_number)} was never asked by the "
                               "optimizer state in the file; the study file was changed by something "
                               "other than this driver")
        trials, missing = [], []
        for candidate in opt.pending_candidates():
            trial = by_number.get(candidate.id)
            if trial is None:
                trial = self._trial_of(candidate)
                missing.append(trial)
            elif not np.array_equal(np.asarray(trial.unit, dtype=float), candidate.x):
                raise StorageError(f"{self.directory}: trial {trial.number} does not match the "
                                   "optimizer's state; the study file was changed by something other "
                                   "than this driver")
            trials.append(trial)
        if missing:
            self.storage.add_trials(missing)
        return trials

    def _trial_of(self, candidate: Candidate) -> TrialRecord:
        trial = TrialRecord(number=candidate.id, generation=candidate.generation, idx=candidate.index,
                            params=self.config.space.decode(candidate.x), unit=candidate.x.tolist())
        fidelity = self.config.fidelity
        if fidelity is not None:
            trial.fidelity, trial.continues = candidate.fidelity, candidate.continues
            trial.params[fidelity.param] = int(candidate.fidelity) if fidelity.integer else candidate.fidelity
            trial.fidelity_from = 0.0
            if candidate.continues is not None:
                trial.fidelity_from = self.storage.trial(candidate.continues).fidelity
        return trial

    def _max_fidelity(self) -> float | None:
        return self.config.fidelity.max if self.config.fidelity else None

    def _write_fidelity_context(self, trial: TrialRecord) -> None:
        """Tell a multi-fidelity trial its budget and where the training it continues stopped."""
        continues_dir = continues_fidelity = None
        if trial.continues is not None:
            below = self.storage.trial(trial.continues)
            # A configuration answered from the record trained nowhere: its first trial did.
            trained = below.metrics.get("repeat_of", below.number)
            continues_dir, continues_fidelity = str(self._trial_dir(self.storage.trial(trained))), below.fidelity
        fidelity = self.config.fidelity
        write_context(self._trial_dir(trial), {
            "param": fidelity.param, "fidelity": trial.params[fidelity.param],
            "max_fidelity": int(fidelity.max) if fidelity.integer else fidelity.max,
            "continues_dir": continues_dir, "continues_fidelity": continues_fidelity})

    def _ask(self, opt: Search, elapsed: float) -> TrialRecord | None:
        """A new candidate as a stored trial (with the optimizer state after the ask), or None."""
        candidate = opt.ask()
        if candidate is None:
            return None
        trial = self._trial_of(candidate)
        trial.asked_after = self._told_seq
        state, history = opt.state_parts()
        self.storage.add_asked([trial], state, opt.evaluations, elapsed, history)
        return trial

    def _settle(self, opt: Search, finished: list[TrialRecord], elapsed: float) -> None:
        """Tell what can be told of the finished trials, and store them with the state after.

        With the generational schedule and failures told the worst value seen, a failed
        trial waits for the rest of its generation: the worst value is then the whole
        generation's, whatever order its results came in.
        """
        generation = opt.generation
        self._held.extend(finished)
        held = {t.number for t in self._held}
        if self.config.schedule == "generational" and self.config.failure_value is None:
            generation_in = held.issuperset(opt.pending_ids())
            telling = [t for t in self._held if t.status == COMPLETE or generation_in]
        else:
            telling = list(self._held)
        telling_now = {t.number for t in telling}
        self._held = [t for t in self._held if t.number not in telling_now]
        for trial in telling:
            told = self.policy.tell(trial, self._tally.worst_value)
            trial.told_seq = self._told_seq
            self._told_seq += 1
            opt.tell(trial.number, told, self._configuration_energy(trial))
        changed = {t.number: t for t in [*finished, *telling]}
        if changed:
            state, history = opt.state_parts()
            self.storage.record_told(list(changed.values()), state, opt.evaluations, elapsed,
                                     summary=opt.summary() if opt.generation > generation else None,
                                     history=history)

    def _configuration_energy(self, trial: TrialRecord) -> float | None:
        """What training the trial's configuration cost: a repeat answered from the record
        cost nothing itself, so its first trial's energy (for cost-aware pre-screening)."""
        if "repeat_of" in trial.metrics:
            earlier = self._answers.earlier(trial)
            return earlier.energy_j if earlier is not None else None
        return trial.energy_j

    def _watch(self, executor, running: dict[int, TrialRecord], elapsed: float) -> bool:
        """About once a second, look at the running trials: elapsed time, CPU time, and what
        they last reported. The snapshot feeds the progress bar and, through ``live.json``,
        ``status`` in another process. True when it was refreshed."""
        now = time.monotonic()
        if now - self._live_at < 1.0:
            return False
        self._live_at = now
        wall = time.time()
        live = []
        for number, trial in sorted(running.items()):
            report = read_progress(self._trial_dir(trial)) or {}
            cpu = executor.cpu_seconds(number)
            if cpu is None and isinstance(report.get("cpu_s"), (int, float)):
                cpu = float(report["cpu_s"])
            live.append(LiveTrial(number, wall - (trial.started_at or wall), cpu,
                                  self.estimate.reading(cpu).joules if cpu is not None else None, report))
        self._live = tuple(live)
        write_live(self.directory, {"updated_at": wall, "driver_elapsed_s": elapsed,
                                    "trials": [t.as_dict() for t in live]})
        return True

    def _trial_dir(self, trial: TrialRecord) -> Path:
        return self.directory / "trials" / f"{trial.number:06d}"

    def _executor(self) -> Executor:
        cfg, key = self.config, getattr(self.objective, "key", "objective")
        options = {k: v for k, v in cfg.executor.items() if k != "type"}
        if cfg.executor.get("type", "local") == "slurm":
            try:
                return SlurmExecutor(self.objective, folder=self.directory / "slurm", result_key=key,
                                     job_name=f"autodehypo-{cfg.name}", **options)
            except SlurmError as exc:
                raise ConfigError(f"executor: {exc}") from None
        executor = _local_executor(self.objective, cfg.executor, result_key=key)
        if self._lock is not None:
            executor.close_in_child = (self._lock.fd,)
        return executor

    def _start(self, executor, trials: list[TrialRecord]) -> None:
        now = time.time()
        for trial in trials:
            # What an earlier, killed attempt reported is not this attempt's progress.
            (self._trial_dir(trial) / PROGRESS_FILE).unlink(missing_ok=True)
            if self.config.fidelity is not None:
                self._write_fidelity_context(trial)
        executor.submit_many([(t.number, dict(t.params), self.directory / "trials" / f"{t.number:06d}.log",
                               self._trial_dir(t)) for t in trials])
        for trial in trials:  # once the executor has given each trial its GPUs
            self._meter_tokens[trial.number] = [(m, m.start(*executor.devices(trial.number)))
                                                for m in self.meters]
        # One transaction per batch, once the processes or jobs exist and can be named in it.
        for trial in trials:
            trial.status, trial.attempt, trial.started_at = RUNNING, trial.attempt + 1, now
            trial.job_id = executor.job_id(trial.number)
            trial.pgid, trial.pgid_start = executor.process_group(trial.number)
        self.storage.update_trials(trials, ("status", "attempt", "started_at", "job_id", "pgid",
                                            "pgid_start"))

    def _check_signal(self) -> None:
        if self._stop_signal is not None:
            raise Interrupted(signal.Signals(self._stop_signal).name)

    def _readings(self, number: int, outcome: TrialOutcome) -> list[EnergyReading]:
        readings = []
        for meter, token in self._meter_tokens.pop(number, []):
            try:
                readings.append(meter.stop(token))
            except OSError as exc:  # a counter that vanished mid-study: unknown, not zero
                readings.append(EnergyReading(None, meter.source, detail={"error": str(exc)}))
        return readings + list(outcome.energy) + [self.estimate.reading(outcome.cpu_time_s, outcome.gpu_seconds)]

    def _record(self, trial: TrialRecord, outcome: TrialOutcome) -> TrialRecord:
        """Fill in a finished trial (the caller stores it)."""
        readings = self._readings(trial.number, outcome)
        reading = choose(readings, self.config.energy.budget_source)
        trial.status = COMPLETE if outcome.ok else FAILED
        trial.value = outcome.value
        trial.metrics = outcome.metrics
        trial.error = outcome.error
        continued = trial.metrics.get("continued_from") if trial.continues is not None else None
        if isinstance(continued, (int, float)) and not isinstance(continued, bool):
            trial.fidelity_from = float(continued)  # 0: the checkpoint was missing, it retrained
        trial.started_at, trial.ended_at = outcome.started_at, outcome.ended_at
        trial.elapsed_s, trial.cpu_time_s = outcome.elapsed_s, outcome.cpu_time_s
        trial.peak_rss_mb, trial.host, trial.gpus = outcome.peak_rss_mb, outcome.host, outcome.gpus
        trial.energy_j, trial.energy_source = reading.joules, reading.source
        trial.energy_detail = {"readings": [r.as_dict() for r in readings],
                               "node_level": reading.node_level,
                               "co2e_g": co2e_grams(reading.joules, self.config.energy.grid_intensity)}
        if self.config.objectives:
            self._measure_objectives(trial)
        return trial

    def _measure_objectives(self, trial: TrialRecord) -> None:
        """Several objectives: the trial's vector, its first entry the trial's value; a figure
        missing from a completed trial fails it. The objective's own value, when it is not the
        first objective, is kept among the metrics under its key."""
        key = getattr(self.objective, "key", "objective")
        if trial.value is not None and self.config.objectives[0].name not in ("objective", key):
            trial.metrics = {**trial.metrics, key: trial.value}
        if trial.status != COMPLETE:
            trial.value = None
            return
        trial.objective_values, error = measure_objectives(trial, self.config.objectives, key)
        if error is not None:
            trial.status, trial.value, trial.error = FAILED, None, error
        else:
            trial.value = trial.objective_values[0]

    def _spent(self, elapsed: float, started: list[TrialRecord]) -> bool:
        """True when no further trial may start, with ``started`` trials under way."""
        units = sum(trial_units(t, self._max_fidelity()) for t in started)
        return budget_spent(self.config.budget, self._tally, elapsed, units)

    def _progress(self, opt: Search, elapsed: float, running: int,
                  finished: bool = False, live: tuple[LiveTrial, ...] = ()) -> Progress:
        tally = self._tally or Tally.of(self.storage.trials(), self.config.direction, self._max_fidelity(),
                                        getattr(self.policy, "signs", ()))
        return Progress(generation=opt.generation, evaluations=tally.evaluations,
                        failed=tally.failed, running=running, best_value=tally.best_value,
                        energy_j=tally.energy_j, elapsed_s=elapsed, config=self.config,
                        energy_sources=tuple(sorted(tally.energy_sources)), finished=finished,
                        live=live, front_size=len(tally.front) if self.config.objectives else None,
                        units=tally.units)


def open_storage(directory: str | Path, *, readonly: bool = False) -> tuple[Storage, StudyConfig]:
    """A study's file and its config as parsed: where every command opens a study, so that a
    damaged file is diagnosed (StorageError, one line) before anything reads it."""
    directory = Path(directory)
    storage = Storage.open(directory, readonly=readonly)
    try:
        # A study made before the encoding (or the search defaults) was recorded used the first.
        cfg = parse_config(storage.meta("config"), default_name=directory.name,
                           encoding=storage.meta("space_encoding", 1), defaults=storage.search_defaults)
    except NewerStudyError as exc:
        storage.close()
        raise StorageError(f"{directory / DB_NAME}: {exc}") from None
    except ConfigError as exc:
        storage.close()
        raise StorageError(f"{directory / DB_NAME}: the stored config does not load ({exc}); the file was "
                           "changed by something other than autodehypo: restore it from a backup") from None
    except BaseException:
        storage.close()
        raise
    return storage, cfg


def load_search(search: Search, state: dict[str, Any], path: Path,
                history: np.ndarray | None = None) -> Search:
    """``search`` continued from a stored state (and history: Search.state_parts); a state it
    cannot take is a damaged file."""
    try:
        search.load_state_parts(state, history)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise StorageError(f"{path}: the optimizer state does not load ({type(exc).__name__}: "
                           f"{str(exc)[:200]}); the file was changed by something other than "
                           "autodehypo: restore it from a backup") from None
    return search


def build_optimizer(cfg: StudyConfig) -> Search:
    """The study's search as its config makes it, before any checkpoint is loaded."""
    if cfg.fidelity is not None:
        f = cfg.fidelity
        return MultiFidelityDE(cfg.space.dim, inner=cfg.algorithm, min_fidelity=f.min, max_fidelity=f.max,
                               eta=f.eta, integer=f.integer, population=cfg.population, seed=cfg.seed,
                               **cfg.options)
    return make_optimizer(cfg.algorithm, cfg.space.dim, population=cfg.population, seed=cfg.seed,
                          max_evaluations=cfg.budget.evaluations, schedule=cfg.schedule,
                          objectives=cfg.n_objectives, **cfg.options)


def _build(cfg: StudyConfig, objective: Callable | None) -> Any:
    table = dict(cfg.objective)
    if objective is not None:
        table["function"] = objective
    try:
        names = cfg.space.names + ([cfg.fidelity.param] if cfg.fidelity else [])
        obj = build_objective(table, names)
        if hasattr(obj, "prepare"):
            obj.prepare()
    except ObjectiveError as exc:
        raise ConfigError(str(exc)) from None
    return obj


def _local_executor(objective: Callable[[dict[str, Any]], Any], table: dict[str, Any], **kwargs: Any) -> LocalExecutor:
    try:
        return LocalExecutor(objective, **{k: v for k, v in table.items() if k != "type"}, **kwargs)
    except ValueError as exc:  # more trials at once than the GPUs allow
        raise ConfigError(f"executor.{exc}") from None


def _open_meters(cfg: StudyConfig) -> tuple[list, dict[str, str]]:
    try:
        return open_meters(cfg.energy.meters)
    except MeterUnavailable as exc:
        raise ConfigError(f"energy.meters: {exc}") from None


_STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)
MAX_CELLS = 10 ** 7  # population x dimensions: the size of the arrays the algorithms hold


def _check_runnable(cfg: StudyConfig, raw: dict[str, Any]) -> None:
    """What a config can pass and a study still fail on, checked before anything is created."""
    if cfg.population * cfg.space.dim > MAX_CELLS:
        raise ConfigError(f"study.population: {cfg.population} candidates of {cfg.space.dim} "
                          f"dimensions is more than {MAX_CELLS:,} numbers per generation")
    if cfg.executor.get("type") == "slurm" and importlib.util.find_spec("submitit") is None:
        raise ConfigError("executor.type: \"slurm\" needs submitit, which is not installed here: "
                          "pip install 'autodehypo[slurm]'")
    try:
        json.dumps(raw, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config: cannot be stored ({exc})") from None
    try:  # the first generation as the driver will make it: asked, decoded, stored as JSON
        opt = build_optimizer(cfg)
        first = [c for c in (opt.ask(), opt.ask()) if c is not None]
        json.dumps([cfg.space.decode(c.x) for c in first], allow_nan=False)
        json.dumps(opt.state_dict(), allow_nan=False)
    except MemoryError:
        raise ConfigError(f"study.population: {cfg.population} candidates of {cfg.space.dim} "
                          "dimensions do not fit in memory") from None
    except (TypeError, ValueError, OverflowError, ArithmeticError) as exc:
        raise ConfigError(f"config: the first generation cannot be made: {exc}") from None


def _make_directory(directory: Path) -> bool:
    """Create the study directory; True if this call created it (so that a failure may remove it)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        directory.mkdir()
    except FileExistsError:
        if not directory.is_dir():
            raise
        return False
    return True


def _import_path(function: Callable) -> str:
    return f"{getattr(function, '__module__', '?')}:{getattr(function, '__qualname__', '?')}"

