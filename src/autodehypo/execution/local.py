"""Trials on this machine, each in its own forked process.

A trial that raises, returns NaN, segfaults, calls ``os._exit`` or outlives its
timeout only ever takes its own process down: the driver reaps it with
``wait4`` (which also yields the child's CPU time and peak memory, even after a
crash) and records why it failed. Each trial leads its own process group, and
when it ends, whatever it started and left running ends with it.
"""

from __future__ import annotations

import faulthandler
import json
import os
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable

from ..energy.nvml import visible_entries
from ..processes import die_with_parent, process_start
from .base import Executor
from . import trial
from .outcome import TrialOutcome, interpret_result

def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    return available_cores()


def visible_gpus() -> list[str]:
    """The GPUs trials may use: CUDA_VISIBLE_DEVICES' entries (indices or UUIDs) where it is set,
    else every GPU NVML counts, else none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return visible_entries(visible)
    try:
        import pynvml
        pynvml.nvmlInit()
        return [str(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # no package, no driver, no GPU: a CPU machine
        return []


def gpu_share(per_trial: float) -> tuple[int, int]:
    """(GPUs per trial, trials per GPU) for ``gpus_per_trial`` > 0: N whole GPUs each, or one GPU
    shared by k trials for 1/k (0.5, 0.25, ...); ValueError for anything else."""
    if per_trial >= 1 and per_trial == int(per_trial):
        return int(per_trial), 1
    if 0 < per_trial < 1 and abs(round(1 / per_trial) * per_trial - 1) <= 1e-9:
        return 1, round(1 / per_trial)
    raise ValueError(f"gpus_per_trial: a whole number of GPUs or a share 1/k of one (0.5, 0.25, ...), "
                     f"got {per_trial!r}")


class GpuPool:
    """GPUs handed to trials: ``per_trial`` GPUs each (a whole number), or one GPU shared by
    ``1 / per_trial`` trials (0.5, 0.25, ...; only when asked)."""

    def __init__(self, gpus: list[str], per_trial: float, workers: int):
        self.size, shares = gpu_share(per_trial)
        self.shares = shares
        capacity = len(gpus) * shares // self.size
        if workers > capacity:
            need = workers * self.size // shares + (workers * self.size % shares > 0)
            raise ValueError(f"workers: {workers} trials at once with gpus_per_trial = {per_trial:g} need "
                             f"{need} GPU(s); {len(gpus)} visible ({','.join(gpus) or 'none'}): set workers "
                             f"<= {capacity}" + (" or share GPUs (gpus_per_trial = 0.5, ...)" if shares == 1 else ""))
        self.gpus = list(gpus)
        self.free = {gpu: shares for gpu in gpus}  # trials each GPU may still take

    @property
    def available(self) -> int:
        """How many more trials can get their GPUs now."""
        return sum(self.free.values()) // self.size

    def take(self) -> list[str]:
        # The least used first: shared GPUs fill evenly.
        chosen = sorted((g for g in self.gpus if self.free[g]), key=lambda g: (-self.free[g], self.gpus.index(g)))
        chosen = chosen[:self.size]
        for g in chosen:
            self.free[g] -= 1
        return chosen

    def give_back(self, gpus: list[str]) -> None:
        for g in gpus:
            self.free[g] += 1


@dataclass
class _Running:
    pid: int
    fd: int
    started_at: float
    started_mono: float
    deadline: float | None
    buffer: bytearray
    start: str | None = None  # the leader's identity across pid reuse (processes.process_start)
    timed_out: bool = False
    gpus: list[str] | None = None  # its CUDA_VISIBLE_DEVICES, where the executor hands out GPUs


class LocalExecutor(Executor):
    """Runs up to ``workers`` trials at once, each in a fresh child process.

    ``objective(params)`` runs in the child with ``threads_per_trial`` threads
    for OpenMP, MKL, OpenBLAS and PyTorch (default: cores // workers, because
    oversubscribed PyTorch processes slow down by an order of magnitude).

    ``gpus_per_trial``: 0 (default) leaves the GPUs alone (every trial sees all of them); N gives
    each trial N GPUs of its own through ``CUDA_VISIBLE_DEVICES``; 0.5, 0.25, ... lets 2, 4, ...
    trials share one GPU; ``"auto"`` splits the visible GPUs (``gpus``, default
    :func:`visible_gpus`) evenly among the workers, or is 0 without GPUs. Without ``workers``
    there are as many workers as the GPUs allow.
    """

    def __init__(self, objective: Callable[[dict[str, Any]], Any], *, workers: int | None = None,
                 timeout: float | None = None, threads_per_trial: int | None = None,
                 result_key: str = "objective", gpus_per_trial: float | str = 0,
                 gpus: list[str] | None = None):
        self.gpu_pool: GpuPool | None = None
        if gpus_per_trial != 0:
            gpus = visible_gpus() if gpus is None else list(gpus)
            if gpus_per_trial == "auto":
                if workers is not None and workers > len(gpus) > 0:
                    raise ValueError(f"workers: {workers} trials at once but {len(gpus)} GPU(s) visible "
                                     f"({','.join(gpus)}); set workers <= {len(gpus)}, or gpus_per_trial = "
                                     "0.5 (or less) to share GPUs")
                gpus_per_trial = len(gpus) // (workers or len(gpus)) if gpus else 0
            if gpus_per_trial:
                if workers is None:
                    workers = max(1, int(len(gpus) / gpus_per_trial))
                self.gpu_pool = GpuPool(gpus, float(gpus_per_trial), workers)
        self.workers = default_workers() if workers is None else workers
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.timeout = timeout
        self.threads_per_trial = threads_per_trial or max(1, available_cores() // self.workers)
        self.objective = objective
        self.result_key = result_key
        self.host = socket.gethostname()
        # Descriptors a trial must not keep open, such as the driver's lock: a forked child shares
        # the lock's open file, so the study would look driven until the child died too.
        self.close_in_child: tuple[int, ...] = ()
        self._running: dict[Hashable, _Running] = {}

    # -- public -------------------------------------------------------------
    @property
    def free_slots(self) -> int:
        free = self.workers - len(self._running)
        return free if self.gpu_pool is None else min(free, self.gpu_pool.available)

    def devices(self, key: Hashable) -> tuple[list[str] | None, bool]:
        run = self._running.get(key)
        gpus = None if run is None else run.gpus
        return gpus, gpus is not None and self.gpu_pool is not None and self.gpu_pool.shares == 1

    @property
    def running(self) -> list[Hashable]:
        return list(self._running)

    def submit(self, key: Hashable, params: dict[str, Any], log_path: Path | None = None,
               workdir: Path | None = None) -> None:
        """Start a trial. ``workdir`` (for checkpoints) reaches it as $AUTODEHYPO_TRIAL_DIR."""
        if self.free_slots <= 0:
            raise RuntimeError("no free worker slot")
        gpus = self.gpu_pool.take() if self.gpu_pool is not None else None
        read_fd, write_fd = os.pipe()
        started_at, started_mono = time.time(), time.monotonic()
        pid = os.fork()
        if pid == 0:  # the child never returns from here
            os.close(read_fd)
            self._child(params, write_fd, log_path, workdir, gpus)
        os.close(write_fd)
        try:
            os.setpgid(pid, pid)
        except OSError:  # the child already did it or already exited
            pass
        os.set_blocking(read_fd, False)
        deadline = started_mono + self.timeout if self.timeout else None
        self._running[key] = _Running(pid, read_fd, started_at, started_mono, deadline, bytearray(),
                                      process_start(pid), gpus=gpus)

    def submit_many(self, items: list[tuple[Hashable, dict[str, Any], Path | None, Path | None]]) -> None:
        for key, params, log_path, workdir in items:
            self.submit(key, params, log_path, workdir)

    def process_group(self, key: Hashable) -> tuple[int, str | None]:
        """The trial's process group and its leader's start, for a resumed driver to end it."""
        run = self._running[key]
        return run.pid, run.start

    def wait(self, timeout: float | None = None) -> list[tuple[Hashable, TrialOutcome]]:
        """Wait up to ``timeout`` seconds for trials to end; return those that ended."""
        if not self._running:
            return []
        now = time.monotonic()
        limit = timeout if timeout is not None else 3600.0
        deadlines = [r.deadline - now for r in self._running.values() if r.deadline is not None]
        limit = max(0.0, min([limit] + deadlines))
        fds = {r.fd: key for key, r in self._running.items()}
        try:
            ready, _, _ = select.select(list(fds), [], [], limit)
        except InterruptedError:
            ready = []
        finished = []
        for fd in ready:
            key = fds[fd]
            if self._drain(self._running[key]):
                finished.append(key)
        now = time.monotonic()
        for key, run in self._running.items():
            if key not in finished and run.deadline is not None and now >= run.deadline:
                run.timed_out = True
                _kill_group(run.pid)
                finished.append(key)
        return [(key, self._reap(key)) for key in finished]

    def cpu_seconds(self, key: Hashable) -> float | None:
        """CPU time of a running trial so far: its process and the children it has waited for."""
        run = self._running.get(key)
        if run is None:
            return None
        try:
            with open(f"/proc/{run.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):  # not Linux, or the trial just ended
            return None
        # utime, stime, cutime, cstime: fields 14-17 of proc(5), counted after the ")"
        return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")

    def kill_all(self) -> None:
        """Stop every running trial without recording it (the driver is stopping)."""
        for key in list(self._running):
            _kill_group(self._running[key].pid)
            self._reap(key)

    # -- internals ----------------------------------------------------------
    def _child(self, params: dict[str, Any], write_fd: int, log_path: Path | None,
               workdir: Path | None, gpus: list[str] | None) -> None:
        status = 0
        try:
            for fd in self.close_in_child:
                os.close(fd)
            os.setpgid(0, 0)
            die_with_parent()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
                signal.signal(sig, signal.SIG_DFL)
            if log_path is not None:
                log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(log_fd, 1)
                os.dup2(log_fd, 2)
                os.close(log_fd)
                # The inherited sys.stdout may not write to fd 1 (pytest, notebooks).
                sys.stdout = open(1, "w", buffering=1, closefd=False)
                sys.stderr = open(2, "w", buffering=1, closefd=False)
                if faulthandler.is_enabled():  # send a crash's traceback to the trial's log
                    faulthandler.enable(file=sys.stderr)
            trial.enter(self.threads_per_trial, workdir, gpus)  # GPUs before the objective initialises CUDA
            data = trial.encode(trial.run(self.objective, params, catch=BaseException))
            sys.stdout.flush()
            sys.stderr.flush()
            view = memoryview(data.encode())
            while view:
                view = view[os.write(write_fd, view):]
        except BaseException:
            status = 70
        finally:
            os._exit(status)

    def _drain(self, run: _Running) -> bool:
        """Read what the child wrote; True at end of file."""
        while True:
            try:
                chunk = os.read(run.fd, 1 << 16)
            except BlockingIOError:
                return False
            if not chunk:
                return True
            run.buffer.extend(chunk)

    def _reap(self, key: Hashable) -> TrialOutcome:
        run = self._running.pop(key)
        if run.gpus is not None:
            self.gpu_pool.give_back(run.gpus)
        try:  # wait for the exit but keep the zombie: its pid, the group's id, cannot be reused yet
            os.waitid(os.P_PID, run.pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            pass
        _kill_group(run.pid)  # what the trial started and left running (a command's children)
        _, status, usage = os.wait4(run.pid, 0)
        self._drain(run)
        os.close(run.fd)
        ended_at, elapsed = time.time(), time.monotonic() - run.started_mono
        peak = usage.ru_maxrss / (1024.0 if sys.platform.startswith("linux") else 1024.0 ** 2)
        outcome = TrialOutcome(ok=False, started_at=run.started_at, ended_at=ended_at,
                               elapsed_s=elapsed, cpu_time_s=usage.ru_utime + usage.ru_stime,
                               peak_rss_mb=peak, host=self.host, gpus=run.gpus,
                               gpu_seconds=elapsed * len(run.gpus) / self.gpu_pool.shares if run.gpus else 0.0)
        payload = _parse(run.buffer)
        if run.timed_out:
            outcome.error = f"timed out after {self.timeout:g} s"
        elif payload is None:
            outcome.error = _exit_reason(status)
        elif not payload.get("ok"):
            outcome.error = payload.get("error") or "trial failed"
        else:
            outcome.value, outcome.metrics, outcome.error = interpret_result(
                payload.get("result"), self.result_key)
            outcome.ok = outcome.error is None
        return outcome


def _kill_group(pid: int) -> None:
    """SIGKILL the trial and whatever it started (it leads its own process group)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _parse(buffer: bytearray) -> dict[str, Any] | None:
    if not buffer:
        return None
    try:
        payload = json.loads(buffer.decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _exit_reason(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"killed by signal {name} before returning a result"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return f"exited with code {code} before returning a result"
