"""L-SHADE: SHADE with linear population size reduction.

R. Tanabe and A. S. Fukunaga, "Improving the Search Performance of SHADE Using
Linear Population Size Reduction", IEEE CEC 2014, pp. 1658-1665; behaviour as
in Tanabe's L-SHADE 1.1 C++ code (lshade.cpp, 9 Jun 2014).

- The initial population is uniform at random (the code's makeNewIndividual).
- After each generation (not after the initial population) the population
  shrinks to round(N_init + (N_min - N_init) * nfes / MaxFEs), the worst
  first; among equally bad individuals the first in the population goes, and
  the others keep their order.
- The archive holds round(2.6 N_init) parents, then int(2.6 N) after each
  reduction (the code assigns the product to an int: truncation); a shrinking
  archive keeps its first members (``arc_ind_count = arc_size``).
- p-best pool max(2, round(0.11 N)); H = 6, N_min = 4. ``round`` is C's,
  halves away from zero (Python's rounds them to even: 0.11 * 150 = 16.5).
- Both memories use the weighted Lehmer mean. A slot's M_CR becomes the
  terminal value when the weighted sum of the successful CRs is 0 (every one
  was 0), and a CR drawn from a terminal slot is 0. The code overwrites a
  slot from scratch at each update (``memory_cr[k] = 0`` before the sums), so
  its ``memory_cr[k] == -1`` test never holds: a terminal slot takes the
  next update like any other. (The paper reads as if terminal were for good;
  NiaPy's port does that.)

Random draws are vectorised per generation, in the code's order per
individual: memory slot, CR, F, p-best, r1, r2, crossover; the code's C
``rand()`` stream itself is not reproduced.

The population shrinks toward the evaluation budget, so L-SHADE (and jSO and
DISH) needs one (``max_evaluations``); the study config can combine it with a
wall-time or energy budget.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import SettingError, pbest_indices
from .shade import SHADE, TERMINAL, lehmer


class LSHADE(SHADE):
    """Defaults for hyperparameter search: population 16 shrinking to 4 (the paper: 18 x D)."""

    name = "lshade"

    def __init__(self, dim: int, *, population: int, seed: int | None = None,
                 max_evaluations: int | None = None, schedule: str = "generational",
                 H: int = 6, archive_rate: float = 2.6,
                 p: float = 0.11, min_population: int = 4, M_F_init: float = 0.5,
                 M_CR_init: float = 0.5):
        super().__init__(dim, population=population, seed=seed, max_evaluations=max_evaluations,
                         schedule=schedule, H=H, archive_rate=archive_rate, M_F_init=M_F_init,
                         M_CR_init=M_CR_init)
        if max_evaluations is None:
            raise SettingError("max_evaluations",
                               f"{self.name} needs an evaluation budget: its population shrinks toward it")
        if not 0.0 < p <= 1.0:
            raise ValueError(f"p must be in (0, 1], got {p!r}")
        if not isinstance(min_population, int) or not 4 <= min_population <= population:
            raise ValueError(f"min_population must be an integer in [4, population], got {min_population!r}")
        self.p = float(p)
        self.initial_population = population
        self.final_population = min_population

    @classmethod
    def default_population(cls, dim: int) -> int:
        return 16

    @classmethod
    def benchmark_population(cls, dim: int) -> int:
        return int(round(18 * dim))

    def _sample_CR(self, mu: np.ndarray) -> np.ndarray:
        return np.where(mu == TERMINAL, 0.0, np.clip(self.rng.normal(mu, 0.1), 0.0, 1.0))

    def _initial_population(self) -> np.ndarray:
        return self.rng.random((self.population_size, self.dim))

    def _pbest(self) -> np.ndarray:
        return pbest_indices(self.rng, self.fitness, max(2, c_round(self.p * len(self.population))))

    def _new_slot_values(self, S_F: np.ndarray, S_CR: np.ndarray, w: np.ndarray) -> tuple[float, float]:
        M_CR = TERMINAL if np.sum(w * S_CR) == 0 else lehmer(S_CR, w)
        return lehmer(S_F, w), M_CR

    def _update_slot(self, S_F, S_CR, w):
        self.M_F[self.k], self.M_CR[self.k] = self._new_slot_values(S_F, S_CR, w)
        self.k = (self.k + 1) % self.H

    def planned_population(self) -> int:
        n0, n1 = self.initial_population, self.final_population
        return c_round((n1 - n0) / self.max_evaluations * self.evaluations + n0)

    def _archive_capacity(self) -> int:
        n = len(self.population)
        if n == self.initial_population:
            return c_round(self.archive_rate * n)
        return int(n * self.archive_rate)

    def _after_selection(self) -> None:
        n = len(self.population)
        keep = max(self.final_population, min(n, self.planned_population()))
        if keep < n:
            worst_first = np.lexsort((np.arange(n), -self.fitness))
            kept = np.sort(worst_first[n - keep:])
            self.population, self.fitness = self.population[kept], self.fitness[kept]
            self.archive = self.archive[:self._archive_capacity()]

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "p": self.p, "initial_population": self.initial_population,
                "final_population": self.final_population}

    def _load_state(self, state: dict[str, Any]) -> None:
        super()._load_state(state)
        self.p = state["p"]
        self.initial_population = state["initial_population"]
        self.final_population = state["final_population"]


def c_round(x: float) -> int:
    """C's round(): halves away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))
