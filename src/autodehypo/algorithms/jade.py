"""JADE: adaptive DE with an optional external archive.

J. Zhang and A. C. Sanderson, "JADE: Adaptive Differential Evolution With
Optional External Archive", IEEE Trans. Evol. Comput. 13(5):945-958, 2009.

One memory (mu_F, mu_CR), moved each generation toward the successful values:
mu_CR <- (1 - c) mu_CR + c mean(S_CR), mu_F <- (1 - c) mu_F + c Lehmer(S_F),
c = 0.1; p-best pool max(2, round(p N)) with p = 0.05; archive of at most N
beaten parents with random replacement; a trial must be strictly better to
replace its parent (the paper's selection).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import pbest_indices
from .shade import SHADE, lehmer


class JADE(SHADE):
    name = "jade"
    ties_replace = False

    def __init__(self, dim: int, *, population: int, seed: int | None = None,
                 max_evaluations: int | None = None, schedule: str = "generational",
                 c: float = 0.1, p: float = 0.05,
                 archive_rate: float = 1.0, mu_F_init: float = 0.5, mu_CR_init: float = 0.5):
        super().__init__(dim, population=population, seed=seed, max_evaluations=max_evaluations,
                         schedule=schedule, H=1, archive_rate=archive_rate, M_F_init=mu_F_init,
                         M_CR_init=mu_CR_init)
        if not 0.0 < c <= 1.0:
            raise ValueError(f"c must be in (0, 1], got {c!r}")
        if not 0.0 < p <= 1.0:
            raise ValueError(f"p must be in (0, 1], got {p!r}")
        self.c, self.p = float(c), float(p)

    def _pbest(self) -> np.ndarray:
        return pbest_indices(self.rng, self.fitness, max(2, int(round(self.p * len(self.population)))))

    def _weights(self, parents, parent_values, trials, values):
        return np.full(len(values), 1.0 / len(values))

    def _update_slot(self, S_F, S_CR, w):
        self.M_CR[0] = (1 - self.c) * self.M_CR[0] + self.c * float(np.mean(S_CR))
        self.M_F[0] = (1 - self.c) * self.M_F[0] + self.c * lehmer(S_F, w)

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "c": self.c, "p": self.p}

    def _load_state(self, state: dict[str, Any]) -> None:
        super()._load_state(state)
        self.c, self.p = state["c"], state["p"]
