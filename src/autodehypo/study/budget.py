"""How far a study has gone: totals over its finished trials, and whether its budget is spent."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Budget, StudyConfig
from ..direction import Direction
from ..storage import COMPLETE, FAILED, TrialRecord


def trial_units(trial: TrialRecord, max_fidelity: float | None) -> float:
    """What a trial counts toward an evaluation budget: 1, or with fidelities the part of a
    full-fidelity training it added (a trial answered from the record counts as if trained)."""
    if max_fidelity is None or trial.fidelity is None:
        return 1.0
    return (trial.fidelity - (trial.fidelity_from or 0.0)) / max_fidelity


@dataclass
class Tally:
    """Running totals over the finished trials, kept by the driver instead of re-reading them.

    With fidelities, the best value is the best at the highest fidelity any trial completed."""

    direction: str
    max_fidelity: float | None = None
    evaluations: int = 0
    units: float = 0.0  # evaluations in full-fidelity equivalents
    failed: int = 0
    energy_j: float = 0.0
    best_value: float | None = None
    worst_value: float | None = None
    energy_sources: set[str] = field(default_factory=set)
    best_fidelity: float | None = None
    # Several objectives: each one's sign (1 minimize, -1 maximize) and the non-dominated
    # completed vectors so far, minimized, for the progress line's front size.
    signs: tuple[float, ...] = ()
    front: list[tuple[float, ...]] = field(default_factory=list)

    def add(self, trial: TrialRecord) -> None:
        self.evaluations += 1
        self.units += trial_units(trial, self.max_fidelity)
        self.failed += trial.status == FAILED
        self.energy_j += trial.energy_j or 0.0
        if trial.energy_source:
            self.energy_sources.add(trial.energy_source)
        if trial.status != COMPLETE or trial.value is None:
            return
        if self.signs and trial.objective_values is not None and "repeat_of" not in trial.metrics:
            self._add_to_front(tuple(s * v for s, v in zip(self.signs, trial.objective_values)))
        direction = Direction(self.direction)
        higher = trial.fidelity is not None and (self.best_fidelity is None
                                                 or trial.fidelity > self.best_fidelity)
        lower = trial.fidelity is not None and self.best_fidelity is not None and \
            trial.fidelity < self.best_fidelity
        if higher or not lower and (self.best_value is None or direction.better(trial.value, self.best_value)):
            self.best_value, self.best_fidelity = trial.value, trial.fidelity
        if self.worst_value is None or direction.better(self.worst_value, trial.value):
            self.worst_value = trial.value

    def _add_to_front(self, point: tuple[float, ...]) -> None:
        if any(_dominates(other, point) for other in self.front):
            return
        self.front = [p for p in self.front if not _dominates(point, p)]
        self.front.append(point)

    @classmethod
    def of(cls, trials: list[TrialRecord], config: StudyConfig) -> "Tally":
        """The totals over a study's finished ``trials``."""
        tally = cls(config.direction, config.fidelity.max if config.fidelity else None,
                    signs=tuple(Direction(s.direction).sign for s in config.objectives))
        for t in trials:
            if t.status in (COMPLETE, FAILED):
                tally.add(t)
        return tally


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def budget_spent(budget: Budget, tally: Tally, elapsed_s: float, started: float) -> bool:
    """True when no further trial may start, with ``started`` evaluations (in full-fidelity
    equivalents) under way besides the finished ones."""
    return ((budget.evaluations is not None
             and tally.units + started >= budget.evaluations - 1e-9)
            or (budget.wall_time_s is not None and elapsed_s >= budget.wall_time_s)
            or (budget.energy_j is not None and tally.energy_j >= budget.energy_j))
