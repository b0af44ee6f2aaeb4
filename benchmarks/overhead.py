"""Driver overhead per trial for a no-op objective, next to Optuna's on SQLite, in the same run.

    python benchmarks/overhead.py [--trials 400] [--population 20]

autodehypo's figure covers ask, tell, the SQLite writes of each trial and each
generation, and running each trial in its own forked process (crash isolation
is part of the price). Optuna's covers ask, tell and its RDB storage on a
SQLite file (default sampler, in-process trials: no isolation). Wall time per
trial is printed for both, with the ratio.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from autodehypo import Study


def noop(params):
    return params["x0"]


def ours(directory: Path, trials: int, population: int, workers: int) -> float:
    config = {"study": {"seed": 0, "population": population, "budget": {"evaluations": trials}},
              "space": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(4)},
              "objective": {"type": "python"}, "executor": {"workers": workers}}
    started = time.perf_counter()
    study = Study.create(directory / "ours", config, objective=noop)
    study.run()
    study.close()
    return (time.perf_counter() - started) / trials


def optuna_sqlite(directory: Path, trials: int) -> float:
    import optuna
    optuna.logging.set_verbosity(logging.WARNING)
    started = time.perf_counter()
    study = optuna.create_study(storage=f"sqlite:///{directory / 'optuna.db'}")

    def objective(trial):
        return noop({f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(4)})

    study.optimize(objective, n_trials=trials)
    return (time.perf_counter() - started) / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ours_s = ours(tmp, args.trials, args.population, args.workers)
        try:
            optuna_s = optuna_sqlite(tmp, args.trials)
        except ImportError:
            optuna_s = None
    print(f"trials: {args.trials}, population {args.population}, workers {args.workers}")
    print(f"autodehypo (fork per trial, SQLite): {ours_s * 1e3:8.2f} ms/trial")
    if optuna_s is None:
        print("optuna: not installed (pip install 'autodehypo[bench]')")
        return
    print(f"optuna (in-process, RDB on SQLite):  {optuna_s * 1e3:8.2f} ms/trial")
    print(f"ratio autodehypo / optuna:           {ours_s / optuna_s:8.2f}")


if __name__ == "__main__":
    main()
