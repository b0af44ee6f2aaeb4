"""The ask/tell contract shared by every optimizer.

Optimizers are pure numpy state machines in the unit hypercube: no I/O, one
``numpy.random.Generator`` for every random choice, and a JSON-safe
``state_dict`` that includes that generator's state, so that a study reloaded
from a checkpoint continues exactly as an uninterrupted one would.

The contract is one candidate per :meth:`Optimizer.ask` and one value per
:meth:`Optimizer.tell`; the algorithm keeps its generation inside. Two
schedules decide what happens between them:

- ``generational``: a generation is made when its first candidate is asked;
  :meth:`ask` answers ``None`` once all of it is out, until every value is in;
  then the algorithm selects and adapts, exactly as a batch algorithm does.
- ``async`` (steady state): :meth:`ask` always has a candidate, made from the
  population as it is now; :meth:`tell` selects the result against its parent
  at once (DEHB's immediate update), and the algorithm adapts (memories,
  population size) after every window of as many results as the population
  has members. The initial population is the first N results to arrive;
  while it is incomplete and every initial point is out, extra uniform points
  keep free workers busy and compete with the worst member when they arrive.
  An asynchronous run depends on the order in which results arrive, which no
  seed fixes: given the same order it repeats exactly.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Hashable

import numpy as np

SCHEDULES = ("generational", "async")


class SettingError(ValueError):
    """A setting a search cannot run with. ``setting`` names which: ``population``,
    ``max_evaluations`` or ``schedule`` (what the study sets), else one of the algorithm's
    options (a plain ValueError)."""

    def __init__(self, setting: str, message: str):
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class Candidate:
    """A point to evaluate. ``id`` names it to :meth:`Optimizer.tell`; ids count asks from 0.

    ``generation`` and ``index`` say where it came from: the generation (async: the window)
    it was made in and its row there, which is its parent's (-1: a start-up point).
    """

    id: int
    x: np.ndarray
    generation: int
    index: int
    fidelity: float | None = None  # for multi-fidelity schedules; None: the full budget
    continues: int | None = None   # multi-fidelity: the candidate whose training this one extends


class Search(ABC):
    """What a study knows of any search it runs: one objective, several, or multi-fidelity.

    ``ask()`` gives one :class:`Candidate` or ``None`` (nothing to ask until a value comes back,
    or the budget is asked); ``tell(id, value, cost)`` takes its result, lower is better: a
    number, or for a multi-objective search a vector, minimized. ``pending_candidates()`` are
    the candidates asked and not told; ``state_dict()`` / ``load_state_dict()`` make a resumed
    search continue exactly; ``summary()`` is what reports show of it. A new kind of search is a
    new subclass, never a branch in the study loop.
    """

    name: str = ""
    generation: int = 0   # completed generations (async: windows; multi-fidelity: rungs)
    evaluations: int = 0  # results told
    asked: int = 0        # candidates asked: the next candidate's id

    @abstractmethod
    def ask(self) -> Candidate | None: ...

    @abstractmethod
    def tell(self, id: int, value: Any, cost: float | None = None) -> None: ...

    @abstractmethod
    def pending_candidates(self) -> list[Candidate]: ...

    def pending_ids(self) -> list[int]:
        """Candidates asked and not yet told, in the order they were asked."""
        return [c.id for c in self.pending_candidates()]

    @abstractmethod
    def state_dict(self) -> dict[str, Any]: ...

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def state_parts(self) -> tuple[dict[str, Any], np.ndarray | None]:
        """The state in two parts, for a store that keeps the current state and appends the rest:
        what replaces the last state, and the search's history (rows, never changed once made;
        None without one). Saved after every ask and tell, the state then stays small however
        long the study runs. :meth:`load_state_parts` takes both back."""
        return self.state_dict(), None

    def load_state_parts(self, state: dict[str, Any], history: np.ndarray | None) -> None:
        self.load_state_dict(state)

    def set_key(self, key: Callable[[np.ndarray], Hashable] | None,
                canonical: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        """How candidates map to configurations, for a search that avoids asking one twice
        (pre-screening); ``canonical``: the one point of the cube that stands for a candidate's
        configuration (integers rounded, a choice at its own place), for a model of the values.
        The others ignore both."""

    def summary(self) -> dict[str, Any]:
        """What reports show of the search now, read off its own state: ``population`` (its
        size), ``F`` and ``CR`` (numbers, or means over a memory or the individuals: see
        ``averaged``), ``adapts`` (whether it changes them), and ``note`` (a line for reports)."""
        return {"population": None, "F": None, "CR": None, "adapts": False, "averaged": None,
                "note": f"{self.name} reports no F or CR"}


class Optimizer(Search):
    """Base class: a population-based minimizer over [0, 1]^dim.

    ``ask()`` returns a :class:`Candidate` or ``None`` (nothing to ask until a value
    comes back, or every evaluation of ``max_evaluations`` is asked); ``tell(id, value)``
    takes its value: lower is better, ``inf`` (or NaN) means "no good".

    ``tell(id, value, cost)`` may also say what the evaluation cost (energy); the
    pre-screening algorithms use it when ``cost_weight`` is set, the others ignore it.

    ``ask_generation()`` / ``tell_generation(values)`` do a whole generation at once
    (generational schedule), for benchmarks that evaluate a batch in one call.

    With ``max_evaluations`` set, exactly that many candidates are asked in all; in the
    generational schedule the last generation is cut and the candidates left out count
    as unevaluated (``inf``) for the algorithm's own bookkeeping.
    """

    # Per-row arrays that ``_ask`` fills for the generation it makes (the F and CR each trial
    # was made with): an asynchronous candidate keeps its row's values until it is told.
    row_arrays: tuple[str, ...] = ()
    # Why an algorithm cannot run asynchronously, or None when it can.
    no_async: str | None = None
    # True for the algorithms whose tell() takes a vector of objectives (multiobjective.py).
    multi_objective = False

    def __init__(self, dim: int, *, population: int, seed: int | None = None,
                 max_evaluations: int | None = None, schedule: str = "generational"):
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if not isinstance(population, int) or population < self.min_population():
            raise SettingError("population", f"population must be an integer >= {self.min_population()} "
                                             f"for {self.name}, got {population!r}")
        if max_evaluations is not None and (not isinstance(max_evaluations, int) or max_evaluations < 1):
            raise SettingError("max_evaluations", f"max_evaluations must be a positive integer, "
                                                  f"got {max_evaluations!r}")
        if schedule not in SCHEDULES:
            raise SettingError("schedule", f"schedule must be one of {list(SCHEDULES)}, got {schedule!r}")
        if schedule == "async" and self.no_async:
            raise SettingError("schedule", f"{self.name} runs only with the generational schedule: "
                                           f"{self.no_async}")
        self.dim = dim
        self.population_size = population
        self.max_evaluations = max_evaluations
        self.schedule = schedule
        self.rng = np.random.default_rng(seed)
        self.generation = 0          # completed generations (async: the initial population, then windows)
        self.evaluations = 0         # values told
        self.asked = 0               # candidates asked: the next candidate's id
        self.best_x: np.ndarray | None = None
        self.best_value = float("inf")
        self._pending: np.ndarray | None = None  # the generation being handed out
        self._first_id = 0           # generational: the id of the pending generation's row 0
        self._handed = 0             # rows of the pending generation asked so far
        self._told: np.ndarray | None = None     # generational: its values so far (NaN: not yet)
        self._outstanding: dict[int, dict[str, Any]] = {}  # async: asked, not told
        self._initial: list[tuple[np.ndarray, float]] = []  # async: the start, as it arrives
        self._window: list[dict[str, Any]] = []  # async: what the algorithm adapts from
        self._window_count = 0
        self._layout = 0             # async: bumped when rows are removed, so old row numbers lapse

    def population_now(self) -> int:
        """Members of the population now (its nominal size before the first is evaluated)."""
        population = getattr(self, "population", None)
        return self.population_size if population is None else len(population)

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

    # -- the per-candidate contract -------------------------------------------
    def ask(self) -> Candidate | None:
        if self.schedule == "async":
            return self._ask_async()
        if self._pending is None:
            if self._all_asked():
                return None
            self._new_generation()
        if self._handed >= self._asked_count():
            return None  # the generation is out: its values come first
        row = self._handed
        self._resolve(row)
        self._handed += 1
        self.asked += 1
        return Candidate(self._first_id + row, self._pending[row].copy(), self.generation, row)

    def tell(self, id: int, value: float, cost: float | None = None) -> None:
        """``cost``: what evaluating the candidate consumed (its energy), for the algorithms that
        weigh it (cost-aware pre-screening, prescreen.py); the others ignore it."""
        value = float(value)
        if np.isnan(value):
            value = np.inf
        if self.schedule == "async":
            self._tell_async(id, value)
            return
        row = id - self._first_id
        if self._pending is None or not 0 <= row < self._handed or not np.isnan(self._told[row]):
            raise ValueError(f"candidate {id} is not waiting for a value")
        self._told[row] = value
        values = self._told[:self._asked_count()]
        if not np.isnan(values).any():
            self.tell_generation(values)

    def pending_candidates(self) -> list[Candidate]:
        """The candidates asked and not yet told, as :meth:`ask` gave them, in that order."""
        if self.schedule == "async":
            return [Candidate(i, r["x"].copy(), r["generation"], r["index"])
                    for i, r in sorted(self._outstanding.items())]
        if self._pending is None:
            return []
        return [Candidate(self._first_id + r, self._pending[r].copy(), self.generation, r)
                for r in range(self._handed) if np.isnan(self._told[r])]

    # -- a whole generation at once -------------------------------------------
    def ask_generation(self) -> np.ndarray:
        """The rest of the pending generation (all of it when none is out); the same until told."""
        if self.schedule != "generational":
            raise RuntimeError("ask_generation() needs the generational schedule")
        if self._pending is None:
            if self._all_asked():
                return np.empty((0, self.dim))
            self._new_generation()
        count = self._asked_count()
        for row in range(self._handed, count):
            self._resolve(row)
        self.asked += max(0, count - self._handed)
        self._handed = max(self._handed, count)
        return self._pending[:count].copy()

    def tell_generation(self, values: Any, costs: Any = None) -> None:
        """All values of the pending generation, in the order asked; ``costs`` as for :meth:`tell`."""
        if self._pending is None:
            raise RuntimeError("tell_generation() called without a pending generation")
        asked = self._asked_count()
        values = np.asarray(values, dtype=float).reshape(-1)
        if values.shape[0] != asked:
            raise ValueError(f"expected {asked} values, got {values.shape[0]}")
        values = np.where(np.isnan(values), np.inf, values)
        k = int(np.argmin(values))
        if values[k] < self.best_value:
            self.best_value = float(values[k])
            self.best_x = self._pending[k].copy()
        candidates, self._pending, self._told = self._pending, None, None
        self.evaluations += asked
        padded = np.full(len(candidates), np.inf)
        padded[:asked] = values
        self._tell(candidates, padded)
        self.generation += 1

    def _resolve(self, row: int) -> None:
        """Settle row ``row`` of the pending trials just before it is handed out: a search that
        chooses each trial with everything told until then (prescreen.py) does it here."""

    def _all_asked(self) -> bool:
        return self.max_evaluations is not None and self.asked >= self.max_evaluations

    def _new_generation(self) -> None:
        self._pending = np.clip(self._ask(), 0.0, 1.0)
        self._first_id, self._handed = self.asked, 0
        self._told = np.full(len(self._pending), np.nan)

    def _asked_count(self) -> int:
        n = len(self._pending)
        return n if self.max_evaluations is None else min(n, self.max_evaluations - self.evaluations)

    # -- the asynchronous schedule --------------------------------------------
    def _ask_async(self) -> Candidate | None:
        if self._all_asked():
            return None
        if self.population_ready():
            if self._pending is None or self._handed >= len(self._pending):
                self._pending, self._handed = np.clip(self._ask(), 0.0, 1.0), 0
            row = self._handed
            self._resolve(row)
            self._handed += 1
            x = self._pending[row].copy()
            record = {"row": row, "layout": self._layout,
                      "params": {a: float(getattr(self, a)[row]) for a in self.row_arrays}}
        else:
            if self._pending is None:
                self._pending, self._handed = np.clip(self._ask(), 0.0, 1.0), 0
            if self._handed < len(self._pending):
                row = self._handed
                self._resolve(row)
                self._handed += 1
                x = self._pending[row].copy()
            else:
                row, x = -1, self.rng.random(self.dim)
            record = {"row": -1, "layout": self._layout, "params": {}}
        record.update(x=x, generation=self.generation, index=row)
        self._outstanding[self.asked] = record
        self.asked += 1
        return Candidate(self.asked - 1, x.copy(), self.generation, row)

    def inject(self, x: np.ndarray, value: float) -> None:
        """Async: a point evaluated elsewhere joins as a start-up point would: it fills the
        initial population, or competes with the worst member (multi-fidelity promotions)."""
        if self.schedule != "async":
            raise RuntimeError("inject() needs the async schedule")
        self._outstanding[self.asked] = {"row": -1, "layout": self._layout, "params": {},
                                         "x": np.clip(np.asarray(x, dtype=float), 0.0, 1.0),
                                         "generation": self.generation, "index": -1}
        self.asked += 1
        self.tell(self.asked - 1, value)

    def population_ready(self) -> bool:
        """Whether the initial population has been evaluated."""
        return getattr(self, "population", None) is not None

    def _tell_async(self, id: int, value: float) -> None:
        record = self._outstanding.pop(id, None)
        if record is None:
            raise ValueError(f"candidate {id} is not waiting for a value")
        x = record["x"]
        self.evaluations += 1
        if value < self.best_value:
            self.best_value, self.best_x = value, x.copy()
        if not self.population_ready():
            self._initial.append((x, value))
            if len(self._initial) == self.population_size:
                self._pending = None
                self._tell(np.array([p for p, _ in self._initial]),
                           np.array([v for _, v in self._initial]))
                self._initial = []
                self.generation += 1
            return
        fitness = self.fitness
        if record["row"] < 0 or record["layout"] != self._layout:
            target = int(np.argmax(fitness))  # no parent left in place: it competes with the worst
        else:
            target = record["row"]
        self._select_one(target, x, value, record["params"])
        self._window_count += 1
        if self._window_count >= len(self.population):
            size = len(self.population)
            window, self._window, self._window_count = self._window, [], 0
            self._adapt(window)
            if len(self.population) != size:
                self._layout += 1
                self._pending = None  # its rows refer to the old layout
            self.generation += 1

    def _select_one(self, target: int, x: np.ndarray, value: float, params: dict[str, float]) -> None:
        """Asynchronous selection of one result against the member in row ``target``."""
        raise NotImplementedError(f"{self.name} has no asynchronous selection")

    def _adapt(self, window: list[dict[str, Any]]) -> None:
        """Asynchronous adaptation after a window of results (memories, population size)."""

    # -- state ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {
            "algorithm": self.name,
            "dim": self.dim,
            "population_size": self.population_size,
            "max_evaluations": self.max_evaluations,
            "schedule": self.schedule,
            "rng": self.rng.bit_generator.state,
            "generation": self.generation,
            "evaluations": self.evaluations,
            "asked": self.asked,
            "best_x": _list(self.best_x),
            "best_value": _float(self.best_value),
            "pending": _list(self._pending),
            "first_id": self._first_id,
            "handed": self._handed,
            "told": _list(self._told),
            "outstanding": {str(i): {**r, "x": _list(r["x"])} for i, r in self._outstanding.items()},
            "initial": [[_list(x), _float(v)] for x, v in self._initial],
            "window": self._window,
            "window_count": self._window_count,
            "layout": self._layout,
        }
        state.update(self._state())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("algorithm") != self.name or state.get("dim") != self.dim:
            raise ValueError(f"state is for {state.get('algorithm')!r} in {state.get('dim')} "
                             f"dimensions, not {self.name!r} in {self.dim}")
        if state.get("schedule", "generational") != self.schedule:
            raise ValueError(f"state is for the {state.get('schedule')!r} schedule, "
                             f"not {self.schedule!r}")
        self.population_size = state["population_size"]
        self.max_evaluations = state["max_evaluations"]
        self.rng.bit_generator.state = state["rng"]
        self.generation = state["generation"]
        self.evaluations = state["evaluations"]
        self.best_x = _array(state["best_x"])
        self.best_value = _unfloat(state["best_value"])
        self._pending = _array(state["pending"])
        if "asked" in state:
            self.asked, self._first_id, self._handed = state["asked"], state["first_id"], state["handed"]
            self._told = _array(state["told"])
        else:  # a checkpoint from before per-candidate asks: its pending generation was all out
            self._first_id = self.evaluations
            self._handed = 0 if self._pending is None else self._asked_count()
            self.asked = self.evaluations + self._handed
            self._told = None if self._pending is None else np.full(len(self._pending), np.nan)
        self._outstanding = {int(i): {**r, "x": _array(r["x"])}
                             for i, r in state.get("outstanding", {}).items()}
        self._initial = [(_array(x), _unfloat(v)) for x, v in state.get("initial", [])]
        self._window = state.get("window", [])
        self._window_count = state.get("window_count", 0)
        self._layout = state.get("layout", 0)
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


def adapted_summary(population: int, F: Any, CR: Any, averaged: str) -> dict[str, Any]:
    """A summary of a search that adapts F and CR, as the means of ``F`` and ``CR`` (a memory or
    the individuals' values). A negative CR (L-SHADE's terminal slot) makes every CR drawn from
    it 0, so it counts as 0. Values not drawn yet (NaN) are left out."""
    F, CR = np.asarray(F, dtype=float).ravel(), np.asarray(CR, dtype=float).ravel()
    F, CR = F[np.isfinite(F)], np.maximum(CR[np.isfinite(CR)], 0.0)
    return {"population": int(population), "F": float(F.mean()) if F.size else None,
            "CR": float(CR.mean()) if CR.size else None, "adapts": True, "averaged": averaged, "note": None}


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


def pack_floats(a: np.ndarray) -> dict[str, Any]:
    """A float array as its float64 bytes in base64 and its shape: exact, inf and nan included.
    For records that grow with the study (the pre-screening history): as a list every number is
    a JSON float of its own, and a state saved after every ask and tell then costs more each time."""
    a = np.ascontiguousarray(a, dtype="<f8")
    return {"float64": base64.b64encode(a.tobytes()).decode("ascii"), "shape": list(a.shape)}


def unpack_floats(x: dict[str, Any] | list | np.ndarray) -> np.ndarray:
    """The array :func:`pack_floats` packed; a plain list (states saved before packing) as ``_array``."""
    if isinstance(x, np.ndarray):
        return np.array(x, dtype=float)
    if isinstance(x, dict):
        return np.frombuffer(base64.b64decode(x["float64"]), dtype="<f8").reshape(x["shape"]).copy()
    return _array(x)


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
