"""What every runner of a peer in its own environment shares: the request, the task, the record, the result.

A peer that pins packages the harness's environment cannot have (DEHB 0.1.2
needs numpy < 2, HEBO 0.3.6 numpy < 1.25; SMAC is kept apart too) runs in its
own virtual environment as one small runner file beside this one:

    PEER_PYTHON RUNNER.py REQUEST.json RESULT.json

The harness (``peers.run_external``) writes the request: the task's
parameters, its look-up arrays in an .npz file, the seeds and the evaluation
budget. The runner builds the task with ``tasks.py`` (imported from this
folder as a plain module; it needs only numpy), so the value, cost and
failed-evaluation policy are the harness's own, runs the peer once per seed
through :class:`Run`, and writes per seed the configurations evaluated in
order (their keys: choice indices, or points of a continuous task), the
losses, the costs and the seconds the run took, with the environment's
package versions. This module needs only numpy and the standard library.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tasks  # noqa: E402  (this folder's tasks.py, as a plain module)


def build_task(request: dict) -> tasks.Task:
    """The task of a request, as the harness has it (the same parameters, values and costs)."""
    params = tuple(tasks.Param(p["name"], p["kind"], tuple(p["choices"]), p["low"], p["high"])
                   for p in request["params"])
    if request["kind"] == "hartmann6":
        return tasks.hartmann6_task()
    arrays = np.load(request["arrays"])
    return tasks.TableTask(name=request["task"], params=params, direction=request["direction"],
                           cost_unit="", source="", values=arrays["values"], costs=arrays["costs"],
                           mode=request["mode"])


class Run:
    """One run's record, as ``trace.Recorder`` keeps it in the harness: evaluations beyond the
    budget are done (a peer may finish a batch) but not recorded, and a failed evaluation is told
    the worst loss recorded so far (+inf before any)."""

    def __init__(self, task: tasks.Task, seed: int, evaluations: int):
        self.task, self.seed, self.evaluations = task, int(seed), int(evaluations)
        self.rng = np.random.default_rng([self.seed, tasks.DRAW_SALT])
        self.keys: list[list] = []
        self.losses: list[float] = []
        self.costs: list[float] = []
        self.started = time.perf_counter()

    @property
    def done(self) -> bool:
        return len(self.losses) >= self.evaluations

    def evaluate(self, config: Mapping[str, Any]) -> tuple[float, float]:
        """(the loss to tell, the cost) of a configuration given as {parameter name: value}."""
        values = {p.name: _native(config[p.name]) for p in self.task.params}
        loss, cost = self.task.evaluate(values, self.rng)
        if not self.done:
            self.keys.append(list(self.task.key(values)))
            self.losses.append(loss)
            self.costs.append(cost)
        if math.isnan(loss):
            finite = [x for x in self.losses if not math.isnan(x)]
            loss = max(finite) if finite else math.inf
        return loss, cost

    def result(self) -> dict:
        return {"seed": self.seed, "keys": self.keys, "losses": [None if math.isnan(x) else x for x in self.losses],
                "costs": self.costs, "wall_s": time.perf_counter() - self.started}


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def versions(dists: tuple[str, ...]) -> dict:
    found = {"python": platform.python_version()}
    for dist in dists:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found


def read_request() -> tuple[dict, str]:
    """The request of ``sys.argv[1]`` and the result path ``sys.argv[2]``."""
    request_path, result_path = sys.argv[1], sys.argv[2]
    return json.loads(Path(request_path).read_text()), result_path


def write_result(result_path: str, runs: list[dict], dists: tuple[str, ...]) -> None:
    """The runs and this environment's versions, written whole or not at all."""
    tmp = Path(result_path).with_suffix(".tmp")
    tmp.write_text(json.dumps({"versions": versions(dists), "runs": runs}))
    os.replace(tmp, result_path)


def main(run_one: Callable[[tasks.Task, int, int], dict], dists: tuple[str, ...]) -> None:
    """A runner's command line: every seed of the request through ``run_one(task, seed, evaluations)``."""
    request, result_path = read_request()
    task = build_task(request)
    write_result(result_path, [run_one(task, s, request["evaluations"]) for s in request["seeds"]], dists)


def config_space(task: tasks.Task, seed: int):
    """The task's parameters as a ConfigSpace user declares them: ordered numbers as an
    ``OrdinalHyperparameter``, strings as a ``CategoricalHyperparameter``, a continuous parameter
    as a ``UniformFloatHyperparameter`` (DEHB and SMAC take this)."""
    import ConfigSpace as CS
    cs = CS.ConfigurationSpace(seed=seed)
    for p in task.params:
        if p.kind == "float":
            cs.add(CS.UniformFloatHyperparameter(p.name, lower=p.low, upper=p.high))
        elif p.kind == "ordinal":
            cs.add(CS.OrdinalHyperparameter(p.name, sequence=list(p.choices)))
        else:
            cs.add(CS.CategoricalHyperparameter(p.name, choices=list(p.choices)))
    return cs
