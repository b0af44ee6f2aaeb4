"""GDE3 and GDE3-SHADE against pymoo's NSGA-II on ZDT1-4, ZDT6 and DTLZ1-2, at the same evaluations.

    python -m benchmarks.multiobjective --seeds 10 --evaluations 25000 --out benchmarks/results/FILE.md

Problems are pymoo's with its default sizes: ZDT1-3 in 30 variables, ZDT4 and
ZDT6 in 10, all two objectives; DTLZ1 in 7 variables and DTLZ2 in 10, both
three objectives. Our optimizers work in [0, 1]^n, mapped linearly onto the
problem's bounds (only ZDT4's x2..x10 in [-5, 5] differ). Every algorithm has
population 100 (NSGA-II: pymoo's defaults otherwise: SBX, polynomial mutation,
binary tournament). What is scored is the non-dominated part of the final
population (pymoo's ``res.F``; for ours the same set), by pymoo's IGD against
the true front (ZDT1, 2, 4, 6: 1,000 points; ZDT3: pymoo's default; DTLZ: pymoo's 136 reference points) and
pymoo's hypervolume with the reference point 1.1 times the true front's nadir
(ZDT1-4, ZDT6 and DTLZ2: (1.1, 1.1[, 1.1]); DTLZ1: (0.55, 0.55, 0.55)).
The verdict is a two-sided Mann-Whitney U test on IGD, ours against NSGA-II, at 0.05.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from autodehypo.environment import cpu_model

PROBLEMS = ("zdt1", "zdt2", "zdt3", "zdt4", "zdt6", "dtlz1", "dtlz2")
OURS = ("gde3", "gde3-shade")
POPULATION = 100


def problem_and_front(name: str):
    from pymoo.problems import get_problem
    problem = get_problem(name)
    try:
        return problem, problem.pareto_front(n_pareto_points=1000)
    except TypeError:  # ZDT3's disconnected front and the DTLZ reference points have a fixed size
        return problem, problem.pareto_front()


def run_ours(algorithm: str, problem, evaluations: int, seed: int) -> np.ndarray:
    from autodehypo.algorithms import make_optimizer
    from autodehypo.algorithms.pareto import non_dominated
    opt = make_optimizer(algorithm, problem.n_var, population=POPULATION, seed=seed,
                         max_evaluations=evaluations, objectives=problem.n_obj)
    low, high = problem.xl, problem.xu
    while len(u := opt.ask_generation()):
        opt.tell_generation(problem.evaluate(low + u * (high - low)))
    return opt.values[non_dominated(opt.values)]


def run_nsga2(problem, evaluations: int, seed: int) -> np.ndarray:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.optimize import minimize
    return minimize(problem, NSGA2(pop_size=POPULATION), ("n_eval", evaluations), seed=seed).F


def verdict(ours: list[float], theirs: list[float]) -> str:
    from scipy.stats import mannwhitneyu
    p = mannwhitneyu(ours, theirs, alternative="two-sided").pvalue
    if p >= 0.05:
        return f"tie (p={p:.2g})"
    return f"{'better' if np.median(ours) < np.median(theirs) else 'worse'} (p={p:.2g})"


def benchmark(problems, evaluations: int, seeds: int) -> list[str]:
    from pymoo.indicators.hv import HV
    from pymoo.indicators.igd import IGD
    algorithms = (*OURS, "nsga2")
    rows = [f"| problem | {' | '.join(f'{a} IGD | {a} HV' for a in algorithms)} | "
            f"{' | '.join(f'{a} vs NSGA-II (IGD)' for a in OURS)} |",
            "|---" * (2 * len(algorithms) + 1 + len(OURS)) + "|"]
    for name in problems:
        problem, front = problem_and_front(name)
        igd, hv = IGD(front), HV(ref_point=1.1 * front.max(axis=0))
        scores = {a: ([], []) for a in algorithms}
        for seed in range(seeds):
            for a in algorithms:
                F = run_nsga2(problem, evaluations, seed) if a == "nsga2" else \
                    run_ours(a, problem, evaluations, seed)
                scores[a][0].append(float(igd(F)))
                scores[a][1].append(float(hv(F)))
        cells = [f"{np.median(scores[a][0]):.4g} | {np.median(scores[a][1]):.4g}" for a in algorithms]
        verdicts = [verdict(scores[a][0], scores["nsga2"][0]) for a in OURS]
        rows.append(f"| {name} | {' | '.join(cells)} | {' | '.join(verdicts)} |")
        print(rows[-1], flush=True)
    return rows




def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    parser.add_argument("--evaluations", type=int, nargs="+", default=[25_000])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--date", default=time.strftime("%Y-%m-%d"))
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown here too")
    args = parser.parse_args(argv)
    import pymoo
    lines = [f"# Multi-objective DE against NSGA-II, {args.date}", "",
             f"CPU: {cpu_model()}, one process. pymoo {pymoo.__version__}, numpy {np.__version__}. "
             f"{args.seeds} seeds (0 to {args.seeds - 1}) per algorithm and problem; population {POPULATION}; "
             "medians over seeds. IGD: lower is better; HV: higher is better.", ""]
    lines += [__doc__.split("\n\n")[2].strip().replace("\n", " "), ""]
    for evaluations in args.evaluations:
        started = time.perf_counter()
        lines += [f"## {evaluations:,} evaluations", ""]
        print(f"{evaluations:,} evaluations", flush=True)
        lines += benchmark(args.problems, evaluations, args.seeds)
        lines += ["", f"Wall time {time.perf_counter() - started:.0f} s.", ""]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
