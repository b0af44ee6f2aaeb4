"""Pre-screening of GDE3's trials with several objectives: the hypervolume a trial is predicted
to add.

``prescreen = k`` (off by default) makes each generation's trials k times with the algorithm's
own operators, as :mod:`prescreen` does for one objective, and each slot asks the one of its k
candidates that a model of the evaluations so far rates best; the other k - 1 are never
evaluated, and the adaptive variant learns from the F and CR of the trial asked. The search is
still GDE3: the model only chooses among its offspring.

The model: one Gaussian process per objective (:class:`surrogate.OptimisticQuantile`: values as
normal scores of their ranks, Matern 5/2 with a length scale per coordinate). A candidate's
predicted vector is its quantile in each objective at the predicted mean (:data:`OPTIMISM`);
the evaluated points' own vectors are their quantiles on the same [0, 1] scale (mid-ranks among
the points each process is fitted to, :func:`surrogate.fitted_quantiles`), so objectives of any
unit weigh alike. The score is SMS-EGO's (Ponweiser, Wagner, Biermann and
Vincze, "Multiobjective Optimization on a Limited Budget of Evaluations Using Model-Assisted
S-Metric Selection", PPSN 2008): a candidate that no point of the front dominates scores the
hypervolume it adds to the front (reference point 1.1 in every objective); one that is dominated
scores minus how far it lies behind the front (the additive epsilon it needs to escape every
point that dominates it), so that even a slot of only dominated candidates takes the least bad
one.

Redraws. ``redraws = m`` (0: off) adds to each slot's k candidates m copies of its first m with
one coordinate, chosen at random, drawn again uniformly. DE makes new coordinates only from
differences between members: once the whole population agrees on a coordinate, no trial can leave
that value, and the model, drawn to the region it rates best, can lead a population there. On ZDT2
(benchmarks/mo_study.py, 10 seeds, 500 evaluations) the population's x1 all went to 0, and only
that end of the front was found, in 4 seeds with the default of version 8 and in none with
``redraws = 8``: a copy with x1 drawn again is predicted to add hypervolume where the front has
none, so the model asks it. A redrawn candidate asked takes the F and CR of the trial it was
copied from. ``redraw_below = s`` (none: any coordinate) lets the copies draw again only the
coordinates whose spread (largest minus smallest) over the population is under s, and makes none
while there is no such coordinate: until the population draws together, the asks are those
without redraws. Copies of any coordinate found less at 100 evaluations (same file); with
``redraw_below = 0.01`` they are in the defaults from version 9.

A slot once chosen counts as evaluated at its predicted mean (the "kriging believer"): it joins
the front at that vector and each process is conditioned on it, so the later slots of the
generation spread out instead of piling onto one spot; the trials asked and not yet told count
alike. With the driver's configuration key (:meth:`ParetoScreen.set_key`), candidates that decode
to a configuration evaluated, pending or chosen for an earlier slot are passed over while a novel
one is left; the model sees each configuration as the one point that stands for it.

The evaluated points and the hyperparameters last fitted are in the state; the key function is
not (the driver sets it again), so a resumed run continues exactly.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

import numpy as np

from .base import pack_floats, unpack_floats
from .pareto import added_volume, non_dominated
from .prescreen import check_prescreen
from .surrogate import fitted_quantiles

REFERENCE = 1.1  # in every objective's quantile: just beyond the worst evaluated point
# Standard deviations of optimism in a candidate's predicted vector. SMS-EGO takes a lower
# confidence bound (one standard deviation here at first); on the synthetic problems of
# benchmarks/mo_study.py (gde3-shade, k = 16, median of 6 seeds) the mean found more of the front
# on 6 of the 7 at 100 evaluations and on both measured at 200 (DTLZ2 0.51 against 0.41 at 100,
# WFG4 0.71 against 0.65), less only on DTLZ5 (0.65 against 0.70): with several objectives an
# optimistic vector is rarely dominated, and the hypervolume it adds rewards the uncertainty
# itself. The believers (below) keep the generation's trials apart.
OPTIMISM = 0.0


def check_redraw_below(value: Any, redraws: int) -> float | None:
    """``redraw_below``: None (any coordinate may be drawn again) or a spread in (0, 1]; needs
    redraws."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value <= 1.0:
        raise ValueError(f"redraw_below must be a number in (0, 1] or none, got {value!r}")
    if not redraws:
        raise ValueError("redraw_below needs redraws: it says which coordinates the copies draw again")
    return float(value)


