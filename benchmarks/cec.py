"""Our DE variants on the CEC 2017 / 2014 / 2013 benchmarks, beside published and reference results.

    python benchmarks/cec.py --algorithm jso --dim 10 --runs 51 --csv jso-d10.csv
    python benchmarks/cec.py --algorithm lshade --dim 10 --reference niapy
    python benchmarks/cec.py --algorithm spsrdemms,jde,lshade --suite 2014 --runs-csv runs.csv
    python benchmarks/cec.py --algorithm spsrdemms,jde --suite 2013 --runs-csv runs.csv
    python benchmarks/cec.py --algorithm lshade --suite 2014 --baseline lshade-before.csv
    python benchmarks/cec.py --speed

Official protocol: MaxFEs = 10000 x D, search range [-100, 100]^D, errors
under 1e-8 count as 0, 51 runs. The functions are minionpy's, which match the
official C code (opfunu's CEC 2017 functions do not); CEC 2013's are benchmarks/cec2013.py, checked
against the official C code in benchmarks/results/cec2013/. For each function it
prints our mean, std and median error; beside it the published jSO results
(../shared/refs/jso-cec2017-published.csv, when present) and/or a reference
L-SHADE run side by side (NiaPy's port of Tanabe's code with N = 18 D, or
minionpy's C++ one), with a verdict from Welch's t-test on the summary
statistics at p = 0.01 (better / same / worse, from our side).

Several of our algorithms (``--algorithm a,b,c``) run side by side: the first
is compared with each of the others. ``--runs-csv FILE`` writes every run's
error; ``--baseline FILE[:ALGORITHM]`` adds a column read from such a file
(e.g. the same algorithm before a change; same suite, D, functions and number
of runs), and ``--runs-from FILE`` reads our own columns from one instead of
running them, to redo a table.
Wherever both sides have every run's error, the comparison also gets a
two-sided Mann-Whitney U verdict at p = 0.01 (column U, with its p-value),
beside the Welch verdict (column W).

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

from autodehypo.algorithms import ALGORITHMS, SINGLE_OBJECTIVE, make_optimizer

PUBLISHED = Path(__file__).resolve().parents[2] / "shared" / "refs" / "jso-cec2017-published.csv"
ZERO = 1e-8
# Errors equal to this many significant digits are ties in the rank test. Two evaluators of the same
# function (ours and a C reference) differ in the last digits, and the CEC 2013 authors' runs were
# printed with 12: on a plateau (F21: 48 of 51 runs at 400.19386721861...) that noise alone made
# the test call identical runs different at p = 1e-18.
SIGNIFICANT = 10


def cec_function(suite: int, number: int, dim: int):
    """(f, f_opt): f maps an (n, dim) array to n values."""
    if suite == 2013:
        try:
            from benchmarks.cec2013 import CEC2013
        except ImportError:  # run as a script: benchmarks/ itself is on the path
            from cec2013 import CEC2013
        f = CEC2013(number, dim)
        return f, f.optimum_value
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
        u = opt.ask_generation()
        if not len(u):
            break
        opt.tell_generation(np.asarray(f(-100.0 + 200.0 * u)) - f_opt)
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


def _significant(errors: list[float], digits: int = SIGNIFICANT) -> np.ndarray:
    return np.array([float(f"{e:.{digits}g}") for e in errors])


def mann_whitney_verdict(mine: list[float], theirs: list[float], alpha=0.01) -> tuple[str, float]:
    """Ours (mine) against the other, two-sided Mann-Whitney U on every run's error."""
    from scipy.stats import mannwhitneyu
    a, b = _significant(mine), _significant(theirs)
    if np.array_equal(np.sort(a), np.sort(b)):
        return "same", 1.0
    test = mannwhitneyu(a, b, alternative="two-sided")
    p = float(test.pvalue)
    if p >= alpha:
        return "same", p
    # U counts the pairs where ours is the larger error (ties half): under half of them, ours is lower
    return ("better" if test.statistic < len(a) * len(b) / 2 else "worse"), p


