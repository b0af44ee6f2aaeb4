"""Optimizers of the DE family; :func:`make_optimizer` builds one by name."""

from __future__ import annotations

import inspect
from typing import Any

from .base import SCHEDULES, Candidate, Optimizer, Search
from .de import DE, MUTATIONS, STRATEGIES
from .dish import DISH
from .gde3 import GDE3
from .gde3_shade import GDE3SHADE
from .jade import JADE
from .jde import JDE
from .jso import JSO
from .lshade import LSHADE
from .multiobjective import MultiObjectiveOptimizer
from .pareto_screen import ParetoScreen
from .prescreen import Prescreen
from .shade import SHADE
from .spsrdemms import SPSRDEMMS

ALGORITHMS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (DE, JDE, JADE, SHADE, LSHADE, JSO, DISH, SPSRDEMMS, GDE3, GDE3SHADE)}
# The algorithms for two or more objectives (tell takes a vector); the rest take one value.
MULTI_OBJECTIVE = sorted(name for name, cls in ALGORITHMS.items() if cls.multi_objective)
SINGLE_OBJECTIVE = sorted(name for name, cls in ALGORITHMS.items() if not cls.multi_objective)

# Arguments the study supplies itself; the rest are the algorithm's options.
_STUDY_ARGS = {"dim", "population", "seed", "max_evaluations", "schedule", "objectives"}
# Options of every algorithm built on the Prescreen mixin (prescreen.py), with their defaults: off.
SEARCH_OPTIONS: dict[str, Any] = {"prescreen": None, "cost_weight": 0.0, "surrogate": "knn",
                                  "screen_start": False, "cost_cooling": False}
# Those of the several-objective ones (pareto_screen.py): the model is a GP, the cost an objective.
PARETO_OPTIONS: dict[str, Any] = {"prescreen": None, "redraws": 0, "redraw_below": None}


def algorithm_options(name: str) -> dict[str, Any]:
    """The options an algorithm accepts, with their defaults."""
    sig = inspect.signature(ALGORITHMS[name].__init__)
    options = {k: p.default for k, p in sig.parameters.items()
               if k != "self" and k not in _STUDY_ARGS}
    if issubclass(ALGORITHMS[name], Prescreen):
        options.update(SEARCH_OPTIONS)
    if issubclass(ALGORITHMS[name], ParetoScreen):
        options.update(PARETO_OPTIONS)
    return options


def make_optimizer(name: str, dim: int, *, population: int | None = None, seed: int | None = None,
                   max_evaluations: int | None = None, schedule: str = "generational",
                   objectives: int = 1, **options: Any) -> Optimizer:
    """Build an optimizer by name. ``population=None`` takes the algorithm's default for
    hyperparameter search (tens to hundreds of trials), the same one a study takes.
    ``objectives`` is how many values each tell carries: 1 for the single-objective
    algorithms, 2 or more for those in :data:`MULTI_OBJECTIVE`."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; choose one of {sorted(ALGORITHMS)}")
    if ALGORITHMS[name].multi_objective and objectives == 1:
        raise ValueError(f"algorithm {name!r} needs two or more objectives; "
                         f"for one, choose one of {SINGLE_OBJECTIVE}")
    if not ALGORITHMS[name].multi_objective and objectives != 1:
        raise ValueError(f"algorithm {name!r} optimizes one objective, not {objectives!r}; "
                         f"for several, choose one of {MULTI_OBJECTIVE}")
    unknown = sorted(set(options) - set(algorithm_options(name)))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for algorithm {name!r}; "
                         f"allowed: {sorted(algorithm_options(name))}")
    if population is None:
        population = ALGORITHMS[name].default_population(dim)
    if ALGORITHMS[name].multi_objective:
        options["objectives"] = objectives
    defaults = PARETO_OPTIONS if ALGORITHMS[name].multi_objective else SEARCH_OPTIONS
    screening = {k: options.pop(k) for k in defaults if k in options}
    opt = ALGORITHMS[name](dim, population=population, seed=seed,
                           max_evaluations=max_evaluations, schedule=schedule, **options)
    if any(v != defaults[k] for k, v in screening.items()):
        opt.configure_prescreen(**screening)
    return opt


__all__ = ["ALGORITHMS", "DE", "DISH", "GDE3", "GDE3SHADE", "JADE", "JDE", "JSO", "LSHADE", "MULTI_OBJECTIVE",
           "MUTATIONS", "MultiObjectiveOptimizer", "Prescreen", "SCHEDULES", "SEARCH_OPTIONS", "SHADE", "SINGLE_OBJECTIVE", "SPSRDEMMS",
           "STRATEGIES", "Candidate", "Optimizer", "Search", "algorithm_options", "make_optimizer"]
