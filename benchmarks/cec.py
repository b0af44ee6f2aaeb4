"""Our DE variants on the CEC 2017 / CEC 2014 benchmarks, beside published and reference results.

    python benchmarks/cec.py --algorithm jso --dim 10 --runs 51 --csv jso-d10.csv
    python benchmarks/cec.py --algorithm lshade --dim 10 --reference niapy
    python benchmarks/cec.py --speed

Official protocol: MaxFEs = 10000 x D, search range [-100, 100]^D, errors
under 1e-8 count as 0, 51 runs. The functions are minionpy's, which match the
official C code (opfunu's CEC 2017 functions do not). For each function it
prints our mean, std and median error; beside it the published jSO results
(../shared/refs/jso-cec2017-published.csv, when present) and/or a reference
L-SHADE run side by side (NiaPy's port of Tanabe's code with N = 18 D, or
minionpy's C++ one), with a verdict from Welch's t-test on the summary
statistics at p = 0.01 (better / same / worse, from our side).

``--speed`` prints our time per function evaluation excluding the function
itself, beside scipy's differential_evolution and minionpy on the same cheap
function in the same run, as ratios.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from autodehypo.algorithms import ALGORITHMS, make_optimizer

PUBLISHED = Path(__file__).resolve().parents[2] / "shared" / "refs" / "jso-cec2017-published.csv"
ZERO = 1e-8


def cec_function(suite: int, number: int, dim: int):
    import minionpy
    cls = {2017: minionpy.CEC2017Functions, 2014: minionpy.CEC2014Functions}[suite]
    return cls(number, dim), 100.0 * number


def ours(algorithm: str, suite: int, number: int, dim: int, seed: int, max_fes: int,
         population: int | None = None) -> float:
    f, f_opt = cec_function(suite, number, dim)
    cls = ALGORITHMS[algorithm]
    opt = make_optimizer(algorithm, dim, population=population or cls.benchmark_population(dim),
                         seed=seed, max_evaluations=max_fes)
    while True:
        u = opt.ask()
        if not len(u):
            break
        opt.tell(np.asarray(f(-100.0 + 200.0 * u)) - f_opt)
    return opt.best_value if opt.best_value >= ZERO else 0.0


def minion_lshade(suite: int, number: int, dim: int, seed: int, max_fes: int) -> float:
    import minionpy
    f, f_opt = cec_function(suite, number, dim)
    result = minionpy.LSHADE(lambda X: f(np.asarray(X)), [(-100.0, 100.0)] * dim, maxevals=max_fes,
                             seed=seed, options={"population_size": 18 * dim, "x_tol": 0.0,
                                                 "f_tol": -1.0}).optimize()
    error = result.fun - f_opt
    return error if error >= ZERO else 0.0


def niapy_lshade(suite: int, number: int, dim: int, seed: int, max_fes: int) -> float:
    from niapy.algorithms.modified import LpsrSuccessHistoryAdaptiveDifferentialEvolution
    from niapy.problems import Problem
    from niapy.task import Task
    f, f_opt = cec_function(suite, number, dim)

    class Cec(Problem):
        def _evaluate(self, x):
            return f(np.asarray([x]))[0] - f_opt

    task = Task(problem=Cec(dim, -100.0, 100.0), max_evals=max_fes)
    algo = LpsrSuccessHistoryAdaptiveDifferentialEvolution(population_size=18 * dim, seed=seed)
    _, best = algo.run(task)
    return best if best >= ZERO else 0.0


REFERENCES = {"minionpy": minion_lshade, "niapy": niapy_lshade}


def _job(args):
    kind, payload = args
    if kind == "ours":
        return ours(*payload)
    return REFERENCES[kind](*payload)


def summary(errors: list[float]) -> tuple[float, float, float]:
    a = np.asarray(errors)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0, float(np.median(a))


def welch_verdict(m1, s1, n1, m2, s2, n2, alpha=0.01) -> str:
    """Ours (1) against the other (2), lower error is better."""
    from scipy.stats import ttest_ind_from_stats
    if abs(m1 - m2) <= ZERO:  # below the protocol's resolution (published means are rounded)
        return "same"
    if s1 == 0 and s2 == 0:
        return "same" if math.isclose(m1, m2, rel_tol=1e-9, abs_tol=ZERO) else ("better" if m1 < m2 else "worse")
    p = ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False).pvalue
    if p >= alpha:
        return "same"
    return "better" if m1 < m2 else "worse"


def load_published(dim: int) -> dict[int, dict[str, float]]:
    if not PUBLISHED.is_file():
        return {}
    with PUBLISHED.open() as fh:
        return {int(r["F"]): {k: float(r[k]) for k in ("mean", "std", "median", "runs")}
                for r in csv.DictReader(fh) if r["suite"] == "CEC2017" and int(r["D"]) == dim}


def parse_functions(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def compare(args) -> None:
    max_fes = args.fes_per_dim * args.dim
    jobs = []
    for number in args.functions:
        for seed in range(args.runs):
            jobs.append(("ours", (args.algorithm, args.suite, number, args.dim, seed, max_fes,
                                  args.population)))
            if args.reference:
                jobs.append((args.reference, (args.suite, number, args.dim, seed, max_fes)))
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(_job, jobs, chunksize=1))
    published = load_published(args.dim) if args.suite == 2017 else {}
    if args.suite == 2017 and not published:
        print(f"(published jSO results not found at {PUBLISHED}; that column is left out)")
    rows = []
    it = iter(results)
    by_function: dict[int, tuple[list[float], list[float]]] = {n: ([], []) for n in args.functions}
    for number in args.functions:
        for _ in range(args.runs):
            by_function[number][0].append(next(it))
            if args.reference:
                by_function[number][1].append(next(it))
    header = (f"{'F':>3} {'mean':>11} {'std':>11} {'median':>11}"
              + (f" | {'jSO pub mean':>12} {'std':>11} {'verdict':>7}" if published else "")
              + (f" | {args.reference + ' L-SHADE':>16} {'std':>11} {'verdict':>7}" if args.reference else ""))
    print(f"{args.algorithm} on CEC {args.suite}, D = {args.dim}, {args.runs} runs, MaxFEs = {max_fes}")
    print(header)
    tally: dict[str, dict[str, int]] = {"published": {}, "reference": {}}
    for number in args.functions:
        mine, theirs = by_function[number]
        m, s, med = summary(mine)
        row = {"algorithm": args.algorithm, "suite": args.suite, "D": args.dim, "F": number,
               "runs": args.runs, "mean": m, "std": s, "median": med}
        line = f"{number:>3} {m:11.4e} {s:11.4e} {med:11.4e}"
        if published:
            pub = published.get(number)
            if pub:
                v = welch_verdict(m, s, args.runs, pub["mean"], pub["std"], int(pub["runs"]))
                tally["published"][v] = tally["published"].get(v, 0) + 1
                row.update(published_mean=pub["mean"], published_std=pub["std"], published_verdict=v)
                line += f" | {pub['mean']:12.4e} {pub['std']:11.4e} {v:>7}"
        if args.reference:
            rm, rs, rmed = summary(theirs)
            v = welch_verdict(m, s, args.runs, rm, rs, args.runs)
            tally["reference"][v] = tally["reference"].get(v, 0) + 1
            row.update(reference=args.reference, reference_mean=rm, reference_std=rs,
                       reference_median=rmed, reference_verdict=v)
            line += f" | {rm:16.4e} {rs:11.4e} {v:>7}"
        print(line)
        rows.append(row)
    for which, counts in tally.items():
        if counts:
            print(f"against {which}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"wall time {time.perf_counter() - started:.0f} s on {args.workers} workers")
    if args.csv:
        fields = sorted({k for r in rows for k in r}, key=lambda k: list(rows[0]).index(k)
                        if k in rows[0] else 100)
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.csv}")


class _Timed:
    """A vectorised function that remembers how long its own calls took."""

    def __init__(self, f):
        self.f, self.seconds, self.calls = f, 0.0, 0

    def __call__(self, x):
        t = time.perf_counter()
        y = self.f(np.asarray(x, dtype=float))
        self.seconds += time.perf_counter() - t
        self.calls += len(y) if np.ndim(y) else 1
        return y


def _sphere(x):
    x = np.atleast_2d(x)
    return (x * x).sum(axis=1)


def speed(args) -> None:
    """Seconds per evaluation spent outside the function, same cheap function and budget."""
    import minionpy
    from scipy.optimize import differential_evolution
    dim, max_fes, pop = args.dim, args.fes_per_dim * args.dim, 10 * args.dim

    def ours_overhead():
        f = _Timed(_sphere)
        t = time.perf_counter()
        opt = make_optimizer(args.algorithm, dim, population=ALGORITHMS[args.algorithm].benchmark_population(dim),
                             seed=0, max_evaluations=max_fes)
        while len(u := opt.ask()):
            opt.tell(f(-100.0 + 200.0 * u))
        return (time.perf_counter() - t - f.seconds) / f.calls

    def scipy_overhead():
        f = _Timed(lambda x: _sphere(x.T))  # scipy's vectorized call passes (dim, n)
        t = time.perf_counter()
        differential_evolution(f, [(-100, 100)] * dim, vectorized=True, updating="deferred",
                               popsize=10, maxiter=max_fes // pop - 1, tol=0, polish=False, rng=0)
        return (time.perf_counter() - t - f.seconds) / f.calls

    def minion_overhead():
        f = _Timed(_sphere)
        t = time.perf_counter()
        minionpy.LSHADE(lambda X: f(X).tolist(), [(-100.0, 100.0)] * dim, maxevals=max_fes, seed=0,
                        options={"population_size": 18 * dim, "x_tol": 0.0, "f_tol": -1.0}).optimize()
        return (time.perf_counter() - t - f.seconds) / f.calls

    results = {"ours": ours_overhead(), "scipy": scipy_overhead(), "minionpy": minion_overhead()}
    print(f"time per evaluation outside the function, D = {dim}, {max_fes} evaluations, sphere")
    for name, s in results.items():
        print(f"  {name:9} {s * 1e6:9.2f} us/FE   ours/{name} = {results['ours'] / s:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithm", default="jso", choices=sorted(ALGORITHMS))
    parser.add_argument("--suite", type=int, default=2017, choices=[2014, 2017])
    parser.add_argument("--functions", type=parse_functions, default=list(range(1, 31)),
                        help="e.g. 1-30 or 1,4,5-10 (default 1-30)")
    parser.add_argument("--dim", type=int, default=10)
    parser.add_argument("--runs", type=int, default=51)
    parser.add_argument("--fes-per-dim", type=int, default=10000)
    parser.add_argument("--population", type=int, help="default: the authors' benchmark population")
    parser.add_argument("--reference", choices=sorted(REFERENCES),
                        help="run this L-SHADE side by side (niapy: faithful but slow)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--csv", help="write the table as CSV")
    parser.add_argument("--speed", action="store_true", help="only the overhead comparison")
    args = parser.parse_args()
    speed(args) if args.speed else compare(args)


if __name__ == "__main__":
    main()
