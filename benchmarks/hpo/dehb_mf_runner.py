"""Runs DEHB 0.1.2's multi-fidelity DEHB on a per-epoch table inside DEHB's own environment.

    DEHB_PYTHON dehb_mf_runner.py REQUEST.json RESULT.json

The request names the task's parameters, an .npz file with the per-epoch
arrays (``fidelity_values``, ``fidelity_costs``: configuration indices then
epoch), the seeds, the fidelity range (min, max, eta) and the energy budget.
The result is, per seed, the evaluations DEHB asked for in order: the choice
indices of the configuration and the epoch. The harness
(``multifidelity.py``) charges them itself, so that every method is
accounted for by one piece of code; this runner only needs the costs to know
when to stop asking.

DEHB is used through its ask/tell interface with its defaults
(``mutation_factor=0.5``, ``crossover_prob=0.5``, ``strategy="rand1_bin"``,
``async_strategy="immediate"``, boundary repair ``random``), one worker. It
trains every configuration at every fidelity from scratch, so an evaluation
at epoch e costs the table's cumulative cost of e epochs.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dehb_runner  # noqa: E402  (the ConfigSpace declaration, request and result of dehb-de)
import tasks  # noqa: E402


def build_task(request: dict, arrays) -> tasks.Task:
    params = tuple(tasks.Param(p["name"], p["kind"], tuple(p["choices"]), p["low"], p["high"])
                   for p in request["params"])
    values = arrays["fidelity_values"][..., -1:]
    return tasks.TableTask(name=request["task"], params=params, direction="minimize", cost_unit="J",
                           source="", values=values, costs=arrays["fidelity_costs"][..., -1:])


def run_one(task: tasks.TableTask, values: np.ndarray, costs: np.ndarray, request: dict,
            seed: int) -> dict:
    from dehb import DEHB
    low, high, eta = request["min_fidelity"], request["max_fidelity"], request["eta"]
    keys, epochs, losses = [], [], []
    spent = 0.0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        dehb = DEHB(cs=dehb_runner.config_space(task, seed), f=None, min_fidelity=low,
                    max_fidelity=high, eta=eta, n_workers=1, seed=int(seed), output_path=tmp,
                    save_freq="end")
        while spent < request["budget"]:
            job = dehb.ask()
            values_of = {p.name: job["config"][p.name] for p in task.params}
            idx = task.index(values_of)
            epoch = int(round(job["fidelity"]))  # DEHB's geometric spacing gives 8.999...
            loss = float(values[idx + (epoch - 1,)])
            spent += float(costs[idx + (epoch - 1,)])
            keys.append(list(idx))
            epochs.append(epoch)
            if not math.isnan(loss):
                losses.append(loss)
            # A failed training is told the worst loss seen so far, as the harness does for every peer.
            told = loss if not math.isnan(loss) else (max(losses) if losses else math.inf)
            dehb.tell(job, {"fitness": told, "cost": float(costs[idx + (epoch - 1,)])})
    return {"seed": seed, "keys": keys, "epochs": epochs, "wall_s": time.perf_counter() - started}


def main() -> None:
    request, result_path = dehb_runner.read_request()
    arrays = np.load(request["arrays"])
    task = build_task(request, arrays)
    values, costs = arrays["fidelity_values"], arrays["fidelity_costs"]
    dehb_runner.write_result(result_path, [run_one(task, values, costs, request, s) for s in request["seeds"]])


if __name__ == "__main__":
    main()
