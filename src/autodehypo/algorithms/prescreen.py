"""Surrogate pre-screening of DE trial vectors, aware of repeated configurations.

``prescreen = k`` (off by default) makes each generation's trial vectors k
times with the algorithm's own operators (k independent draws of mutation and
crossover, and for the self-adaptive variants of F and CR), and for every slot
asks one of its k candidates: the one that a cheap model of everything
evaluated so far predicts best. The other k - 1 are never evaluated; the
adaptive variants learn from the F and CR of the trial that was asked. This is
pre-screening as in surrogate-assisted DE: the search is still DE, the model
only chooses among DE's own offspring.

Repeats. On a table, or any space of integers and choices, many points of the
unit cube decode to one configuration, and a converging population keeps
asking configurations it already has: answered from the record they cost
nothing but use up the evaluation budget. The optimizer works in the unit
cube and does no decoding itself, so the driver may give it the decoding:
:meth:`Prescreen.set_key` takes a function from a unit vector to a hashable
configuration key (the study passes its space's decoding). With a key,
candidates that decode to a configuration already evaluated, asked and not yet
told, or already chosen for an earlier slot of this generation are discarded
before the model picks; a slot whose k candidates are all repeats takes
:data:`EXTRA_ROUNDS` x k more draws and picks among their novel ones. When even
those all repeat (a population converged onto one configuration makes nothing
else), the model's best repeat is repaired: k copies of it with one coordinate
drawn again uniformly (then two, ...), and the model picks among the novel
copies, so the slot asks a neighbouring configuration instead of a known one;
only a used-up space asks a repeat. ``prescreen = 1`` is the repeat handling
alone: no model, the first novel draw or a random novel copy.

The model is a k-nearest-neighbour regression on *ranks*: every evaluated
point's told value is replaced by its rank (ties share the mean rank, ``inf``
is last) and a candidate is predicted as the inverse-squared-distance weighted
mean rank of its :data:`NEIGHBOURS` nearest evaluated points in the unit cube.
DE's selection compares values only, so ranks ask the same question and ignore
the objective's scale, outliers and the worst-so-far value told for failures;
a local average has no length scale to fit and cannot overshoot on the
plateaus and steps of integer and choice coordinates; and it costs one
(candidates x evaluated x dim) distance computation per generation.

Cost. HPO trials can differ a hundredfold in what they cost (a wide network
for many epochs against a narrow one for few), and the goal is a good model
for little energy, not in few trials. With ``cost_weight = w`` (0, the
default: off) :meth:`tell` takes each evaluation's cost (the study tells its
energy) and the model scores a candidate by its predicted rank plus w times
the predicted rank of its cost (the same nearest-neighbour average, over the
points whose cost is known). Among candidates predicted about as good the
cheaper one is asked; with w = 0.4, a candidate predicted the cheapest may be
predicted up to 0.4 (of the whole range of ranks) worse than the dearest and
still win. Costs never told leave the score as it was. Measured energy is not
repeatable, so two runs with the same seed may ask different candidates where
costs rank differently; a resumed run continues exactly from what was told.

Cooling. With ``cost_cooling = true`` (and an evaluation budget) the weight is ``cost_weight`` at
the start and falls linearly to 0 as the budget's evaluations are told, as the cost-cooled phase of
CArBO (Lee, Perrone, Archambeau and Seeger, "Cost-aware Bayesian Optimization", 2020) depreciates
its cost model: early on, while the model knows little and many configurations are about as
promising, the cheap ones are trained; late, the search spends on what it predicts best, whatever
it costs, where a constant weight keeps trading quality for cheapness to the end. On the recorded
tables, 0.8 cooled needed about 0.8x the training cost to the target of 0.4 kept constant
(benchmarks/hpo/results/2026-12-07-cost-cooling.md).

The model. ``surrogate = "knn"`` (the default of the option) is the model
above. ``surrogate = "gp"`` is a Gaussian process (:mod:`surrogate`) that scores
a candidate by the predicted quantile of its value one standard deviation
optimistic, a number in [0, 1] like the predicted rank, so that the cost term
adds to it alike. It sees each configuration as the one point the driver says
stands for it (``set_key``'s ``canonical``), and it chooses each row of a
generation when the row is asked (:meth:`Prescreen._resolve`), with every
value told by then and the trials still out counted as evaluated at their
predicted value: the k draws are made when the generation begins, as for
``knn``, so the search is the same DE; only the choice waits. The draws, the
rows chosen and the model's hyperparameters are in the state.

The start. DE's initial population is drawn at random, and at the budgets of HPO (100 to 200
trials, a population of 16) that is a sixth of the trials spent blind. With ``screen_start =
true`` (``gp`` only) the first :data:`START_AFTER` rows of the initial population are asked as
drawn, and each later one is the model's pick among k uniform random points, chosen when it is
asked with every value told by then, as for the later generations: the population starts where
the model expects good values and where it is unsure. A start asked all at once (as many workers
as the population) is asked as drawn. On the recorded tables of ``benchmarks/hpo`` (20 seeds) this
needed about 0.9x the evaluations of the same search without it to reach the target, and lost on
HPOBench car (benchmarks/hpo/results/2026-12-07-screened-start.md).

The key function is not state: the evaluated points and their values are (in
``state_dict``), and the evaluated keys are computed again from them when
needed, so a resumed run continues exactly as long as the driver sets the same
key function again.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

import numpy as np

from .base import SettingError, pack_floats, unpack_floats

NEIGHBOURS = 5      # evaluated points averaged per prediction
SURROGATES = ("knn", "gp")
EXTRA_ROUNDS = 1    # times k further draws for slots whose k candidates are all repeats
START_AFTER = 6     # screen_start: rows of the initial population asked before the model picks


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks scaled to [0, 1], 0 the best; tied values share their mean rank; inf ranks last."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return np.zeros(n)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts
    return (first + (counts - 1) / 2.0)[inverse] / (n - 1)


class KnnRanks:
    """Predicted rank (0 best, 1 worst) of candidate points: the inverse-squared-distance weighted
    mean rank of their ``neighbours`` nearest evaluated points. Fitted once per generation: the
    ranks and norms of a history of thousands of points are not made again for every slot."""

    def __init__(self, points: np.ndarray, values: np.ndarray, neighbours: int = NEIGHBOURS):
        self.points, self.ranks = points, ranks(values)
        self.norms = np.sum(points ** 2, axis=1)
        self.neighbours = min(neighbours, len(points))

    def predict(self, candidates: np.ndarray) -> np.ndarray:
        d2 = np.sum(candidates ** 2, axis=1)[:, None] + self.norms[None, :] - 2.0 * candidates @ self.points.T
        d2 = np.maximum(d2, 0.0)
        k = self.neighbours
        if k < len(self.points):
            nearest = np.argpartition(d2, k - 1, axis=1)[:, :k]
        else:
            nearest = np.broadcast_to(np.arange(len(self.points)), d2.shape)
        w = 1.0 / (np.take_along_axis(d2, nearest, axis=1) + 1e-12)
        return np.sum(w * self.ranks[nearest], axis=1) / np.sum(w, axis=1)


def knn_rank_predict(points: np.ndarray, values: np.ndarray, candidates: np.ndarray,
                     neighbours: int = NEIGHBOURS) -> np.ndarray:
    """:class:`KnnRanks` fitted to ``points`` and ``values``, predicting ``candidates``."""
    return KnnRanks(points, values, neighbours).predict(candidates)


def check_cost_weight(value: Any) -> float:
    """``cost_weight``: a number from 0 (cost ignored) to 10."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(value) <= 10.0:
        raise ValueError(f"cost_weight must be a number from 0 to 10, got {value!r}")
    return float(value)


