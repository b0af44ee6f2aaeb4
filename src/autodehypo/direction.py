"""Which way is better: an objective's direction, and the best trial of a study.

Every comparison of values in the package goes through :class:`Direction`, and the best
trial through :func:`best_trial`, so that a maximized objective and a multi-fidelity study
(whose best is the best at the highest fidelity reached) are ranked the same way everywhere:
in the driver, the progress line, the reports and the Optuna sampler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .storage import COMPLETE, TrialRecord

DIRECTIONS = ("minimize", "maximize")


@dataclass(frozen=True)
class Direction:
    name: str = "minimize"

    def __post_init__(self) -> None:
        if self.name not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.name!r}")

    @property
    def sign(self) -> float:
        """What a value is multiplied by to be minimized (the searches minimize)."""
        return 1.0 if self.name == "minimize" else -1.0

    @property
    def short(self) -> str:
        return "min" if self.name == "minimize" else "max"

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return a < b if self.name == "minimize" else a > b

    def best(self, items: Iterable[Any], key: Callable[[Any], float] | None = None) -> Any:
        """The best of ``items`` (by ``key``); the first of equals."""
        return (min if self.name == "minimize" else max)(items, key=key)


def best_trial(trials: list[TrialRecord], direction: str | Direction) -> TrialRecord | None:
    """The best completed trial; with fidelities, the best at the highest one completed (a
    lower fidelity's value is not comparable with a full training's); the first of equals."""
    direction = direction if isinstance(direction, Direction) else Direction(direction)
    done = [t for t in trials if t.status == COMPLETE and t.value is not None]
    if not done:
        return None
    top = max((t.fidelity for t in done if t.fidelity is not None), default=None)
    if top is not None:
        done = [t for t in done if t.fidelity == top]
    return direction.best(done, key=lambda t: t.value)
