"""Driver overhead per trial for a no-op objective, next to Optuna's on SQLite, in the same run;
and the default search's own time per ask.

    python benchmarks/overhead.py [--trials 100 1000 3000] [--population 20]

autodehypo's figure covers ask, tell, the SQLite writes of each trial and each
generation, and running each trial in its own forked process (crash isolation
is part of the price). Optuna's covers ask, tell and its RDB storage on a
SQLite file (default sampler, in-process trials: no isolation). Wall time per
trial is printed for both at each study size, with the ratio; the goal is
autodehypo at most 0.1 x Optuna at 3000 trials, and flat from 100 to 3000.

The cost of the process alone (fork, the child's exit, wait4, from this same
driver process) is measured separately and printed, with the driver's cost
without it: that part no bookkeeping can remove. The same study is also run
with ``algorithm = "de"`` and no model (``plain de``): what the driver itself
costs, apart from the default search's Gaussian process, whose own time per ask
is printed last.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from autodehypo import Study


def noop(params):
    return params["x0"]


def ours(directory: Path, trials: int, population: int, workers: int,
         algorithm: str | None = None) -> tuple[float, int]:
    """Seconds per trial, and the size of the study file it leaves; the default search, or
    ``algorithm`` with its own defaults (no model)."""
    study_table = {"seed": 0, "population": population, "budget": {"evaluations": trials}}
    if algorithm is not None:
        study_table["algorithm"] = algorithm
    config = {"study": study_table,
              "space": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(4)},
              "objective": {"type": "python"}, "executor": {"workers": workers}}
    name = f"ours-{algorithm or 'default'}-{trials}"
    started = time.perf_counter()
    study = Study.create(directory / name, config, objective=noop)
    study.run()
    study.close()
    return (time.perf_counter() - started) / trials, (directory / name / "study.db").stat().st_size


def search_alone(trials: int, population: int) -> tuple[float, float]:
    """The default search as a study builds it, asked and told ``trials`` times with no study
    around it: milliseconds per ask (with its tell), over the whole run and over its last 100."""
    import numpy as np

    from autodehypo.study.answers import params_key
    from autodehypo.config import parse_config
    from autodehypo.config import build_search
    cfg = parse_config({"study": {"seed": 0, "population": population, "budget": {"evaluations": trials}},
                        "space": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(4)},
                        "objective": {"type": "python"}})
    search = build_search(cfg)
    search.set_key(lambda x: params_key(cfg.space.decode(x)), lambda x: cfg.space.encode(cfg.space.decode(x)))
    times = []
    while True:
        started = time.perf_counter()
        candidate = search.ask()
        if candidate is None:
            break
        search.tell(candidate.id, float(np.sum((candidate.x - 0.3) ** 2)), 1.0)
        times.append(time.perf_counter() - started)
    return 1e3 * float(np.mean(times)), 1e3 * float(np.mean(times[-100:]))


def fork_only(count: int) -> float:
    """A forked child that exits at once, reaped with wait4: the floor of a process per trial."""
    started = time.perf_counter()
    for _ in range(count):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.close(write_fd)
        os.read(read_fd, 1)  # end of file when the child is gone, as the executor sees it
        os.close(read_fd)
        os.wait4(pid, 0)
    return (time.perf_counter() - started) / count


def optuna_sqlite(directory: Path, trials: int) -> float:
    import optuna
    optuna.logging.set_verbosity(logging.WARNING)
    started = time.perf_counter()
    study = optuna.create_study(storage=f"sqlite:///{directory / f'optuna-{trials}.db'}")

    def objective(trial):
        return noop({f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(4)})

    study.optimize(objective, n_trials=trials)
    return (time.perf_counter() - started) / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[100, 1000, 3000])
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    try:
        import optuna  # noqa: F401
        have_optuna = True
    except ImportError:
        have_optuna = False
    print(f"population {args.population}, workers {args.workers}; ms per trial")
    print(f"{'trials':>7}  {'autodehypo':>10}  {'plain de':>8}  {'process':>8}  {'rest':>6}  {'rest de':>7}  "
          f"{'optuna':>8}  {'ratio':>6}  {'ratio de':>8}  {'file MB':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # Ours first: a fork costs more the more memory the driver holds, and Optuna's imports
        # (SQLAlchemy, Alembic) would enlarge the process that forks.
        measured = {n: ours(tmp, n, args.population, args.workers) for n in args.trials}
        ours_s = {n: seconds for n, (seconds, _) in measured.items()}
        plain_s = {n: ours(tmp, n, args.population, args.workers, "de")[0] for n in args.trials}
        process_s = {n: fork_only(min(n, 1000)) for n in args.trials}
        for trials in args.trials:
            optuna_s = optuna_sqlite(tmp, trials) if have_optuna else None
            ratio = f"{ours_s[trials] / optuna_s:6.3f}" if optuna_s else "     -"
            ratio_de = f"{plain_s[trials] / optuna_s:8.3f}" if optuna_s else "       -"
            optuna_ms = f"{optuna_s * 1e3:8.2f}" if optuna_s else "       -"
            print(f"{trials:>7}  {ours_s[trials] * 1e3:10.2f}  {plain_s[trials] * 1e3:8.2f}  "
                  f"{process_s[trials] * 1e3:8.2f}  {(ours_s[trials] - process_s[trials]) * 1e3:6.2f}  "
                  f"{(plain_s[trials] - process_s[trials]) * 1e3:7.2f}  {optuna_ms}  {ratio}  {ratio_de}  "
                  f"{measured[trials][1] / 1e6:7.2f}", flush=True)
    print("autodehypo: the default search, fork per trial, SQLite; plain de: the same study with "
          "algorithm = \"de\" (no model); process: fork + exit + wait4 alone; rest, rest de: each less "
          "the process; file: the default's SQLite file")
    print("\nthe default search alone (ask and tell, no study): ms per ask")
    print(f"{'trials':>7}  {'mean':>8}  {'last 100':>8}")
    for trials in args.trials:
        mean, last = search_alone(trials, args.population)
        print(f"{trials:>7}  {mean:8.2f}  {last:8.2f}  (goal: under 50 ms at 1000 trials)", flush=True)
    if not have_optuna:
        print("optuna: not installed (pip install 'autodehypo[bench]')")
    else:
        print("optuna: in-process trials, RDB storage on SQLite; ratio: autodehypo / optuna (goal <= 0.1)")


if __name__ == "__main__":
    main()
