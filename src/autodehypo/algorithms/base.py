"""The ask/tell contract shared by every optimizer.

Optimizers are pure numpy state machines in the unit hypercube: no I/O, one
``numpy.random.Generator`` for every random choice, and a JSON-safe
``state_dict`` that includes that generator's state, so that a study reloaded
from a checkpoint continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class Optimizer(ABC):
    """Base class: a population-based minimizer over [0, 1]^dim.

    ``ask()`` returns one generation of candidates as an (n, dim) array; asking
    again before ``tell`` returns the same batch. ``tell(values)`` takes one
    value per candidate, in order; lower is better, ``inf`` means "no good".

    With ``max_evaluations`` set, the last generation is cut so that exactly
    that many candidates are asked in all; the candidates left out count as
    unevaluated (``inf``) for the algorithm's own bookkeeping.
    """

    name: str = ""

    def __init__(self, dim: int, *, population: int, seed: int | None = None,
                 max_evaluations: int | None = None):
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if not isinstance(population, int) or population < self.min_population():
            raise ValueError(f"population must be an integer >= {self.min_population()} "
                             f"for {self.name}, got {population!r}")
        if max_evaluations is not None and (not isinstance(max_evaluations, int) or max_evaluations < 1):
            raise ValueError(f"max_evaluations must be a positive integer, got {max_evaluations!r}")
        self.dim = dim
        self.population_size = population
        self.max_evaluations = max_evaluations
        self.rng = np.random.default_rng(seed)
        self.generation = 0          # number of completed tell() calls
        self.evaluations = 0
        self.best_x: np.ndarray | None = None
        self.best_value = float("inf")
        self._pending: np.ndarray | None = None

    def min_population(self) -> int:
        """The smallest population this configuration can work with."""
        return 4

    @classmethod
    def default_population(cls, dim: int) -> int:
        """Population for hyperparameter search, where budgets are tens to hundreds of trials."""
        return 10

    @classmethod
    def benchmark_population(cls, dim: int) -> int:
        """Population the algorithm's authors used on the CEC benchmarks."""
        return 10 * dim

    # -- the contract -------------------------------------------------------
    def ask(self) -> np.ndarray:
        if self._pending is None:
            if self.max_evaluations is not None and self.evaluations >= self.max_evaluations:
                return np.empty((0, self.dim))
            self._pending = np.clip(self._ask(), 0.0, 1.0)
        return self._pending[:self._asked_count()].copy()

    def _asked_count(self) -> int:
        n = len(self._pending)
        return n if self.max_evaluations is None else min(n, self.max_evaluations - self.evaluations)

    def tell(self, values: Any) -> None:
        if self._pending is None:
            raise RuntimeError("tell() called without a pending ask()")
        asked = self._asked_count()
        values = np.asarray(values, dtype=float).reshape(-1)
        if values.shape[0] != asked:
            raise ValueError(f"expected {asked} values, got {values.shape[0]}")
        values = np.where(np.isnan(values), np.inf, values)
        k = int(np.argmin(values))
        if values[k] < self.best_value:
            self.best_value = float(values[k])
            self.best_x = self._pending[k].copy()
        candidates, self._pending = self._pending, None
        self.evaluations += asked
        padded = np.full(len(candidates), np.inf)
        padded[:asked] = values
        self._tell(candidates, padded)
        self.generation += 1

    def state_dict(self) -> dict[str, Any]:
        state = {
            "algorithm": self.name,
            "dim": self.dim,
            "population_size": self.population_size,
            "max_evaluations": self.max_evaluations,
            "rng": self.rng.bit_generator.state,
            "generation": self.generation,
            "evaluations": self.evaluations,
            "best_x": _list(self.best_x),
            "best_value": _float(self.best_value),
            "pending": _list(self._pending),
        }
        state.update(self._state())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("algorithm") != self.name or state.get("dim") != self.dim:
            raise ValueError(f"state is for {state.get('algorithm')!r} in {state.get('dim')} "
                             f"dimensions, not {self.name!r} in {self.dim}")
        self.population_size = state["population_size"]
        self.max_evaluations = state["max_evaluations"]
        self.rng.bit_generator.state = state["rng"]
        self.generation = state["generation"]
        self.evaluations = state["evaluations"]
        self.best_x = _array(state["best_x"])
        self.best_value = _unfloat(state["best_value"])
        self._pending = _array(state["pending"])
        self._load_state(state)

    # -- for subclasses -----------------------------------------------------
    @abstractmethod
    def _ask(self) -> np.ndarray: ...

    @abstractmethod
    def _tell(self, candidates: np.ndarray, values: np.ndarray) -> None: ...

    @abstractmethod
    def _state(self) -> dict[str, Any]: ...

    @abstractmethod
    def _load_state(self, state: dict[str, Any]) -> None: ...