def check_redraws(value: Any, prescreen: int | None) -> int:
    """``redraws``: an integer from 0 to the number of candidates per slot; more than 0 needs
    pre-screening (the model chooses among the copies)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= 1000:
        raise ValueError(f"redraws must be an integer from 0 to 1000, got {value!r}")
    if value and not prescreen:
        raise ValueError("redraws needs prescreen: the model chooses among the redrawn copies")
    if value and value > prescreen:
        raise ValueError(f"redraws ({value}) can be at most prescreen ({prescreen}): "
                         "each copies one of the slot's candidates")
    return int(value)


def improvement_scores(candidates: np.ndarray, front: np.ndarray, reference: float = REFERENCE) -> np.ndarray:
    """Per candidate vector, lower is better: minus the hypervolume it adds to ``front`` when no
    row of the front weakly dominates it, else how far it lies behind (>= 0)."""
    ref = np.full(candidates.shape[1], reference)
    scores = np.empty(len(candidates))
    for i, q in enumerate(candidates):
        gaps = q[None, :] - front
        behind = (gaps >= 0.0).all(axis=1)
        if behind.any():
            scores[i] = float(gaps[behind].min(axis=1).max())
        else:
            scores[i] = -added_volume(q, front, ref)
    return scores


class ParetoModel:
    """The processes of every objective and the front they are scored against."""

    def __init__(self, points: np.ndarray, values: np.ndarray, pending: np.ndarray | None, starts: list):
        """``starts``: each objective's hyperparameters of the last fit, where this fit begins."""
        from scipy.special import ndtr

        from .surrogate import OptimisticQuantile
        self._ndtr = ndtr
        self.models = [OptimisticQuantile(points, values[:, j], pending, start=starts[j], kappa=OPTIMISM)
                       for j in range(values.shape[1])]
        quantiles = np.column_stack([fitted_quantiles(values[:, j]) for j in range(values.shape[1])])
        quantiles = quantiles[np.isfinite(values).all(axis=1)]
        self.front = quantiles[non_dominated(quantiles)] if len(quantiles) else quantiles
        if pending is not None and len(pending):
            self._believe(pending)

    @property
    def thetas(self) -> list[np.ndarray]:
        return [m.theta for m in self.models]

    def __call__(self, candidates: np.ndarray) -> np.ndarray:
        predicted = np.column_stack([m(candidates) for m in self.models])
        return improvement_scores(predicted, self.front)

    def _believe(self, points: np.ndarray) -> None:
        """The front as if ``points`` had been evaluated at their predicted means."""
        means = np.column_stack([self._ndtr(m.gp.predict(points)[0]) for m in self.models])
        front = np.vstack([self.front, means])
        self.front = front[non_dominated(front)]

    def chosen(self, point: np.ndarray) -> None:
        point = np.atleast_2d(point)
        self._believe(point)
        for m in self.models:
            m.chosen(point)


