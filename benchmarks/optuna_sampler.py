"""DESampler (autodehypo.integrations.optuna) against Optuna's samplers and OptunaHub's DE sampler.

(a) Overhead: seconds per trial of a no-op objective (4 parameters: log float, float, int,
    categorical) with in-memory storage, for DESampler, TPESampler and RandomSampler.
(w) Workers: W processes start at the same moment on one SQLite file or journal file, each
    running ``study.optimize`` until the sampler's budget is spent, with trials of three lengths;
    printed: the share of trained trials that trained a row another trial had already taken
    (goal: under 2 %), the trials sampled at random, those pruned before training once the budget
    was out (one per worker), and the wall time next to TPESampler's with the same
    workers and trials (TPE never waits; DESampler waits at the end of each generation).
(q) Quality inside Optuna, sequential, 100 trials, 10 seeds: the best value after the budget and
    the mean best-so-far (area under the convergence curve) on a mixed Branin (x2 an integer), a
    categorical-and-float HPO toy and Rosenbrock 10-D, for DESampler's default search (also
    without its cost weight: these functions' run times are noise), DESampler with jSO (the sampler's default before version 4), TPESampler, CmaEsSampler and RandomSampler,
    all at their defaults.
(b) Search: on tables of the side-by-side benchmark (benchmarks/hpo), the median cost (the
    table's recorded training time) to reach the harness's target (random search's median best
    loss after the budget, over the same seeds) and the expected running time (ERT: cost spent by
    all runs until the target or their end, over the runs that reached it), for
    - ``study:ALG``: autodehypo's own generational loop (benchmarks/hpo/ours.py), which answers a
      repeated configuration from the record at no cost; ``study:ALG:dedupe=0`` trains it again;
    - ``optuna-desampler:ALG``: DESampler with the same seed, sequential, failed evaluations
      told to Optuna as FAIL (the sampler applies the study's policy). An Optuna sampler cannot
      skip the objective, so repeats are trained again: it should equal ``study:ALG:dedupe=0``
      evaluation for evaluation, and the script checks that it does;
    - ``optunahub-de``: OptunaHub's ``samplers/differential_evolution``, run from a local copy of
      the optunahub-registry repository (``--optunahub-registry``; nothing of it is vendored here),
      with the table's choices declared as a user would (``suggest_categorical``: it samples those
      at random) and ``optunahub-de-index`` with ``suggest_int`` over the choice index (its DE
      searches them);
    - ``optuna-tpe`` and ``random`` as in benchmarks/hpo/peers.py.

``python -m benchmarks.optuna_sampler --optunahub-registry DIR [--seeds 10] [--evaluations 100]``;
``--part workers [--workers 4] [--budget 64]`` for (w) alone, ``--part quality`` for (q).
"""

from __future__ import annotations

import argparse
import logging
import math
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks.hpo import measures
from benchmarks.hpo.ours import _native, run_autodehypo
from benchmarks.hpo.peers import run_optuna_tpe, run_random
from benchmarks.hpo.tasks import Task, load_task
from benchmarks.hpo.trace import Recorder, Trace
from autodehypo.environment import cpu_model

TASKS = ("hpobench-kc1", "hpobench-vehicle", "hpolib-protein_structure")


# -- (a) overhead -------------------------------------------------------------------
def noop(trial) -> float:
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5)
    layers = trial.suggest_int("layers", 1, 8)
    optimizer = trial.suggest_categorical("optimizer", ["adam", "sgd", "rmsprop"])
    return math.log10(lr) ** 2 + dropout + layers + len(optimizer)


def overhead(trials: int, seed: int = 0) -> dict[str, float]:
    import optuna
    from optuna.samplers import RandomSampler, TPESampler

    from autodehypo.integrations.optuna import DESampler
    samplers = {"DESampler(jso)": lambda: DESampler("jso", seed=seed, n_trials=trials),
                "DESampler(lshade)": lambda: DESampler("lshade", seed=seed, n_trials=trials),
                "TPESampler": lambda: TPESampler(seed=seed),
                "RandomSampler": lambda: RandomSampler(seed=seed)}
    seconds = {}
    for name, make in samplers.items():
        study = optuna.create_study(sampler=make())
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study.optimize(noop, n_trials=trials)
        seconds[name] = (time.perf_counter() - started) / trials
    return seconds


# -- (w) several worker processes on one storage -------------------------------------------
def _storage(spec: str):
    if spec.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        return JournalStorage(JournalFileBackend(spec.removeprefix("journal:")))
    return spec


