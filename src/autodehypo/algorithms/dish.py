"""DISH: jSO with distance-based weights in the memory update.

A. Viktorin, R. Senkerik, M. Pluhacek, T. Kadavy and A. Zamuda, "Distance
based parameter adaptation for Success-History based Differential Evolution",
Swarm and Evolutionary Computation 44:546-558, 2019.

A successful trial weighs in by how far it moved, ||u - x||_2, instead of by
how much it improved, which rewards exploration over quick exploitation.
When every successful trial equals its parent the distances sum to 0 and the
memory is left unchanged (the guard of the authors' 2021 fix). M_F starts at
0.5 as in the authors' code; everything else is jSO.
"""

from __future__ import annotations

import numpy as np

from .jso import JSO


class DISH(JSO):
    name = "dish"

    def __init__(self, dim: int, *, population: int, seed: int | None = None,
                 max_evaluations: int | None = None, schedule: str = "generational",
                 H: int = 5, archive_rate: float = 1.0,
                 p_max: float = 0.25, p_min: float = 0.125, min_population: int = 4,
                 M_F_init: float = 0.5, M_CR_init: float = 0.8):
        super().__init__(dim, population=population, seed=seed, max_evaluations=max_evaluations,
                         schedule=schedule, H=H, archive_rate=archive_rate, p_max=p_max, p_min=p_min,
                         min_population=min_population, M_F_init=M_F_init, M_CR_init=M_CR_init)

    def _weights(self, parents, parent_values, trials, values):
        distance = np.linalg.norm(trials - parents, axis=1)
        total = distance.sum()
        return distance / total if total > 0 else None