class ParetoScreen:
    """Mixin for the GDE3 family: ``_ask`` builds its trials with :meth:`_screened`; evaluated
    points are recorded as they are told. The algorithm keeps ``dim``, ``n_objectives``,
    ``rng``, ``asked`` and the base class's pending bookkeeping."""

    prescreen: int | None = None
    redraws: int = 0
    redraw_below: float | None = None
    _seen_x: np.ndarray | None = None
    _seen_f: np.ndarray | None = None
    _key: Callable[[np.ndarray], Hashable] | None = None
    _canonical: Callable[[np.ndarray], np.ndarray] | None = None
    _thetas: list | None = None
    _seen_keys: set | None = None           # the keys of _seen_x, made again when None
    _seen_places: np.ndarray | None = None  # _place(_seen_x), made again when None

    def configure_prescreen(self, prescreen: Any = None, redraws: Any = 0, redraw_below: Any = None) -> None:
        """Turn pre-screening on (k candidates per slot) or off (None), with ``redraws`` more
        candidates per slot, drawn again in any coordinate or only in those whose spread over
        the population is under ``redraw_below``; before the first ask. No cost weight: with
        several objectives the cost (energy) is one of them."""
        if self.asked:
            raise ValueError("prescreen must be set before the first ask()")
        self._init_screen(prescreen, redraws, redraw_below)

    def _init_screen(self, prescreen: Any, redraws: Any = 0, redraw_below: Any = None) -> None:
        self.prescreen = check_prescreen(prescreen)
        self.redraws = check_redraws(redraws, self.prescreen)
        self.redraw_below = check_redraw_below(redraw_below, self.redraws)
        self._seen_x = np.empty((0, self.dim))
        self._seen_f = np.empty((0, self.n_objectives))
        self._thetas = [None] * self.n_objectives
        self._seen_keys = self._seen_places = None

    def set_key(self, key: Callable[[np.ndarray], Hashable] | None,
                canonical: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        self._key, self._canonical = key, canonical
        self._seen_keys = self._seen_places = None

    def _place(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(x)
        if self._canonical is None:
            return x
        return np.array([self._canonical(row) for row in x]).reshape(-1, self.dim)

    # -- what the algorithms call ---------------------------------------------
    def _screened(self, make: Callable[[], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
        """``make()`` returns (trials, per-row arrays...) for one draw of the generation: called
        once when screening is off or nothing is evaluated yet, else k times, each row taking
        the row of the draw the model rates best for it."""
        if not self.prescreen or self.prescreen == 1 or len(self._seen_f) < 3:
            return make()
        from .surrogate import one_blas_thread
        draws = [make() for _ in range(self.prescreen)]
        pending = [np.clip(c.x, 0.0, 1.0) for c in self.pending_candidates()]
        out = tuple(np.array(a, copy=True) for a in draws[0])
        with one_blas_thread():
            if self._seen_places is None:
                self._seen_places = self._place(self._seen_x)
            model = ParetoModel(self._seen_places, self._seen_f,
                                self._place(np.array(pending)) if pending else None, self._thetas)
            self._thetas = model.thetas
            taken = self._taken(pending)
            redrawable = self._redrawable()
            for i in range(len(out[0])):
                xs = np.stack([np.clip(d[0][i], 0.0, 1.0) for d in draws])
                if self.redraws:
                    xs = np.vstack([xs, self._redrawn(xs[:self.redraws], redrawable)])
                novel = list(range(len(xs))) if self._key is None else \
                    [j for j, x in enumerate(xs) if self._key(x) not in taken]
                rows = novel or list(range(len(xs)))
                choice = rows[int(np.argmin(model(self._place(xs[rows]))))]
                source = choice % len(draws)  # a redrawn copy's F and CR are its original's
                for a in range(len(out)):
                    out[a][i] = draws[source][a][i]
                out[0][i] = xs[choice]
                model.chosen(self._place(xs[choice]))
                if self._key is not None:
                    taken.add(self._key(xs[choice]))
        return out

    def _redrawable(self) -> np.ndarray:
        """The coordinates a copy may draw again: all, or those the population has collapsed on."""
        if self.redraw_below is None:
            return np.arange(self.dim)
        return np.flatnonzero(np.ptp(self.population, axis=0) < self.redraw_below)

    def _redrawn(self, xs: np.ndarray, coordinates: np.ndarray) -> np.ndarray:
        """Copies of ``xs``, each with one of ``coordinates`` drawn again uniformly (none without)."""
        if not len(coordinates):
            return xs[:0]
        copies = xs.copy()
        coords = coordinates[self.rng.integers(len(coordinates), size=len(copies))]
        copies[np.arange(len(copies)), coords] = self.rng.random(len(copies))
        return copies

    def _taken(self, pending: list[np.ndarray]) -> set:
        """Configurations not to ask again: evaluated or pending."""
        if self._key is None:
            return set()
        if self._seen_keys is None:
            self._seen_keys = {self._key(x) for x in self._seen_x}
        return self._seen_keys | {self._key(x) for x in pending}

    def _remember(self, x: np.ndarray, values: np.ndarray) -> None:
        x = np.asarray(x, dtype=float).reshape(-1, self.dim)
        self._seen_x = np.vstack([self._seen_x, x])
        if self._seen_keys is not None:
            self._seen_keys.update(self._key(p) for p in x)
        if self._seen_places is not None:
            self._seen_places = np.vstack([self._seen_places, self._place(x)])
        values = np.asarray(values, dtype=float).reshape(-1, self.n_objectives)
        self._seen_f = np.vstack([self._seen_f, np.where(np.isfinite(values), values, np.inf)])

    # -- the history the model is fitted to ------------------------------------
    def tell_generation(self, values: Any, costs: Any = None) -> None:
        pending = self._pending
        asked = self._asked_count() if pending is not None else 0
        super().tell_generation(values, costs)
        if self.prescreen:
            self._remember(pending[:asked], np.asarray(values, dtype=float))

    def _tell_async(self, id: int, vector: np.ndarray) -> None:
        record = self._outstanding.get(id)
        super()._tell_async(id, vector)
        if self.prescreen:
            self._remember(record["x"], vector)

    # -- state ----------------------------------------------------------------
    def _screen_state(self) -> dict[str, Any]:
        state = {"k": self.prescreen, "thetas": [None if t is None else pack_floats(t) for t in self._thetas]}
        if self.redraws:  # states made before there were redraws stay as they were
            state["redraws"] = self.redraws
        if self.redraw_below is not None:
            state["redraw_below"] = self.redraw_below
        return state

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.prescreen:
            history = np.column_stack([self._seen_x, self._seen_f])
            state["prescreen"] = {**self._screen_state(), "seen": pack_floats(history)}
        return state

    def state_parts(self) -> tuple[dict[str, Any], np.ndarray | None]:
        """The history is the evaluated points: one row each, ``x`` and its values."""
        if not self.prescreen:
            return super().state_parts()
        state = super().state_dict()
        state["prescreen"] = {**self._screen_state(), "rows": len(self._seen_f)}
        return state, np.column_stack([self._seen_x, self._seen_f])

    def load_state_parts(self, state: dict[str, Any], history: np.ndarray | None) -> None:
        screen = state.get("prescreen")
        if not screen or "rows" not in screen:
            self.load_state_dict(state)
            return
        width = self.dim + self.n_objectives
        rows = np.empty((0, width)) if history is None else np.asarray(history, dtype=float)
        if rows.ndim != 2 or rows.shape[1] != width or len(rows) < screen["rows"]:
            raise ValueError(f"the history holds {rows.shape} values, the state needs {screen['rows']} "
                             f"rows of {width}")
        self.load_state_dict({**state, "prescreen": {**screen, "seen": rows[:screen["rows"]]}})

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        screen = state.get("prescreen") or {}
        self._init_screen(screen.get("k"), screen.get("redraws", 0), screen.get("redraw_below"))
        if screen:
            rows = unpack_floats(screen["seen"]).reshape(-1, self.dim + self.n_objectives)
            self._seen_x, self._seen_f = rows[:, :self.dim], rows[:, self.dim:]
            self._thetas = [None if t is None else unpack_floats(t).reshape(-1) for t in screen["thetas"]]
