"""One optimizer run on one task: the sequence of evaluations, as the harness records it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .tasks import DRAW_SALT, Task


@dataclass
class Trace:
    task: str
    optimizer: str
    seed: int
    budget: int
    losses: np.ndarray           # sign-adjusted value per evaluation, in order; NaN = failed
    costs: np.ndarray            # cost per evaluation, in order
    repeated: np.ndarray         # per evaluation: its configuration was evaluated before in the run
    wall_s: float = 0.0          # the optimizer's own time plus the table look-ups
    note: str = ""

    @property
    def repeats(self) -> int:
        return int(self.repeated.sum())

    def as_dict(self) -> dict[str, Any]:
        return {"task": self.task, "optimizer": self.optimizer, "seed": self.seed,
                "budget": self.budget, "losses": [None if math.isnan(x) else x for x in self.losses.tolist()],
                "costs": self.costs.tolist(), "repeated": np.flatnonzero(self.repeated).tolist(),
                "wall_s": self.wall_s,
                "note": self.note}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Trace":
        losses = np.array([np.nan if x is None else x for x in d["losses"]], dtype=float)
        repeated = np.zeros(len(losses), dtype=bool)
        repeated[np.asarray(d["repeated"], dtype=int)] = True
        return cls(d["task"], d["optimizer"], int(d["seed"]), int(d["budget"]), losses,
                   np.array(d["costs"], dtype=float), repeated, float(d.get("wall_s", 0.0)),
                   d.get("note", ""))

    def prefix(self, n: int) -> "Trace":
        """The first n evaluations, as a run of budget n (for optimizers never told the budget)."""
        if n > len(self.losses):
            raise ValueError(f"a run of {len(self.losses)} evaluations has no prefix of {n}")
        return Trace(self.task, self.optimizer, self.seed, n, self.losses[:n].copy(), self.costs[:n].copy(),
                     self.repeated[:n].copy(), self.wall_s, self.note + f" (first {n} of {self.budget})")

    def unit_costs(self) -> "Trace":
        """The same run in the equal-cost view: every evaluation costs 1, a repeat answered from the
        record included (it uses one evaluation of the budget), so a cost is a number of evaluations."""
        return Trace(self.task, self.optimizer, self.seed, self.budget, self.losses, np.ones(len(self.losses)),
                     self.repeated, self.wall_s, self.note)


def repeat_flags(keys: list) -> np.ndarray:
    """For each key, whether an earlier one equals it."""
    seen: set = set()
    flags = np.zeros(len(keys), dtype=bool)
    for i, k in enumerate(keys):
        flags[i] = k in seen
        seen.add(k)
    return flags


class Recorder:
    """Evaluates configurations of one run in order and records what they gave and cost.

    ``evaluate`` returns the loss to tell: a failed evaluation (NaN) is told the
    worst loss seen so far in the run (+inf before any), the study's policy, so
    every optimizer is treated alike. Our generational driver applies the
    policy per generation itself (see ``ours.run_autodehypo``) and calls
    :meth:`raw` instead.
    """

    def __init__(self, task: Task, optimizer: str, seed: int, budget: int):
        self.task, self.optimizer, self.seed, self.budget = task, optimizer, seed, budget
        self.rng = np.random.default_rng([seed, DRAW_SALT])
        self.losses: list[float] = []
        self.costs: list[float] = []
        self.keys: list = []

    @property
    def count(self) -> int:
        return len(self.losses)

    def raw(self, config: Mapping[str, Any]) -> float:
        if self.count >= self.budget:
            raise RuntimeError(f"{self.optimizer} asked for more than {self.budget} evaluations")
        loss, cost = self.task.evaluate(config, self.rng)
        self.keys.append(self.task.key(config))
        self.losses.append(loss)
        self.costs.append(cost)
        return loss

    def answer(self, config: Mapping[str, Any], loss: float) -> float:
        """A configuration answered from an earlier result, as a study does: no training, no cost."""
        if self.count >= self.budget:
            raise RuntimeError(f"{self.optimizer} asked for more than {self.budget} evaluations")
        self.keys.append(self.task.key(config))
        self.losses.append(loss)
        self.costs.append(0.0)
        return loss

    def worst(self) -> float:
        finite = [x for x in self.losses if not math.isnan(x)]
        return max(finite) if finite else math.inf

    def evaluate(self, config: Mapping[str, Any]) -> float:
        loss = self.raw(config)
        return self.worst() if math.isnan(loss) else loss

    def trace(self, wall_s: float = 0.0, note: str = "") -> Trace:
        return Trace(self.task.name, self.optimizer, self.seed, self.budget, np.array(self.losses, dtype=float),
                     np.array(self.costs, dtype=float), repeat_flags(self.keys), wall_s, note)