def worker(spec: str, sampler_name: str, budget: int, sleep: float, start_at: float) -> None:
    """One worker process (``--worker``): waits for ``start_at``, then optimizes until the budget."""
    import optuna
    from optuna.samplers import TPESampler

    from autodehypo.integrations.optuna import DESampler
    optuna.logging.set_verbosity(logging.WARNING)
    sampler = DESampler(seed=0, n_trials=budget) if sampler_name == "desampler" else TPESampler()
    study = optuna.load_study(study_name="workers", storage=_storage(spec), sampler=sampler)
    time.sleep(max(0.0, start_at - time.time()))

    def objective(trial) -> float:
        time.sleep(sleep * (1 + trial.number % 3))
        return noop(trial)

    if sampler_name == "desampler":
        study.optimize(objective, n_trials=sampler.remaining_trials(study))
    else:
        stop = optuna.study.MaxTrialsCallback(budget, states=None)
        study.optimize(objective, n_trials=budget, callbacks=[stop])


def workers(count: int, budget: int, sleeps: list[float]) -> list[str]:
    import subprocess
    import sys
    import tempfile

    import optuna

    from autodehypo.integrations.optuna import SLOT_KEY
    lines = ["| storage | trial length s | sampler | trials trained | rows trained twice | random | "
             "pruned (budget out) | wall s |", "|---|---|---|---|---|---|---|---|"]
    for kind in ("sqlite", "journal"):
        for sleep in sleeps:
            for sampler_name in ("desampler", "tpe"):
                with tempfile.TemporaryDirectory() as tmp:
                    spec = f"sqlite:///{tmp}/s.db" if kind == "sqlite" else f"journal:{tmp}/s.log"
                    optuna.create_study(study_name="workers", storage=_storage(spec))
                    start_at = time.time() + 5  # after every process has imported torch and optuna
                    procs = [subprocess.Popen([sys.executable, "-m", "benchmarks.optuna_sampler", "--worker", spec,
                                               sampler_name, str(budget), str(sleep), str(start_at)])
                             for _ in range(count)]
                    if any(p.wait() != 0 for p in procs):
                        raise SystemExit(f"a {sampler_name} worker failed on {kind}")
                    trials = optuna.load_study(study_name="workers", storage=_storage(spec)).trials
                    wall = max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)
                    trained = [t for t in trials if t.state != optuna.trial.TrialState.PRUNED]
                    slots = [tuple(t.system_attrs[SLOT_KEY][:2]) for t in trained if t.system_attrs.get(SLOT_KEY)]
                    twice = len(slots) - len(set(slots))
                    shown = (f"{twice} ({100 * twice / len(trained):.1f} %)", f"{len(trained) - len(slots)}",
                             f"{len(trials) - len(trained)}") if sampler_name == "desampler" else ("-", "-", "-")
                    lines.append(f"| {kind} | {sleep:g} x (1, 2, 3) | {sampler_name} | {len(trained)} | {shown[0]} | "
                                 f"{shown[1]} | {shown[2]} | {wall.total_seconds():.2f} |")
    return lines


# -- (q) quality on small functions inside Optuna ------------------------------------------------
def mixed_branin(trial) -> float:
    x1, x2 = trial.suggest_float("x1", -5.0, 10.0), trial.suggest_int("x2", 0, 15)
    return ((x2 - 5.1 / (4 * math.pi ** 2) * x1 ** 2 + 5 / math.pi * x1 - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10)


def hpo_toy(trial) -> float:
    """A made-up validation error with an interaction between the optimizer and its learning rate."""
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop", "adagrad"])
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    batch = trial.suggest_categorical("batch", [16, 32, 64, 128, 256])
    dropout = trial.suggest_float("dropout", 0.0, 0.8)
    best_lr = {"sgd": -1.5, "adam": -3.0, "rmsprop": -3.5, "adagrad": -2.0}[optimizer]
    return (0.05 + 0.02 * (math.log10(lr) - best_lr) ** 2 + 0.01 * abs(math.log2(batch) - 6)
            + 0.1 * (dropout - 0.3) ** 2 + {"sgd": 0.01, "adam": 0.0, "rmsprop": 0.005, "adagrad": 0.02}[optimizer])


def rosenbrock10(trial) -> float:
    x = [trial.suggest_float(f"x{i}", -2.0, 2.0) for i in range(10)]
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(9))


QUALITY = {"mixed Branin": mixed_branin, "HPO toy": hpo_toy, "Rosenbrock 10-D": rosenbrock10}


