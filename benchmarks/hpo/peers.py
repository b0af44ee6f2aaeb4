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
| optuna-gp | ``GPSampler(seed=s)`` (slow), table parameters as ``suggest_categorical`` like TPE's (its kernel takes them as categorical); with ``greenlet`` installed it batches its L-BFGS-B over a continuous space (Optuna warns without it) |
| ng-ngopt, ng-twopointsde | nevergrad, ``TransitionChoice`` for ordered numbers, ``Choice`` for strings |
| dehb-de | DEHB 0.1.2's ``DE`` at full fidelity, in its own environment (``dehb_runner.py``) |
| smac | SMAC3 2.4.1's ``HyperparameterOptimizationFacade`` (slow), ``deterministic=True``, ``n_trials`` = budget; ordered numbers as ``OrdinalHyperparameter``, strings as ``CategoricalHyperparameter``; in its own environment (``smac_runner.py``) |
| hebo | HEBO 0.3.6's ``HEBO`` (slow) with its defaults, one suggestion at a time; ordered numbers as ``int`` over the choice index, strings as ``cat``; in its own environment (``hebo_runner.py``) |

Optuna, random search, DEHB's DE and HEBO never learn the budget: one run of
the largest budget is cut for the smaller ones. nevergrad's optimizers and
SMAC take the budget (NGOpt chooses its algorithm by it, SMAC sizes its
initial design by it), so they run once per budget. The *slow* ones take
seconds per suggestion; ``--slow-peer-seeds`` gives them fewer seeds.

A peer in its own environment (its packages pin versions the harness's
environment cannot have) is run by ``run_external``: one subprocess per task
and budget, its runner file beside this one (``peer_env.py`` has the protocol),
the environment's python given by ``--peer-python NAME=PATH`` or the peer's
variable (``DEHB_PYTHON``, ``SMAC_PYTHON``, ``HEBO_PYTHON``). The pinned
packages of each are in ``envs/NAME.txt``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .tasks import Task
from .trace import Recorder, Trace, repeat_flags

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class External:
    """How a peer in its own environment is run and checked."""

    runner: str                # the runner file beside this one
    env: str                   # its environment's name: envs/ENV.txt pins its packages
    variable: str              # the environment variable naming the environment's python
    module: str                # what the environment must import
    dist: str                  # the distribution whose version is checked
    version: str               # a regular expression its version must match
    dists: tuple[str, ...]     # the versions recorded in the report
    note: str                  # the runs' note

    def setup(self, name: str) -> str:
        """The one line that makes the environment, and how to name it."""
        pinned = re.sub(r"[$\\]", "", self.version).rstrip(".")
        home = f"~/peer-envs/{self.env}"
        return (f"python3 -m venv {home} && {home}/bin/pip install -r {HERE / 'envs' / (self.env + '.txt')} "
                f"({self.dist.lower()}=={pinned} and what it ran with), then --peer-python {name}={home}/bin/python "
                f"(or {self.variable})")


@dataclass(frozen=True)
class Peer:
    name: str
    run: Callable[[Task, int, int], Trace] | None
    told_budget: bool          # True: run once per budget; False: run at the largest, cut
    packages: tuple[str, ...]  # import names it needs
    install: str
    slow: bool = False         # seconds per suggestion: --slow-peer-seeds applies
    external: External | None = None  # runs in its own environment

    def missing(self) -> str | None:
        """Why it cannot run here, or None (a peer in its own environment: see ``external_environment``)."""
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


def run_optuna_gp(task: Task, seed: int, evaluations: int) -> Trace:
    """GPSampler computes with torch in this process. On one torch thread: torch's OpenMP threads,
    once started, make every process forked later hang in its first parallel torch operation
    (the tests' studies train in forked trials, after this peer's tests ran)."""
    import torch
    from optuna.samplers import GPSampler
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _optuna_run(task, seed, evaluations, "optuna-gp", GPSampler(seed=seed), index=False)
    finally:
        torch.set_num_threads(threads)


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


DEHB = External("dehb_runner.py", "dehb", "DEHB_PYTHON", "dehb", "dehb", r"0\.1\.2$", ("dehb", "ConfigSpace", "numpy"),
                "population 20, F 0.5, CR 0.5, rand1_bin")
SMAC = External("smac_runner.py", "smac", "SMAC_PYTHON", "smac", "smac", r"2\.4\.1$", ("smac", "ConfigSpace", "scikit-learn", "numpy"),
                "HyperparameterOptimizationFacade, deterministic")
HEBO = External("hebo_runner.py", "hebo", "HEBO_PYTHON", "hebo", "HEBO", r"0\.3\.6$", ("HEBO", "torch", "numpy", "pandas", "GPy"),
                "HEBO defaults, 1 suggestion per step")