# JSON has no inf/nan: store them as strings and back.
def _float(x: float) -> float | str:
    x = float(x)
    return x if np.isfinite(x) else repr(x)


def _unfloat(x: float | str) -> float:
    return float(x)


def _list(a: np.ndarray | None) -> list | None:
    if a is None:
        return None
    a = np.asarray(a, dtype=float)
    if np.all(np.isfinite(a)):
        return a.tolist()
    return np.vectorize(_float, otypes=[object])(a).tolist()


def _array(x: list | None) -> np.ndarray | None:
    if x is None:
        return None
    return np.array(x, dtype=object).astype(float)


def latin_hypercube(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """One point in each of n equal slices of every axis, slices paired at random."""
    u = (rng.random((n, dim)) + np.arange(n)[:, None]) / n
    for j in range(dim):
        u[:, j] = u[rng.permutation(n), j]
    return u


def distinct_indices(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """For each row i < n, k distinct indices in range(n), all different from i."""
    keys = rng.random((n, n))
    keys[np.arange(n), np.arange(n)] = np.inf
    return np.argsort(keys, axis=1)[:, :k]


def indices_except(rng: np.random.Generator, high: int, exclude: list[np.ndarray]) -> np.ndarray:
    """One index in range(high) per row, different from that row's indices in ``exclude``.

    The excluded indices of a row must be distinct. Drawing from the
    ``high - len(exclude)`` remaining values and stepping over the excluded
    ones in increasing order keeps the draw uniform and loop-free.
    """
    n = len(exclude[0])
    drawn = rng.integers(high - len(exclude), size=n)
    for ex in np.sort(np.stack(exclude, axis=1), axis=1).T:
        drawn += drawn >= ex
    return drawn


def pbest_indices(rng: np.random.Generator, fitness: np.ndarray, counts: np.ndarray | int,
                  avoid_self: bool = False) -> np.ndarray:
    """For each row, one of the ``counts`` best individuals, uniformly.

    ``avoid_self`` redraws where the pick is the row's own individual (the
    count must then be >= 2).
    """
    n = len(fitness)
    order = np.argsort(fitness, kind="stable")
    counts = np.broadcast_to(np.asarray(counts), (n,))
    picks = order[(rng.random(n) * counts).astype(int)]
    if avoid_self:
        rows = np.flatnonzero(picks == np.arange(n))
        while rows.size:
            picks[rows] = order[(rng.random(rows.size) * counts[rows]).astype(int)]
            rows = rows[picks[rows] == rows]
    return picks


def cauchy_positive(rng: np.random.Generator, location: np.ndarray, scale: float = 0.1) -> np.ndarray:
    """Cauchy(location, scale) draws, redrawn while <= 0 and truncated to 1 (JADE's rule)."""
    f = location + scale * rng.standard_cauchy(len(location))
    bad = np.flatnonzero(f <= 0)
    while bad.size:
        f[bad] = location[bad] + scale * rng.standard_cauchy(bad.size)
        bad = bad[f[bad] <= 0]
    return np.minimum(f, 1.0)


def exponential_crossover(rng: np.random.Generator, parents: np.ndarray, mutants: np.ndarray,
                          cr: np.ndarray | float) -> np.ndarray:
    """Take a run of L consecutive coordinates (cyclic) from the mutant, from a random start.

    L is 1 plus the number of leading draws below CR, at most the dimension.
    """
    n, dim = parents.shape
    cr = np.broadcast_to(np.asarray(cr, dtype=float).reshape(-1, 1), (n, 1))
    continues = rng.random((n, dim - 1)) < cr
    length = 1 + np.cumprod(continues, axis=1).sum(axis=1)
    start = rng.integers(dim, size=n)
    offset = (np.arange(dim)[None, :] - start[:, None]) % dim
    return np.where(offset < length[:, None], mutants, parents)


def binomial_crossover(rng: np.random.Generator, parents: np.ndarray, mutants: np.ndarray,
                       cr: np.ndarray | float) -> np.ndarray:
    """Take each coordinate from the mutant with probability CR, and at least one."""
    n, dim = parents.shape
    mask = rng.random((n, dim)) <= np.broadcast_to(np.asarray(cr, dtype=float).reshape(-1, 1), (n, 1))
    mask[np.arange(n), rng.integers(dim, size=n)] = True
    return np.where(mask, mutants, parents)


def midpoint_repair(trials: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Move an out-of-cube coordinate halfway between the parent and the violated bound.

    This is the JADE/L-SHADE rule; it keeps the search near good parents
    instead of scattering it (random re-init) or piling it on the faces (clip).
    """
    trials = np.where(trials < 0.0, parents / 2.0, trials)
    return np.where(trials > 1.0, (1.0 + parents) / 2.0, trials)