def check_surrogate(value: Any) -> str:
    """``surrogate``: the model that scores the candidates, one of :data:`SURROGATES`."""
    if value not in SURROGATES:
        raise ValueError(f"surrogate must be one of {', '.join(map(repr, SURROGATES))}, got {value!r}")
    return value


class Scorer:
    """Candidates' scores, lower is better, from a model fitted once per generation; a model that
    keeps pending points (the GP) learns of each one chosen through :meth:`chosen`."""

    def __init__(self, value: Callable[[np.ndarray], np.ndarray],
                 cost: Callable[[np.ndarray], np.ndarray] | None = None, weight: float = 0.0,
                 chosen: Callable[[np.ndarray], None] | None = None):
        self.value, self.cost, self.weight, self._chosen = value, cost, weight, chosen

    def __call__(self, candidates: np.ndarray) -> np.ndarray:
        score = self.value(candidates)
        return score if self.cost is None else score + self.weight * self.cost(candidates)

    def chosen(self, point: np.ndarray) -> None:
        if self._chosen is not None:
            self._chosen(point[None, :])


def check_screen_start(value: Any, prescreen: int | None, surrogate: str) -> bool:
    """``screen_start``: true or false; true needs the ``gp`` model and k > 1 candidates."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"screen_start must be true or false, got {value!r}")
    if value and (surrogate != "gp" or not prescreen or prescreen < 2):
        raise ValueError("screen_start needs prescreen of 2 or more and surrogate = 'gp': "
                         "the model picks the start among uniform random points")
    return bool(value)


def check_cost_cooling(value: Any, cost_weight: float, max_evaluations: int | None) -> bool:
    """``cost_cooling``: true or false; true with a cost weight needs an evaluation budget (with
    ``cost_weight = 0``, as a user sets it over the default search's to repeat runs exactly, there
    is nothing to cool)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"cost_cooling must be true or false, got {value!r}")
    if value and cost_weight and max_evaluations is None:
        raise SettingError("max_evaluations", "cost_cooling needs an evaluation budget: the cost weight "
                                              "falls to 0 as its evaluations are told")
    return bool(value)