def quality(seeds: int, trials: int) -> list[str]:
    import optuna
    from optuna.samplers import CmaEsSampler, RandomSampler, TPESampler

    from autodehypo.integrations.optuna import DESampler
    optuna.logging.set_verbosity(logging.ERROR)  # CmaEsSampler warns at every categorical
    samplers = {"DESampler (default)": lambda s: DESampler(seed=s, n_trials=trials),
                # Run times of these functions are noise: the default weighs them (cost_weight 0.4).
                "DESampler (default, cost_weight=0)": lambda s: DESampler(seed=s, n_trials=trials, cost_weight=0.0),
                "DESampler (jso)": lambda s: DESampler("jso", seed=s, n_trials=trials),
                "TPESampler": lambda s: TPESampler(seed=s),
                "CmaEsSampler": lambda s: CmaEsSampler(seed=s),
                "RandomSampler": lambda s: RandomSampler(seed=s)}
    lines = []
    for name, function in QUALITY.items():
        lines += [f"\n### {name}, {trials} trials, {seeds} seeds\n",
                  "| sampler | median best | mean best | mean best-so-far (area) | ratio of area to TPE's |",
                  "|---|---|---|---|---|"]
        rows = {}
        for sampler_name, make in samplers.items():
            best, area = [], []
            for seed in range(seeds):
                study = optuna.create_study(sampler=make(seed))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    study.optimize(function, n_trials=trials)
                curve = np.minimum.accumulate([t.value for t in study.trials])
                best.append(curve[-1])
                area.append(curve.mean())
            rows[sampler_name] = (float(np.median(best)), float(np.mean(best)), float(np.mean(area)))
        for sampler_name, (median, mean, area) in rows.items():
            lines.append(f"| {sampler_name} | {median:.4g} | {mean:.4g} | {area:.4g} | "
                         f"{area / rows['TPESampler'][2]:.2f} |")
    return lines


# -- (b) search on the tables ------------------------------------------------------------
def _distributions(task: Task) -> dict:
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    return {p.name: (FloatDistribution(float(p.low), float(p.high)) if p.kind == "float"
                     else CategoricalDistribution([_native(c) for c in p.choices])) for p in task.params}


def run_desampler(task: Task, algorithm: str, seed: int, evaluations: int) -> Trace:
    import optuna

    from autodehypo.integrations.optuna import DESampler
    started = time.perf_counter()
    rec = Recorder(task, f"optuna-desampler:{algorithm}", seed, evaluations)
    space = _distributions(task)
    study = optuna.create_study(sampler=DESampler(algorithm, seed=seed, n_trials=evaluations, search_space=space))
    for _ in range(evaluations):
        trial = study.ask(space)
        loss = rec.raw(trial.params)
        if math.isnan(loss):
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, loss)
    return rec.trace(time.perf_counter() - started)


