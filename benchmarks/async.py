"""Generational against asynchronous DE: idle workers, wall time, and the best value in time.

    python benchmarks/async.py                 # both parts, as in benchmarks/results/
    python benchmarks/async.py --quick         # a smaller run of both parts (about a minute)
    python benchmarks/async.py --part study    # only the real study
    python benchmarks/async.py --part tables --seeds 20 --tasks hpobench-kc1,nb201-imagenet

Part ``study``: real studies, one per schedule, in the same run: 4 local workers,
a sleep objective whose duration is drawn from a generator seeded by the
configuration itself, spread 1x to 10x. Worker utilisation is busy
worker-seconds (the trials' own elapsed times) over workers x the driver's
wall time; also the wall time to the same number of evaluations.

Part ``tables``: the recorded tables of the side-by-side benchmark
(benchmarks/hpo), each evaluation taking its recorded training time on one of
4 simulated workers, with the study's told-value policy and its answers to
repeated configurations (free, and a configuration asked while its twin
trains waits for the twin's result). Reports, per task over the seeds, the
makespan of the evaluation budget, the utilisation, the configurations
actually trained (the rest were answered from the record), the best loss at
equal wall time (half the generational schedule's makespan) and at equal
evaluations (the whole budget, each schedule at its own makespan): regret
against the table's best, two-sided Mann-Whitney U between the schedules.
"""

from __future__ import annotations

import argparse
import heapq
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.hpo.measures import mann_whitney, median  # noqa: E402
from benchmarks.hpo.ours import space_config  # noqa: E402
from benchmarks.hpo.tasks import DEFAULT_TASKS, DRAW_SALT, load_task  # noqa: E402
from autodehypo.environment import cpu_model  # noqa: E402

SCHEDULES = ("generational", "async")
BASE_SLEEP_S = 0.05


def sleep_trial(params: dict) -> float:
    """Sleeps 1x to 10x BASE_SLEEP_S, the factor drawn from a generator seeded by the point."""
    x = [params[k] for k in sorted(params)]
    seed = [int(v * 2 ** 31) for v in x]
    time.sleep(BASE_SLEEP_S * np.random.default_rng(seed).uniform(1.0, 10.0))
    return float(sum((v - 0.3) ** 2 for v in x))


def study_part(algorithm: str, evaluations: int, workers: int, seed: int) -> list[dict]:
    from autodehypo import Study

    rows = []
    for schedule in SCHEDULES:
        config = {"study": {"name": f"sleep-{schedule}", "algorithm": algorithm, "seed": seed,
                            "schedule": schedule, "budget": {"evaluations": evaluations}},
                  "space": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(4)},
                  "executor": {"workers": workers}}
        with tempfile.TemporaryDirectory() as tmp:
            study = Study.create(Path(tmp) / "s", config, objective=sleep_trial)
            result = study.run()
            trials = study.storage.trials()
            study.close()
        busy = sum(t.elapsed_s or 0.0 for t in trials)
        rows.append({"schedule": schedule, "evaluations": result.evaluations,
                     "wall_s": result.elapsed_s, "busy_s": busy,
                     "utilisation": busy / (workers * result.elapsed_s), "best": result.best_value})
    return rows


def simulate(task, algorithm: str, schedule: str, seed: int, evaluations: int, workers: int):
    """One run on simulated workers: (end times, losses) of the evaluations in the order they
    ended, the busy worker time and the makespan."""
    from autodehypo.algorithms import make_optimizer
    from autodehypo.space import ENCODING_VERSION, SearchSpace

    space = SearchSpace.from_config(space_config(task), ENCODING_VERSION)
    opt = make_optimizer(algorithm, space.dim, seed=seed, max_evaluations=evaluations, schedule=schedule)
    draws = np.random.default_rng([seed, DRAW_SALT])
    answers: dict = {}       # first loss of each configuration
    training: dict = {}      # configuration -> end time of the trial training it
    events: list = []        # (end, order, id, loss, occupies a worker)
    ended_at, losses = [], []
    now = busy = 0.0
    trained = 0
    worst = -math.inf
    order = 0
    while True:
        while sum(e[4] for e in events) < workers:
            candidate = opt.ask()
            if candidate is None:
                break
            config = space.decode(candidate.x)
            key = task.key(config)
            if key in answers:  # answered from the record at once, at no cost
                heapq.heappush(events, (now, order, candidate.id, answers[key], False))
            elif key in training:  # waits for its twin
                heapq.heappush(events, (training[key], order, candidate.id, None, False, key))
            else:
                loss, cost = task.evaluate(config, draws)
                training[key] = now + cost
                busy += cost
                trained += 1
                heapq.heappush(events, (now + cost, order, candidate.id, loss, True, key))
            order += 1
        if not events:
            break
        event = heapq.heappop(events)
        now, _, number, loss, _ = event[:5]
        if loss is None:
            loss = answers.get(event[5], math.nan)
        elif len(event) > 5:
            training.pop(event[5], None)
            if not math.isnan(loss):
                answers.setdefault(event[5], loss)
        if not math.isnan(loss):
            worst = max(worst, loss)
        opt.tell(number, loss if not math.isnan(loss) else (worst if worst > -math.inf else math.inf))
        ended_at.append(now)
        losses.append(loss)
    return np.array(ended_at), np.array(losses), busy, now, trained


