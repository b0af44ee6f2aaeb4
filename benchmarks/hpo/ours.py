"""autodehypo's algorithms on a benchmark task, driven the way a study drives them.

:func:`run_autodehypo` is the one place that does it, so that it can later be
switched to a shared study component.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from autodehypo.algorithms.prescreen import SURROGATES

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


def parse_variant(spec: str) -> tuple[str, dict[str, int]]:
    """``"de"`` is the algorithm as a study runs it now; ``"de:enc=1:dedupe=0:pop=20"`` changes
    the search encoding version, whether repeated configurations are answered from the record,
    or the population; ``:prescreen=K`` turns on the algorithm's pre-screening (K candidates per
    slot, repeats discarded through the task's decoding, as a study does), ``:key=0`` keeps the
    decoding from it (the model alone, repeats not recognised), ``:model=gp`` sets its
    ``surrogate``, ``:start=1`` (or 0) its ``screen_start``, ``:cw=P`` sets its ``cost_weight`` to
    P/100 (each evaluation's cost told with its value, as a study tells the trial's energy) and
    ``:cool=1`` its ``cost_cooling``, so that each search change can be measured before and after."""
    name, *items = spec.split(":")
    settings = {}
    for item in filter(None, items):
        key, _, value = item.partition("=")
        if key == "model" and value in SURROGATES:
            settings[key] = value
            continue
        if key not in ("enc", "dedupe", "pop", "prescreen", "key", "cw", "cool", "start") or not value.isdigit():
            raise ValueError(f"{spec!r}: expected NAME[:enc=1|2][:dedupe=0|1][:pop=N][:prescreen=K]"
                             f"[:key=0|1][:cw=P][:cool=0|1][:model={'|'.join(SURROGATES)}][:start=0|1], "
                             f"got {item!r}")
        settings[key] = int(value)
    return name, settings


def variant_options(settings: dict[str, Any]) -> dict[str, Any]:
    """The search options a variant's settings (:func:`parse_variant`) set."""
    options: dict[str, Any] = {}
    if "prescreen" in settings:
        options["prescreen"] = settings["prescreen"]
    if "cw" in settings:
        options["cost_weight"] = settings["cw"] / 100
    if "cool" in settings:
        options["cost_cooling"] = bool(settings["cool"])
    if "model" in settings:
        options["surrogate"] = settings["model"]
    if "start" in settings:
        options["screen_start"] = bool(settings["start"])
    return options


def run_autodehypo(task: Task, algorithm: str, seed: int, evaluations: int) -> Trace:
    """One run of ``algorithm`` (a name or a variant, see :func:`parse_variant`) on ``task``:
    the study's space encoding, default population, told-value policy, answers to repeated
    configurations, and evaluation budget (the last generation cut so that exactly
    ``evaluations`` run), one trial at a time."""
    from autodehypo.algorithms import ALGORITHMS, make_optimizer
    from autodehypo.space import ENCODING_VERSION, SearchSpace

    name, settings = parse_variant(algorithm)
    started = time.perf_counter()
    space = SearchSpace.from_config(space_config(task), settings.get("enc", ENCODING_VERSION))
    # config.py: study.population defaults to the algorithm's default_population(space.dim).
    population = settings.get("pop") or ALGORITHMS[name].default_population(space.dim)
    options = variant_options(settings)
    opt = make_optimizer(name, space.dim, population=population, seed=seed, max_evaluations=evaluations,
                         **options)
    if options and settings.get("key", 1):  # the study driver: the space's decoding names a configuration
        opt.set_key(lambda u: task.key(space.decode(u)), lambda u: space.encode(space.decode(u)))
    rec = Recorder(task, algorithm, seed, evaluations)
    answers: dict = {}  # the study driver: the first completed result of each configuration
    # One worker, as a study with workers = 1 runs it: each trial asked when the last is told.
    while (candidate := opt.ask()) is not None:
        config = space.decode(candidate.x)
        key = task.key(config)
        if settings.get("dedupe", 1) and key in answers:
            loss, cost = rec.answer(config, answers[key][0]), answers[key][1]
        else:
            loss = rec.raw(config)
            cost = rec.costs[-1]
            if not math.isnan(loss):
                answers.setdefault(key, (loss, cost))
        # study._tell: minimise sign * value; a failed trial is told the worst value seen so far
        # (+inf before any), and each trial's energy with its value (weighed by cost_weight).
        opt.tell(candidate.id, rec.worst() if math.isnan(loss) else loss, cost)
    return rec.trace(time.perf_counter() - started, note=f"population {population}")
