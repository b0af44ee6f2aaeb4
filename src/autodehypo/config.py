"""The study config: a TOML file with [study], [space], [objective], [executor] and [energy].

Every key is checked here, before anything is created on disk; an unknown key
or a bad value raises :class:`ConfigError` with one line naming it. Any input
gives a config or that error: the file must be a regular file of at most
``MAX_FILE_BYTES`` of UTF-8, and names, strings and nesting are bounded.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from .algorithms import ALGORITHMS, SCHEDULES, Search, algorithm_options, make_optimizer
from .algorithms.base import SettingError
from .algorithms.multifidelity import MultiFidelityDE, brackets
from .energy import BUDGET_SOURCES, DEFAULT_GPU_WATTS, DEFAULT_WATTS_PER_CORE, METERS
from .execution.local import gpu_share
from .space import ENCODING_VERSION, SearchSpace, SpaceError


class ConfigError(ValueError):
    """A config that cannot be used; the message names the key at fault."""


class NewerStudyError(ConfigError):
    """A stored study made by a newer autodehypo, whose defaults this one does not know."""


_SECTIONS = {
    "study": {"name", "algorithm", "seed", "population", "direction", "failure_value", "noisy", "budget",
              "options", "schedule", "fidelity", "objectives", "tracking"},
    "space": None,  # any hyperparameter names
    "objective": None,  # checked by the objective's builder
    "executor": None,  # keys depend on the executor type
    "energy": {"watts_per_core", "gpu_watts", "meters", "budget_source", "grid_intensity"},
}
_BUDGET_KEYS = {"evaluations", "wall_time", "energy"}

# The search a study runs when [study] names no algorithm, by version; a study file records the
# version it was made with (older files: 1), so that changing the defaults never changes the
# search of a study already on disk. Version 2 comes from the HPO benchmark on 10 recorded tables
# (benchmarks/hpo/results/2026-11-28-prescreen-confirm.md, 40 seeds): L-SHADE with pre-screening
# needs 0.69x (100 evaluations) and 0.74x (200) the training cost of plain de to reach the target.
# L-SHADE shrinks its population toward the evaluation budget, so without one the default is de
# with the pre-screening that suited it best. Version 3 weighs each candidate's predicted cost
# (the trials' energy) into the pre-screening: over 60 seeds of the same benchmark
# (benchmarks/hpo/results/2026-11-28-cost-aware.md) that needs 0.76x (100 evaluations) and 0.74x
# (200) the training cost of version 2 to reach the target (ERT), 0.78x and 0.75x without the
# evaluation budget. Version 4 scores L-SHADE's candidates with a Gaussian process instead of the
# nearest-neighbour ranks, each trial chosen when it is asked (prescreen.py, surrogate.py): on the
# same tables (benchmarks/hpo/results/2026-12-03-gp-surrogate.md) it needs fewer evaluations and
# less training cost than version 3 to reach the target. Without an evaluation budget the default
# stays version 3's (de, knn), not measured with the GP. Several objectives took gde3 up to
# version 4; version 5 takes gde3-shade with its trials pre-screened by the hypervolume their
# prediction adds (pareto_screen.py): on the problems of benchmarks/mo_study.py at 100 and 200
# evaluations (benchmarks/results/2026-12-07-mo-study.md) it finds more of the front than gde3,
# NSGA-II and Optuna's default. Version 6 lets the Gaussian process pick the initial population's
# rows after the first six too (``screen_start``, prescreen.py): on the recorded tables
# (benchmarks/hpo/results/2026-12-07-screened-start.md, 20 seeds) it reaches the target in fewer
# evaluations and at less training cost than version 5, though not on HPOBench car. The Optuna
# sampler leaves the screened start out (it asks each generation whole). Version 7 cools the cost
# weight: 0.8 at the start, falling linearly to 0 at the evaluation budget (``cost_cooling``,
# prescreen.py), where versions 3 to 6 weighed the cost by 0.4 to the end: on the same tables
# (benchmarks/hpo/results/2026-12-07-cost-cooling.md, 20 seeds) its expected training cost to the
# target is 0.82x (100 evaluations) and 0.80x (200) version 6's. Version 8 changes only the
# search for several objectives: gde3-shade's trials are made with current-to-pbest/1 (p = 0.5)
# instead of rand/1, each from its own parent. Over 10 seeds of benchmarks/mo_study.py it finds
# more of the front than version 7 at 100, 200 and 500 evaluations, and on ZDT2 its population
# stays spread in 6 of 10 seeds where version 7's went to x1 = 0 in 9
# (benchmarks/results/2026-12-07-mo-study.md). Version 9 adds 8 redrawn copies to each slot's
# candidates once the population has drawn together on a coordinate (spread under 0.01), that
# coordinate drawn again (``redraws``, ``redraw_below``, pareto_screen.py): until then it asks
# what version 8 asks; on ZDT2 no population stays at x1 = 0 (10 seeds, same file). Version 10
# changes only the search for three or more objectives ("more objectives"): gde3-shade's
# overflowing front loses its least hypervolume contributor first instead of its most crowded
# member (``pruning``, gde3.py), and its p-best pool is ranked the same way. Crowding distance is
# Kukkonen and Deb's pruning for two objectives; with three it kept the population of DTLZ2 far
# from the front. On the three-objective problems of benchmarks/mo_study.py it finds more of the
# front at 200 and 500 evaluations; with two it found less on the constructed training and kc1,
# so two keep crowding (same file).
# Multi-fidelity brackets de in every version.
SEARCH_DEFAULTS_VERSION = 10
_SEVERAL_BEFORE_5 = ("gde3", {})
_DEFAULT_SEARCH = {
    1: {"evaluations": ("de", {}), "other": ("de", {}), "objectives": _SEVERAL_BEFORE_5},
    2: {"evaluations": ("lshade", {"prescreen": 32}), "other": ("de", {"prescreen": 4}),
        "objectives": _SEVERAL_BEFORE_5},
    3: {"evaluations": ("lshade", {"prescreen": 32, "cost_weight": 0.4}),
        "other": ("de", {"prescreen": 4, "cost_weight": 0.4}), "objectives": _SEVERAL_BEFORE_5},
    4: {"evaluations": ("lshade", {"prescreen": 32, "cost_weight": 0.4, "surrogate": "gp"}),
        "other": ("de", {"prescreen": 4, "cost_weight": 0.4}), "objectives": _SEVERAL_BEFORE_5},
    5: {"evaluations": ("lshade", {"prescreen": 32, "cost_weight": 0.4, "surrogate": "gp"}),
        "other": ("de", {"prescreen": 4, "cost_weight": 0.4}), "objectives": ("gde3-shade", {"prescreen": 32})},
    6: {"evaluations": ("lshade", {"prescreen": 32, "cost_weight": 0.4, "surrogate": "gp", "screen_start": True}),
        "other": ("de", {"prescreen": 4, "cost_weight": 0.4}), "objectives": ("gde3-shade", {"prescreen": 32})},
    7: {"evaluations": ("lshade", {"prescreen": 32, "cost_weight": 0.8, "cost_cooling": True, "surrogate": "gp",
                                   "screen_start": True}),
        "other": ("de", {"prescreen": 4, "cost_weight": 0.4}), "objectives": ("gde3-shade", {"prescreen": 32})},
    8: {"evaluations": ("lshade", {"prescreen": 32, "cost_weight": 0.8, "cost_cooling": True, "surrogate": "gp",
                                   "screen_start": True}),
        "other": ("de", {"prescreen": 4, "cost_weight": 0.4}),
        "objectives": ("gde3-shade", {"prescreen": 32, "mutation": "current-to-pbest/1", "p": 0.5})},
    9: {"evaluations": ("lshade", {"prescreen": 32, "cost_weight": 0.8, "cost_cooling": True, "surrogate": "gp",
                                   "screen_start": True}),
        "other": ("de", {"prescreen": 4, "cost_weight": 0.4}),
        "objectives": ("gde3-shade", {"prescreen": 32, "mutation": "current-to-pbest/1", "p": 0.5,
                                      "redraws": 8, "redraw_below": 0.01})},
    10: {"evaluations": ("lshade", {"prescreen": 32, "cost_weight": 0.8, "cost_cooling": True, "surrogate": "gp",
                                    "screen_start": True}),
         "other": ("de", {"prescreen": 4, "cost_weight": 0.4}),
         "objectives": ("gde3-shade", {"prescreen": 32, "mutation": "current-to-pbest/1", "p": 0.5,
                                       "redraws": 8, "redraw_below": 0.01}),
         "more objectives": ("gde3-shade", {"prescreen": 32, "mutation": "current-to-pbest/1", "p": 0.5,
                                            "redraws": 8, "redraw_below": 0.01, "pruning": "hypervolume"})},
}
# The study's key for each setting a search may refuse (algorithms.base.SettingError).
_SETTING_KEYS = {"population": "study.population", "max_evaluations": "study.budget.evaluations",
                 "schedule": "study.schedule", "fidelity": "study.fidelity"}
MAX_FILE_BYTES = 1 << 20
MAX_NAME_CHARS = 100  # study, hyperparameter and other key names
MAX_STRING_CHARS = 8192
MAX_DEPTH = 16
MAX_POPULATION = 10 ** 6
MAX_CELLS = 10 ** 7  # population x dimensions: the size of the arrays the algorithms hold
_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.+ -]*[A-Za-z0-9_.+-])?")
_TIME_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_ENERGY_UNITS = {"j": 1.0, "kj": 1e3, "mj": 1e6, "wh": 3600.0, "kwh": 3.6e6, "mwh": 3.6e9}


@dataclass
class Budget:
    """When the study stops: whichever limit is reached first."""

    evaluations: int | None = None
    wall_time_s: float | None = None
    energy_j: float | None = None


# What a trial measures itself, usable as an objective by name (besides the objective's value,
# "objective", and any metric the objective returns): the study's name -> the trial's field.
MEASURED_OBJECTIVES = {"energy": "energy_j", "elapsed": "elapsed_s", "cpu_time": "cpu_time_s",
                       "peak_rss_mb": "peak_rss_mb"}


@dataclass(frozen=True)
class ObjectiveSpec:
    """One of several objectives: the objective's value ("objective"), a metric it returns, or a
    measured quantity of the trial (:data:`MEASURED_OBJECTIVES`), and which way is better."""

    name: str
    direction: str = "minimize"


@dataclass
class FidelityConfig:
    """Multi-fidelity search: the objective parameter that sets a trial's budget (epochs, a
    training subset, ...), from ``min`` to ``max`` in Hyperband's brackets with ratio ``eta``."""

    param: str
    min: float
    max: float
    eta: float = 3.0
    integer: bool = True  # both ends integers: every fidelity is one