def load_runs(spec: str, suite: int, dim: int) -> tuple[str, dict[int, list[float]]]:
    """A --runs-csv file, ``FILE`` or ``FILE:NAME``: (label, {function: errors in seed order}).

    NAME picks that algorithm's rows (default: the file's first algorithm).
    """
    path, _, name = spec.partition(":")
    with open(path) as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["suite"]) == suite and int(r["D"]) == dim]
    if not rows:
        raise SystemExit(f"{path}: no runs for CEC {suite}, D = {dim}")
    name = name or rows[0]["algorithm"]
    runs: dict[int, list[tuple[int, float]]] = {}
    for r in rows:
        if r["algorithm"] == name:
            runs.setdefault(int(r["F"]), []).append((int(r["seed"]), float(r["error"])))
    if not runs:
        raise SystemExit(f"{path}: no runs of {name!r}")
    return f"{name}@{Path(path).stem}", {f: [e for _, e in sorted(v)] for f, v in runs.items()}


def _checked(spec: str, runs: dict[int, list[float]], args) -> dict[int, list[float]]:
    missing = [n for n in args.functions if len(runs.get(n, [])) != args.runs]
    if missing:
        raise SystemExit(f"{spec}: not {args.runs} runs for function(s) {missing}")
    return {n: runs[n] for n in args.functions}


def algorithm_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SINGLE_OBJECTIVE]  # CEC functions have one objective
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"choose from {SINGLE_OBJECTIVE}, got {text!r}")
    return names


