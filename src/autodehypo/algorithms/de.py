"""Classic Differential Evolution.

R. Storn and K. Price, "Differential Evolution - A Simple and Efficient
Heuristic for Global Optimization over Continuous Spaces", J. Global Optim.
11:341-359, 1997. current-to-pbest/1 with an archive is JADE's mutation
(Zhang and Sanderson, IEEE TEVC 13(5), 2009) with a fixed F and CR.

A strategy is ``mutation/crossover``: a key of :data:`MUTATIONS` and ``bin``
(binomial) or ``exp`` (exponential). Out-of-cube coordinates are repaired to
the midpoint between parent and bound (:func:`midpoint_repair`); selection is
greedy and ties go to the trial. ``dither = [low, high]`` draws F uniformly
from that range once per generation (Storn's dither) instead of a fixed F.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .base import (Optimizer, _array, _list, binomial_crossover, exponential_crossover,
                   indices_except, latin_hypercube, midpoint_repair, pbest_indices)
from .prescreen import Prescreen


@dataclass
class Population:
    """What a mutation may look at; F has one entry per individual."""

    x: np.ndarray
    fitness: np.ndarray
    F: np.ndarray
    archive: np.ndarray   # (m, dim), parents replaced by better trials
    p: float              # top fraction for current-to-pbest


def _distinct(rng, n, k):
    """k mutually distinct indices per row, all different from the row index."""
    rows = [np.arange(n)]
    for _ in range(k):
        rows.append(indices_except(rng, n, rows))
    return rows[1:]


def _rand_1(rng, pop):
    r1, r2, r3 = _distinct(rng, len(pop.x), 3)
    return pop.x[r1] + pop.F[:, None] * (pop.x[r2] - pop.x[r3])


def _rand_2(rng, pop):
    r1, r2, r3, r4, r5 = _distinct(rng, len(pop.x), 5)
    return pop.x[r1] + pop.F[:, None] * (pop.x[r2] - pop.x[r3] + pop.x[r4] - pop.x[r5])


def _best_1(rng, pop):
    r1, r2 = _distinct(rng, len(pop.x), 2)
    return pop.x[np.argmin(pop.fitness)] + pop.F[:, None] * (pop.x[r1] - pop.x[r2])


def _best_2(rng, pop):
    r1, r2, r3, r4 = _distinct(rng, len(pop.x), 4)
    return pop.x[np.argmin(pop.fitness)] + pop.F[:, None] * (pop.x[r1] - pop.x[r2] + pop.x[r3] - pop.x[r4])


def _current_to_best_1(rng, pop):
    r1, r2 = _distinct(rng, len(pop.x), 2)
    f = pop.F[:, None]
    return pop.x + f * (pop.x[np.argmin(pop.fitness)] - pop.x) + f * (pop.x[r1] - pop.x[r2])


def current_to_pbest(rng: np.random.Generator, x: np.ndarray, archive: np.ndarray,
                     pbest: np.ndarray, F: np.ndarray, Fw: np.ndarray | None = None) -> np.ndarray:
    """x_i + Fw (x_pbest - x_i) + F (x_r1 - x~_r2), r1 from P, r2 from P and the archive.

    r1 differs from i; r2 differs from i and r1 (JADE, SHADE, L-SHADE, jSO).
    """
    n = len(x)
    own = np.arange(n)
    r1 = indices_except(rng, n, [own])
    r2 = indices_except(rng, n + len(archive), [own, r1])
    union = np.vstack([x, archive]) if len(archive) else x
    Fw = F if Fw is None else Fw
    return x + Fw[:, None] * (x[pbest] - x) + F[:, None] * (x[r1] - union[r2])


def _current_to_pbest_1(rng, pop):
    count = max(2, int(round(pop.p * len(pop.x))))
    return current_to_pbest(rng, pop.x, pop.archive, pbest_indices(rng, pop.fitness, count), pop.F)


MUTATIONS: dict[str, Callable[[np.random.Generator, Population], np.ndarray]] = {
    "rand/1": _rand_1,
    "rand/2": _rand_2,
    "best/1": _best_1,
    "best/2": _best_2,
    "current-to-best/1": _current_to_best_1,
    "current-to-pbest/1": _current_to_pbest_1,
}
CROSSOVERS = {"bin": binomial_crossover, "exp": exponential_crossover}
STRATEGIES = sorted(f"{m}/{c}" for m in MUTATIONS for c in CROSSOVERS)
# Distinct individuals a mutation needs besides the target.
_NEEDS = {"rand/1": 3, "rand/2": 5, "best/1": 2, "best/2": 4, "current-to-best/1": 2,
          "current-to-pbest/1": 2}


def archive_insert(rng: np.random.Generator, archive: np.ndarray, parents: np.ndarray,
                   capacity: int) -> np.ndarray:
    """Add parents to the archive; when it is full, each newcomer replaces a random member."""
    for parent in parents:
        if len(archive) < capacity:
            archive = np.vstack([archive, parent[None, :]])
        elif capacity > 0:
            archive[rng.integers(len(archive))] = parent
    return archive


class DE(Prescreen, Optimizer):
    """DE with a fixed (or dithered) F and a fixed CR.

    Defaults F = 0.5, CR = 0.9 are Storn and Price's usual settings; ``p`` is
    the top fraction used by current-to-pbest/1 (JADE: 0.05 to 0.2).
    """

    name = "de"

    def __init__(self, dim: int, *, population: int, seed: int | None = None,
                 max_evaluations: int | None = None, schedule: str = "generational",
                 strategy: str = "rand/1/bin",
                 F: float = 0.5, CR: float = 0.9, dither: list[float] | None = None,
                 p: float = 0.1):
        mutation, _, crossover = strategy.rpartition("/") if isinstance(strategy, str) else ("", "", "")
        if mutation not in MUTATIONS or crossover not in CROSSOVERS:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        self._min_population = _NEEDS[mutation] + 1
        super().__init__(dim, population=population, seed=seed, max_evaluations=max_evaluations,
                         schedule=schedule)
        if not 0.0 < F <= 2.0:
            raise ValueError(f"F must be in (0, 2], got {F!r}")
        if not 0.0 <= CR <= 1.0:
            raise ValueError(f"CR must be in [0, 1], got {CR!r}")
        if dither is not None:
            if (not isinstance(dither, (list, tuple)) or len(dither) != 2
                    or not 0.0 < dither[0] < dither[1] <= 2.0):
                raise ValueError(f"dither must be [low, high] with 0 < low < high <= 2, got {dither!r}")
            dither = [float(dither[0]), float(dither[1])]
        if not 0.0 < p <= 1.0:
            raise ValueError(f"p must be in (0, 1], got {p!r}")
        self.strategy = strategy
        self.F, self.CR, self.dither, self.p = float(F), float(CR), dither, float(p)
        self.uses_archive = mutation == "current-to-pbest/1"
        self.population: np.ndarray | None = None
        self.fitness: np.ndarray | None = None
        self.archive = np.empty((0, dim))

    def min_population(self) -> int:
        return self._min_population

    def _ask(self) -> np.ndarray:
        if self.population is None:
            return self._start(latin_hypercube(self.rng, self.population_size, self.dim))
        return self._screened(self._trials)[0]

    def _trials(self) -> tuple[np.ndarray]:
        """One draw of the generation's trial vectors."""
        n = len(self.population)
        F = self.rng.uniform(*self.dither) if self.dither else self.F
        mutation, _, crossover = self.strategy.rpartition("/")
        pop = Population(self.population, self.fitness, np.full(n, F), self.archive, self.p)
        mutants = MUTATIONS[mutation](self.rng, pop)
        trials = CROSSOVERS[crossover](self.rng, self.population, mutants, self.CR)
        return (midpoint_repair(trials, self.population),)

    def _tell(self, candidates: np.ndarray, values: np.ndarray) -> None:
        if self.population is None:
            self.population, self.fitness = candidates, values
            return
        if self.uses_archive:
            beaten = values < self.fitness
            self.archive = archive_insert(self.rng, self.archive, self.population[beaten],
                                          len(self.population))
        better = values <= self.fitness
        self.population = np.where(better[:, None], candidates, self.population)
        self.fitness = np.where(better, values, self.fitness)

    def _select_one(self, target: int, x: np.ndarray, value: float, params: dict[str, float]) -> None:
        if self.uses_archive and value < self.fitness[target]:
            self.archive = archive_insert(self.rng, self.archive, self.population[target][None, :],
                                          len(self.population))
        if value <= self.fitness[target]:
            self.population[target], self.fitness[target] = x, value

    def summary(self) -> dict[str, Any]:
        population = self.population_now()
        if self.dither:
            low, high = self.dither
            note = (f"de adapts nothing: F is drawn from [{low:g}, {high:g}] each generation (dither; "
                    f"the draws are not checkpointed), CR = {self.CR:g}, population {population}")
        else:
            note = f"de adapts nothing: F = {self.F:g}, CR = {self.CR:g}, population {population}, all fixed"
        return {"population": population, "F": None if self.dither else float(self.F), "CR": float(self.CR),
                "adapts": False, "averaged": None, "note": note}

    def _state(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "F": self.F, "CR": self.CR, "dither": self.dither,
                "p": self.p, "population": _list(self.population), "fitness": _list(self.fitness),
                "archive": _list(self.archive)}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.strategy, self.F, self.CR = state["strategy"], state["F"], state["CR"]
        self.dither, self.p = state["dither"], state["p"]
        self.population = _array(state["population"])
        self.fitness = _array(state["fitness"])
        self.archive = _array(state["archive"]).reshape(-1, self.dim)
