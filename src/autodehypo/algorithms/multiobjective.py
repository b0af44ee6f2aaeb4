"""The ask/tell contract with several objectives, all minimized.

``tell(id, values)`` takes the m objective values of a candidate (for
hyperparameter search: the error and the energy), ``tell_generation`` an
(n, m) array. A vector with an infinite or NaN entry is a failed trial: it is
stored as all-inf, loses every comparison with a finite vector and never enters
:meth:`MultiObjectiveOptimizer.front`.

Both schedules of :mod:`.base` work as for one objective: generational
per-candidate calls are the batch calls bit for bit; asynchronous results are
selected against their parent at once (a start-up point, or one whose parent's
row is gone, against the member that would be pruned first).

``best_value``/``best_x`` follow the first objective alone (the error, in an
error/energy study), among finite vectors; the trade-off is in :meth:`front`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .base import Candidate, Optimizer, _array, _list
from .pareto import finite_rows, non_dominated, dominates, survival_order


class MultiObjectiveOptimizer(Optimizer):
    """Base for population-based minimizers of ``objectives`` >= 2 objectives over [0, 1]^dim.

    Subclasses keep ``self.population`` (N, dim) and ``self.values`` (N, m), and
    implement ``_ask``, ``_tell`` (values (n, m)), ``_state``, ``_load_state``
    and, for the async schedule, ``_select_one(target, x, values, params)``.
    """

    multi_objective = True
    pruning = "crowding"  # how the population is cut (pareto.PRUNINGS); GDE3 takes it as an option

    def __init__(self, dim: int, *, population: int, seed: int | None = None,
                 max_evaluations: int | None = None, schedule: str = "generational",
                 objectives: int = 2):
        if isinstance(objectives, bool) or not isinstance(objectives, int) or objectives < 2:
            raise ValueError(f"objectives must be an integer >= 2 for {self.name}, got {objectives!r}")
        super().__init__(dim, population=population, seed=seed, max_evaluations=max_evaluations,
                         schedule=schedule)
        self.n_objectives = objectives
        self.population: np.ndarray | None = None
        self.values: np.ndarray | None = None
        self._initial_values: list[tuple[np.ndarray, np.ndarray]] = []  # async start-up, as it arrives
        # Every evaluated point no other evaluated point dominates, with its candidate id.
        self._front_x = np.empty((0, dim))
        self._front_f = np.empty((0, objectives))
        self._front_ids = np.empty(0, dtype=int)

    # -- results ----------------------------------------------------------------
    def front(self) -> tuple[np.ndarray, np.ndarray]:
        """(X, F): the non-dominated points among all finite evaluations so far, in arrival order."""
        return self._front_x.copy(), self._front_f.copy()

    def front_ids(self) -> list[int]:
        """Candidate ids of the rows of :meth:`front`."""
        return self._front_ids.tolist()

    def _vector(self, values: Any) -> np.ndarray:
        vector = np.asarray(values, dtype=float).reshape(-1)
        if vector.size != self.n_objectives:
            raise ValueError(f"expected {self.n_objectives} objective values, got {vector.size}")
        return vector if np.isfinite(vector).all() else np.full(self.n_objectives, np.inf)

    def _record(self, X: np.ndarray, F: np.ndarray, ids: np.ndarray) -> None:
        """Add evaluated points to the running front and the first-objective best."""
        ok = finite_rows(F)
        X, F, ids = X[ok], F[ok], ids[ok]
        if not len(F):
            return
        k = int(np.argmin(F[:, 0]))
        if F[k, 0] < self.best_value:
            self.best_value, self.best_x = float(F[k, 0]), X[k].copy()
        new = non_dominated(F)
        X, F, ids = X[new], F[new], ids[new]
        if len(self._front_f):
            beaten_new = dominates(self._front_f[None, :, :], F[:, None, :]).any(axis=1)
            X, F, ids = X[~beaten_new], F[~beaten_new], ids[~beaten_new]
            beaten_old = dominates(F[None, :, :], self._front_f[:, None, :]).any(axis=1)
            self._front_x, self._front_f = self._front_x[~beaten_old], self._front_f[~beaten_old]
            self._front_ids = self._front_ids[~beaten_old]
        self._front_x = np.vstack([self._front_x, X])
        self._front_f = np.vstack([self._front_f, F])
        self._front_ids = np.concatenate([self._front_ids, ids])

    # -- the per-candidate contract -------------------------------------------
    def tell(self, id: int, values: Sequence[float], cost: float | None = None) -> None:
        # cost: no multi-objective algorithm weighs it yet (an objective can be the energy itself).
        vector = self._vector(values)
        if self.schedule == "async":
            self._tell_async(id, vector)
            return
        row = id - self._first_id
        if self._pending is None or not 0 <= row < self._handed or not np.isnan(self._told[row]).all():
            raise ValueError(f"candidate {id} is not waiting for a value")
        self._told[row] = vector
        told = self._told[:self._asked_count()]
        if not np.isnan(told).any():
            self.tell_generation(told)

    def pending_candidates(self) -> list[Candidate]:
        # A row of told values per candidate: all NaN until told (the base class has one value).
        if self.schedule == "async" or self._pending is None:
            return super().pending_candidates()
        return [Candidate(self._first_id + r, self._pending[r].copy(), self.generation, r)
                for r in range(self._handed) if np.isnan(self._told[r]).all()]

    def _new_generation(self) -> None:
        super()._new_generation()
        self._told = np.full((len(self._pending), self.n_objectives), np.nan)  # NaN: not told yet

    def tell_generation(self, values: Any, costs: Any = None) -> None:
        if self._pending is None:
            raise RuntimeError("tell_generation() called without a pending generation")
        asked = self._asked_count()
        values = np.asarray(values, dtype=float)
        if values.shape != (asked, self.n_objectives):
            raise ValueError(f"expected values of shape {(asked, self.n_objectives)}, got {values.shape}")
        values = np.where(finite_rows(values)[:, None], values, np.inf)
        candidates, self._pending, self._told = self._pending, None, None
        self._record(candidates[:asked], values, self._first_id + np.arange(asked))
        self.evaluations += asked
        padded = np.full((len(candidates), self.n_objectives), np.inf)
        padded[:asked] = values
        self._tell(candidates, padded)
        self.generation += 1

    # -- the asynchronous schedule --------------------------------------------
    def _tell_async(self, id: int, vector: np.ndarray) -> None:
        record = self._outstanding.pop(id, None)
        if record is None:
            raise ValueError(f"candidate {id} is not waiting for a value")
        x = record["x"]
        self.evaluations += 1
        self._record(x[None, :], vector[None, :], np.array([id]))
        if not self.population_ready():
            self._initial_values.append((x, vector))
            if len(self._initial_values) == self.population_size:
                self._pending = None
                self._tell(np.array([p for p, _ in self._initial_values]),
                           np.array([v for _, v in self._initial_values]))
                self._initial_values = []
                self.generation += 1
            return
        if record["row"] < 0 or record["layout"] != self._layout:
            # No parent in place: the member the subclass's cut would drop first.
            target = int(survival_order(self.values, by=self.pruning)[-1])
        else:
            target = record["row"]
        self._select_one(target, x, vector, record["params"])
        self._window_count += 1
        if self._window_count >= len(self.population):
            window, self._window, self._window_count = self._window, [], 0
            self._adapt(window)
            self.generation += 1

    # -- state ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update({
            "objectives": self.n_objectives,
            "initial_values": [[_list(x), _list(v)] for x, v in self._initial_values],
            "front_x": _list(self._front_x), "front_f": _list(self._front_f),
            "front_ids": self._front_ids.tolist(),
        })
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("objectives") != self.n_objectives:
            raise ValueError(f"state is for {state.get('objectives')} objectives, not {self.n_objectives}")
        super().load_state_dict(state)
        self._initial_values = [(_array(x), _array(v)) for x, v in state["initial_values"]]
        self._front_x = _array(state["front_x"]).reshape(-1, self.dim)
        self._front_f = _array(state["front_f"]).reshape(-1, self.n_objectives)
        self._front_ids = np.array(state["front_ids"], dtype=int)