def best_at(ended_at: np.ndarray, losses: np.ndarray, t: float) -> float:
    seen = losses[(ended_at <= t) & ~np.isnan(losses)]
    return float(seen.min()) if seen.size else math.inf


def tables_part(tasks: list[str], algorithms: list[str], seeds: int, evaluations: int,
                workers: int) -> list[dict]:
    rows = []
    for name in tasks:
        task = load_task(name)
        if task.name == "hartmann6":
            continue  # every evaluation costs 1: nothing for a schedule to gain
        for algorithm in algorithms:
            runs = {s: [simulate(task, algorithm, s, seed, evaluations, workers) for seed in range(seeds)]
                    for s in SCHEDULES}
            row = {"task": name, "algorithm": algorithm}
            for s in SCHEDULES:
                row[f"makespan_{s}"] = median([r[3] for r in runs[s]])
                row[f"util_{s}"] = median([r[2] / (workers * r[3]) for r in runs[s]])
                row[f"trained_{s}"] = median([r[4] for r in runs[s]])
            for label in ("half", "end"):
                regrets = {s: [] for s in SCHEDULES}
                for gen, asy in zip(runs["generational"], runs["async"]):
                    t_gen, t_async = (0.5 * gen[3], 0.5 * gen[3]) if label == "half" else (gen[3], asy[3])
                    regrets["generational"].append(best_at(gen[0], gen[1], t_gen) - task.best_loss)
                    regrets["async"].append(best_at(asy[0], asy[1], t_async) - task.best_loss)
                row[f"regret_{label}_generational"] = median(regrets["generational"])
                row[f"regret_{label}_async"] = median(regrets["async"])
                row[f"p_{label}"] = mann_whitney(regrets["async"], regrets["generational"])
                row[f"async_better_{label}"] = sum(a < g for a, g in zip(regrets["async"], regrets["generational"]))
                row[f"async_worse_{label}"] = sum(a > g for a, g in zip(regrets["async"], regrets["generational"]))
            rows.append(row)
            print(_table_line(row, seeds), flush=True)
    return rows


TABLE_HEAD = ("| task | algorithm | makespan async/gen | utilisation gen / async | trained gen / async "
              "| regret at ½ T_gen: gen / async (async better:worse, p) "
              "| regret after the budget: gen / async (async better:worse, p) |\n"
              "|---|---|---|---|---|---|---|")


def _table_line(row: dict, seeds: int) -> str:
    def regret(label):
        return (f"{row[f'regret_{label}_generational']:.4g} / {row[f'regret_{label}_async']:.4g} "
                f"({row[f'async_better_{label}']}:{row[f'async_worse_{label}']}, p={row[f'p_{label}']:.2g})")
    return (f"| {row['task']} | {row['algorithm']} | "
            f"{row['makespan_async'] / row['makespan_generational']:.3f} | "
            f"{row['util_generational']:.1%} / {row['util_async']:.1%} | "
            f"{row['trained_generational']:g} / {row['trained_async']:g} | {regret('half')} | {regret('end')} |")




def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("study", "tables", "both"), default="both")
    parser.add_argument("--algorithm", default="jde", help="for the study part")
    parser.add_argument("--algorithms", default="jde,shade,lshade", help="for the tables part")
    parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--evaluations", type=int, default=200)
    parser.add_argument("--study-evaluations", type=int, default=120)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="2 tasks, 5 seeds, 60-evaluation study")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.seeds, args.study_evaluations = "hpobench-kc1,nb201-imagenet", 5, 60
    print(f"# Generational against async DE, {time.strftime('%Y-%m-%d')}, {cpu_model()}, "
          f"{args.workers} workers\n")
    if args.part in ("study", "both"):
        print(f"## Real studies: {args.algorithm}, {args.study_evaluations} evaluations, sleep "
              f"{BASE_SLEEP_S:g} s x U(1, 10) per trial\n")
        print("| schedule | evaluations | wall s | busy worker-s | utilisation | best |\n|---|---|---|---|---|---|")
        rows = study_part(args.algorithm, args.study_evaluations, args.workers, seed=1)
        for r in rows:
            print(f"| {r['schedule']} | {r['evaluations']} | {r['wall_s']:.2f} | {r['busy_s']:.2f} | "
                  f"{r['utilisation']:.1%} | {r['best']:.4g} |")
        print(f"\nwall time async / generational: {rows[1]['wall_s'] / rows[0]['wall_s']:.3f}\n")
    if args.part in ("tables", "both"):
        print(f"## Recorded tables, simulated workers: {args.evaluations} evaluations, "
              f"{args.seeds} seeds, cost = recorded training time\n")
        print(TABLE_HEAD)
        tables_part(args.tasks.split(","), args.algorithms.split(","), args.seeds, args.evaluations,
                    args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
