"""GDE3-SHADE: GDE3 with SHADE's success-history adaptation of F and CR.

GDE3: S. Kukkonen and J. Lampinen, IEEE CEC 2005. SHADE: R. Tanabe and
A. Fukunaga, "Success-History Based Parameter Adaptation for Differential
Evolution", IEEE CEC 2013.

Why this one: GDE3's results hinge on CR (Kukkonen and Lampinen's own control
parameter study, CEC 2006): a small CR suits separable problems such as ZDT,
problems whose variables interact want a large one, and a hyperparameter
search cannot know which it faces or afford a tuning run. SHADE's memories are
the smallest well-tested mechanism that learns both F and CR from the run, and
the project already has and tests them. Everything else is GDE3's (the
one-to-one selection, the pruning, DE/rand/1/bin), so a difference from
``gde3`` is the adaptation's doing. ``mutation="current-to-pbest/1"`` is the
L-SHADE-style alternative: the p-best pool is the top of the population ranked
by non-dominated sorting, then crowding distance (or hypervolume contribution, with
``pruning="hypervolume"``: the pool is ranked as the cut ranks). With pre-screening it is the
one a study takes by default (with p = 0.5, from version 8 of the search defaults):
each slot's candidates then start from the slot's own parent, where rand/1's
start from random members that the model can draw, slot after slot, to the one
region it rates best (on ZDT2 the whole population's x1 went to 0 in 9 seeds of
10 with rand/1, in 4 with current-to-pbest/1; ``redraws`` in pareto_screen.py
lets such a population out).

A trial is a success when it enters the population (it weakly dominates its
parent, or it survives the pruning). With several objectives there is no single
improvement |f(u) - f(x)| to weight successes by, so they weigh equally (as in
JADE): M_CR takes their mean CR and M_F the Lehmer mean of their F. The async
schedule updates one memory slot per window of N results.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import _array, _list, adapted_summary, cauchy_positive, pbest_indices
from .de import current_to_pbest
from .gde3 import GDE3
from .pareto import survival_order
from .shade import lehmer

GDE3_MUTATIONS = ("rand/1", "current-to-pbest/1")


class GDE3SHADE(GDE3):
    """H memory slots (default: the population size) start at M_F_init and M_CR_init.

    ``p`` is the p-best fraction for ``mutation="current-to-pbest/1"``; ``pruning`` is GDE3's
    (crowding distance, or the least hypervolume contribution).
    """

    name = "gde3-shade"
    row_arrays = ("_trial_F", "_trial_CR")

    def __init__(self, dim: int, *, population: int, seed: int | None = None,
                 max_evaluations: int | None = None, schedule: str = "generational",
                 objectives: int = 2, H: int | None = None, M_F_init: float = 0.5,
                 M_CR_init: float = 0.5, mutation: str = "rand/1", p: float = 0.2,
                 pruning: str = "crowding"):
        super().__init__(dim, population=population, seed=seed, max_evaluations=max_evaluations,
                         schedule=schedule, objectives=objectives, pruning=pruning)
        H = population if H is None else H
        if isinstance(H, bool) or not isinstance(H, int) or H < 1:
            raise ValueError(f"H must be an integer >= 1, got {H!r}")
        for key, value in (("M_F_init", M_F_init), ("M_CR_init", M_CR_init), ("p", p)):
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{key} must be in (0, 1], got {value!r}")
        if mutation not in GDE3_MUTATIONS:
            raise ValueError(f"mutation must be one of {list(GDE3_MUTATIONS)}, got {mutation!r}")
        self.H, self.mutation, self.p = H, mutation, float(p)
        self.M_F = np.full(H, float(M_F_init))
        self.M_CR = np.full(H, float(M_CR_init))
        self.k = 0
        self._trial_F: np.ndarray | None = None
        self._trial_CR: np.ndarray | None = None

    def _trial_parameters(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        slots = self.rng.integers(self.H, size=n)
        CR = np.clip(self.rng.normal(self.M_CR[slots], 0.1), 0.0, 1.0)
        return cauchy_positive(self.rng, self.M_F[slots]), CR

    def _chose(self, F: np.ndarray, CR: np.ndarray) -> None:
        self._trial_F, self._trial_CR = F, CR

    def _mutants(self, F: np.ndarray) -> np.ndarray:
        if self.mutation == "rand/1":
            return super()._mutants(F)
        n = len(self.population)
        place = np.empty(n)
        place[survival_order(self.values, by=self.pruning)] = np.arange(n)  # 0: the best, as the cut ranks
        pbest = pbest_indices(self.rng, place, max(2, int(round(self.p * n))))
        return current_to_pbest(self.rng, self.population, np.empty((0, self.dim)), pbest, F)

    def _update_slot(self, S_F: np.ndarray, S_CR: np.ndarray) -> None:
        if S_F.size:
            w = np.full(S_F.size, 1.0 / S_F.size)
            self.M_CR[self.k] = float(np.sum(w * S_CR))
            self.M_F[self.k] = lehmer(S_F, w)
            self.k = (self.k + 1) % self.H

    def _successes(self, survived: np.ndarray) -> None:
        self._update_slot(self._trial_F[survived], self._trial_CR[survived])
        self._trial_F = self._trial_CR = None

    def _window_success(self, params: dict[str, float]) -> None:
        if params:  # a start-up point had no F and CR to learn from
            self._window.append({"F": params["_trial_F"], "CR": params["_trial_CR"]})

    def _adapt(self, window: list[dict[str, Any]]) -> None:
        self._update_slot(np.array([s["F"] for s in window]), np.array([s["CR"] for s in window]))

    def summary(self) -> dict[str, Any]:
        return adapted_summary(self.population_now(), self.M_F, self.M_CR, "memory")

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "H": self.H, "mutation": self.mutation, "p": self.p,
                "M_F": _list(self.M_F), "M_CR": _list(self.M_CR), "k": self.k,
                "trial_F": _list(self._trial_F), "trial_CR": _list(self._trial_CR)}

    def _load_state(self, state: dict[str, Any]) -> None:
        super()._load_state(state)
        self.H, self.mutation, self.p = state["H"], state["mutation"], state["p"]
        self.M_F, self.M_CR, self.k = _array(state["M_F"]), _array(state["M_CR"]), state["k"]
        self._trial_F, self._trial_CR = _array(state["trial_F"]), _array(state["trial_CR"])
