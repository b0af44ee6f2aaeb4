"""Per-trial overhead on the local Slurm for a no-op objective: job arrays against one job per trial.

    sudo scripts/slurm-local.sh start
    python benchmarks/slurm.py [--trials 16]

Prints, for each way of submitting, the wall time from submission to the last
result per trial and the number of sacct calls the executor made (one per poll
interval for all unfinished jobs, whatever their number).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from autodehypo.execution.slurm import SlurmExecutor


def noop(params):
    return params["i"]


def run(trials: int, arrays: bool, folder: Path) -> tuple[float, int]:
    executor = SlurmExecutor(noop, folder=folder, poll_interval=1.0, time_min=5)
    items = [(i, {"i": float(i)}, None, None) for i in range(trials)]
    started = time.perf_counter()
    if arrays:
        executor.submit_many(items)
    else:
        for item in items:
            executor.submit_many([item])
    done = 0
    while executor.running:
        done += len(executor.wait(timeout=5.0))
    return (time.perf_counter() - started) / trials, executor.sacct_calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        array_s, array_calls = run(args.trials, True, Path(tmp) / "array")
        single_s, single_calls = run(args.trials, False, Path(tmp) / "single")
    print(f"{args.trials} no-op trials on the local Slurm")
    print(f"  one job array:     {array_s:6.2f} s/trial, {array_calls} sacct calls")
    print(f"  one job per trial: {single_s:6.2f} s/trial, {single_calls} sacct calls")
    print(f"  ratio single / array: {single_s / array_s:5.2f}")


if __name__ == "__main__":
    main()