PEERS: dict[str, Peer] = {p.name: p for p in (
    Peer("random", run_random, False, (), ""),
    Peer("optuna-tpe", run_optuna_tpe, False, ("optuna",), "pip install optuna"),
    Peer("optuna-tpe-univariate", run_optuna_tpe_univariate, False, ("optuna",), "pip install optuna"),
    Peer("optuna-cmaes", run_optuna_cmaes, False, ("optuna", "cmaes"), "pip install optuna cmaes"),
    Peer("optuna-gp", run_optuna_gp, False, ("optuna", "torch", "scipy"), "pip install optuna torch scipy greenlet",
         slow=True),
    Peer("ng-ngopt", run_ngopt, True, ("nevergrad",), "pip install nevergrad"),
    Peer("ng-twopointsde", run_twopointsde, True, ("nevergrad",), "pip install nevergrad"),
    # In their own environments, through their runner files (run_external).
    Peer("dehb-de", None, False, (), DEHB.setup("dehb-de"), external=DEHB),
    Peer("smac", None, True, (), SMAC.setup("smac"), slow=True, external=SMAC),
    Peer("hebo", None, False, (), HEBO.setup("hebo"), slow=True, external=HEBO),
)}
EXTERNAL = [name for name, p in PEERS.items() if p.external]


# -- peers in their own environments ----------------------------------------------
DEHB_RUNNER = str(HERE / DEHB.runner)
DEHB_SETUP = DEHB.setup("dehb-de")


def external_environment(name: str, python: str | None) -> tuple[dict | None, str]:
    """(versions, "") when ``python`` runs the peer ``name``'s environment, else (None, why not,
    with the command that makes one)."""
    ext = PEERS[name].external
    setup = ext.setup(name)
    label = "DEHB" if name == "dehb-de" else name
    if not python:
        return None, f"no {label} environment given ({setup})"
    code = ("import json, platform; from importlib import metadata; import " + ext.module + "; "
            "print(json.dumps({'python': platform.python_version(), "
            f"**{{d: metadata.version(d) for d in {ext.dists!r}}}}}))")
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"{label} environment {python} does not run: {exc} ({setup})"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"{label} environment {python} cannot import {ext.module}: {last} ({setup})"
    versions = json.loads(out.stdout)
    found = versions.get(ext.dist)
    if not re.match(ext.version, found or ""):
        wanted = re.sub(r"[$\\]", "", ext.version)
        return None, f"{label} environment {python} has {ext.dist} {found}, not {wanted} ({setup})"
    return versions, ""


def dehb_environment(python: str | None) -> tuple[dict | None, str]:
    """(versions, "") when ``python`` runs DEHB 0.1.2, else (None, why not)."""
    return external_environment("dehb-de", python)


def run_external(name: str, task: Task, seeds: list[int], evaluations: int, python: str) -> list[Trace]:
    """The peer ``name`` for every seed at one budget, one subprocess in its own environment,
    the request and the result exchanged as files (see peer_env.py)."""
    from .tasks import TableTask
    ext = PEERS[name].external
    with tempfile.TemporaryDirectory(prefix=f"hpo-{name}-") as tmp:
        tmp = Path(tmp)
        request = {"peer": name, "task": task.name, "kind": "table" if isinstance(task, TableTask) else task.name,
                   "direction": task.direction, "mode": getattr(task, "mode", "mean"),
                   "params": [{"name": p.name, "kind": p.kind, "choices": list(p.choices),
                               "low": p.low, "high": p.high} for p in task.params],
                   "seeds": list(seeds), "evaluations": evaluations, "arrays": str(tmp / "arrays.npz")}
        if isinstance(task, TableTask):
            np.savez(tmp / "arrays.npz", values=task.values, costs=task.costs)
        (tmp / "request.json").write_text(json.dumps(request))
        # A fixed hash seed: SMAC orders candidates through sets of configurations, whose order follows
        # the string hashes, which Python salts per process unless told otherwise.
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        out = subprocess.run([python, str(HERE / ext.runner), str(tmp / "request.json"), str(tmp / "result.json")],
                             capture_output=True, text=True, cwd=tmp, env=env)
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ["?"])[-1]
            raise RuntimeError(f"{name} on {task.name} failed: {last}")
        result = json.loads((tmp / "result.json").read_text())
    traces = []
    for r in result["runs"]:
        keys = [tuple(k) for k in r["keys"]]
        traces.append(Trace(task.name, name, int(r["seed"]), evaluations,
                            np.array([np.nan if x is None else x for x in r["losses"]], dtype=float),
                            np.array(r["costs"], dtype=float), repeat_flags(keys), float(r["wall_s"]),
                            ext.note))
    return traces


def run_dehb_de(task: Task, seeds: list[int], evaluations: int, python: str) -> list[Trace]:
    """DEHB's DE for every seed, one subprocess per task, results exchanged as files."""
    return run_external("dehb-de", task, seeds, evaluations, python)
