"""autodehypo's algorithms on a benchmark task, driven the way a study drives them.

:func:`run_autodehypo` is the one place that does it, so that it can later be
switched to a shared study component.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from .tasks import Task
from .trace import Recorder, Trace


def space_config(task: Task) -> dict[str, dict[str, Any]]:
    """The ``[space]`` table a user would write today: a table's choices as a categorical list,
    numbers in increasing order, strings as listed; a continuous parameter as a float."""
    space = {}
    for p in task.params:
        if p.kind == "float":
            space[p.name] = {"type": "float", "low": float(p.low), "high": float(p.high)}
        else:
            space[p.name] = {"type": "categorical", "choices": [_native(c) for c in p.choices]}
    return space


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def run_autodehypo(task: Task, algorithm: str, seed: int, evaluations: int) -> Trace:
    """One run of ``algorithm`` on ``task``: the study's space, default population, told-value
    policy and evaluation budget (the last generation cut so that exactly ``evaluations`` run)."""
    from autodehypo.algorithms import ALGORITHMS, make_optimizer
    from autodehypo.space import SearchSpace

    started = time.perf_counter()
    space = SearchSpace.from_config(space_config(task))
    # config.py: study.population defaults to the algorithm's default_population(space.dim).
    population = ALGORITHMS[algorithm].default_population(space.dim)
    opt = make_optimizer(algorithm, space.dim, population=population, seed=seed,
                         max_evaluations=evaluations)
    rec = Recorder(task, algorithm, seed, evaluations)
    while True:
        batch = opt.ask()
        if not len(batch):
            break
        losses = [rec.raw(space.decode(u)) for u in batch]
        # study._tell: minimise sign * value; a failed trial is told the worst value seen so far,
        # this generation included (+inf before any).
        worst = rec.worst()
        opt.tell([worst if math.isnan(x) else x for x in losses])
    return rec.trace(time.perf_counter() - started, note=f"population {population}")
