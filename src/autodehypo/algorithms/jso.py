"""jSO: L-SHADE with schedules on p, F and CR and a weighted pbest term.

J. Brest, M. S. Maucec and B. Boskovic, "Single Objective Real-Parameter
Optimization: Algorithm jSO", IEEE CEC 2017, pp. 1311-1318; behaviour as in
the authors' code (the CEC 2017 jSO package), which differs from the paper's
text in the p schedule: p falls linearly from 0.25 to 0.125.

- N_init = round(25 ln(D) sqrt(D)), N_min = 4, H = 5, M_F = 0.3, M_CR = 0.8,
  |A| = N; the last memory slot always gives F = CR = 0.9.
- CR >= 0.7 in the first quarter of the budget, >= 0.6 in the second;
  F <= 0.7 in the first 60%.
- v = x + Fw (x_pbest - x) + F (x_r1 - x~_r2), Fw = 0.7F, 0.8F, 1.2F in the
  first 20%, next 20%, rest; pbest differs from x in the first half.
- A memory slot becomes the mean of its old value and the weighted Lehmer mean.
"""

from __future__ import annotations

import math

import numpy as np

from .base import pbest_indices
from .lshade import LSHADE


class JSO(LSHADE):
    """Defaults for hyperparameter search: population 16 shrinking to 4."""

    name = "jso"

    def __init__(self, dim: int, *, population: int, seed: int | None = None,
                 max_evaluations: int | None = None, schedule: str = "generational",
                 H: int = 5, archive_rate: float = 1.0,
                 p_max: float = 0.25, p_min: float = 0.125, min_population: int = 4,
                 M_F_init: float = 0.3, M_CR_init: float = 0.8):
        if not 0.0 < p_min <= p_max <= 1.0:
            raise ValueError(f"need 0 < p_min <= p_max <= 1, got p_min={p_min!r} p_max={p_max!r}")
        if not isinstance(H, int) or H < 2:
            raise ValueError(f"H must be an integer >= 2 (the last slot is fixed at 0.9), got {H!r}")
        super().__init__(dim, population=population, seed=seed, max_evaluations=max_evaluations,
                         schedule=schedule, H=H, archive_rate=archive_rate, p=p_max,
                         min_population=min_population,
                         M_F_init=M_F_init, M_CR_init=M_CR_init)
        self.p_max, self.p_min = float(p_max), float(p_min)

    @classmethod
    def benchmark_population(cls, dim: int) -> int:
        return int(round(25 * math.log(dim) * math.sqrt(dim)))

    def _memory_means(self, slots):
        mu_F, mu_CR = super()._memory_means(slots)
        last = slots == self.H - 1
        return np.where(last, 0.9, mu_F), np.where(last, 0.9, mu_CR)

    def _sample_CR(self, mu):
        cr = super()._sample_CR(mu)
        t = self.progress()
        if t < 0.25:
            return np.maximum(cr, 0.7)
        if t < 0.5:
            return np.maximum(cr, 0.6)
        return cr

    def _sample_F(self, mu):
        f = super()._sample_F(mu)
        return np.minimum(f, 0.7) if self.progress() < 0.6 else f

    def _Fw(self, F):
        t = self.progress()
        return F * (0.7 if t < 0.2 else 0.8 if t < 0.4 else 1.2)

    def _pbest(self):
        p = self.p_max - (self.p_max - self.p_min) * self.progress()
        count = max(2, int(round(p * len(self.population))))
        return pbest_indices(self.rng, self.fitness, count, avoid_self=self.progress() < 0.5)

    def _new_slot_values(self, S_F, S_CR, w):
        M_F, M_CR = super()._new_slot_values(S_F, S_CR, w)
        old_F, old_CR = self.M_F[self.k], self.M_CR[self.k]
        return (M_F + old_F) / 2, (M_CR if M_CR < 0 else (M_CR + old_CR) / 2)

    def _state(self):
        return {**super()._state(), "p_max": self.p_max, "p_min": self.p_min}

    def _load_state(self, state):
        super()._load_state(state)
        self.p_max, self.p_min = state["p_max"], state["p_min"]
