"""Named hyperparameters and their encoding to and from the unit hypercube.

Optimizers only ever see points of [0, 1]^D; a :class:`SearchSpace` turns such a
point into a dict of typed hyperparameter values (``decode``) and back (``encode``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np


class SpaceError(ValueError):
    """A hyperparameter definition that cannot be used."""


@dataclass(frozen=True)
class Float:
    name: str
    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        _check_bounds(self.name, self.low, self.high, self.log)

    def decode(self, u: float) -> float:
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return float(min(self.high, max(self.low, math.exp(lo + u * (hi - lo)))))
        return float(self.low + u * (self.high - self.low))

    def encode(self, value: Any) -> float:
        v = float(value)
        if self.log:
            return (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (v - self.low) / (self.high - self.low)

    def contains(self, value: Any) -> bool:
        return isinstance(value, (int, float)) and self.low <= float(value) <= self.high


@dataclass(frozen=True)
class Int:
    name: str
    low: int
    high: int
    log: bool = False

    def __post_init__(self) -> None:
        for key in ("low", "high"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise SpaceError(f"space.{self.name}.{key}: an int parameter needs an integer bound, got {value!r}")
        _check_bounds(self.name, self.low, self.high, self.log)

    # Each integer owns an equal slice of [0, 1] (of log-space for log=True), so
    # that the end points are as likely as the interior ones.
    def _edges(self) -> tuple[float, float]:
        if self.log:
            return math.log(self.low), math.log(self.high + 1.0)
        return self.low - 0.5, self.high + 0.5

    def decode(self, u: float) -> int:
        lo, hi = self._edges()
        x = lo + u * (hi - lo)
        if self.log:
            v = math.floor(math.exp(x))
        else:
            v = math.floor(x + 0.5)
        return int(min(self.high, max(self.low, v)))

    def encode(self, value: Any) -> float:
        v = int(value)
        lo, hi = self._edges()
        # Centre of the slice that decodes to v.
        if self.log:
            centre = 0.5 * (math.log(v) + math.log(v + 1.0))
        else:
            centre = float(v)
        return (centre - lo) / (hi - lo)

    def contains(self, value: Any) -> bool:
        return (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                and self.low <= int(value) <= self.high)


@dataclass(frozen=True)
class Categorical:
    """A choice among listed values, encoded so that the search sees no order that is not there.

    Numbers (ints and floats) are ordered by value: one coordinate, an equal slice per choice
    from the smallest to the largest, as for an int. Other choices (strings, booleans, mixed)
    have no order: with three or more of them, each choice gets a coordinate of its own and the
    largest coordinate wins (with two, one coordinate cut in half orders nothing). So a search
    does not depend on the order in which the choices are listed. ``listed = True`` keeps the
    encoding of studies made before this one (one coordinate, slices in the listed order).
    """

    name: str
    choices: tuple
    listed: bool = False

    def __post_init__(self) -> None:
        if len(self.choices) == 0:
            raise SpaceError(f"space.{self.name}.choices: needs at least one choice")
        if len(set(map(repr, self.choices))) != len(self.choices):
            raise SpaceError(f"space.{self.name}.choices: choices must be distinct, got {list(self.choices)!r}")

    @cached_property  # asked for every decoded point; the choices never change
    def numeric(self) -> bool:
        return all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in self.choices)

    @cached_property
    def one_hot(self) -> bool:
        return not self.listed and not self.numeric and len(self.choices) >= 3

    @cached_property
    def width(self) -> int:
        """Coordinates of the unit cube this parameter takes."""
        return len(self.choices) if self.one_hot else 1

    @cached_property
    def _slice_order(self) -> list[int]:
        """Indices of the choices from the first slice of [0, 1] to the last."""
        if self.numeric and not self.listed:
            return sorted(range(len(self.choices)), key=lambda k: self.choices[k])
        return list(range(len(self.choices)))

    def decode(self, u: Any) -> Any:
        if self.one_hot:
            return self.choices[int(np.argmax(np.asarray(u, dtype=float)))]
        k = min(len(self.choices) - 1, int(math.floor(float(u) * len(self.choices))))
        return self.choices[self._slice_order[max(0, k)]]

    def encode(self, value: Any) -> Any:
        """A point that decodes to ``value``, inside its region rather than on an edge."""
        for k, choice in enumerate(self.choices):
            if type(choice) is type(value) and choice == value:
                if self.one_hot:
                    point = np.full(len(self.choices), 0.25)
                    point[k] = 0.75
                    return point
                return (self._slice_order.index(k) + 0.5) / len(self.choices)
        raise SpaceError(f"space.{self.name}: {value!r} is not one of {list(self.choices)!r}")

    def contains(self, value: Any) -> bool:
        return any(type(c) is type(value) and c == value for c in self.choices)


Param = Float | Int | Categorical


def _check_bounds(name: str, low: float, high: float, log: bool) -> None:
    for key, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
            raise SpaceError(f"space.{name}.{key}: must be a finite number, got {value!r}")
    if low >= high:
        raise SpaceError(f"space.{name}: low must be below high, got low={low!r} high={high!r}")
    if log and low <= 0:
        raise SpaceError(f"space.{name}: a log scale needs low > 0, got low={low!r}")
    if not log and not math.isfinite(float(high) - float(low)):
        raise SpaceError(f"space.{name}: the range from low={low!r} to high={high!r} is wider than the "
                         "largest float; narrow it or use a log scale")


# How studies map hyperparameters to the cube. 1: categorical choices as slices in the listed
# order; 2: numbers ordered by value, unordered choices one coordinate each (see Categorical).
# A study records the version it was made with, so that it resumes with the same one.
ENCODING_VERSION = 2


class SearchSpace:
    """An ordered set of hyperparameters, each on its own coordinates of the cube, in order."""

    def __init__(self, params: Sequence[Param]):
        names = [p.name for p in params]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SpaceError(f"space: duplicate parameter name(s) {dupes}")
        if not params:
            raise SpaceError("space: define at least one hyperparameter")
        self.params: tuple[Param, ...] = tuple(params)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def dim(self) -> int:
        return sum(getattr(p, "width", 1) for p in self.params)

    def _slices(self) -> list[tuple[Param, slice]]:
        start, out = 0, []
        for p in self.params:
            width = getattr(p, "width", 1)
            out.append((p, slice(start, start + width)))
            start += width
        return out

    def decode(self, u: Sequence[float]) -> dict[str, Any]:
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        if u.shape != (self.dim,):
            raise ValueError(f"expected a point of dimension {self.dim}, got shape {u.shape}")
        return {p.name: p.decode(u[s] if s.stop - s.start > 1 else float(u[s.start]))
                for p, s in self._slices()}

    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        missing = [n for n in self.names if n not in values]
        if missing:
            raise SpaceError(f"missing value(s) for {missing}")
        return np.concatenate([np.atleast_1d(np.asarray(p.encode(values[p.name]), dtype=float))
                               for p in self.params])

    @classmethod
    def from_config(cls, table: Mapping[str, Any], encoding: int = ENCODING_VERSION) -> "SearchSpace":
        """Build a space from the ``[space]`` table of a config.

        Each entry is ``name = {type = "float"|"int"|"categorical", ...}``. ``encoding`` is
        the version of the map to the cube (see ENCODING_VERSION), the study's own.
        """
        if encoding not in (1, 2):
            raise SpaceError(f"space: unknown encoding version {encoding!r}; this autodehypo knows 1 and 2")
        params: list[Param] = []
        for name, spec in table.items():
            if not isinstance(spec, Mapping):
                raise SpaceError(f"space.{name}: expected a table such as "
                                 f'{{type = "float", low = 0.0, high = 1.0}}, got {spec!r}')
            spec = dict(spec)
            kind = spec.pop("type", None)
            allowed = {"float": {"low", "high", "log"}, "int": {"low", "high", "log"},
                       "categorical": {"choices"}}
            if not isinstance(kind, str) or kind not in allowed:
                raise SpaceError(f"space.{name}.type: unknown type {kind!r}; "
                                 f"choose one of {sorted(allowed)}")
            unknown = sorted(set(spec) - allowed[kind])
            if unknown:
                raise SpaceError(f"space.{name}: unknown key(s) {unknown} for type {kind!r}; "
                                 f"allowed: {sorted(allowed[kind])}")
            if kind == "categorical":
                choices = spec.get("choices")
                if not isinstance(choices, list):
                    raise SpaceError(f"space.{name}.choices: expected a list, got {choices!r}")
                params.append(Categorical(name, tuple(choices), listed=encoding == 1))
                continue
            for key in ("low", "high"):
                if key not in spec:
                    raise SpaceError(f"space.{name}.{key}: required for type {kind!r}")
            log = spec.get("log", False)
            if not isinstance(log, bool):
                raise SpaceError(f"space.{name}.log: expected true or false, got {log!r}")
            ptype = Float if kind == "float" else Int
            params.append(ptype(name, spec["low"], spec["high"], log))
        return cls(params)
