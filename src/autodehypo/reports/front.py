"""The Pareto front of a study of several objectives, its hypervolume and its knee.

A trial is on the front when it completed and no other completed trial is at
least as good in every objective and better in one. Failed trials have no
objective values and are never on it; a repeat (a configuration asked again and
answered from its first result) is its first trial's twin and stays off it.

Hypervolume is reported normalized, so that error and joules can share one
number: each objective is mapped to [0, 1] by its best and worst value over the
completed trials of the studies shown together (best 0), and the reference
point is 1.1 in every objective. A study's hypervolume is then at most 1.1^m
and only compares with studies normalized by the same bounds (the same report
or plot).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..algorithms.pareto import hypervolume, knee_point, non_dominated
from ..direction import Direction
from ..storage import COMPLETE, FAILED, TrialRecord

REFERENCE = 1.1  # the reference point in every normalized objective


@dataclass(frozen=True)
class Objective:
    name: str
    direction: str

    @property
    def sign(self) -> float:
        return Direction(self.direction).sign

    @property
    def label(self) -> str:
        return f"{self.name} ({Direction(self.direction).short})"


def objectives_of(config: dict[str, Any]) -> list[Objective]:
    """The study's objectives as configured; [] for a study of one objective."""
    items = config.get("study", {}).get("objectives") or []
    return [Objective(item["name"], item.get("direction", "minimize")) for item in items]


def candidates(trials: list[TrialRecord]) -> list[TrialRecord]:
    """The trials that may be on the front: completed, with values, not a repeat."""
    return [t for t in trials if t.status == COMPLETE and t.objective_values is not None
            and "repeat_of" not in t.metrics]


def minimized(trials: list[TrialRecord], objectives: list[Objective]) -> np.ndarray:
    """(n, m): the trials' objective values, sign-flipped where maximized."""
    signs = np.array([o.sign for o in objectives])
    if not trials:
        return np.empty((0, len(objectives)))
    return np.array([t.objective_values for t in trials], dtype=float) * signs


def front_trials(trials: list[TrialRecord], objectives: list[Objective]) -> list[TrialRecord]:
    """The non-dominated trials, sorted by the first objective (best first), then the next."""
    pool = candidates(trials)
    if not pool:
        return []
    F = minimized(pool, objectives)
    members = [(tuple(F[i]), pool[i].number, pool[i]) for i in np.flatnonzero(non_dominated(F))]
    return [t for _, _, t in sorted(members, key=lambda m: (m[0], m[1]))]


def knee_trial(front: list[TrialRecord], objectives: list[Objective]) -> TrialRecord | None:
    """The front's knee: the best balance of its objectives, each scaled by the front's range."""
    if not front:
        return None
    k = knee_point(minimized(front, objectives))
    return None if k is None else front[k]


@dataclass(frozen=True)
class Bounds:
    """Each minimized objective's best and worst over the completed trials: the normalization."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, trial_lists: list[list[TrialRecord]], objectives: list[Objective]) -> "Bounds | None":
        F = np.vstack([minimized(candidates(ts), objectives) for ts in trial_lists]) if trial_lists \
            else np.empty((0, len(objectives)))
        if not len(F):
            return None
        return cls(F.min(axis=0), F.max(axis=0))

    def normalize(self, F: np.ndarray) -> np.ndarray:
        span = np.where(self.high > self.low, self.high - self.low, 1.0)
        return (F - self.low) / span


def normalized_hypervolume(trials: list[TrialRecord], objectives: list[Objective], bounds: Bounds) -> float:
    F = minimized(candidates(trials), objectives)
    if not len(F):
        return 0.0
    return hypervolume(bounds.normalize(F), np.full(len(objectives), REFERENCE))


def hypervolume_curve(trials: list[TrialRecord], objectives: list[Objective], bounds: Bounds
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(evaluations, cumulative energy in J, hypervolume) after each finished trial, in the order
    the trials finished (failed ones count as evaluations and energy, and add no volume)."""
    done = sorted([t for t in trials if t.status in (COMPLETE, FAILED)],
                  key=lambda t: (t.ended_at or 0.0, t.number))
    reference = np.full(len(objectives), REFERENCE)
    signs = np.array([o.sign for o in objectives])
    points, volumes = [], []
    for t in done:
        if t.status == COMPLETE and t.objective_values is not None and "repeat_of" not in t.metrics:
            points.append(bounds.normalize(np.asarray(t.objective_values, dtype=float) * signs))
            kept = np.array(points)
            points = list(kept[non_dominated(kept)])  # only the front can add volume later
        volumes.append(hypervolume(np.array(points), reference) if points else 0.0)
    evaluations = np.arange(1, len(done) + 1, dtype=float)
    energy = np.cumsum([t.energy_j or 0.0 for t in done])
    return evaluations, energy, np.array(volumes)


def energy_sources_note(trials: list[TrialRecord], objectives: list[Objective]) -> str | None:
    """Which energy figures fed an ``energy`` objective, e.g. "estimate (40 trials)"; None when
    energy is not an objective. Node-level figures (RAPL, NVML) include concurrent trials."""
    if not any(o.name == "energy" for o in objectives):
        return None
    counted: dict[str, list[int]] = {}
    for t in candidates(trials):
        entry = counted.setdefault(t.energy_source or "unknown", [0, 0])
        entry[0] += 1
        entry[1] += bool((t.energy_detail or {}).get("node_level"))
    if not counted:
        return "no completed trial yet"
    parts = []
    for source, (n, node_level) in sorted(counted.items()):
        note = f", {node_level} node-level: concurrent trials overlap" if node_level else ""
        parts.append(f"{source} ({n} trial{'s' if n != 1 else ''}{note})")
    return ", ".join(parts)
