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

    @classmethod
    def min_population(cls) -> int:
        return 4

    # -- the contract -------------------------------------------------------
    def ask(self) -> np.ndarray:
        if self._pending is None:
            self._pending = np.clip(self._ask(), 0.0, 1.0)
        return self._pending.copy()

    def tell(self, values: Any) -> None:
        if self._pending is None:
            raise RuntimeError("tell() called without a pending ask()")
        values = np.asarray(values, dtype=float).reshape(-1)
        if values.shape[0] != self._pending.shape[0]:
            raise ValueError(f"expected {self._pending.shape[0]} values, got {values.shape[0]}")
        values = np.where(np.isnan(values), np.inf, values)
        k = int(np.argmin(values))
        if values[k] < self.best_value:
            self.best_value = float(values[k])
            self.best_x = self._pending[k].copy()
        candidates, self._pending = self._pending, None
        self._tell(candidates, values)
        self.generation += 1
        self.evaluations += len(values)

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
