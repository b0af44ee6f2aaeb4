"""The contract every executor meets, so that the study loop never asks which one it has."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Hashable

from .outcome import TrialOutcome


class Executor(ABC):
    """Where trials run: start them, wait for their outcomes, end them.

    What only some executors can do has a default here: a trial that outlives the driver
    (``outlives_driver``: a Slurm job) is followed again with :meth:`attach` and left running
    with :meth:`detach`; a local trial has a process group (:meth:`process_group`) and a CPU
    time while it runs (:meth:`cpu_seconds`).
    """

    outlives_driver = False

    @property
    @abstractmethod
    def free_slots(self) -> int:
        """How many more trials may start now."""

    @property
    @abstractmethod
    def running(self) -> list[Hashable]:
        """The keys of the trials started and not yet reported."""

    @abstractmethod
    def submit_many(self, items: list[tuple[Hashable, dict[str, Any], Path | None, Path | None]]) -> None:
        """Start trials: (key, params, log file, trial directory) each."""

    def submit(self, key: Hashable, params: dict[str, Any], log_path: Path | None = None,
               workdir: Path | None = None) -> None:
        self.submit_many([(key, params, log_path, workdir)])

    @abstractmethod
    def wait(self, timeout: float | None = None) -> list[tuple[Hashable, TrialOutcome]]:
        """Wait up to ``timeout`` seconds; the trials that ended, with their outcomes."""

    @abstractmethod
    def kill_all(self) -> None:
        """End every running trial (the driver stops; they run again on resume)."""

    def job_id(self, key: Hashable) -> str | None:
        """The scheduler's name for the trial's job, or None where trials are not jobs."""
        return None

    def attach(self, key: Hashable, job_id: str, params: dict[str, Any], workdir: Path | None = None) -> None:
        """Follow a trial that an earlier driver started and that outlived it."""
        raise NotImplementedError(f"{type(self).__name__}: trials do not outlive the driver")

    def detach(self) -> None:
        """Stop following the running trials and leave them running, for a later driver."""
        raise NotImplementedError(f"{type(self).__name__}: trials do not outlive the driver")

    def process_group(self, key: Hashable) -> tuple[int | None, str | None]:
        """The trial's process group and its leader's start, for a resumed driver to end it."""
        return None, None

    def devices(self, key: Hashable) -> tuple[list[str] | None, bool]:
        """The GPUs a running trial was given (None: not handed out by this executor) and whether
        they are its alone, so that their energy counters are the trial's own."""
        return None, False

    def cpu_seconds(self, key: Hashable) -> float | None:
        """CPU time the running trial has used so far, where this executor can see it."""
        return None
