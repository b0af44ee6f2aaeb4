"""A process running an Optuna study with DESampler on a small mixed search space.

The Optuna sampler tests run it, SIGKILL it in the middle of a trial, run it again on the same
storage, and run two of it at once. ``python tests/optuna_worker.py STORAGE ...``; STORAGE is an
RDB URL (``sqlite:///...``) or ``journal:PATH`` for a journal file.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import time
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from autodehypo.integrations.optuna import DESampler

# The same space three ways: Optuna's distributions, the project's [space] table, and suggest calls.
DISTRIBUTIONS = {
    "lr": FloatDistribution(1e-5, 1.0, log=True),
    "layers": IntDistribution(1, 8),
    "width": IntDistribution(8, 512, log=True),
    "batch": CategoricalDistribution([64, 16, 32, 128]),
    "optimizer": CategoricalDistribution(["adam", "sgd", "rmsprop"]),
    "batchnorm": CategoricalDistribution([True, False]),
}
SPACE_TABLE = {
    "lr": {"type": "float", "low": 1e-5, "high": 1.0, "log": True},
    "layers": {"type": "int", "low": 1, "high": 8},
    "width": {"type": "int", "low": 8, "high": 512, "log": True},
    "batch": {"type": "categorical", "choices": [64, 16, 32, 128]},
    "optimizer": {"type": "categorical", "choices": ["adam", "sgd", "rmsprop"]},
    "batchnorm": {"type": "categorical", "choices": [True, False]},
}
FAILING_LAYERS = 7  # a configuration with this many layers "crashes"


def suggest(trial: optuna.Trial) -> dict[str, Any]:
    return {"lr": trial.suggest_float("lr", 1e-5, 1.0, log=True),
            "layers": trial.suggest_int("layers", 1, 8),
            "width": trial.suggest_int("width", 8, 512, log=True),
            "batch": trial.suggest_categorical("batch", [64, 16, 32, 128]),
            "optimizer": trial.suggest_categorical("optimizer", ["adam", "sgd", "rmsprop"]),
            "batchnorm": trial.suggest_categorical("batchnorm", [True, False])}


def loss(params: dict[str, Any]) -> float:
    """A made-up validation loss; NaN for a configuration that fails."""
    if params["layers"] == FAILING_LAYERS:
        return math.nan
    return ((math.log10(params["lr"]) + 2.5) ** 2 + (params["layers"] - 3) ** 2 / 10
            + (math.log2(params["width"]) - 6) ** 2 / 10 + {16: 0.3, 32: 0.0, 64: 0.1, 128: 0.4}[params["batch"]]
            + 0.5 * (params["optimizer"] != "adam") + 0.1 * params["batchnorm"])


def objective(trial: optuna.Trial, kill_at: int = -1, sleep: float = 0.0) -> float:
    params = suggest(trial)
    if trial.number == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)  # dies mid-trial: the trial stays RUNNING in the storage
    if sleep:
        time.sleep(sleep * (1 + (hash(trial.number) % 3)))
    value = loss(params)
    if math.isnan(value):
        raise ValueError("this configuration fails")
    return value


def conditional_objective(trial: optuna.Trial) -> float:
    """A define-by-run space whose parameters depend on an earlier choice."""
    kind = trial.suggest_categorical("kind", ["linear", "tree"])
    if kind == "linear":
        return abs(math.log10(trial.suggest_float("c", 1e-4, 1e2, log=True)))
    return abs(trial.suggest_int("depth", 1, 12) - 5) + trial.suggest_float("split", 0.0, 1.0)


def open_storage(spec: str, heartbeat: bool = False):
    if heartbeat:  # Optuna's recipe for dead workers: a stale trial is failed and queued again
        from optuna.storages import RDBStorage, RetryFailedTrialCallback
        return RDBStorage(spec, heartbeat_interval=1, grace_period=2,
                          failed_trial_callback=RetryFailedTrialCallback())
    if spec.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        return JournalStorage(JournalFileBackend(spec.removeprefix("journal:")))
    return spec


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("storage")
    parser.add_argument("--algorithm", default="jso")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--budget", type=int, default=48, help="the sampler's n_trials")
    parser.add_argument("--complete", type=int, default=48, help="stop once this many trials are complete")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--kill-at", type=int, default=-1, help="SIGKILL itself in this trial")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--heartbeat", action="store_true", help="an RDB storage with a heartbeat and retries")
    parser.add_argument("--remaining", action="store_true",
                        help="run sampler.remaining_trials(study) trials (the README's resume recipe)")
    parser.add_argument("--conditional", action="store_true",
                        help="a conditional space and no search_space: the first complete trial fixes it")
    parser.add_argument("--start-at", type=float, default=0.0, help="sleep until this time.time() first")
    parser.add_argument("--reask-after", type=float, default=None, help="the sampler's reask_after")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = DESampler(args.algorithm, seed=args.seed, n_trials=args.budget, reask_after=args.reask_after,
                        search_space=None if args.conditional else DISTRIBUTIONS)
    study = optuna.create_study(study_name="worker", storage=open_storage(args.storage, args.heartbeat),
                                load_if_exists=True, sampler=sampler)
    time.sleep(max(0.0, args.start_at - time.time()))
    if args.conditional:
        study.optimize(conditional_objective, n_trials=args.complete)
        return
    if args.remaining:
        study.optimize(lambda t: objective(t, args.kill_at, args.sleep), n_trials=sampler.remaining_trials(study),
                       catch=(ValueError,))
        return
    stop = optuna.study.MaxTrialsCallback(args.complete, states=(optuna.trial.TrialState.COMPLETE,
                                                                 optuna.trial.TrialState.FAIL))
    study.optimize(lambda t: objective(t, args.kill_at, args.sleep), n_trials=10 * args.complete,
                   n_jobs=args.n_jobs, callbacks=[stop], catch=(ValueError,))


if __name__ == "__main__":
    main()