def compare(args) -> None:
    max_fes = args.fes_per_dim * args.dim
    algorithms = args.algorithm
    columns = list(algorithms) + ([f"{args.reference} L-SHADE"] if args.reference else [])
    errors: dict[str, dict[int, list[float]]] = {c: {n: [] for n in args.functions} for c in columns}
    jobs, keys = [], []
    if args.runs_from:  # every run of our columns read back, nothing run
        for c in columns:
            errors[c] = _checked(args.runs_from, load_runs(f"{args.runs_from}:{c}", args.suite, args.dim)[1],
                                 args)
    else:
        for number in args.functions:
            for seed in range(args.runs):
                for name in algorithms:
                    jobs.append(("ours", (name, args.suite, number, args.dim, seed, max_fes,
                                          args.population)))
                    keys.append((name, number))
                if args.reference:
                    jobs.append((args.reference, (args.suite, number, args.dim, seed, max_fes)))
                    keys.append((columns[-1], number))
    started = time.perf_counter()
    if jobs:
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(_job, jobs, chunksize=1))
        for (column, number), error in zip(keys, results):
            errors[column][number].append(error)
    elapsed = time.perf_counter() - started
    for spec in args.baseline or []:
        label, runs = load_runs(spec, args.suite, args.dim)
        columns.append(label)
        errors[label] = _checked(spec, runs, args)
    published = load_published(args.dim) if args.suite == 2017 else {}
    if args.suite == 2017 and not published:
        print(f"(published jSO results not found at {PUBLISHED}; that column is left out)")
    subject, others = columns[0], columns[1:]
    print(f"{subject} on CEC {args.suite}, D = {args.dim}, {args.runs} runs, MaxFEs = {max_fes}"
          + (f"; against {', '.join(others)}" if others else ""))
    header = (f"{'F':>3} {'mean':>11} {'std':>11} {'median':>11}"
              + (f" | {'jSO pub mean':>12} {'std':>11} {'W':>7}" if published else "")
              + "".join(f" | {c[:22]:>22} {'median':>11} {'W':>7} {'U':>7} {'p(U)':>8}" for c in others))
    print(header)
    tally: dict[str, dict[str, int]] = {}
    rows = []
    for number in args.functions:
        mine = errors[subject][number]
        m, s, med = summary(mine)
        row = {"algorithm": subject, "suite": args.suite, "D": args.dim, "F": number,
               "runs": args.runs, "mean": m, "std": s, "median": med}
        line = f"{number:>3} {m:11.4e} {s:11.4e} {med:11.4e}"
        if published:
            pub = published.get(number)
            if pub:
                v = welch_verdict(m, s, args.runs, pub["mean"], pub["std"], int(pub["runs"]))
                tally.setdefault("published jSO (W)", {}).setdefault(v, 0)
                tally["published jSO (W)"][v] += 1
                row.update(published_mean=pub["mean"], published_std=pub["std"], published_verdict=v)
                line += f" | {pub['mean']:12.4e} {pub['std']:11.4e} {v:>7}"
            else:
                line += f" | {'':>12} {'':>11} {'':>7}"
        for c in others:
            theirs = errors[c][number]
            om, os_, omed = summary(theirs)
            w = welch_verdict(m, s, len(mine), om, os_, len(theirs))
            u, p = mann_whitney_verdict(mine, theirs)
            for kind, v in (("W", w), ("U", u)):
                tally.setdefault(f"{c} ({kind})", {}).setdefault(v, 0)
                tally[f"{c} ({kind})"][v] += 1
            row.update({f"{c} mean": om, f"{c} std": os_, f"{c} median": omed,
                        f"{c} welch": w, f"{c} mann-whitney": u, f"{c} p_U": p})
            line += f" | {om:22.4e} {omed:11.4e} {w:>7} {u:>7} {p:8.1e}"
        print(line)
        rows.append(row)
    for which, counts in tally.items():
        print(f"{subject} against {which}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if jobs:
        print(f"wall time {elapsed:.0f} s on {args.workers} workers")
    if args.csv:
        fields = list(dict.fromkeys(k for r in rows for k in r))
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.csv}")
    if args.runs_csv and jobs:
        with open(args.runs_csv, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["algorithm", "suite", "D", "F", "seed", "error"])
            for c in columns[:len(algorithms) + bool(args.reference)]:
                for number in args.functions:
                    for seed, e in enumerate(errors[c][number]):
                        writer.writerow([c, args.suite, args.dim, number, seed, repr(float(e))])
        print(f"wrote {args.runs_csv}")


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
        name = args.algorithm[0]
        opt = make_optimizer(name, dim, population=ALGORITHMS[name].benchmark_population(dim),
                             seed=0, max_evaluations=max_fes)
        while len(u := opt.ask_generation()):
            opt.tell_generation(f(-100.0 + 200.0 * u))
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
    parser.add_argument("--algorithm", default=["jso"], type=algorithm_list,
                        help="one of ours, or several comma-separated: the first is compared with the others")
    parser.add_argument("--suite", type=int, default=2017, choices=[2013, 2014, 2017])
    parser.add_argument("--functions", type=parse_functions,
                        help="e.g. 1-30 or 1,4,5-10 (default all: 1-28 for CEC 2013, else 1-30)")
    parser.add_argument("--dim", type=int, default=10)
    parser.add_argument("--runs", type=int, default=51)
    parser.add_argument("--fes-per-dim", type=int, default=10000)
    parser.add_argument("--population", type=int, help="default: the authors' benchmark population")
    parser.add_argument("--reference", choices=sorted(REFERENCES),
                        help="run this L-SHADE side by side (niapy: faithful but slow)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--baseline", action="append",
                        help="FILE or FILE:ALGORITHM, a --runs-csv file to compare with (repeatable)")
    parser.add_argument("--runs-from", help="read our columns' runs from a --runs-csv file instead of "
                                            "running them (to redo a table)")
    parser.add_argument("--csv", help="write the table as CSV")
    parser.add_argument("--runs-csv", help="write every run's error as CSV")
    parser.add_argument("--speed", action="store_true", help="only the overhead comparison")
    args = parser.parse_args()
    if args.functions is None:
        args.functions = list(range(1, 29 if args.suite == 2013 else 31))
    speed(args) if args.speed else compare(args)


if __name__ == "__main__":
    main()
