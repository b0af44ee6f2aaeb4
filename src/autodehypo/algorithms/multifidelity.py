"""Multi-fidelity DE: Hyperband's brackets, a DE population per fidelity, promotions that continue.

Brackets and rungs are Hyperband's (Li et al., JMLR 18(185), 2018) for a
fidelity from ``min_fidelity`` to ``max_fidelity`` with ratio ``eta``:
``s_max = floor(log_eta(max / min))``, and bracket ``s`` (from s_max down to 0,
then again) starts ``n = ceil((s_max + 1) / (s + 1) * eta**s)`` configurations
at fidelity ``max * eta**-s``; rung ``i`` keeps the best ``floor(n * eta**-i)``
at ``max * eta**(i - s)``.

As in DEHB (Awad, Mallik and Hutter, IJCAI 2021) each fidelity has a DE
population of its own, run by one of the project's DE algorithms in the
asynchronous schedule. Where DEHB trains new mutants from scratch at every
rung, here a rung above the first trains the configurations promoted from the
rung below, and each continues from the lower rung's checkpoint (the candidate
names the candidate it continues), paying only for the added epochs. What DEHB
gets from evolving at every rung comes here from the populations: a promoted
result joins the population of its fidelity (competing with its worst member),
and a later bracket that starts at that fidelity draws its mutants from it, so
the parents of a rung's new configurations are the survivors of lower rungs.

A rung is asked when the rung below has all its values (successive halving);
a failed (inf) configuration is never promoted. Fidelities are rounded to
integers when ``integer`` is set (epochs).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Candidate, Search, SettingError, _array, _float, _list, _unfloat


# Bounds on a schedule any study could run: Hyperband's usual schedules have a handful of
# brackets (eta = 3 from 1 to 81 epochs: 5) and rungs of at most a few hundred configurations.
MAX_BRACKETS = 100
MAX_RUNG_CONFIGURATIONS = 100_000


def brackets(min_fidelity: float, max_fidelity: float, eta: float,
             integer: bool = False) -> list[list[tuple[int, float]]]:
    """Hyperband's schedule: for s = s_max .. 0, the rungs as (configurations, fidelity).

    Raises ValueError for a schedule no study could run (more than MAX_BRACKETS brackets, or a
    first rung of more than MAX_RUNG_CONFIGURATIONS), before building any of it."""
    if not 0 < min_fidelity <= max_fidelity:
        raise ValueError(f"need 0 < min <= max, got min={min_fidelity!r} max={max_fidelity!r}")
    if not eta > 1 or not math.isfinite(eta):
        raise ValueError(f"eta must be > 1 and finite, got {eta!r}")
    ratio = max_fidelity / min_fidelity
    if not math.isfinite(ratio):
        raise ValueError(f"max / min = {max_fidelity:g} / {min_fidelity:g} is not a finite number; "
                         "narrow the range")
    s_max = int(math.floor(math.log(ratio) / math.log(eta) + 1e-9))
    if s_max + 1 > MAX_BRACKETS:
        raise ValueError(f"eta = {eta:g} from {min_fidelity:g} to {max_fidelity:g} makes {s_max + 1:,} "
                         f"brackets, at most {MAX_BRACKETS}; raise eta or narrow min..max")
    # The first bracket starts the most configurations, about (s_max + 1) * eta**s_max; in logs,
    # since eta**s_max alone may not fit in a float.
    log_first = math.log(s_max + 1) + s_max * math.log(eta)
    if log_first > math.log(MAX_RUNG_CONFIGURATIONS):
        raise ValueError(f"eta = {eta:g} from {min_fidelity:g} to {max_fidelity:g} starts its first "
                         f"bracket with about {math.exp(min(log_first, 700)):.3g} configurations at "
                         f"fidelity {min_fidelity:g}, at most {MAX_RUNG_CONFIGURATIONS:,}; raise min "
                         "or lower max")
    schedule = []
    for s in range(s_max, -1, -1):
        n = int(math.ceil((s_max + 1) / (s + 1) * eta ** s - 1e-9))
        rungs = []
        for i in range(s + 1):
            r = max_fidelity * eta ** (i - s)
            rungs.append((int(math.floor(n * eta ** -i + 1e-9)), float(round(r)) if integer else r))
        schedule.append(rungs)
    return schedule


class MultiFidelityDE(Search):
    """Successive halving in Hyperband's brackets with a DE population per fidelity.

    A :class:`~autodehypo.algorithms.base.Search`: ``ask()`` gives a :class:`Candidate` with its
    ``fidelity`` (and ``continues``: the id of the candidate whose checkpoint it continues) or
    None while a rung waits for values; ``tell(id, value)``.
    """

    name = "multifidelity"

    def __init__(self, dim: int, *, inner: str, min_fidelity: float, max_fidelity: float,
                 eta: float = 3.0, integer: bool = False, population: int | None = None,
                 seed: int | None = None, **options: Any):
        from . import ALGORITHMS, make_optimizer
        if inner not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {inner!r}")
        try:
            probe = make_optimizer(inner, dim, population=population, seed=0, schedule="async", **options)
        except SettingError as exc:  # a search that needs what brackets do not give (a budget, generations)
            raise SettingError("fidelity", f"{inner} cannot be the search inside multi-fidelity brackets: "
                               f"{exc}") from None
        self.dim, self.inner, self.options = dim, inner, dict(options)
        self.min_fidelity, self.max_fidelity, self.eta = float(min_fidelity), float(max_fidelity), float(eta)
        self.integer = bool(integer)
        self.schedule = brackets(self.min_fidelity, self.max_fidelity, self.eta, self.integer)
        self.levels = sorted({r for rungs in self.schedule for _, r in rungs})
        self.population_size = probe.population_size
        self.rng = np.random.default_rng(seed)
        seeds = self.rng.integers(2 ** 63, size=len(self.levels))
        self.searches = [make_optimizer(inner, dim, population=self.population_size, seed=int(s),
                                        schedule="async", **options) for s in seeds]
        self.asked = 0              # outer candidate ids
        self.evaluations = 0
        self.generation = 0         # rungs completed
        self.bracket = 0            # index into self.schedule, counted without wrapping
        self.rung = 0
        self.best_x: np.ndarray | None = None
        self.best_value = math.inf
        self.best_fidelity = 0.0
        # The current rung: one entry per configuration, in the order asked.
        self._entries: list[dict[str, Any]] = []
        self._promoted: list[dict[str, Any]] = []  # configurations the current rung trains further

    # -- the contract -----------------------------------------------------------
    def ask(self) -> Candidate | None:
        count, fidelity = self._rung_shape()
        if len(self._entries) >= count:
            return None  # the rung is out: its values decide the next one
        level = self.levels.index(fidelity)
        if self.rung == 0:
            inner = self.searches[level].ask()
            x, continues, inner_id = inner.x, None, inner.id
        else:
            source = self._promoted[len(self._entries)]
            x, continues, inner_id = _array(source["x"]), source["id"], None
        entry = {"id": self.asked, "x": _list(x), "fidelity": fidelity, "continues": continues,
                 "inner_id": inner_id, "value": None}
        self._entries.append(entry)
        self.asked += 1
        return Candidate(entry["id"], x.copy(), self.generation, len(self._entries) - 1,
                         fidelity=fidelity, continues=continues)

    def tell(self, id: int, value: float, cost: float | None = None) -> None:
        # cost: ignored; an increment's energy says little about the configuration's full cost.
        entry = next((e for e in self._entries if e["id"] == id and e["value"] is None), None)
        if entry is None:
            raise ValueError(f"candidate {id} is not waiting for a value")
        value = float(value)
        if math.isnan(value):
            value = math.inf
        entry["value"] = _float(value)
        self.evaluations += 1
        x = _array(entry["x"])
        # The best is the best at the highest fidelity that has a finite value.
        if math.isfinite(value) and (entry["fidelity"] > self.best_fidelity or value < self.best_value):
            if entry["fidelity"] >= self.best_fidelity:
                self.best_fidelity, self.best_value, self.best_x = entry["fidelity"], value, x
        count, _ = self._rung_shape()
        if len(self._entries) == count and all(e["value"] is not None for e in self._entries):
            self._next_rung()

    def pending_candidates(self) -> list[Candidate]:
        return [Candidate(e["id"], _array(e["x"]), self.generation, i, fidelity=e["fidelity"],
                          continues=e["continues"])
                for i, e in enumerate(self._entries) if e["value"] is None]

    def summary(self) -> dict[str, Any]:
        """The summary of the population at the highest fidelity, which the best trial is from."""
        top = self.searches[-1].summary()
        at = f"{self.inner} at fidelity {self.levels[-1]:g}, the highest of {len(self.levels)}"
        return {**top, "note": f"{top['note']} ({at})" if top["note"] else None, "scope": at}

    # -- brackets -----------------------------------------------------------------
    def _rung_shape(self) -> tuple[int, float]:
        rungs = self.schedule[self.bracket % len(self.schedule)]
        count, fidelity = rungs[self.rung]
        if self.rung > 0:
            count = min(count, len(self._promoted))
        return count, fidelity

    def _next_rung(self) -> None:
        rungs = self.schedule[self.bracket % len(self.schedule)]
        self.generation += 1
        finished, self._entries = self._entries, []
        # The populations hear a rung's results in the order asked, not as they arrived: the
        # search then depends on the values alone, as a generational one must.
        for entry in finished:
            search = self.searches[self.levels.index(entry["fidelity"])]
            if entry["inner_id"] is not None:
                search.tell(entry["inner_id"], _unfloat(entry["value"]))
            else:
                search.inject(_array(entry["x"]), _unfloat(entry["value"]))
        if self.rung + 1 < len(rungs):
            keep = rungs[self.rung + 1][0]
            done = [e for e in finished if math.isfinite(_unfloat(e["value"]))]
            # The best first; among equal values the one asked first (stable).
            done.sort(key=lambda e: _unfloat(e["value"]))
            self._promoted = [{"id": e["id"], "x": e["x"]} for e in done[:keep]]
            if self._promoted:
                self.rung += 1
                return
        self.bracket += 1
        self.rung = 0
        self._promoted = []

    # -- state ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"algorithm": self.name, "inner": self.inner, "dim": self.dim,
                "fidelity": [self.min_fidelity, self.max_fidelity, self.eta, self.integer],
                "rng": self.rng.bit_generator.state, "asked": self.asked,
                "evaluations": self.evaluations, "generation": self.generation,
                "bracket": self.bracket, "rung": self.rung, "best_x": _list(self.best_x),
                "best_value": _float(self.best_value), "best_fidelity": self.best_fidelity,
                "entries": self._entries, "promoted": self._promoted,
                "searches": [s.state_dict() for s in self.searches]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        mine = [self.min_fidelity, self.max_fidelity, self.eta, self.integer]
        if (state.get("algorithm") != self.name or state.get("inner") != self.inner
                or state.get("dim") != self.dim or state.get("fidelity") != mine):
            raise ValueError("state is for another multi-fidelity search "
                             f"({state.get('inner')!r}, fidelity {state.get('fidelity')})")
        self.rng.bit_generator.state = state["rng"]
        self.asked, self.evaluations = state["asked"], state["evaluations"]
        self.generation, self.bracket, self.rung = state["generation"], state["bracket"], state["rung"]
        self.best_x, self.best_value = _array(state["best_x"]), _unfloat(state["best_value"])
        self.best_fidelity = state["best_fidelity"]
        self._entries, self._promoted = state["entries"], state["promoted"]
        for search, s in zip(self.searches, state["searches"]):
            search.load_state_dict(s)