@dataclass
class EnergyConfig:
    watts_per_core: float = DEFAULT_WATTS_PER_CORE
    gpu_watts: float = DEFAULT_GPU_WATTS
    meters: list[str] = field(default_factory=lambda: ["auto"])
    budget_source: str = "auto"
    grid_intensity: float | None = None  # g CO2e per kWh


@dataclass
class StudyConfig:
    name: str
    algorithm: str
    seed: int
    population: int
    direction: str
    failure_value: float | None  # None: worst value seen so far
    budget: Budget
    options: dict[str, Any]
    space: SearchSpace
    objective: dict[str, Any]
    executor: dict[str, Any]
    energy: "EnergyConfig"
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    noisy: bool = False  # False: a configuration asked again is answered from its first result
    schedule: str = "generational"  # or "async": a free worker gets a new candidate at once
    fidelity: FidelityConfig | None = None
    # Two or more with a multi-objective algorithm; empty: one objective, the value (``direction``
    # is then the first objective's direction).
    objectives: tuple[ObjectiveSpec, ...] = ()
    # Where the study is also recorded, by service: {"mlflow": {"tracking_uri": ..., "experiment": ...}}.
    tracking: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def n_objectives(self) -> int:
        return max(1, len(self.objectives))


def parse_duration(value: Any, key: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", value.strip().lower())
        rebuilt = "".join(f"{n}{u}" for n, u in parts)
        if not parts or rebuilt != re.sub(r"\s+", "", value.strip().lower()) \
                or any(u not in _TIME_UNITS for _, u in parts):
            raise ConfigError(f"{key}: cannot read {value!r} as a duration; write seconds "
                              "or e.g. \"90s\", \"10m\", \"2h30m\"")
        seconds = sum(float(n) * _TIME_UNITS[u] for n, u in parts)
    else:
        raise ConfigError(f"{key}: expected seconds or a duration such as \"10m\", got {value!r}")
    if not math.isfinite(seconds):
        raise ConfigError(f"{key}: must be a finite duration, got {value!r}")
    if not seconds > 0:
        raise ConfigError(f"{key}: must be > 0, got {value!r}")
    return seconds


def parse_energy(value: Any, key: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        joules = float(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*([a-z]+)\s*", value.lower())
        if not m or m.group(2) not in _ENERGY_UNITS:
            raise ConfigError(f"{key}: cannot read {value!r} as energy; write joules or e.g. "
                              "\"500 kJ\", \"2 MJ\", \"0.5 kWh\"")
        joules = float(m.group(1)) * _ENERGY_UNITS[m.group(2)]
    else:
        raise ConfigError(f"{key}: expected joules or an amount such as \"0.5 kWh\", got {value!r}")
    if not math.isfinite(joules):
        raise ConfigError(f"{key}: must be a finite amount, got {value!r}")
    if not joules > 0:
        raise ConfigError(f"{key}: must be > 0, got {value!r}")
    return joules


def _table(data: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: expected a table, got {value!r}")
    return dict(value)


def _check_keys(table: Mapping[str, Any], allowed: set[str], path: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _positive_int(value: Any, key: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key}: expected an integer >= {minimum}, got {value!r}")
    return value


def load_config(path: str | Path) -> tuple[StudyConfig, str]:
    """Read and check a TOML config file; return it with its text."""
    path = Path(path)
    text = read_config_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply (at most {MAX_DEPTH} levels)") from None
    return parse_config(data, default_name=path.stem), text


def read_config_text(path: Path) -> str:
    """The text of a config file: a regular file, at most MAX_FILE_BYTES, UTF-8."""
    shown = repr(str(path))
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; then only regular files are read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ConfigError(f"cannot read config {shown}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode)
                    else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                    else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
            raise ConfigError(f"cannot read config {shown}: {kind}, not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise ConfigError(f"cannot read config {shown}: {info.st_size} bytes, at most {MAX_FILE_BYTES}")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config {shown}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"cannot read config {shown}: more than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})") from None


def _check_values(data: Any, path: str = "config", depth: int = 0) -> None:
    """Bound what any config may hold: nesting, key and string lengths, NUL bytes, numbers."""
    if depth > MAX_DEPTH:
        raise ConfigError(f"{path}: nested too deeply (at most {MAX_DEPTH} levels)")
    if isinstance(data, Mapping):
        for key, value in data.items():
            if not isinstance(key, str):
                raise ConfigError(f"{path}: keys must be strings, got {key!r:.60}")
            where = f"{path}.{key}" if path != "config" else key
            if len(key) > MAX_NAME_CHARS or "\0" in key or not key:
                shown = f"{key[:40]!r}..." if len(key) > 40 else repr(key)
                raise ConfigError(f"{path}: key {shown}: a key must have 1 to {MAX_NAME_CHARS} "
                                  "characters and no NUL")
            _check_values(value, where, depth + 1)
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            _check_values(value, f"{path}[{i}]", depth + 1)
    elif isinstance(data, str):
        if "\0" in data:
            raise ConfigError(f"{path}: a NUL character in the string")
        if len(data) > MAX_STRING_CHARS:
            raise ConfigError(f"{path}: {len(data)} characters, at most {MAX_STRING_CHARS}")
    elif isinstance(data, float) and math.isnan(data):
        raise ConfigError(f"{path}: nan is not a usable value")
    elif isinstance(data, int) and not isinstance(data, bool) and abs(data) >= 2 ** 63:
        raise ConfigError(f"{path}: {data} is out of the 64-bit integer range")
    elif not isinstance(data, (bool, int, float, str)):  # TOML dates and times, objects from the API
        raise ConfigError(f"{path}: unsupported value {str(data)[:60]!r} ({type(data).__name__})")


def search_of(study: Mapping[str, Any], defaults: int = SEARCH_DEFAULTS_VERSION) -> tuple[Any, dict[str, Any]]:
    """The algorithm a [study] table names, or the default one, and the default's options (by
    version: with an evaluation budget or without, for two objectives or for more)."""
    if "algorithm" in study:
        return study["algorithm"], {}
    if "fidelity" in study and "objectives" not in study:
        return "de", {}
    if defaults not in _DEFAULT_SEARCH:
        raise NewerStudyError(f"this study was made by a newer autodehypo (search defaults version {defaults!r}); "
                          "upgrade autodehypo to continue it")
    searches, budget, objectives = _DEFAULT_SEARCH[defaults], study.get("budget"), study.get("objectives")
    if "objectives" in study:
        more = isinstance(objectives, Sequence) and not isinstance(objectives, str) and len(objectives) > 2
        kind = "more objectives" if more and "more objectives" in searches else "objectives"
    else:
        kind = "evaluations" if isinstance(budget, Mapping) and "evaluations" in budget else "other"
    algorithm, options = searches[kind]
    return algorithm, dict(options)


def parse_config(data: Mapping[str, Any], *, default_name: str = "study",
                 encoding: int = ENCODING_VERSION, defaults: int = SEARCH_DEFAULTS_VERSION) -> StudyConfig:
    """Check a config; ``encoding`` is the study's map to the cube and ``defaults`` the version of
    the search it runs without an algorithm (older studies keep theirs)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"config: expected a table, got {type(data).__name__}")
    _check_values(data)
    _check_keys(data, set(_SECTIONS), "config")
    for section, allowed in _SECTIONS.items():
        if allowed is not None:
            _check_keys(_table(data, section, section), allowed, section)

    study = _table(data, "study", "study")
    name = study.get("name", default_name)
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not _NAME.fullmatch(name):
        shown = f"{name[:40]!r}... ({len(name)} characters)" if isinstance(name, str) and len(name) > 40 \
            else repr(name)
        origin = "" if "name" in study else " (taken from the file name; set study.name)"
        raise ConfigError(f"study.name: expected 1 to {MAX_NAME_CHARS} letters, digits, spaces, '_', '.', "
                          f"'+' or '-', starting with a letter, digit or '_', not ending with a space, "
                          f"got {shown}{origin}")
    objectives = _parse_objectives(study)
    algorithm, default_options = search_of(study, defaults)
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise ConfigError(f"study.algorithm: unknown algorithm {algorithm!r}; "
                          f"choose one of {sorted(ALGORITHMS)}")
    _check_objective_count(algorithm, objectives)
    seed = study.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"study.seed: expected an integer >= 0, got {seed!r}")
    if objectives and "direction" in study:
        raise ConfigError("study.direction: with study.objectives, give each objective its direction there")
    direction = objectives[0].direction if objectives else study.get("direction", "minimize")
    if direction not in ("minimize", "maximize"):
        raise ConfigError(f"study.direction: expected \"minimize\" or \"maximize\", got {direction!r}")
    failure = study.get("failure_value", "worst")
    if failure == "worst":
        failure_value = None
    elif isinstance(failure, (int, float)) and not isinstance(failure, bool) and math.isfinite(failure):
        failure_value = float(failure)
    else:
        raise ConfigError(f"study.failure_value: expected \"worst\" or a finite number, got {failure!r}")
    if objectives and failure_value is not None:
        raise ConfigError("study.failure_value: a number applies to one objective; with study.objectives "
                          "a failed trial loses to every completed one and never enters the front")
    noisy = study.get("noisy", False)
    if not isinstance(noisy, bool):
        raise ConfigError(f"study.noisy: expected true or false, got {noisy!r}")
    schedule = study.get("schedule", "generational")
    if schedule not in SCHEDULES:
        raise ConfigError(f"study.schedule: expected one of {', '.join(map(repr, SCHEDULES))}, "
                          f"got {schedule!r}")
    if schedule == "async" and ALGORITHMS[algorithm].no_async:
        raise ConfigError(f"study.schedule: {algorithm} runs only with the generational schedule: "
                          f"{ALGORITHMS[algorithm].no_async}")

    budget_table = _table(study, "budget", "study.budget")
    _check_keys(budget_table, _BUDGET_KEYS, "study.budget")
    if not budget_table:
        raise ConfigError("study.budget: set at least one of evaluations, wall_time, energy")
    budget = Budget(
        evaluations=(_positive_int(budget_table["evaluations"], "study.budget.evaluations")
                     if "evaluations" in budget_table else None),
        wall_time_s=(parse_duration(budget_table["wall_time"], "study.budget.wall_time")
                     if "wall_time" in budget_table else None),
        energy_j=(parse_energy(budget_table["energy"], "study.budget.energy")
                  if "energy" in budget_table else None))

    try:
        space = SearchSpace.from_config(_table(data, "space", "space"), encoding)
    except SpaceError as exc:
        raise ConfigError(str(exc)) from None

    population = _positive_int(study.get("population", ALGORITHMS[algorithm].default_population(space.dim)),
                               "study.population")
    if population > MAX_POPULATION:
        raise ConfigError(f"study.population: at most {MAX_POPULATION:,} candidates per generation, "
                          f"got {population:,}")
    options = {**default_options, **_table(study, "options", "study.options")}
    _check_keys(options, set(algorithm_options(algorithm)),
                f"study.options (for {algorithm}{'' if 'algorithm' in study else ', the default algorithm'})")
    fidelity = _parse_fidelity(_table(study, "fidelity", "study.fidelity"), space) if "fidelity" in study else None
    if fidelity is not None and objectives:
        raise ConfigError("study.fidelity: multi-fidelity search takes one objective, not "
                          f"{len(objectives)} (study.objectives)")
    if fidelity is not None and schedule == "async":
        raise ConfigError("study.schedule: multi-fidelity brackets run rung by rung (a rung's "
                          "values decide the next one); use the generational schedule with them")

    objective = _table(data, "objective", "objective")
    if "type" not in objective:
        raise ConfigError("objective.type: required (python, command or mnist_cnn)")

    executor = _parse_executor(_table(data, "executor", "executor"))
    if schedule == "async" and executor["type"] == "slurm" and "workers" not in executor:
        raise ConfigError("executor.workers: the async schedule on Slurm needs the number of trial "
                          "jobs to keep queued or running at once (without it every candidate of the "
                          "budget would be submitted at once)")

    energy = _parse_energy_table(_table(data, "energy", "energy"))

    config = StudyConfig(name=name, algorithm=algorithm, seed=seed, population=population,
                         direction=direction, failure_value=failure_value, budget=budget,
                         options=options, space=space, objective=objective, executor=executor,
                         energy=energy, raw=dict(data), noisy=noisy, schedule=schedule,
                         fidelity=fidelity, objectives=objectives,
                         tracking=_parse_tracking(_table(study, "tracking", "study.tracking")))
    _check_first_generation(config)
    return config


def build_search(config: StudyConfig) -> Search:
    """The study's search as its config makes it, before any checkpoint is loaded."""
    if config.fidelity is not None:
        f = config.fidelity
        return MultiFidelityDE(config.space.dim, inner=config.algorithm, min_fidelity=f.min,
                               max_fidelity=f.max, eta=f.eta, integer=f.integer,
                               population=config.population, seed=config.seed, **config.options)
    return make_optimizer(config.algorithm, config.space.dim, population=config.population,
                          seed=config.seed, max_evaluations=config.budget.evaluations,
                          schedule=config.schedule, objectives=config.n_objectives, **config.options)


def _check_first_generation(config: StudyConfig) -> None:
    """Build the search once and make its first candidates as the driver will (asked, decoded,
    stored as JSON): what a search refuses becomes the config key it names."""
    if config.population * config.space.dim > MAX_CELLS:
        raise ConfigError(f"study.population: {config.population} candidates of {config.space.dim} "
                          f"dimensions is more than {MAX_CELLS:,} numbers per generation")
    try:
        search = build_search(config)
    except SettingError as exc:
        raise ConfigError(f"{_SETTING_KEYS[exc.setting]}: {exc}") from None
    except MemoryError:
        raise ConfigError(f"study.population: {config.population} candidates of {config.space.dim} "
                          "dimensions do not fit in memory") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"study.options: {exc}") from None
    except (AttributeError, OverflowError, ArithmeticError) as exc:  # a value of the wrong type or size
        raise ConfigError(f"study.options: cannot use {config.options!r:.200}: {exc}") from None
    try:
        first = [c for c in (search.ask(), search.ask()) if c is not None]
        json.dumps([config.space.decode(c.x) for c in first], allow_nan=False)
        json.dumps(search.state_dict(), allow_nan=False)
    except MemoryError:
        raise ConfigError(f"study.population: {config.population} candidates of {config.space.dim} "
                          "dimensions do not fit in memory") from None
    except (TypeError, ValueError, OverflowError, ArithmeticError) as exc:
        raise ConfigError(f"config: the first generation cannot be made: {exc}") from None


def _parse_fidelity(table: dict[str, Any], space: SearchSpace) -> FidelityConfig:
    _check_keys(table, {"param", "min", "max", "eta"}, "study.fidelity")
    param = table.get("param")
    if not isinstance(param, str) or not _NAME.fullmatch(param):
        raise ConfigError(f"study.fidelity.param: expected the name of the objective's parameter that "
                          f"sets a trial's budget (e.g. \"epochs\"), got {param!r}")
    if param in space.names:
        raise ConfigError(f"study.fidelity.param: {param!r} is searched in [space]; the fidelity "
                          "schedule sets it, so remove it from [space]")
    for key in ("min", "max"):
        if key not in table:
            raise ConfigError(f"study.fidelity.{key}: required")
    low, high = (_positive_number(table[k], f"study.fidelity.{k}") for k in ("min", "max"))
    if low > high:
        raise ConfigError(f"study.fidelity: min ({table['min']!r}) is larger than max ({table['max']!r})")
    eta = _positive_number(table.get("eta", 3), "study.fidelity.eta")
    integer = all(isinstance(table[k], int) and not isinstance(table[k], bool) for k in ("min", "max"))
    try:
        brackets(low, high, eta, integer)
    except (ValueError, ArithmeticError) as exc:
        raise ConfigError(f"study.fidelity: {exc}") from None
    return FidelityConfig(param, low, high, eta, integer)


def _parse_objectives(study: Mapping[str, Any]) -> tuple[ObjectiveSpec, ...]:
    """``study.objectives``: a list of {name, direction} tables, two or more; () when absent."""
    if "objectives" not in study:
        return ()
    items = study["objectives"]
    if not isinstance(items, list) or len(items) < 2:
        raise ConfigError(f"study.objectives: expected a list of two or more tables "
                          f"{{ name = ..., direction = ... }}, got {items!r:.200}; for one objective "
                          "leave it out and set study.direction")
    specs = []
    for i, item in enumerate(items):
        where = f"study.objectives[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where}: expected a table {{ name = ..., direction = ... }}, got {item!r:.100}")
        _check_keys(item, {"name", "direction"}, where)
        name, direction = item.get("name"), item.get("direction", "minimize")
        if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
            raise ConfigError(f"{where}.name: expected \"objective\", a metric the objective returns or "
                              f"one of {sorted(MEASURED_OBJECTIVES)}, got {name!r:.100}")
        if direction not in ("minimize", "maximize"):
            raise ConfigError(f"{where}.direction: expected \"minimize\" or \"maximize\", got {direction!r}")
        if name in (s.name for s in specs):
            raise ConfigError(f"{where}.name: {name!r} is named twice")
        specs.append(ObjectiveSpec(name, direction))
    return tuple(specs)


def _check_objective_count(algorithm: str, objectives: tuple[ObjectiveSpec, ...]) -> None:
    """A multi-objective algorithm needs study.objectives, and the others refuse it."""
    multi = ALGORITHMS[algorithm].multi_objective
    several = sorted(n for n, cls in ALGORITHMS.items() if cls.multi_objective)
    if multi and not objectives:
        raise ConfigError(f"study.algorithm: {algorithm} optimizes two or more objectives: set "
                          "study.objectives, e.g. [{ name = \"objective\" }, { name = \"energy\" }]")
    if objectives and not multi:
        raise ConfigError(f"study.algorithm: {algorithm} optimizes one objective, not "
                          f"{len(objectives)}; choose one of {', '.join(several)}")


def _positive_number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
            or not math.isfinite(value):
        raise ConfigError(f"{key}: expected a number > 0, got {value!r}")
    return float(value)


def _local_gpus(value: Any) -> float | str:
    """GPUs per local trial: a whole number, a share 1/k of one GPU, or "auto"."""
    if value == "auto" or value == 0 and not isinstance(value, bool):
        return value
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError
        size, shares = gpu_share(value)  # the executor's own rule
    except ValueError:
        raise ConfigError(f"executor.gpus_per_trial: expected a whole number of GPUs, a share of one "
                          f"(0.5, 0.25, ...) or \"auto\", got {value!r}") from None
    return size if shares == 1 else float(value)


_EXECUTOR_KEYS = {
    "local": {"type", "workers", "timeout", "threads_per_trial", "gpus_per_trial"},
    "slurm": {"type", "partition", "account", "qos", "time", "cpus_per_trial", "gpus_per_trial", "mem",
              "constraint", "sbatch", "array_throttle", "poll_interval", "retry", "workers"},
}


def _parse_tracking(table: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``[study.tracking]``: ``mlflow = { tracking_uri = "...", experiment = "..." }``, both optional
    (the URI defaults to $MLFLOW_TRACKING_URI, then MLflow's own default; the experiment to the
    study's name)."""
    _check_keys(table, {"mlflow"}, "study.tracking")
    out: dict[str, dict[str, str]] = {}
    if "mlflow" in table:
        mlflow = _table(table, "mlflow", "study.tracking.mlflow")
        _check_keys(mlflow, {"tracking_uri", "experiment"}, "study.tracking.mlflow")
        for key, value in mlflow.items():
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"study.tracking.mlflow.{key}: expected a non-empty string, got {value!r:.100}")
        out["mlflow"] = dict(mlflow)
    return out


def _parse_executor(table: dict[str, Any]) -> dict[str, Any]:
    kind = table.get("type", "local")
    if not isinstance(kind, str) or kind not in _EXECUTOR_KEYS:
        raise ConfigError(f"executor.type: unknown executor {kind!r}; choose one of {sorted(_EXECUTOR_KEYS)}")
    _check_keys(table, _EXECUTOR_KEYS[kind], f"executor (type {kind})")
    out: dict[str, Any] = {"type": kind}
    for key in ("workers", "threads_per_trial", "cpus_per_trial", "array_throttle"):
        if key in table:
            out[key] = _positive_int(table[key], f"executor.{key}")
    if "gpus_per_trial" in table and kind == "local":
        out["gpus_per_trial"] = _local_gpus(table["gpus_per_trial"])
    elif "gpus_per_trial" in table:
        out["gpus_per_trial"] = _positive_int(table["gpus_per_trial"], "executor.gpus_per_trial", 0)
    if "timeout" in table:
        out["timeout"] = parse_duration(table["timeout"], "executor.timeout")
    if "time" in table:  # Slurm's limit is in whole minutes
        out["time_min"] = max(1, math.ceil(parse_duration(table["time"], "executor.time") / 60))
    if "poll_interval" in table:
        out["poll_interval"] = parse_duration(table["poll_interval"], "executor.poll_interval")
    for key in ("partition", "account", "qos", "constraint"):
        if key in table:
            if not isinstance(table[key], str) or not table[key]:
                raise ConfigError(f"executor.{key}: expected a non-empty string, got {table[key]!r}")
            out[key] = table[key]
    if "mem" in table:
        m = re.fullmatch(r"\s*(\d+)\s*([MGT]?)B?\s*", str(table["mem"]).upper())
        if not m:
            raise ConfigError(f"executor.mem: expected e.g. \"4G\" or \"500M\", got {table['mem']!r}")
        out["mem_mb"] = int(m.group(1)) * {"": 1, "M": 1, "G": 1024, "T": 1024 ** 2}[m.group(2)]
    if "sbatch" in table:
        extra = table["sbatch"]
        if not isinstance(extra, dict) or any(not isinstance(v, (str, int, bool)) for v in extra.values()):
            raise ConfigError(f"executor.sbatch: expected a table of sbatch options, got {extra!r}")
        out["sbatch"] = dict(extra)
    if "retry" in table:
        retry = table["retry"]
        states = {"NODE_FAIL", "PREEMPTED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "CANCELLED", "BOOT_FAIL"}
        if not isinstance(retry, dict) or any(k not in states or isinstance(v, bool) or not isinstance(v, int)
                                              or v < 0 for k, v in retry.items()):
            raise ConfigError(f"executor.retry: expected a table STATE = times with STATE in "
                              f"{sorted(states)}, got {retry!r}")
        out["retry"] = dict(retry)
    return out


def _parse_energy_table(table: dict[str, Any]) -> EnergyConfig:
    cfg = EnergyConfig()
    if "watts_per_core" in table:
        cfg.watts_per_core = _positive_number(table["watts_per_core"], "energy.watts_per_core")
    if "gpu_watts" in table:
        cfg.gpu_watts = _positive_number(table["gpu_watts"], "energy.gpu_watts")
    if "grid_intensity" in table:
        cfg.grid_intensity = _positive_number(table["grid_intensity"], "energy.grid_intensity")
    if "meters" in table:
        meters = table["meters"]
        allowed = ["auto", *METERS]
        if not isinstance(meters, list) or any(m not in allowed for m in meters):
            raise ConfigError(f"energy.meters: expected a list drawn from {allowed}, got {meters!r}")
        cfg.meters = list(meters)
    if "budget_source" in table:
        allowed = ["auto", *BUDGET_SOURCES]
        if table["budget_source"] not in allowed:
            raise ConfigError(f"energy.budget_source: expected one of {allowed}, got {table['budget_source']!r}")
        cfg.budget_source = table["budget_source"]
    return cfg
