"""The peers, each through its public API at its defaults, on the same task, budget and seeds.

Every peer gets the table's parameters as the user of that library would
declare a list of choices, and sees losses (lower is better; a failed
evaluation is told the worst loss seen so far, as our study does).

| name | what |
|---|---|
| random | uniform over each parameter's choices (or interval), ``numpy.random.default_rng(seed)`` |
| optuna-tpe | ``TPESampler(seed=s)``: Optuna 5's default, which is the *multivariate* TPE for one objective |
| optuna-tpe-univariate | ``TPESampler(seed=s, multivariate=False)``: the independent TPE (Optuna < 5's default) |
| optuna-cmaes | ``CmaEsSampler(seed=s)``, table parameters as ``suggest_int`` over the choice index |
| ng-ngopt, ng-twopointsde | nevergrad, ``TransitionChoice`` for ordered numbers, ``Choice`` for strings |
| dehb-de | DEHB 0.1.2's ``DE`` at full fidelity, in its own environment (``dehb_runner.py``) |

Optuna and random search never learn the budget: one run of the largest
budget is cut for the smaller ones. nevergrad's optimizers take the budget
(NGOpt chooses its algorithm by it), so they run once per budget.
"""

from __future__ import annotations

import importlib.util
import logging
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .tasks import Task
from .trace import Recorder, Trace, repeat_flags


@dataclass(frozen=True)
class Peer:
    name: str
    run: Callable[[Task, int, int], Trace] | None
    told_budget: bool          # True: run once per budget; False: run at the largest, cut
    packages: tuple[str, ...]  # import names it needs
    install: str

    def missing(self) -> str | None:
        """Why it cannot run here, or None."""
        absent = [p for p in self.packages if importlib.util.find_spec(p) is None]
        if absent:
            return f"{', '.join(absent)} not installed ({self.install})"
        return None

    def unsupported(self, task: Task) -> str | None:
        if self.name == "optuna-cmaes" and any(p.kind == "categorical" and len(p.choices) > 2
                                               for p in task.params):
            return ("CMA-ES needs numbers: an unordered choice among more than 2 strings has no "
                    "index order to search (Optuna's CmaEsSampler would sample it at random)")
        return None


def _table_choice(rng: np.random.Generator, choices: tuple):
    return choices[int(rng.integers(len(choices)))]


def run_random(task: Task, seed: int, evaluations: int) -> Trace:
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    rec = Recorder(task, "random", seed, evaluations)
    for _ in range(evaluations):
        rec.evaluate({p.name: (float(rng.uniform(p.low, p.high)) if p.kind == "float"
                               else _table_choice(rng, p.choices)) for p in task.params})
    return rec.trace(time.perf_counter() - started)


def _optuna_run(task: Task, seed: int, evaluations: int, name: str, sampler, index: bool) -> Trace:
    import optuna
    optuna.logging.set_verbosity(logging.WARNING)
    started = time.perf_counter()
    rec = Recorder(task, name, seed, evaluations)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning and friends, once per trial
        for _ in range(evaluations):
            trial = study.ask()
            config = {}
            for p in task.params:
                if p.kind == "float":
                    config[p.name] = trial.suggest_float(p.name, p.low, p.high)
                elif index:
                    config[p.name] = p.choices[trial.suggest_int(p.name, 0, len(p.choices) - 1)]
                else:
                    config[p.name] = trial.suggest_categorical(p.name, list(p.choices))
            study.tell(trial, rec.evaluate(config))
    return rec.trace(time.perf_counter() - started)


def run_optuna_tpe(task: Task, seed: int, evaluations: int) -> Trace:
    from optuna.samplers import TPESampler
    return _optuna_run(task, seed, evaluations, "optuna-tpe", TPESampler(seed=seed), index=False)


def run_optuna_tpe_univariate(task: Task, seed: int, evaluations: int) -> Trace:
    from optuna.samplers import TPESampler
    return _optuna_run(task, seed, evaluations, "optuna-tpe-univariate",
                       TPESampler(seed=seed, multivariate=False), index=False)


def run_optuna_cmaes(task: Task, seed: int, evaluations: int) -> Trace:
    from optuna.samplers import CmaEsSampler
    return _optuna_run(task, seed, evaluations, "optuna-cmaes", CmaEsSampler(seed=seed), index=True)


