"""The study driver: keep the workers busy with asked candidates, tell each result, store.

The driver is the only writer of the study's SQLite file, one transaction per
step: a candidate asked is stored with the search's state after the ask, a
finished trial with its told value and the state after the tell. A resumed
driver loads that state, ends whatever the dead driver's trials left running,
runs again the asked trials that had not finished, and asks on. Between asks
and tells the search's schedule decides: ``generational`` waits for a whole
generation, ``async`` gives a free worker a new candidate at once.
"""

from __future__ import annotations

import errno
import signal
import time
from pathlib import Path
from typing import Any, Callable

from ..algorithms import Search
from ..config import StudyConfig
from ..environment import collect_environment
from ..execution import Executor
from ..storage import COMPLETE, DB_NAME, FAILED, PENDING, RUNNING, Storage, StorageError, TrialRecord, diagnose
from ..tracking import Tracker
from ..trial_progress import PROGRESS_FILE
from . import files
from .answers import RecordedAnswers, answer, params_key
from .budget import Tally, budget_spent, trial_units
from .driver_lock import DriverLock
from .live import LiveView, Progress
from .told_value import Teller
from .trials import Recorder, outstanding_trials, prepare_directory, trial_dir, trial_of


class Interrupted(Exception):
    """The driver was asked to stop (SIGINT, SIGTERM); the study can be resumed."""


