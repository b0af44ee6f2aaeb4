"""Runs SMAC3's hyperparameter optimization facade on one task inside SMAC's own environment.

    SMAC_PYTHON smac_runner.py REQUEST.json RESULT.json

The request and result are every external peer's (``peer_env.py``).

SMAC 2.x at its defaults, as its documentation's first example uses it:
``HyperparameterOptimizationFacade(Scenario(cs, deterministic=True,
n_trials=budget, seed=seed), train)`` and ``optimize()``, where ``cs`` is the
task's ConfigSpace (ordered numbers as ``OrdinalHyperparameter``, strings as
``CategoricalHyperparameter``, continuous as a float) and ``train`` returns
the loss. The facade's random forest, log expected improvement, Sobol initial
design (10 per parameter, at most a quarter of the budget) and 8% random
configurations are its own. SMAC is told the budget (``n_trials``), so the
harness runs it once per budget. Deterministic: a configuration is evaluated
once; SMAC may end before the budget when it cannot find a new one.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peer_env  # noqa: E402  (this folder's peer_env.py, as a plain module)

DISTS = ("smac", "ConfigSpace", "scikit-learn", "numpy", "scipy")


def run_one(task, seed: int, evaluations: int) -> dict:
    from smac import HyperparameterOptimizationFacade, Scenario
    run = peer_env.Run(task, seed, evaluations)

    def train(config, seed: int = 0) -> float:
        return run.evaluate(config)[0]

    with tempfile.TemporaryDirectory() as tmp:
        scenario = Scenario(peer_env.config_space(task, seed), deterministic=True, n_trials=evaluations,
                            seed=int(seed), output_directory=Path(tmp) / "smac3_output")
        smac = HyperparameterOptimizationFacade(scenario, train, overwrite=True, logging_level=logging.ERROR)
        smac.optimize()
    return run.result()


def main() -> None:
    warnings.simplefilter("ignore")
    peer_env.main(run_one, DISTS)


if __name__ == "__main__":
    main()
