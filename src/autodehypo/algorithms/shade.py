"""SHADE: success-history based adaptation of F and CR.

R. Tanabe and A. Fukunaga, "Success-History Based Parameter Adaptation for
Differential Evolution", IEEE CEC 2013, pp. 71-78.

Each individual draws its F and CR around a random slot of H-entry memories;
the F and CR of trials that beat their parents update one slot per
generation, weighted by the improvement |f(u) - f(x)|. Mutation is
current-to-pbest/1 with an archive of beaten parents, crossover binomial,
repair to the midpoint between parent and bound, and a tie replaces the parent
without counting as a success.

This class is also the frame for JADE, L-SHADE, jSO and DISH, which change
only the hooks below (how F, CR and the p-best pool are drawn, how a memory
slot is updated, and whether the population shrinks).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import (Optimizer, _array, adapted_summary, _float, _list, _unfloat, binomial_crossover, cauchy_positive,
                   latin_hypercube, midpoint_repair, pbest_indices)
from .de import archive_insert, current_to_pbest
from .prescreen import Prescreen

TERMINAL = -1.0  # an M_CR slot at this value makes every CR drawn from it 0 (L-SHADE)


class SHADE(Prescreen, Optimizer):
    """SHADE 1.0 with the CEC 2013 settings: H = population, |A| = population, p_i ~ U[2/N, 0.2].

    Defaults for hyperparameter search: population 12 (the paper used 100,
    see :meth:`benchmark_population`).
    """

    name = "shade"
    row_arrays = ("_trial_F", "_trial_CR")
    ties_replace = True  # a trial equal to its parent replaces it (not a success)

    def __init__(self, dim: int, *, population: int, seed: int | None = None,
                 max_evaluations: int | None = None, schedule: str = "generational",
                 H: int | None = None,
                 archive_rate: float = 1.0, M_F_init: float = 0.5, M_CR_init: float = 0.5,
                 p_max: float = 0.2):
        super().__init__(dim, population=population, seed=seed, max_evaluations=max_evaluations,
                         schedule=schedule)
        H = population if H is None else H
        if not isinstance(H, int) or H < 1:
            raise ValueError(f"H must be an integer >= 1, got {H!r}")
        if not archive_rate >= 0:
            raise ValueError(f"archive_rate must be >= 0, got {archive_rate!r}")
        for key, value in (("M_F_init", M_F_init), ("M_CR_init", M_CR_init), ("p_max", p_max)):
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{key} must be in (0, 1], got {value!r}")
        self.H = H
        self.archive_rate = float(archive_rate)
        self.p_max = float(p_max)
        self.M_F = np.full(H, float(M_F_init))
        self.M_CR = np.full(H, float(M_CR_init))
        self.k = 0
        self.population: np.ndarray | None = None
        self.fitness: np.ndarray | None = None
        self.archive = np.empty((0, dim))
        self._trial_F: np.ndarray | None = None
        self._trial_CR: np.ndarray | None = None

    @classmethod
    def default_population(cls, dim: int) -> int:
        return 12

    @classmethod
    def benchmark_population(cls, dim: int) -> int:
        return 100

    # -- hooks ----------------------------------------------------------------
    def progress(self) -> float:
        """Fraction of the evaluation budget spent (0 without a budget)."""
        return self.evaluations / self.max_evaluations if self.max_evaluations else 0.0

    def _memory_means(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.M_F[slots], self.M_CR[slots]

    def _sample_CR(self, mu: np.ndarray) -> np.ndarray:
        return np.clip(self.rng.normal(mu, 0.1), 0.0, 1.0)

    def _sample_F(self, mu: np.ndarray) -> np.ndarray:
        return cauchy_positive(self.rng, mu)

    def _pbest(self) -> np.ndarray:
        n = len(self.population)
        p = self.rng.uniform(2.0 / n, self.p_max, size=n) if 2.0 / n < self.p_max else np.full(n, self.p_max)
        counts = np.maximum(2, np.round(p * n)).astype(int)
        return pbest_indices(self.rng, self.fitness, counts)

    def _Fw(self, F: np.ndarray) -> np.ndarray:
        return F

    def _weights(self, parents: np.ndarray, parent_values: np.ndarray, trials: np.ndarray,
                 values: np.ndarray) -> np.ndarray | None:
        """Weights of the successful trials (each row beat its parent), or None to skip the update."""
        gain = np.abs(parent_values - values)
        if np.isinf(gain).any():  # parents that had failed (inf): they share the weight
            gain = np.isinf(gain).astype(float)
        total = gain.sum()
        return gain / total if total > 0 else np.full(gain.size, 1.0 / gain.size)

    def _update_slot(self, S_F: np.ndarray, S_CR: np.ndarray, w: np.ndarray) -> None:
        self.M_CR[self.k] = np.sum(w * S_CR)
        self.M_F[self.k] = lehmer(S_F, w)
        self.k = (self.k + 1) % self.H

    def _archive_capacity(self) -> int:
        return int(round(self.archive_rate * len(self.population)))

    def _after_selection(self) -> None:
        """Population size reduction after each generation, for the variants that have it."""

    def _initial_population(self) -> np.ndarray:
        return latin_hypercube(self.rng, self.population_size, self.dim)

    # -- the generation -------------------------------------------------------
    def _ask(self) -> np.ndarray:
        if self.population is None:
            return self._start(self._initial_population())
        trials, self._trial_F, self._trial_CR = self._screened(self._trials)
        return trials

    def _trials(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One draw of F, CR and the trial vectors they make: (trials, F, CR)."""
        n = len(self.population)
        mu_F, mu_CR = self._memory_means(self.rng.integers(self.H, size=n))
        CR = self._sample_CR(mu_CR)
        F = self._sample_F(mu_F)
        mutants = current_to_pbest(self.rng, self.population, self.archive, self._pbest(), F, self._Fw(F))
        trials = binomial_crossover(self.rng, self.population, mutants, CR)
        return midpoint_repair(trials, self.population), F, CR

    def _tell(self, candidates: np.ndarray, values: np.ndarray) -> None:
        if self.population is None:
            self.population, self.fitness = candidates, values
            return
        improved = values < self.fitness
        if improved.any():
            self.archive = archive_insert(self.rng, self.archive, self.population[improved],
                                          self._archive_capacity())
            w = self._weights(self.population[improved], self.fitness[improved], candidates[improved],
                              values[improved])
            if w is not None:
                self._update_slot(self._trial_F[improved], self._trial_CR[improved], w)
        replace = values <= self.fitness if self.ties_replace else improved
        self.population = np.where(replace[:, None], candidates, self.population)
        self.fitness = np.where(replace, values, self.fitness)
        self._trial_F = self._trial_CR = None
        self._after_selection()

    def _select_one(self, target: int, x: np.ndarray, value: float, params: dict[str, float]) -> None:
        parent, parent_value = self.population[target].copy(), float(self.fitness[target])
        if value < parent_value:
            self.archive = archive_insert(self.rng, self.archive, parent[None, :],
                                          self._archive_capacity())
            if params:  # a start-up point had no F and CR to learn from
                self._window.append({"F": params["_trial_F"], "CR": params["_trial_CR"],
                                     "parent": _list(parent), "parent_value": _float(parent_value),
                                     "x": _list(x), "value": _float(value)})
        if value < parent_value or (self.ties_replace and value == parent_value):
            self.population[target], self.fitness[target] = x, value

    def _adapt(self, window: list[dict[str, Any]]) -> None:
        if window:
            w = self._weights(np.array([_array(s["parent"]) for s in window]),
                              np.array([_unfloat(s["parent_value"]) for s in window]),
                              np.array([_array(s["x"]) for s in window]),
                              np.array([_unfloat(s["value"]) for s in window]))
            if w is not None:
                self._update_slot(np.array([s["F"] for s in window]),
                                  np.array([s["CR"] for s in window]), w)
        self._after_selection()

    # -- state ----------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        return adapted_summary(self.population_now(), self.M_F, self.M_CR, "memory")

    def _state(self) -> dict[str, Any]:
        return {"H": self.H, "archive_rate": self.archive_rate, "p_max": self.p_max,
                "M_F": _list(self.M_F), "M_CR": _list(self.M_CR), "k": self.k,
                "population": _list(self.population), "fitness": _list(self.fitness),
                "archive": _list(self.archive), "trial_F": _list(self._trial_F),
                "trial_CR": _list(self._trial_CR)}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.H, self.archive_rate, self.p_max = state["H"], state["archive_rate"], state["p_max"]
        self.M_F, self.M_CR, self.k = _array(state["M_F"]), _array(state["M_CR"]), state["k"]
        self.population, self.fitness = _array(state["population"]), _array(state["fitness"])
        self.archive = _array(state["archive"]).reshape(-1, self.dim)
        self._trial_F, self._trial_CR = _array(state["trial_F"]), _array(state["trial_CR"])


def lehmer(values: np.ndarray, weights: np.ndarray) -> float:
    """Weighted Lehmer mean sum(w v^2) / sum(w v)."""
    denominator = np.sum(weights * values)
    return float(np.sum(weights * values ** 2) / denominator) if denominator > 0 else 0.0
