"""Classic Differential Evolution.

R. Storn and K. Price, "Differential Evolution - A Simple and Efficient
Heuristic for Global Optimization over Continuous Spaces", J. Global Optim.
11:341-359, 1997.

Strategies are named ``base/differences/crossover``; each mutation is a small
function of the population, so variants add entries to :data:`MUTATIONS`.
Out-of-cube coordinates are repaired to the midpoint between parent and bound
(see :func:`midpoint_repair`); selection is greedy, ties go to the trial.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .base import (Optimizer, _array, _list, binomial_crossover, distinct_indices, latin_hypercube,
                   midpoint_repair)

Mutation = Callable[[np.random.Generator, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _rand_1(rng, pop, fitness, f):
    r = distinct_indices(rng, len(pop), 3)
    return pop[r[:, 0]] + f[:, None] * (pop[r[:, 1]] - pop[r[:, 2]])


def _best_1(rng, pop, fitness, f):
    r = distinct_indices(rng, len(pop), 2)
    best = pop[np.argmin(fitness)]
    return best + f[:, None] * (pop[r[:, 0]] - pop[r[:, 1]])


def _current_to_best_1(rng, pop, fitness, f):
    r = distinct_indices(rng, len(pop), 2)
    best = pop[np.argmin(fitness)]
    return pop + f[:, None] * (best - pop) + f[:, None] * (pop[r[:, 0]] - pop[r[:, 1]])


MUTATIONS: dict[str, Mutation] = {
    "rand/1/bin": _rand_1,
    "best/1/bin": _best_1,
    "current-to-best/1/bin": _current_to_best_1,
}


class DE(Optimizer):
    """DE with a fixed F and CR; ``strategy`` is a key of :data:`MUTATIONS`.

    Defaults F = 0.5, CR = 0.9 are Storn and Price's usual settings.
    """

    name = "de"

    def __init__(self, dim: int, *, population: int, seed: int | None = None,
                 max_evaluations: int | None = None, strategy: str = "rand/1/bin",
                 F: float = 0.5, CR: float = 0.9):
        super().__init__(dim, population=population, seed=seed, max_evaluations=max_evaluations)
        if strategy not in MUTATIONS:
            raise ValueError(f"strategy must be one of {sorted(MUTATIONS)}, got {strategy!r}")
        if not 0.0 < F <= 2.0:
            raise ValueError(f"F must be in (0, 2], got {F!r}")
        if not 0.0 <= CR <= 1.0:
            raise ValueError(f"CR must be in [0, 1], got {CR!r}")
        self.strategy = strategy
        self.F = float(F)
        self.CR = float(CR)
        self.population: np.ndarray | None = None
        self.fitness: np.ndarray | None = None

    def _ask(self) -> np.ndarray:
        if self.population is None:
            return latin_hypercube(self.rng, self.population_size, self.dim)
        n = len(self.population)
        mutants = MUTATIONS[self.strategy](self.rng, self.population, self.fitness, np.full(n, self.F))
        trials = binomial_crossover(self.rng, self.population, mutants, self.CR)
        return midpoint_repair(trials, self.population)

    def _tell(self, candidates: np.ndarray, values: np.ndarray) -> None:
        if self.population is None:
            self.population, self.fitness = candidates, values
            return
        better = values <= self.fitness
        self.population = np.where(better[:, None], candidates, self.population)
        self.fitness = np.where(better, values, self.fitness)

    def _state(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "F": self.F, "CR": self.CR,
                "population": _list(self.population), "fitness": _list(self.fitness)}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.strategy, self.F, self.CR = state["strategy"], state["F"], state["CR"]
        self.population = _array(state["population"])
        self.fitness = _array(state["fitness"])
