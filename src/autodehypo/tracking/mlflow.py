"""The study in MLflow: a parent run for the study, a nested run per trial.

A trial's run holds its parameters, its value (or each objective's), elapsed and CPU time,
peak memory, energy in joules with its source as a tag, its host and GPUs, its state (a failed
trial's run is FAILED, with the reason as a tag) and, step by step, what the trial reported per
epoch (loss, val_error, images/s, ...) as it reported it.

Runs are found again by tags (the study's uid, the trial's number), never created twice: a
driver killed between storing a trial and sending it, or a resumed study, sends what is
missing when it starts (:meth:`MlflowTracker.catch_up`). A call that fails is kept, in order,
and retried (after 5 s, then less often, up to a minute apart); the first failure is said in
one line, and what could not be sent by the end is said in one line too.

A new SQLite store is made whole under another name and then linked into place: MLflow makes
its tables and runs its migrations in many steps, and a store killed halfway cannot be opened
again ("index ... already exists"), so a driver killed at that moment would leave one behind.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable

from ..storage import COMPLETE, FAILED, TrialRecord
from ..trial_progress import read_progress_since
from . import Tracker

STUDY_TAG, TRIAL_TAG, ROLE_TAG = "autodehypo_study", "autodehypo_trial", "autodehypo_role"
# Entries of a progress line that are not metrics of the training.
_NOT_METRICS = {"time", "cpu_s", "epoch", "epochs"}
_FIRST_RETRY_S, _LAST_RETRY_S = 5.0, 60.0
_POLL_S = 1.0


def metric_key(name: str) -> str:
    """A name as MLflow takes it (letters, digits, _ - . / and spaces)."""
    return re.sub(r"[^\w\-./ ]", "_", name)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


class MlflowTracker(Tracker):
    def __init__(self, options: dict[str, str], *, study_name: str, study_uid: str, directory: Path,
                 config: dict[str, Any]):
        # A tracking server that does not answer must cost the driver seconds, not MLflow's
        # default minutes of retries with backoff; a user's own settings win.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        self.uri = options.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI") or None
        self._client: Any = None
        self.experiment = options.get("experiment", study_name)
        self.study_name, self.study_uid, self.directory = study_name, study_uid, Path(directory)
        self.config = config
        self._parent: str | None = None
        self._experiment_cache: str | None = None
        self._unsent_params: dict[str, dict[str, Any]] = {}  # by run id: made, parameters not sent yet
        self._runs: dict[int, str] | None = None  # trial number -> run id, read once from MLflow
        self._offsets: dict[int, int] = {}  # how far each running trial's progress file was sent
        self._pending: list[Callable[[], None]] = []
        self._retry_at, self._backoff = 0.0, _FIRST_RETRY_S
        self._polled_at = 0.0
        self._failure: str | None = None  # the first failure, said once
        self._said = False

    # -- the driver's calls ---------------------------------------------------
    def catch_up(self, trials: list[TrialRecord]) -> None:
        """Send the finished trials an earlier driver stored but MLflow does not have as ended."""
        def send() -> None:
            ended = self._ended_runs()
            for trial in trials:
                if trial.status in (COMPLETE, FAILED) and trial.number not in ended:
                    self._send_trial(trial, from_progress_file=trial.number not in self._index())
        self._do(send)

    def trial_started(self, trial: TrialRecord) -> None:
        self._offsets[trial.number] = 0  # the driver removed an earlier attempt's progress file
        number, params, attempt = trial.number, dict(trial.params), trial.attempt
        self._do(lambda: self._start_trial(number, params, attempt))

    def poll(self, running: list[TrialRecord]) -> None:
        now = time.monotonic()
        if now - self._polled_at < _POLL_S:
            return
        self._polled_at = now
        for trial in running:
            entries = self._new_progress(trial.number)
            if entries:
                self._do(lambda n=trial.number, e=entries: self._log_progress(n, e))

    def trial_finished(self, trial: TrialRecord) -> None:
        entries = self._new_progress(trial.number)
        self._offsets.pop(trial.number, None)
        if entries:
            self._do(lambda n=trial.number, e=entries: self._log_progress(n, e))
        self._do(lambda: self._send_trial(trial, from_progress_file=False))

    def close(self, state: str, summary: dict[str, Any]) -> None:
        def end() -> None:
            from mlflow.entities import Metric
            now = int(time.time() * 1000)
            metrics = [Metric(metric_key(k), v, now, 0) for k, v in summary.items()
                       if _number(v) is not None]
            self._batch(self._parent_run(), metrics=metrics)
            for number in list(self._offsets):  # stopped while running: they run again on resume
                if number in self._index():
                    self.client.set_terminated(self._index()[number], "KILLED")
                del self._offsets[number]
            self.client.set_terminated(self._parent_run(), "FINISHED" if state == "finished" else "KILLED")
        self._do(end)
        self._flush(force=True)
        if self._pending:
            print(f"autodehypo: MLflow at {self._where()}: {len(self._pending)} updates not sent "
                  f"({self._failure}); the study file holds them all, and running `autodehypo resume "
                  f"{self.directory}` again sends what is missing", file=sys.stderr, flush=True)

    # -- sending, in order, retried -----------------------------------------
    def _do(self, call: Callable[[], None]) -> None:
        self._pending.append(call)
        self._flush()

    def _flush(self, force: bool = False) -> None:
        if not force and time.monotonic() < self._retry_at:
            return
        while self._pending:
            try:
                self._pending[0]()
            except Exception as exc:  # any failure of the service or of the client: kept, retried
                self._failure = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
                self._retry_at = time.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, _LAST_RETRY_S)
                if not self._said:
                    self._said = True
                    print(f"autodehypo: MLflow at {self._where()}: {self._failure}; the study goes on "
                          "and tracking is retried", file=sys.stderr, flush=True)
                return
            self._pending.pop(0)
            self._backoff = _FIRST_RETRY_S

    def _where(self) -> str:
        return self.uri or "MLflow's default tracking URI"

    @property
    def client(self) -> Any:
        """MLflow's client, made at the first call: opening a store can fail like any call."""
        if self._client is None:
            from mlflow.tracking import MlflowClient
            path = _sqlite_path(self.uri)
            if path is not None and not path.exists():
                _create_store(path)
            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    # -- runs ------------------------------------------------------------------
    def _experiment_id(self) -> str:
        if self._experiment_cache is None:
            found = self.client.get_experiment_by_name(self.experiment)
            if found is None:
                try:
                    self._experiment_cache = self.client.create_experiment(self.experiment)
                    return self._experiment_cache
                except Exception:  # created meanwhile by another study
                    found = self.client.get_experiment_by_name(self.experiment)
                    if found is None:
                        raise
            self._experiment_cache = found.experiment_id
        return self._experiment_cache

    def _parent_run(self) -> str:
        if self._parent is None:
            experiment = self._experiment_id()
            runs = self._search([experiment], f"tags.{STUDY_TAG} = '{self.study_uid}' and "
                                              f"tags.{ROLE_TAG} = 'study'")
            if runs:
                self._parent = runs[0].info.run_id
                self.client.update_run(self._parent, status="RUNNING")
            else:
                run = self.client.create_run(experiment, run_name=self.study_name,
                                             tags={STUDY_TAG: self.study_uid, ROLE_TAG: "study",
                                                   "autodehypo_dir": str(self.directory.resolve())})
                self._parent = run.info.run_id
                # Not [study.tracking]: a tracking URI may hold a password.
                shown = {k: v for k, v in self.config.items() if k != "study"}
                shown["study"] = {k: v for k, v in self.config.get("study", {}).items() if k != "tracking"}
                self._unsent_params[self._parent] = _flatten(shown)
        self._send_params(self._parent)
        return self._parent

    def _search(self, experiments: list[str], filter_string: str) -> list:
        runs, token = [], None
        while True:
            page = self.client.search_runs(experiments, filter_string, max_results=1000, page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def _trial_runs(self) -> list:
        parent = self._parent_run()
        return self._search([self._experiment_id()], f"tags.mlflow.parentRunId = '{parent}'")

    def _index(self) -> dict[int, str]:
        if self._runs is None:
            self._runs = {int(r.data.tags[TRIAL_TAG]): r.info.run_id for r in self._trial_runs()
                          if r.data.tags.get(TRIAL_TAG, "").isdigit()}
        return self._runs

    def _ended_runs(self) -> set[int]:
        return {int(r.data.tags[TRIAL_TAG]) for r in self._trial_runs()
                if r.data.tags.get(TRIAL_TAG, "").isdigit() and r.info.status in ("FINISHED", "FAILED")}

    def _trial_run(self, number: int, params: dict[str, Any]) -> str:
        """The trial's run, made with its parameters the first time."""
        runs = self._index()
        if number not in runs:
            run = self.client.create_run(self._experiment_id(), run_name=f"trial {number}",
                                         tags={"mlflow.parentRunId": self._parent_run(),
                                               STUDY_TAG: self.study_uid, TRIAL_TAG: str(number)})
            runs[number] = run.info.run_id
            self._unsent_params[run.info.run_id] = params
        self._send_params(runs[number])
        return runs[number]

    def _send_params(self, run: str) -> None:
        """A new run's parameters, sent once (again after a failure, never to a second run)."""
        if run in self._unsent_params:
            self._batch(run, params=self._unsent_params[run])
            del self._unsent_params[run]

    def _start_trial(self, number: int, params: dict[str, Any], attempt: int) -> None:
        from mlflow.entities import RunTag
        if number in self._index():  # an attempt after one a stopped driver left
            self.client.update_run(self._index()[number], status="RUNNING")
        self._batch(self._trial_run(number, params), tags=[RunTag("autodehypo_attempt", str(attempt))])

    def _log_progress(self, number: int, entries: list[dict[str, Any]]) -> None:
        from mlflow.entities import Metric
        metrics = []
        for i, entry in enumerate(entries):
            step = entry.get("epoch") if isinstance(entry.get("epoch"), int) else i
            stamp = int(1000 * (_number(entry.get("time")) or time.time()))
            metrics += [Metric(metric_key(k), _number(v), stamp, step) for k, v in entry.items()
                        if k not in _NOT_METRICS and _number(v) is not None]
        self._batch(self._index()[number], metrics=metrics)

    def _send_trial(self, trial: TrialRecord, from_progress_file: bool) -> None:
        from mlflow.entities import Metric, RunTag
        run = self._trial_run(trial.number, trial.params)
        if from_progress_file:  # a run made now: what the trial reported, from its file
            entries, _ = read_progress_since(self.directory / "trials" / f"{trial.number:06d}", 0)
            if entries:
                self._log_progress(trial.number, entries)
        now = int(1000 * (trial.ended_at or time.time()))
        figures = {"value": trial.value, "elapsed_s": trial.elapsed_s, "cpu_time_s": trial.cpu_time_s,
                   "peak_rss_mb": trial.peak_rss_mb, "energy_j": trial.energy_j}
        if trial.objective_values:
            figures.update(zip(_objective_names(self.config), trial.objective_values))
        figures.update({f"result.{k}": v for k, v in trial.metrics.items() if _number(v) is not None})
        if trial.fidelity is not None:
            figures["fidelity"] = trial.fidelity
        metrics = [Metric(metric_key(k), _number(v), now, 0) for k, v in figures.items()
                   if _number(v) is not None]
        tags = {"state": trial.status, "energy_source": trial.energy_source or "none",
                "host": trial.host or "", "gpus": ",".join(trial.gpus or []),
                "error": (trial.error or "")[:5000]}
        if "repeat_of" in trial.metrics:
            tags["repeat_of"] = str(trial.metrics["repeat_of"])
        self._batch(run, metrics=metrics, tags=[RunTag(f"autodehypo_{k}", v) for k, v in tags.items() if v])
        self.client.set_terminated(run, "FINISHED" if trial.status == COMPLETE else "FAILED",
                                   end_time=now)

    def _batch(self, run: str, metrics: list | None = None, params: dict[str, Any] | None = None,
               tags: list | None = None) -> None:
        """log_batch within MLflow's limits per call (1000 metrics, 100 params, 100 tags)."""
        from mlflow.entities import Param
        params_list = [Param(metric_key(k), str(v)[:6000]) for k, v in (params or {}).items()]
        metrics, tags = list(metrics or []), list(tags or [])
        while metrics or params_list or tags:
            self.client.log_batch(run, metrics=metrics[:1000], params=params_list[:100], tags=tags[:100])
            metrics, params_list, tags = metrics[1000:], params_list[100:], tags[100:]

    def _new_progress(self, number: int) -> list[dict[str, Any]]:
        offset = self._offsets.get(number, 0)
        entries, self._offsets[number] = read_progress_since(
            self.directory / "trials" / f"{number:06d}", offset)
        return entries


def _sqlite_path(uri: str | None) -> Path | None:
    """The file of a ``sqlite:///`` tracking URI (None for any other URI, or an in-memory one)."""
    if not uri or not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def _create_store(path: Path) -> None:
    """Make MLflow's store at ``path`` whole or not at all: built in a file of its own beside
    it, then hard-linked to its name, which fails, leaving the store alone, if another driver
    made it meanwhile. What a killed build left is removed once its process is gone (by a
    driver on the same host)."""
    from mlflow.tracking import MlflowClient

    path.parent.mkdir(parents=True, exist_ok=True)
    # Named by host too: on a shared file system a build of another host is not ours to judge.
    prefix = f".{path.name}.building-{re.sub(r'[^A-Za-z0-9]', '_', socket.gethostname())}-"
    for left in path.parent.glob(prefix + "*"):  # the build and SQLite's journal beside it
        pid = left.name[len(prefix):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            left.unlink(missing_ok=True)
    building = path.parent / f"{prefix}{os.getpid()}"
    building.unlink(missing_ok=True)
    try:
        MlflowClient(tracking_uri=f"sqlite:///{building}").search_experiments(max_results=1)
        try:
            os.link(building, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: a rename, kept only if still missing
            if not path.exists():
                os.replace(building, path)
    finally:
        building.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's
        pass
    return True


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A config as MLflow parameters: ``study.population = 8``, ``space.lr.low = 0.0001``."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _objective_names(config: dict[str, Any]) -> list[str]:
    return [str(o.get("name")) for o in config.get("study", {}).get("objectives", []) if isinstance(o, dict)]