def check_prescreen(value: Any) -> int | None:
    """``prescreen``: None (off) or an integer >= 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= 1000:
        raise ValueError(f"prescreen must be an integer from 1 to 1000 (candidates per slot), "
                         f"or absent for off, got {value!r}")
    return int(value)


class Prescreen:
    """Mixin for the generational DE algorithms: ``_ask`` builds its trials with
    :meth:`_screened`; evaluated points are recorded as they are told."""

    prescreen: int | None = None
    _seen_x: np.ndarray | None = None
    _seen_values: np.ndarray | None = None
    _key: Callable[[np.ndarray], Hashable] | None = None
    _canonical: Callable[[np.ndarray], np.ndarray] | None = None
    _seen_places: np.ndarray | None = None  # canonical(_seen_x), made again when None
    _seen_keys: set | None = None    # the keys of _seen_x, made again when None
    cost_weight: float = 0.0
    cost_cooling: bool = False
    surrogate: str = "knn"
    screen_start: bool = False
    _seen_costs: np.ndarray | None = None   # per evaluated point; NaN where none was told
    _told_costs: dict[int, float] | None = None  # candidate id -> cost, until its generation is told
    _draws: list | None = None       # gp: the pending trials' k draws, each row chosen when asked
    _resolved: np.ndarray | None = None  # gp: which rows of the pending trials are chosen
    _theta: np.ndarray | None = None     # gp: the hyperparameters fitted for the pending trials
    _last_theta: np.ndarray | None = None  # gp: the last fit's, where the next one starts
    _fitted_at: int = 0                    # gp: the points the last fit saw

    def configure_prescreen(self, prescreen: Any = None, cost_weight: Any = 0.0, surrogate: Any = "knn",
                            screen_start: Any = False, cost_cooling: Any = False) -> None:
        """Turn pre-screening on (k candidates per slot) or off (None); before the first ask."""
        if self.asked:
            raise ValueError("prescreen must be set before the first ask()")
        self._init_prescreen(prescreen, cost_weight, surrogate, screen_start, cost_cooling)

    def _init_prescreen(self, prescreen: Any, cost_weight: Any = 0.0, surrogate: Any = "knn",
                        screen_start: Any = False, cost_cooling: Any = False) -> None:
        self.prescreen = check_prescreen(prescreen)
        self.cost_weight = check_cost_weight(cost_weight)
        self.cost_cooling = check_cost_cooling(cost_cooling, self.cost_weight, self.max_evaluations)
        self.surrogate = check_surrogate(surrogate)
        self.screen_start = check_screen_start(screen_start, self.prescreen, self.surrogate)
        if self.cost_weight and not self.prescreen:
            raise ValueError("cost_weight needs prescreen: the candidates it weighs are the pre-screened ones")
        if self.surrogate != "knn" and not self.prescreen:
            raise ValueError("surrogate needs prescreen: the model scores the pre-screened candidates")
        self._seen_x = np.empty((0, self.dim)) if self.prescreen else None
        self._seen_values = np.empty(0) if self.prescreen else None
        self._seen_costs = np.empty(0) if self.prescreen else None
        self._told_costs = {}
        self._seen_keys = self._seen_places = None
        self._draws = self._resolved = self._theta = self._last_theta = None
        self._fitted_at = 0

    def tell(self, id: int, value: float, cost: float | None = None) -> None:
        """``cost``: what evaluating it consumed (energy, time), for cost-aware pre-screening."""
        if self.prescreen and cost is not None and np.isfinite(cost):
            self._told_costs[int(id)] = float(cost)
        super().tell(id, value)

    def _scorer(self, points: np.ndarray, values: np.ndarray, costs: np.ndarray) -> Scorer:
        """The model fitted to these evaluated points. ``knn``: the predicted rank of a
        candidate's value; ``gp``: the predicted quantile of its value, one standard deviation
        optimistic, told of the pending points. Either plus ``cost_weight`` times the predicted
        rank of its cost."""
        known = np.isfinite(costs)
        cost = None
        weight = self._cost_weight_now(len(values))
        if weight and known.sum() >= 2:
            cost = KnnRanks(points[known], costs[known]).predict
        if self.surrogate != "gp":
            return Scorer(KnnRanks(points, values).predict, cost, weight)
        from .surrogate import REFIT_EVERY, OptimisticQuantile
        place = self._places()
        if self._seen_places is None or len(self._seen_places) != len(self._seen_x):
            self._seen_places = place(self._seen_x)  # points[:seen] are the evaluated points
        placed = np.vstack([self._seen_places, place(points[len(self._seen_x):])])
        pending = [np.clip(c.x, 0.0, 1.0) for c in self.pending_candidates()]
        theta = self._theta
        if theta is None and self._last_theta is not None and len(values) - self._fitted_at < REFIT_EVERY:
            theta = self._last_theta  # a small population's generations come fast: fit less often
        value = OptimisticQuantile(placed, values, place(np.array(pending)) if pending else None,
                                   theta=theta, start=self._last_theta)
        if theta is None:
            self._fitted_at = len(values)
        self._theta = self._last_theta = value.theta
        return Scorer(lambda x: value(place(x)), cost, weight, lambda p: value.chosen(place(p)))

    def _cost_weight_now(self, told: int) -> float:
        """The cost's weight with ``told`` evaluations told: ``cost_weight``, or with
        ``cost_cooling`` its share of the budget's evaluations still to be told."""
        if not self.cost_cooling:
            return self.cost_weight
        return self.cost_weight * max(0.0, 1.0 - told / self.max_evaluations)

    def _places(self) -> Callable[[np.ndarray], np.ndarray]:
        """Rows of points to the points that stand for their configurations."""
        canonical = self._canonical
        if canonical is None:
            return lambda x: x
        return lambda x: np.array([canonical(row) for row in np.atleast_2d(x)]).reshape(-1, self.dim)

    def set_key(self, key: Callable[[np.ndarray], Hashable] | None,
                canonical: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        """The configuration a unit vector decodes to (hashable), or None: no repeat checks;
        ``canonical``: the point that stands for that configuration, which the ``gp`` model sees
        instead of the candidate itself (None: the candidate)."""
        self._key = key
        self._canonical = canonical
        self._seen_keys = self._seen_places = None

    # -- what the algorithms call ---------------------------------------------
    def _start(self, initial: np.ndarray) -> np.ndarray:
        """The initial population as drawn; with ``screen_start``, its rows after the first
        :data:`START_AFTER` are chosen when asked, each among k uniform random points."""
        self._draws = None
        if not self.screen_start:
            return initial
        n = len(initial)
        for name in self.row_arrays:
            setattr(self, name, np.zeros(n))
        self._draws = [self._start_draw(initial)] + [self._start_draw(self.rng.random((n, self.dim)))
                                                     for _ in range(self.prescreen - 1)]
        self._theta, self._resolved = None, np.zeros(n, dtype=bool)
        return initial.copy()

    def _start_draw(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """Rows of the start as a draw: the points, and zeros for the per-row arrays (no F or
        CR made them)."""
        return (x, *(np.zeros(len(x)) for _ in self.row_arrays))

    def _more_draws(self) -> tuple[np.ndarray, ...]:
        """One more draw for the pending rows: the algorithm's trials, uniform points at the start."""
        if self.population_ready():
            return self._trials()
        return self._start_draw(self.rng.random((len(self._draws[0][0]), self.dim)))

    def _screened(self, make: Callable[[], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
        """``make()`` returns (trials, per-row arrays...) for one draw of the generation. Off, it
        is called once; on, k times (and more for slots whose candidates are all repeats), and
        each row takes the row of the draw chosen for it. ``knn`` chooses every row now; ``gp``
        chooses each row when it is asked (:meth:`_resolve`), with every value told by then."""
        self._draws = None
        if not self.prescreen or self._seen_x is None or len(self._seen_x) == 0:
            return make()
        k = self.prescreen
        draws = [make() for _ in range(k)]
        if self._key is None and k == 1:
            return draws[0]
        if self.surrogate == "gp":
            self._draws, self._theta = draws, None
            self._resolved = np.zeros(len(draws[0][0]), dtype=bool)
            return tuple(np.array(a, copy=True) for a in draws[0])  # each row replaced as it is asked
        model = k > 1 and len(self._seen_x) >= 2
        if self._key is None and not model:
            return draws[0]
        score = self._scorer(self._seen_x, self._seen_values, self._seen_costs) if model else None
        n = len(draws[0][0])
        taken = self._taken()
        if self._key is None:  # the model alone, the same for every slot
            x = np.clip(np.concatenate([d[0] for d in draws]), 0.0, 1.0)
            pick = np.argmin(score(x).reshape(k, n), axis=0)
            rows = np.arange(n)
            return tuple(np.stack([d[a] for d in draws])[pick, rows] for a in range(len(draws[0])))
        out = tuple(np.array(a, copy=True) for a in draws[0])
        for i in range(n):
            self._choose_row(i, draws, out, score, taken)
        return out

    def _resolve(self, row: int) -> None:
        if self._draws is None or self._resolved[row]:
            return
        from .surrogate import one_blas_thread
        points, values, costs = self._told_so_far()
        with one_blas_thread():
            enough = 2 if self.population_ready() else START_AFTER
            score = self._scorer(points, values, costs) if self.prescreen > 1 and len(values) >= enough else None
            out = [self._pending[:, :]] + [getattr(self, a) for a in self.row_arrays]
            self._choose_row(row, self._draws, out, score, self._taken())
        self._resolved[row] = True

    def _choose_row(self, i: int, draws: list, out: Any, score: Scorer | None, taken: set) -> None:
        """Set row ``i`` of ``out`` (trials, per-row arrays) from the draw chosen for it: the
        model's best among its novel candidates (more are drawn when all k repeat), a repeat
        repaired when even those all repeat; ``taken`` (configurations not to ask) gains it."""
        key, k = self._key, self.prescreen

        def predict(js: list[int]) -> np.ndarray:
            return score(np.stack([np.clip(draws[j][0][i], 0.0, 1.0) for j in js]))

        low, choice = 0, None
        while choice is None:
            while len(draws) < low + k:
                draws.append(self._more_draws())
            if key is None:
                novel = list(range(k))
            else:
                novel = [j for j in range(low, low + k) if key(np.clip(draws[j][0][i], 0.0, 1.0)) not in taken]
            if novel:
                choice = novel[int(np.argmin(predict(novel)))] if score is not None else novel[0]
            elif low + k >= k * (1 + EXTRA_ROUNDS):  # no novel one: the model's best repeat
                choice = int(np.argmin(predict(list(range(k))))) if score is not None else 0
            else:
                low += k
        x = np.clip(draws[choice][0][i], 0.0, 1.0)
        if key is not None and key(x) in taken:
            x = self._repair(x, taken, k if score is not None else 1, score)
        for a in range(1, len(out)):
            out[a][i] = draws[choice][a][i]
        out[0][i] = x
        if key is not None:
            taken.add(key(x))
        if score is not None:
            score.chosen(x)

    def _taken(self) -> set:
        """Configurations not to ask again: evaluated, told this generation, or pending."""
        if self._key is None:
            return set()
        taken = self._evaluated_keys() | {self._key(np.clip(c.x, 0.0, 1.0)) for c in self.pending_candidates()}
        if self.schedule == "generational" and self._told is not None:
            taken |= {self._key(self._pending[r]) for r in np.flatnonzero(~np.isnan(self._told))}
        return taken

    def _told_so_far(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The evaluated points, values and costs, with those told in the pending generation."""
        if self.schedule != "generational" or self._told is None:
            return self._seen_x, self._seen_values, self._seen_costs
        rows = np.flatnonzero(~np.isnan(self._told))
        costs = [self._told_costs.get(self._first_id + r, np.nan) for r in rows]
        return (np.vstack([self._seen_x, self._pending[rows]]), np.concatenate([self._seen_values, self._told[rows]]),
                np.concatenate([self._seen_costs, costs]))

    def _repair(self, x: np.ndarray, taken: set, k: int,
                score: Callable[[np.ndarray], np.ndarray] | None) -> np.ndarray:
        """A repeated trial made novel: k copies with 1, then 2, ... coordinates drawn again
        uniformly; the model's best novel copy, or ``x`` itself when none is (the space is used up)."""
        for changed in range(1, self.dim + 1):
            copies = np.tile(x, (k, 1))
            for copy in copies:
                coords = self.rng.choice(self.dim, size=changed, replace=False)
                copy[coords] = self.rng.random(changed)
            novel = [c for c in copies if self._key(c) not in taken]
            if novel:
                if len(novel) == 1 or score is None:
                    return novel[0]
                return novel[int(np.argmin(score(np.stack(novel))))]
        return x

    def _evaluated_keys(self) -> set:
        if self._seen_keys is None:
            self._seen_keys = {self._key(x) for x in self._seen_x}
        return self._seen_keys

    def _remember(self, x: np.ndarray, values: np.ndarray, costs: Any) -> None:
        x = np.asarray(x, dtype=float).reshape(-1, self.dim)
        values = np.asarray(values, dtype=float).reshape(-1)
        costs = np.full(len(values), np.nan) if costs is None else np.asarray(costs, dtype=float).reshape(-1)
        self._seen_x = np.vstack([self._seen_x, x])
        self._seen_values = np.concatenate([self._seen_values, np.where(np.isnan(values), np.inf, values)])
        self._seen_costs = np.concatenate([self._seen_costs, costs])
        if self._seen_keys is not None:
            self._seen_keys.update(self._key(p) for p in x)
        if self._seen_places is not None:
            self._seen_places = np.vstack([self._seen_places, self._places()(x)])

    # -- the history the model is fitted to ------------------------------------
    def tell_generation(self, values: Any, costs: Any = None) -> None:
        """``costs``: what evaluating each candidate consumed, for cost-aware pre-screening;
        without them, the costs given to :meth:`tell`."""
        pending = self._pending
        asked = self._asked_count() if pending is not None else 0
        first = self._first_id
        super().tell_generation(values, costs)
        if self.prescreen:
            if costs is None:
                costs = [self._told_costs.pop(first + row, np.nan) for row in range(asked)]
            self._remember(pending[:asked], values, costs)

    def _tell_async(self, id: int, value: float) -> None:
        record = self._outstanding.get(id)
        super()._tell_async(id, value)
        if self.prescreen:
            self._remember(record["x"], [value], [self._told_costs.pop(id, np.nan)])

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.prescreen:
            state["prescreen"] = {"k": self.prescreen, "seen_x": pack_floats(self._seen_x),
                                  "seen_values": pack_floats(self._seen_values)}
            if self.cost_weight or np.isfinite(self._seen_costs).any() or self._told_costs:
                state["prescreen"].update(cost_weight=self.cost_weight, seen_costs=pack_floats(self._seen_costs),
                                          told_costs={str(i): c for i, c in self._told_costs.items()})
            if self.cost_cooling:
                state["prescreen"]["cost_cooling"] = True
            state["prescreen"].update(self._surrogate_state())
        return state

    def _surrogate_state(self) -> dict[str, Any]:
        """The model's part of the state: none for ``knn`` (states made before there was a choice
        stay as they were); for ``gp``, the pending trials' draws not all chosen yet."""
        if self.surrogate == "knn":
            return {}
        state: dict[str, Any] = {"surrogate": self.surrogate}
        if self.screen_start:
            state["screen_start"] = True
        if self._last_theta is not None:
            state["last_theta"] = pack_floats(self._last_theta)
            state["fitted_at"] = self._fitted_at
        if self._draws is not None:
            state["draws"] = [[pack_floats(np.asarray(a, dtype=float)) for a in d] for d in self._draws]
            state["resolved"] = self._resolved.tolist()
            state["theta"] = None if self._theta is None else pack_floats(self._theta)
        return state

    def state_parts(self) -> tuple[dict[str, Any], np.ndarray | None]:
        """The history is the evaluated points: one row each, ``x``, its value, its cost."""
        if not self.prescreen:
            return super().state_parts()
        state = super(Prescreen, self).state_dict()  # the algorithm's own state, without the history
        state["prescreen"] = {"k": self.prescreen, "seen": len(self._seen_values), "cost_weight": self.cost_weight,
                              "told_costs": {str(i): c for i, c in self._told_costs.items()}}
        if self.cost_cooling:
            state["prescreen"]["cost_cooling"] = True
        state["prescreen"].update(self._surrogate_state())
        return state, np.column_stack([self._seen_x, self._seen_values, self._seen_costs])

    def load_state_parts(self, state: dict[str, Any], history: np.ndarray | None) -> None:
        screen = state.get("prescreen")
        if not screen or "seen" not in screen:  # a whole state
            self.load_state_dict(state)
            return
        seen = screen["seen"]
        rows = np.empty((0, self.dim + 2)) if history is None else np.asarray(history, dtype=float)
        if rows.ndim != 2 or rows.shape[1] != self.dim + 2 or len(rows) < seen:
            raise ValueError(f"the history holds {rows.shape} values, the state needs {seen} rows of "
                             f"{self.dim + 2}")
        rows = rows[:seen]
        self.load_state_dict({**state, "prescreen": {**screen, "seen_x": rows[:, :self.dim],
                                                     "seen_values": rows[:, self.dim],
                                                     "seen_costs": rows[:, self.dim + 1]}})

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        screen = state.get("prescreen")
        screen = screen or {}
        self._init_prescreen(screen.get("k"), screen.get("cost_weight", 0.0), screen.get("surrogate", "knn"),
                             screen.get("screen_start", False), screen.get("cost_cooling", False))
        if screen:
            self._seen_x = unpack_floats(screen["seen_x"]).reshape(-1, self.dim)
            self._seen_values = unpack_floats(screen["seen_values"]).reshape(-1)
            if "seen_costs" in screen:
                self._seen_costs = unpack_floats(screen["seen_costs"]).reshape(-1)
                self._told_costs = {int(i): float(c) for i, c in screen["told_costs"].items()}
            else:
                self._seen_costs = np.full(len(self._seen_values), np.nan)
            if "draws" in screen:
                self._draws = [tuple(unpack_floats(a).reshape(-1, self.dim) if j == 0 else unpack_floats(a).reshape(-1)
                                     for j, a in enumerate(d)) for d in screen["draws"]]
                self._resolved = np.array(screen["resolved"], dtype=bool)
                self._theta = None if screen["theta"] is None else unpack_floats(screen["theta"]).reshape(-1)
            if "last_theta" in screen:
                self._last_theta = unpack_floats(screen["last_theta"]).reshape(-1)
                self._fitted_at = int(screen["fitted_at"])
