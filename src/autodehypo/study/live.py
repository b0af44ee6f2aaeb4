"""What a running study shows: a snapshot for progress displays, and the running trials as seen
from the driver (elapsed time, CPU time, energy so far, what each last reported)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import StudyConfig
from ..energy import CpuTimeEstimate
from ..execution import Executor
from ..storage import TrialRecord
from ..trial_progress import read_progress, remove_live, write_live
from .budget import Tally
from .trials import trial_dir


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

    def totals(self) -> dict[str, float | None]:
        """The study's figures so far, for a tracker's summary."""
        return {"best_value": self.best_value, "evaluations": self.evaluations, "failed": self.failed,
                "energy_j": self.energy_j, "elapsed_s": self.elapsed_s}

    @classmethod
    def of(cls, tally: Tally, config: StudyConfig, generation: int, elapsed: float, running: int,
           finished: bool = False, live: tuple[LiveTrial, ...] = ()) -> "Progress":
        return cls(generation=generation, evaluations=tally.evaluations, failed=tally.failed,
                   running=running, best_value=tally.best_value, energy_j=tally.energy_j,
                   elapsed_s=elapsed, config=config, energy_sources=tuple(sorted(tally.energy_sources)),
                   finished=finished, live=live, front_size=len(tally.front) if config.objectives else None,
                   units=tally.units)


class LiveView:
    """About once a second, a look at the running trials. The snapshot feeds the progress bar
    and, through ``live.json``, ``status`` in another process."""

    def __init__(self, directory: Path, estimate: CpuTimeEstimate):
        self.directory, self.estimate = directory, estimate
        self.trials: tuple[LiveTrial, ...] = ()
        self._at = 0.0

    def watch(self, executor: Executor, running: dict[int, TrialRecord], elapsed: float) -> bool:
        """True when the snapshot was refreshed."""
        now = time.monotonic()
        if now - self._at < 1.0:
            return False
        self._at = now
        wall = time.time()
        live = []
        for number, trial in sorted(running.items()):
            report = read_progress(trial_dir(self.directory, number)) or {}
            cpu = executor.cpu_seconds(number)
            if cpu is None and isinstance(report.get("cpu_s"), (int, float)):
                cpu = float(report["cpu_s"])
            live.append(LiveTrial(number, wall - (trial.started_at or wall), cpu,
                                  self.estimate.reading(cpu).joules if cpu is not None else None, report))
        self.trials = tuple(live)
        write_live(self.directory, {"updated_at": wall, "driver_elapsed_s": elapsed,
                                    "trials": [t.as_dict() for t in live]})
        return True

    def drop(self, finished: set[int]) -> None:
        self.trials = tuple(t for t in self.trials if t.number not in finished)

    def clear(self) -> None:
        self.trials = ()
        remove_live(self.directory)