class Study:
    """A study on disk. Use :meth:`create` or :meth:`open`, then :meth:`run`."""

    def __init__(self, directory: Path, config: StudyConfig, storage: Storage, objective: Any):
        self.directory = Path(directory)
        self.config, self.storage, self.objective = config, storage, objective
        self._recorder = Recorder(config, getattr(objective, "key", "objective"), [])
        self._live = LiveView(self.directory, self._recorder.estimate)
        self._stop_signal: int | None = None
        self._tally: Tally | None = None
        self._teller: Teller | None = None
        self._lock: DriverLock | None = None
        self._answers = RecordedAnswers()
        self._tracker = Tracker()

    @classmethod
    def create(cls, directory: str | Path, config: dict[str, Any] | StudyConfig,
               config_text: str = "", objective: Callable[[dict[str, Any]], Any] | None = None
               ) -> "Study":
        """Check the config, build the objective, then create the study directory.

        Nothing is written when the config or the objective is at fault.
        """
        directory = Path(directory)
        raw, cfg, obj = files.prepare(directory, config, objective)
        return cls(directory, cfg, files.create_storage(directory, raw, config_text), obj)

    @classmethod
    def check(cls, directory: str | Path, config: dict[str, Any] | StudyConfig,
              objective: Callable[[dict[str, Any]], Any] | None = None) -> StudyConfig:
        """Everything :meth:`create` checks, creating nothing."""
        return files.prepare(Path(directory), config, objective)[1]

    @classmethod
    def open(cls, directory: str | Path,
             objective: Callable[[dict[str, Any]], Any] | None = None) -> "Study":
        """An existing study, to resume or read; a damaged file is one line (StorageError)."""
        storage, cfg, obj = files.open_study(Path(directory), objective)
        return cls(Path(directory), cfg, storage, obj)

    def close(self) -> None:
        self.storage.close()

    # -- the loop -----------------------------------------------------------
    def run(self, progress: Callable[[Progress], None] | None = None) -> Progress:
        """Run (or continue) until the budget is spent. Raises :class:`Interrupted` on a signal."""
        if self.storage.meta("state") == "finished":
            search = files.continued_search(self.config, self.storage, self.storage.current_state())
            final = self._progress(search, self.storage.meta("driver_elapsed_s", 0.0), 0, finished=True)
            if self.config.tracking:  # what the trackers missed while the study ran
                files.catch_up_trackers(self.config, self.storage, self.directory, final.totals())
            return final
        lock = self._lock = DriverLock(self.directory)
        try:
            self._tracker = files.open_tracker(self.config, self.storage, self.directory)
            self._recorder.meters, sources = files.open_configured_meters(self.config)
            # One environment per run session: a resumed study may run on another node or software.
            self.storage.set_meta(energy_sources={**sources, "estimate": "ok"},
                                  environments=[*self.storage.meta("environments", []),
                                                collect_environment()])
            files.end_leftovers(self.storage)
        except BaseException:
            lock.release()
            raise
        old_handlers = {s: signal.signal(s, self._on_signal)
                        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
        try:
            self.storage.set_meta(state="running")
            result = self._loop(progress)
            self.storage.set_meta(state="finished")
            self._tracker.close("finished", result.totals())
            return result
        except Interrupted:
            self.storage.set_meta(state="interrupted")
            self._tracker.close("interrupted", self._progress(
                None, self.storage.meta("driver_elapsed_s", 0.0), 0).totals())
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

    def _loop(self, progress: Callable[[Progress], None] | None) -> Progress:
        current = self.storage.current_state()
        search = files.continued_search(self.config, self.storage, current)
        elapsed_before = current["driver_elapsed_s"] if current else 0.0
        session_start = time.monotonic()
        executor = files.make_executor(self.config, self.objective, self.directory,
                                       (self._lock.fd,) if self._lock is not None else ())
        (self.directory / "trials").mkdir(exist_ok=True)
        stored = self.storage.trials()
        self._tally, self._answers = Tally.of(stored, self.config), RecordedAnswers(stored)
        outstanding = outstanding_trials(search, stored, self.config, self.storage)
        self._teller = Teller(self.config, self._tally, self._answers, self.storage.next_told_seq(),
                              [t for t in outstanding if t.status in (COMPLETE, FAILED)])
        queue = [t for t in outstanding if t.status not in (COMPLETE, FAILED)]
        running: dict[int, TrialRecord] = {}
        waiting: list[TrialRecord] = []

        def elapsed() -> float:
            return elapsed_before + time.monotonic() - session_start

        def report() -> None:
            if progress is not None:
                progress(self._progress(search, elapsed(), len(executor.running), live=self._live.trials))

        # A trial whose Slurm job outlived the previous driver (requeued) is followed, not rerun.
        for trial in [t for t in queue if t.status == RUNNING and t.job_id and executor.outlives_driver]:
            queue.remove(trial)
            executor.attach(trial.number, trial.job_id, dict(trial.params), trial_dir(self.directory, trial.number))
            self._recorder.start(trial.number)
            running[trial.number] = trial
        self._settle(search, [], elapsed())  # results an older driver stored but did not tell
        report()
        try:
            while True:
                if self._stop_signal is not None:
                    raise Interrupted(signal.Signals(self._stop_signal).name)
                queue[:0], waiting = waiting, []  # their twins may have finished
                starting, repeats, waiting = self._fill(search, executor, queue, running, elapsed)
                if repeats:
                    self._settle(search, repeats, elapsed())
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
                self._recorder.poll()
                if ended:
                    done = [self._recorder.finish(running.pop(n), outcome) for n, outcome in ended]
                    for trial in done:
                        self._answers.remember(trial)
                    self._settle(search, done, elapsed())
                    self._live.drop({t.number for t in done})
                watched = self._live.watch(executor, running, elapsed())
                self._tracker.poll(list(running.values()))
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
        self._live.clear()
        final = self._progress(search, elapsed(), 0, finished=True)
        if progress is not None:
            progress(final)
        return final

    def _fill(self, search: Search, executor: Executor, queue: list[TrialRecord],
              running: dict[int, TrialRecord], elapsed: Callable[[], float]
              ) -> tuple[list[TrialRecord], list[TrialRecord], list[TrialRecord]]:
        """Trials for the free slots: first the queue (asked before, not yet run), then new
        asks, until the slots are full, the budget is spent or the search waits.

        Returns those to start, those answered from the record, and those waiting for a twin
        that is training now (they go back to the queue)."""
        starting: list[TrialRecord] = []
        repeats: list[TrialRecord] = []
        waiting: list[TrialRecord] = []
        busy = {params_key(t.params) for t in running.values()}
        while (executor.free_slots > len(starting) + len(waiting) and not self._spent(
                elapsed(), [*running.values(), *starting, *repeats, *waiting])):
            trial = queue.pop(0) if queue else self._ask(search, elapsed())
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

    def _ask(self, search: Search, elapsed: float) -> TrialRecord | None:
        """A new candidate as a stored trial (with the search's state after the ask), or None."""
        candidate = search.ask()
        if candidate is None:
            return None
        trial = trial_of(candidate, self.config, self.storage)
        trial.asked_after = self._teller.told_seq
        state, history = search.state_parts()
        self.storage.add_asked([trial], state, search.evaluations, elapsed, history)
        return trial

    def _settle(self, search: Search, finished: list[TrialRecord], elapsed: float) -> None:
        """Tell what can be told of the finished trials, and store them with the state after."""
        generation = search.generation
        changed = self._teller.tell(search, finished)
        if changed:
            state, history = search.state_parts()
            self.storage.record_told(changed, state, search.evaluations, elapsed,
                                     summary=search.summary() if search.generation > generation else None,
                                     history=history)
        for trial in finished:  # once stored
            self._tracker.trial_finished(trial)

    def _start(self, executor: Executor, trials: list[TrialRecord]) -> None:
        now = time.time()
        for trial in trials:
            # What an earlier, killed attempt reported is not this attempt's progress.
            (trial_dir(self.directory, trial.number) / PROGRESS_FILE).unlink(missing_ok=True)
            prepare_directory(trial, self.config, self.storage, self.directory)
        executor.submit_many([(t.number, dict(t.params), self.directory / "trials" / f"{t.number:06d}.log",
                               trial_dir(self.directory, t.number)) for t in trials])
        for trial in trials:  # once the executor has given each trial its GPUs
            self._recorder.start(trial.number, *executor.devices(trial.number))
        # One transaction per batch, once the processes or jobs exist and can be named in it.
        for trial in trials:
            trial.status, trial.attempt, trial.started_at = RUNNING, trial.attempt + 1, now
            trial.job_id = executor.job_id(trial.number)
            trial.pgid, trial.pgid_start = executor.process_group(trial.number)
        self.storage.update_trials(trials, ("status", "attempt", "started_at", "job_id", "pgid",
                                            "pgid_start"))
        for trial in trials:
            self._tracker.trial_started(trial)

    def _spent(self, elapsed: float, started: list[TrialRecord]) -> bool:
        """True when no further trial may start, with ``started`` trials under way."""
        units = sum(trial_units(t, self._tally.max_fidelity) for t in started)
        return budget_spent(self.config.budget, self._tally, elapsed, units)

    def _progress(self, search: Search | None, elapsed: float, running: int,
                  finished: bool = False, live: tuple = ()) -> Progress:
        return Progress.of(self._tally or Tally.of(self.storage.trials(), self.config), self.config,
                           search.generation if search is not None else 0, elapsed, running, finished, live)


_STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)
