"""jDE: DE/rand/1/bin with self-adapted F and CR per individual.

J. Brest, S. Greiner, B. Boskovic, M. Mernik and V. Zumer, "Self-Adapting
Control Parameters in Differential Evolution: A Comparative Study on Numerical
Benchmark Problems", IEEE Trans. Evol. Comput. 10(6):646-657, 2006.

Before mutation each individual redraws F = F_l + rand * F_u with probability
tau1 and CR = rand with probability tau2; the new values survive only with a
trial that replaces its parent. Defaults are the paper's: tau1 = tau2 = 0.1,
F_l = 0.1, F_u = 0.9, initial F = 0.5 and CR = 0.9.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import (Optimizer, _array, adapted_summary, _list, binomial_crossover, latin_hypercube,
                   midpoint_repair)
from .de import MUTATIONS, Population
from .prescreen import Prescreen


class JDE(Prescreen, Optimizer):
    name = "jde"
    row_arrays = ("_trial_F", "_trial_CR")

    def __init__(self, dim: int, *, population: int, seed: int | None = None,
                 max_evaluations: int | None = None, schedule: str = "generational",
                 tau1: float = 0.1, tau2: float = 0.1,
                 F_l: float = 0.1, F_u: float = 0.9, F_init: float = 0.5, CR_init: float = 0.9):
        super().__init__(dim, population=population, seed=seed, max_evaluations=max_evaluations,
                         schedule=schedule)
        for key, value in (("tau1", tau1), ("tau2", tau2), ("CR_init", CR_init)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{key} must be in [0, 1], got {value!r}")
        for key, value in (("F_l", F_l), ("F_u", F_u), ("F_init", F_init)):
            if not 0.0 < value <= 2.0:
                raise ValueError(f"{key} must be in (0, 2], got {value!r}")
        self.tau1, self.tau2 = float(tau1), float(tau2)
        self.F_l, self.F_u = float(F_l), float(F_u)
        self.F = np.full(population, float(F_init))
        self.CR = np.full(population, float(CR_init))
        self.population: np.ndarray | None = None
        self.fitness: np.ndarray | None = None
        self._trial_F: np.ndarray | None = None
        self._trial_CR: np.ndarray | None = None

    def _ask(self) -> np.ndarray:
        if self.population is None:
            return self._start(latin_hypercube(self.rng, self.population_size, self.dim))
        trials, self._trial_F, self._trial_CR = self._screened(self._trials)
        return trials

    def _trials(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One draw of F, CR and the trial vectors they make: (trials, F, CR)."""
        n = len(self.population)
        r = self.rng.random((n, 4))
        F = np.where(r[:, 1] < self.tau1, self.F_l + r[:, 0] * self.F_u, self.F)
        CR = np.where(r[:, 3] < self.tau2, r[:, 2], self.CR)
        pop = Population(self.population, self.fitness, F, np.empty((0, self.dim)), 0.0)
        mutants = MUTATIONS["rand/1"](self.rng, pop)
        trials = binomial_crossover(self.rng, self.population, mutants, CR)
        return midpoint_repair(trials, self.population), F, CR

    def _tell(self, candidates: np.ndarray, values: np.ndarray) -> None:
        if self.population is None:
            self.population, self.fitness = candidates, values
            return
        better = values <= self.fitness
        self.population = np.where(better[:, None], candidates, self.population)
        self.fitness = np.where(better, values, self.fitness)
        self.F = np.where(better, self._trial_F, self.F)
        self.CR = np.where(better, self._trial_CR, self.CR)
        self._trial_F = self._trial_CR = None

    def _select_one(self, target: int, x: np.ndarray, value: float, params: dict[str, float]) -> None:
        if value <= self.fitness[target]:
            self.population[target], self.fitness[target] = x, value
            if params:  # a start-up point keeps the member's F and CR
                self.F[target], self.CR[target] = params["_trial_F"], params["_trial_CR"]

    def summary(self) -> dict[str, Any]:
        return adapted_summary(self.population_now(), self.F, self.CR, "population")

    def _state(self) -> dict[str, Any]:
        return {"tau1": self.tau1, "tau2": self.tau2, "F_l": self.F_l, "F_u": self.F_u,
                "F": _list(self.F), "CR": _list(self.CR),
                "trial_F": _list(self._trial_F), "trial_CR": _list(self._trial_CR),
                "population": _list(self.population), "fitness": _list(self.fitness)}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.tau1, self.tau2 = state["tau1"], state["tau2"]
        self.F_l, self.F_u = state["F_l"], state["F_u"]
        self.F, self.CR = _array(state["F"]), _array(state["CR"])
        self._trial_F, self._trial_CR = _array(state["trial_F"]), _array(state["trial_CR"])
        self.population = _array(state["population"])
        self.fitness = _array(state["fitness"])
