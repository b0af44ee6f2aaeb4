"""Runs DEHB 0.1.2's DE on one task inside DEHB's own environment (DEHB 0.1.2 needs numpy < 2).

    DEHB_PYTHON dehb_runner.py REQUEST.json RESULT.json

The harness writes the request (the task's parameters, its look-up arrays in
an .npz file, the seeds and the evaluation budget) and reads the result: per
seed the configurations evaluated in order (as choice indices, or points for
a continuous task), their losses and costs. The evaluation itself is
``tasks.py``'s, imported from beside this file (it needs only numpy), so the
value and cost policy are the harness's own.

DEHB's ``DE`` is used at full fidelity with DEHB's defaults: population 20
(``DE``'s default), ``mutation_factor=0.5``, ``crossover_prob=0.5``,
``strategy="rand1_bin"`` (``DEHB``'s defaults; ``DE``'s own are None, which it
cannot run with), boundary repair ``random``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import tempfile
import time
import warnings
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import tasks  # noqa: E402  (this folder's tasks.py, as a plain module)

POPULATION = 20


def build_task(request: dict) -> tasks.Task:
    params = tuple(tasks.Param(p["name"], p["kind"], tuple(p["choices"]), p["low"], p["high"])
                   for p in request["params"])
    if request["kind"] == "hartmann6":
        return tasks.hartmann6_task()
    arrays = np.load(request["arrays"])
    return tasks.TableTask(name=request["task"], params=params, direction=request["direction"],
                           cost_unit="", source="", values=arrays["values"], costs=arrays["costs"],
                           mode=request["mode"])


def config_space(task: tasks.Task, seed: int):
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


def run_one(task: tasks.Task, seed: int, evaluations: int) -> dict:
    from dehb import DE
    rng = np.random.default_rng([seed, tasks.DRAW_SALT])
    keys, losses, costs = [], [], []

    def objective(config, **kwargs):
        values = {p.name: config[p.name] for p in task.params}
        if len(losses) < evaluations:
            loss, cost = task.evaluate(values, rng)
            keys.append(list(task.key(values)))
            losses.append(loss)
            costs.append(cost)
        else:  # DE finishes its last generation; those evaluations are not counted
            loss, cost = task.evaluate(values, rng)
        if math.isnan(loss):
            finite = [x for x in losses if not math.isnan(x)]
            loss = max(finite) if finite else math.inf
        return {"fitness": loss, "cost": cost}

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        de = DE(cs=config_space(task, seed), f=objective, pop_size=POPULATION, mutation_factor=0.5,
                crossover_prob=0.5, strategy="rand1_bin", seed=int(seed), output_path=tmp)
        de.run(generations=max(0, math.ceil((evaluations - POPULATION) / POPULATION)))
    return {"seed": seed, "keys": keys, "losses": [None if math.isnan(x) else x for x in losses],
            "costs": costs, "wall_s": time.perf_counter() - started}


def read_request() -> tuple[dict, str]:
    """The request of ``sys.argv[1]`` and the result path ``sys.argv[2]``, with DEHB's logging and
    ConfigSpace's warnings silenced (this runner's and dehb_mf_runner's command line)."""
    request_path, result_path = sys.argv[1], sys.argv[2]
    request = json.loads(Path(request_path).read_text())
    warnings.simplefilter("ignore")  # ConfigSpace 1.x deprecations inside DEHB 0.1.2
    from loguru import logger
    logger.remove()
    return request, result_path


def write_result(result_path: str, runs: list[dict]) -> None:
    """The runs and this environment's versions, written whole or not at all."""
    versions = {"python": platform.python_version()}
    for dist in ("dehb", "ConfigSpace", "numpy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    tmp = Path(result_path).with_suffix(".tmp")
    tmp.write_text(json.dumps({"versions": versions, "runs": runs}))
    os.replace(tmp, result_path)


def main() -> None:
    request, result_path = read_request()
    task = build_task(request)
    write_result(result_path, [run_one(task, s, request["evaluations"]) for s in request["seeds"]])


if __name__ == "__main__":
    main()