def _nevergrad_run(task: Task, seed: int, evaluations: int, name: str, registry_name: str) -> Trace:
    import nevergrad as ng
    started = time.perf_counter()
    rec = Recorder(task, name, seed, evaluations)
    parts = {}
    for p in task.params:
        if p.kind == "float":
            parts[p.name] = ng.p.Scalar(lower=p.low, upper=p.high)
        elif p.kind == "ordinal":
            parts[p.name] = ng.p.TransitionChoice(list(p.choices))
        else:
            parts[p.name] = ng.p.Choice(list(p.choices))
    parametrization = ng.p.Dict(**parts)
    parametrization.random_state = np.random.RandomState(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = ng.optimizers.registry[registry_name](parametrization=parametrization, budget=evaluations,
                                                    num_workers=1)
        for _ in range(evaluations):
            candidate = opt.ask()
            opt.tell(candidate, rec.evaluate(candidate.value))
    return rec.trace(time.perf_counter() - started)


def run_ngopt(task: Task, seed: int, evaluations: int) -> Trace:
    return _nevergrad_run(task, seed, evaluations, "ng-ngopt", "NGOpt")


def run_twopointsde(task: Task, seed: int, evaluations: int) -> Trace:
    return _nevergrad_run(task, seed, evaluations, "ng-twopointsde", "TwoPointsDE")


PEERS: dict[str, Peer] = {p.name: p for p in (
    Peer("random", run_random, False, (), ""),
    Peer("optuna-tpe", run_optuna_tpe, False, ("optuna",), "pip install optuna"),
    Peer("optuna-tpe-univariate", run_optuna_tpe_univariate, False, ("optuna",), "pip install optuna"),
    Peer("optuna-cmaes", run_optuna_cmaes, False, ("optuna", "cmaes"), "pip install optuna cmaes"),
    Peer("ng-ngopt", run_ngopt, True, ("nevergrad",), "pip install nevergrad"),
    Peer("ng-twopointsde", run_twopointsde, True, ("nevergrad",), "pip install nevergrad"),
    # Runs in its own environment through dehb_runner.py; see run.py.
    Peer("dehb-de", None, False, (), "python3 -m venv V && V/bin/pip install dehb==0.1.2"),
)}


# -- DEHB, in its own environment ------------------------------------------------
DEHB_RUNNER = __file__.rsplit("/", 1)[0] + "/dehb_runner.py"
DEHB_SETUP = ("python3 -m venv ~/dehb-venv && ~/dehb-venv/bin/pip install dehb==0.1.2, "
              "then --dehb-python ~/dehb-venv/bin/python (or DEHB_PYTHON)")


def dehb_environment(python: str | None) -> tuple[dict | None, str]:
    """(versions, "") when ``python`` runs DEHB 0.1.2, else (None, why not)."""
    import json
    import subprocess
    if not python:
        return None, f"no DEHB environment given ({DEHB_SETUP})"
    code = ("import json, platform; from importlib import metadata; import dehb, ConfigSpace, numpy; "
            "print(json.dumps({'python': platform.python_version(), "
            "**{d: metadata.version(d) for d in ('dehb', 'ConfigSpace', 'numpy')}}))")
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"DEHB environment {python} does not run: {exc} ({DEHB_SETUP})"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"DEHB environment {python} cannot import dehb: {last} ({DEHB_SETUP})"
    versions = json.loads(out.stdout)
    if versions.get("dehb") != "0.1.2":
        return None, f"DEHB environment {python} has dehb {versions.get('dehb')}, not 0.1.2 ({DEHB_SETUP})"
    return versions, ""


def run_dehb_de(task: Task, seeds: list[int], evaluations: int, python: str) -> list[Trace]:
    """DEHB's DE for every seed, one subprocess per task, results exchanged as files."""
    import json
    import subprocess
    import tempfile
    from pathlib import Path

    from .tasks import TableTask
    with tempfile.TemporaryDirectory(prefix="hpo-dehb-") as tmp:
        tmp = Path(tmp)
        request = {"task": task.name, "kind": "table" if isinstance(task, TableTask) else task.name,
                   "direction": task.direction, "mode": getattr(task, "mode", "mean"),
                   "params": [{"name": p.name, "kind": p.kind, "choices": list(p.choices),
                               "low": p.low, "high": p.high} for p in task.params],
                   "seeds": list(seeds), "evaluations": evaluations, "arrays": str(tmp / "arrays.npz")}
        if isinstance(task, TableTask):
            np.savez(tmp / "arrays.npz", values=task.values, costs=task.costs)
        (tmp / "request.json").write_text(json.dumps(request))
        out = subprocess.run([python, DEHB_RUNNER, str(tmp / "request.json"), str(tmp / "result.json")],
                             capture_output=True, text=True, cwd=tmp)
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ["?"])[-1]
            raise RuntimeError(f"dehb-de on {task.name} failed: {last}")
        result = json.loads((tmp / "result.json").read_text())
    traces = []
    for r in result["runs"]:
        keys = [tuple(k) for k in r["keys"]]
        t = Trace(task.name, "dehb-de", int(r["seed"]), evaluations,
                  np.array([np.nan if x is None else x for x in r["losses"]], dtype=float),
                  np.array(r["costs"], dtype=float), repeat_flags(keys), float(r["wall_s"]),
                  "population 20, F 0.5, CR 0.5, rand1_bin")
        traces.append(t)
    return traces
