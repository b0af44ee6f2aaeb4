"""Runs DEHB 0.1.2's DE on one task inside DEHB's own environment (DEHB 0.1.2 needs numpy < 2).

    DEHB_PYTHON dehb_runner.py REQUEST.json RESULT.json

The request and result are every external peer's (``peer_env.py``): the
task's parameters and look-up arrays, the seeds and the evaluation budget in;
per seed the configurations evaluated in order, their losses and costs out.

DEHB's ``DE`` is used at full fidelity with DEHB's defaults: population 20
(``DE``'s default), ``mutation_factor=0.5``, ``crossover_prob=0.5``,
``strategy="rand1_bin"`` (``DEHB``'s defaults; ``DE``'s own are None, which it
cannot run with), boundary repair ``random``. DE finishes its last generation;
the evaluations past the budget are not recorded.
"""

from __future__ import annotations

import math
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peer_env  # noqa: E402  (this folder's peer_env.py, as a plain module)
from peer_env import build_task, config_space  # noqa: E402,F401  (dehb_mf_runner uses them from here)

POPULATION = 20
DISTS = ("dehb", "ConfigSpace", "numpy")


def run_one(task, seed: int, evaluations: int) -> dict:
    from dehb import DE
    run = peer_env.Run(task, seed, evaluations)

    def objective(config, **kwargs):
        loss, cost = run.evaluate(config)
        return {"fitness": loss, "cost": cost}

    with tempfile.TemporaryDirectory() as tmp:
        de = DE(cs=config_space(task, seed), f=objective, pop_size=POPULATION, mutation_factor=0.5,
                crossover_prob=0.5, strategy="rand1_bin", seed=int(seed), output_path=tmp)
        de.run(generations=max(0, math.ceil((evaluations - POPULATION) / POPULATION)))
    return run.result()


def quiet() -> None:
    warnings.simplefilter("ignore")  # ConfigSpace 1.x deprecations inside DEHB 0.1.2
    from loguru import logger
    logger.remove()


def read_request() -> tuple[dict, str]:
    """The request and the result path of the command line, with DEHB's logging and ConfigSpace's
    warnings silenced (this runner's and dehb_mf_runner's)."""
    quiet()
    return peer_env.read_request()


def write_result(result_path: str, runs: list[dict]) -> None:
    """The runs and this environment's versions, written whole or not at all."""
    peer_env.write_result(result_path, runs, DISTS)


def main() -> None:
    quiet()
    peer_env.main(run_one, DISTS)


if __name__ == "__main__":
    main()
