"""Runs HEBO 0.3.6 on one task inside HEBO's own environment (HEBO 0.3.6 needs numpy < 1.25).

    HEBO_PYTHON hebo_runner.py REQUEST.json RESULT.json

The request and result are every external peer's (``peer_env.py``).

HEBO as its README uses it, with its defaults (GP model, MACE acquisition,
NSGA-II over it, 1 + number of parameters Sobol points first), one suggestion
per step: ``HEBO(space)``, then ``suggest(n_suggestions=1)`` and ``observe``
for every evaluation. The space is a ``DesignSpace``: ordered numbers as
``int`` over the choice index (so their order is kept), strings as ``cat``, a
continuous parameter as ``num``. HEBO takes no seed: the run is seeded as
HEBO's examples do, through ``random``, ``numpy`` and ``torch``'s global
generators. HEBO never learns the budget. It leaves out of its model a
non-finite loss (a failed evaluation before any finite one).
"""

from __future__ import annotations

import random
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import peer_env  # noqa: E402  (this folder's peer_env.py, as a plain module)

DISTS = ("HEBO", "torch", "numpy", "pandas", "GPy", "scipy", "pymoo")


def design_space(task):
    from hebo.design_space.design_space import DesignSpace
    parts = []
    for p in task.params:
        if p.kind == "float":
            parts.append({"name": p.name, "type": "num", "lb": float(p.low), "ub": float(p.high)})
        elif p.kind == "ordinal":
            parts.append({"name": p.name, "type": "int", "lb": 0, "ub": len(p.choices) - 1})
        else:
            parts.append({"name": p.name, "type": "cat", "categories": [str(c) for c in p.choices]})
    return DesignSpace().parse(parts)


def config_of(task, row) -> dict:
    """HEBO's suggestion (one row) as the task's configuration."""
    config = {}
    for p in task.params:
        value = row[p.name]
        if p.kind == "float":
            config[p.name] = float(value)
        elif p.kind == "ordinal":
            config[p.name] = p.choices[int(round(float(value)))]
        else:
            config[p.name] = p.choices[[str(c) for c in p.choices].index(str(value))]
    return config


def run_one(task, seed: int, evaluations: int) -> dict:
    import torch
    from hebo.optimizers.hebo import HEBO
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    run = peer_env.Run(task, seed, evaluations)
    opt = HEBO(design_space(task))
    while not run.done:
        suggestion = opt.suggest(n_suggestions=1)
        loss, _ = run.evaluate(config_of(task, suggestion.iloc[0]))
        opt.observe(suggestion, np.array([[loss]], dtype=float))
    return run.result()


def main() -> None:
    warnings.simplefilter("ignore")
    peer_env.main(run_one, DISTS)


if __name__ == "__main__":
    main()
