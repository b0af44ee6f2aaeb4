"""Trials as Slurm jobs: each batch of trials is one job array, submitted through submitit.

Results come back as JSON files in the study directory (a shared file system);
job states and accounting come from one batched ``sacct`` call per poll
interval for all unfinished jobs, never one call per job. A record is read as
final once its state is terminal, its Partition is set and it has not changed
for ``settle_s`` (sacct keeps filling it in for about 3 s after a job ends).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable

from ..energy.sacct import FIELDS, JobAccounting, SacctError, parse_sacct
from .base import Executor
from .outcome import TrialOutcome, interpret_result
from .trial import run_trial

DEFAULT_RETRY = {"NODE_FAIL": 2, "PREEMPTED": 2}
SACCT_FORMAT = ",".join(FIELDS)


class SlurmError(RuntimeError):
    """Slurm could not be reached or refused a submission."""


@dataclass
class _Job:
    key: Hashable
    job_id: str
    params: dict[str, Any]
    result_path: Path
    workdir: Path | None
    submitted_at: float
    retries: dict[str, int] = field(default_factory=dict)
    terminal_since: float | None = None
    last_raw: list[str] | None = None


def sacct_command(job_ids: list[str]) -> list[str]:
    return ["sacct", "-j", ",".join(job_ids), f"--format={SACCT_FORMAT}", "--parsable2", "--noconvert"]


class SlurmExecutor(Executor):
    """Submit trials as job arrays and collect them from their result files and sacct."""

    outlives_driver = True  # a job runs on when the driver is requeued

    def __init__(self, objective: Callable[[dict[str, Any]], Any], *, folder: Path,
                 result_key: str = "objective", partition: str | None = None, account: str | None = None,
                 qos: str | None = None, time_min: int = 10, cpus_per_trial: int = 1, gpus_per_trial: int = 0,
                 mem_mb: int | None = None, constraint: str | None = None,
                 sbatch: dict[str, Any] | None = None, array_throttle: int | None = None,
                 poll_interval: float = 2.0, settle_s: float = 3.0, retry: dict[str, int] | None = None,
                 workers: int | None = None,
                 job_name: str = "autodehypo-trial"):
        if shutil.which("sbatch") is None or shutil.which("sacct") is None:
            raise SlurmError("the slurm executor needs sbatch and sacct on the PATH (run the driver on a "
                             "login node or inside a job)")
        self.objective = objective
        self.folder = Path(folder)
        self.result_key = result_key
        self.poll_interval, self.settle_s = float(poll_interval), float(settle_s)
        self.retry = dict(DEFAULT_RETRY if retry is None else retry)
        self.parameters: dict[str, Any] = {"time": int(time_min), "cpus_per_task": int(cpus_per_trial),
                                           "job_name": job_name, "ntasks_per_node": 1, "nodes": 1}
        for key, value in (("partition", partition), ("account", account), ("qos", qos),
                           ("constraint", constraint), ("array_parallelism", array_throttle)):
            if value is not None:
                self.parameters[key] = value
        if gpus_per_trial:
            self.parameters["gpus_per_node"] = int(gpus_per_trial)
        if mem_mb:
            self.parameters["mem"] = f"{int(mem_mb)}M"
        if sbatch:
            self.parameters["additional_parameters"] = dict(sbatch)
        self.workers = workers
        self.jobs: dict[Hashable, _Job] = {}
        self.sacct_calls = 0
        self._next_poll = 0.0

    # -- the executor interface ----------------------------------------------
    @property
    def free_slots(self) -> int:
        # Without a limit, Slurm queues what it gets (the array throttle limits what runs at once);
        # with one, at most that many trial jobs are queued or running.
        return 1 << 30 if self.workers is None else max(0, self.workers - len(self.jobs))

    @property
    def running(self) -> list[Hashable]:
        return list(self.jobs)

    def submit_many(self, items: list[tuple[Hashable, dict[str, Any], Path | None, Path | None]]) -> None:
        """One job array for all the given trials."""
        import submitit
        if not items:
            return
        executor = submitit.SlurmExecutor(folder=self.folder / "jobs" / "%j", max_num_timeout=0)
        # No submitit signal handling: a trial that runs out of time is a TIMEOUT, and the
        # driver, not submitit, decides on retries.
        executor.update_parameters(signal_delay_s=0, **self.parameters)
        results = [self.folder / "results" / f"{key}.json" for key, *_ in items]
        for path in results:
            path.unlink(missing_ok=True)
        # A driver that is itself a Slurm job must not pass its own allocation (SLURM_MEM_PER_NODE,
        # SLURM_JOB_ID, ...) on to the trial jobs: srun refuses conflicting settings.
        inherited = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("SLURM_")}
        try:
            submitted = executor.map_array(
                run_trial, [self.objective] * len(items), [dict(p) for _, p, _, _ in items],
                [str(r) for r in results], [str(w) if w else None for *_, w in items])
        except Exception as exc:  # submitit wraps sbatch failures in several types
            text = str(exc).strip()
            raise SlurmError(f"sbatch failed: {text.splitlines()[-1] if text else exc!r}") from None
        finally:
            os.environ.update(inherited)
        now = time.time()
        for (key, params, _, workdir), job, result in zip(items, submitted, results):
            previous = self.jobs.get(key)
            self.jobs[key] = _Job(key, str(job.job_id), dict(params), result, workdir, now,
                                  dict(previous.retries) if previous else {})

    def job_id(self, key: Hashable) -> str | None:
        job = self.jobs.get(key)
        return job.job_id if job else None

    def attach(self, key: Hashable, job_id: str, params: dict[str, Any], workdir: Path | None = None) -> None:
        """Follow a job submitted by an earlier driver (after a requeue of the driver)."""
        self.jobs[key] = _Job(key, job_id, dict(params), self.folder / "results" / f"{key}.json", workdir,
                              time.time())

    def wait(self, timeout: float | None = None) -> list[tuple[Hashable, TrialOutcome]]:
        if not self.jobs:
            return []
        delay = max(0.0, self._next_poll - time.monotonic())
        if timeout is not None and delay > timeout:
            time.sleep(timeout)
            return []
        time.sleep(delay)
        self._next_poll = time.monotonic() + self.poll_interval
        records = self._sacct([j.job_id for j in self.jobs.values()])
        finished = []
        now = time.monotonic()
        for key, job in list(self.jobs.items()):
            record = records.get(job.job_id)
            if record is None or not record.terminal:
                job.terminal_since, job.last_raw = None, None
                continue
            if record.raw != job.last_raw or not record.partition:
                job.terminal_since, job.last_raw = now, record.raw  # still being filled in
                continue
            if now - job.terminal_since < self.settle_s:
                continue
            if self._retry(job, record):
                continue
            del self.jobs[key]
            finished.append((key, self._outcome(job, record)))
        return finished

    def kill_all(self) -> None:
        """Cancel every tracked job (the driver is stopping for good)."""
        ids = [j.job_id for j in self.jobs.values()]
        if ids:
            subprocess.run(["scancel", *ids], capture_output=True, text=True)
        self.jobs.clear()

    def detach(self) -> None:
        """Forget the jobs without cancelling them: a requeued driver attaches to them again."""
        self.jobs.clear()

    # -- internals ------------------------------------------------------------
    def _sacct(self, job_ids: list[str]) -> dict[str, JobAccounting]:
        self.sacct_calls += 1
        try:
            out = subprocess.run(sacct_command(job_ids), capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return {}  # unknown for now: ask again at the next poll
        if out.returncode != 0:
            return {}
        try:
            return parse_sacct(out.stdout, delimiter="|")
        except SacctError:
            return {}

    def _retry(self, job: _Job, record: JobAccounting) -> bool:
        limit = self.retry.get(record.state, 0)
        used = job.retries.get(record.state, 0)
        if used >= limit:
            return False
        job.retries[record.state] = used + 1
        self.submit_many([(job.key, job.params, None, job.workdir)])
        return True

    def _outcome(self, job: _Job, record: JobAccounting) -> TrialOutcome:
        reading = record.energy()
        reading.detail["sacct"] = record.raw
        reading.detail.update(partition=record.partition, elapsed_s=record.elapsed_s,
                              cpu_time_s=record.cpu_time_s, exit_code=record.exit_code)
        outcome = TrialOutcome(ok=False, elapsed_s=record.elapsed_s, cpu_time_s=record.cpu_time_s,
                               energy=[reading])
        payload = None
        if job.result_path.is_file():
            try:
                payload = json.loads(job.result_path.read_text())
            except (OSError, json.JSONDecodeError):
                payload = None
        if payload:
            outcome.started_at, outcome.ended_at = payload.get("started_at"), payload.get("ended_at")
            outcome.host, outcome.peak_rss_mb = payload.get("host"), payload.get("peak_rss_mb")
        outcome.metrics = {"slurm_job_id": job.job_id, "slurm_state": record.state}
        if record.state != "COMPLETED":
            log = self.folder / "jobs" / job.job_id / f"{job.job_id}_0_log.err"
            outcome.error = (f"Slurm job {job.job_id} ended {record.state} (exit code {record.exit_code}); "
                             f"see {log}")
        elif payload is None:
            outcome.error = f"Slurm job {job.job_id} completed without writing its result"
        elif not payload.get("ok"):
            outcome.error = payload.get("error") or "trial failed"
        else:
            value, metrics, error = interpret_result(payload.get("result"), self.result_key)
            outcome.value, outcome.error, outcome.ok = value, error, error is None
            outcome.metrics.update(metrics)
        return outcome