def run_optunahub_de(task: Task, seed: int, evaluations: int, registry: Path, index: bool) -> Trace:
    import optuna
    import optunahub
    name = "optunahub-de-index" if index else "optunahub-de"
    module = optunahub.load_local_module(package="samplers/differential_evolution", registry_root=str(registry))
    started = time.perf_counter()
    rec = Recorder(task, name, seed, evaluations)
    study = optuna.create_study(sampler=module.DESampler(seed=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(evaluations):
            trial = study.ask()
            config = {}
            for p in task.params:
                if p.kind == "float":
                    config[p.name] = trial.suggest_float(p.name, p.low, p.high)
                elif index:
                    config[p.name] = p.choices[trial.suggest_int(p.name, 0, len(p.choices) - 1)]
                else:
                    config[p.name] = trial.suggest_categorical(p.name, [_native(c) for c in p.choices])
            study.tell(trial, rec.evaluate(config))
    return rec.trace(time.perf_counter() - started)


def search(tasks: list[str], seeds: int, evaluations: int, registry: Path | None,
           algorithms: list[str]) -> tuple[list[str], list[str]]:
    """The per-task table lines and the equality checks."""
    lines, checks = [], []
    for name in tasks:
        task = load_task(name)
        runs: dict[str, list[Trace]] = {}
        for seed in range(seeds):
            runs.setdefault("random", []).append(run_random(task, seed, evaluations))
            runs.setdefault("optuna-tpe", []).append(run_optuna_tpe(task, seed, evaluations))
            for alg in algorithms:
                for variant in (f"study:{alg}", f"study:{alg}:dedupe=0"):
                    runs.setdefault(variant, []).append(run_autodehypo(task, variant.removeprefix("study:"),
                                                                       seed, evaluations))
                runs.setdefault(f"optuna-desampler:{alg}", []).append(run_desampler(task, alg, seed, evaluations))
            if registry is not None:
                for index in (False, True):
                    trace = run_optunahub_de(task, seed, evaluations, registry, index)
                    runs.setdefault(trace.optimizer, []).append(trace)
        for alg in algorithms:
            same = sum(np.array_equal(a.losses, b.losses, equal_nan=True) and np.array_equal(a.costs, b.costs)
                       for a, b in zip(runs[f"study:{alg}:dedupe=0"], runs[f"optuna-desampler:{alg}"]))
            checks.append(f"{name}: optuna-desampler:{alg} evaluates exactly as study:{alg}:dedupe=0 "
                          f"(losses and costs, evaluation by evaluation) in {same} of {seeds} seeds")
        target = measures.median([float(np.nanmin(t.losses)) for t in runs["random"]])
        lines.append(f"\n### {name} ({task.note}; cost {task.cost_unit}), {evaluations} evaluations, "
                     f"{seeds} seeds, target {target:.5g}\n")
        lines.append("| optimizer | median cost to target [quartiles] | reached | ERT | median final regret | "
                     "optimizer s/run |")
        lines.append("|---|---|---|---|---|---|")
        for optimizer, traces in runs.items():
            costs = [measures.cost_to_target(t.losses, t.costs, target) for t in traces]
            q1, _, q3 = measures.quartiles(np.array(costs))
            regret = measures.median([measures.final_regret(t.losses, task.best_loss) for t in traces])
            reached = sum(math.isfinite(c) for c in costs)
            ert = measures.expected_running_time(costs, [float(t.costs.sum()) for t in traces])
            lines.append(f"| {optimizer} | {_fmt(measures.median(costs))} [{_fmt(q1)}, {_fmt(q3)}] | "
                         f"{reached}/{len(traces)} | {_fmt(ert)} | {regret:.4g} | "
                         f"{np.mean([t.wall_s for t in traces]):.3f} |")
    return lines, checks


def _fmt(x: float) -> str:
    return "∞" if math.isinf(x) else f"{x:.4g}"




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.optuna_sampler", description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("overhead", "search", "both", "workers", "quality"), default="both")
    parser.add_argument("--workers", type=int, default=4, help="(w): processes")
    parser.add_argument("--budget", type=int, default=64, help="(w): the sampler's n_trials")
    parser.add_argument("--sleeps", default="0,0.1", help="(w): trial lengths in seconds (times 1, 2 or 3)")
    parser.add_argument("--worker", nargs=5, metavar=("STORAGE", "SAMPLER", "BUDGET", "SLEEP", "START_AT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--trials", type=int, default=1000, help="(a): trials of the no-op objective")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evaluations", type=int, default=100)
    parser.add_argument("--algorithms", default="jso,lshade")
    parser.add_argument("--optunahub-registry", type=Path, default=None,
                        help="a checkout of github.com/optuna/optunahub-registry (its package/ folder), "
                             "for OptunaHub's DE sampler; without it that sampler is left out")
    args = parser.parse_args(argv)
    if args.worker:
        spec, name, budget, sleep, start_at = args.worker
        worker(spec, name, int(budget), float(sleep), float(start_at))
        return 0
    import optuna
    optuna.logging.set_verbosity(logging.WARNING)
    if args.part == "workers":
        print(f"# DESampler with {args.workers} worker processes\n\nCPU: {cpu_model()}; optuna {optuna.__version__}; "
              f"budget {args.budget} trials\n")
        print("\n".join(workers(args.workers, args.budget, [float(x) for x in args.sleeps.split(",")])))
        return 0
    if args.part == "quality":
        print(f"# DESampler inside Optuna\n\nCPU: {cpu_model()}; optuna {optuna.__version__}\n")
        print("\n".join(quality(args.seeds, args.evaluations)))
        return 0
    import optunahub  # noqa: F401  (its version goes in the header)
    from importlib import metadata
    print(f"# DESampler benchmark\n\nCPU: {cpu_model()}; Python {platform.python_version()}; "
          f"optuna {metadata.version('optuna')}, optunahub {metadata.version('optunahub')}, "
          f"numpy {np.__version__}\n")
    if args.part in ("overhead", "both"):
        seconds = overhead(args.trials)
        print(f"## (a) Per-trial overhead, no-op objective, in-memory storage, {args.trials} trials\n")
        print("| sampler | ms per trial | ratio to TPESampler |\n|---|---|---|")
        for name, s in seconds.items():
            print(f"| {name} | {1000 * s:.3f} | {s / seconds['TPESampler']:.3f} |")
    if args.part in ("search", "both"):
        registry = args.optunahub_registry
        if registry is not None:
            registry = registry / "package" if (registry / "package").is_dir() else registry
        lines, checks = search(args.tasks, args.seeds, args.evaluations, registry, args.algorithms.split(","))
        print("\n## (b) Median cost to target on the side-by-side tables\n")
        if registry is None:
            print("OptunaHub's DE sampler left out: no --optunahub-registry given.\n")
        print("\n".join(f"- {c}" for c in checks))
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
