"""Optuna distributions as the project's search space, so that a sampler encodes exactly as a study.

A :class:`~optuna.distributions.FloatDistribution` becomes a :class:`~autodehypo.space.Float`
(log scale kept), an :class:`~optuna.distributions.IntDistribution` an
:class:`~autodehypo.space.Int`, a :class:`~optuna.distributions.CategoricalDistribution` a
:class:`~autodehypo.space.Categorical` (numbers ordered by value, three or more unordered
choices one coordinate each: the study's encoding version 2). A ``step`` other than 1 makes a
grid ``low, low + step, ..., high``, encoded as an int over the grid's index: an equal slice of
the cube per grid point, as for an int. Parameters with a single value are left out (Optuna
asks the independent sampler for them, which answers that value).

Optuna is imported lazily, so :mod:`autodehypo.space` stays free of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from ..space import ENCODING_VERSION, Categorical, Float, Int, SearchSpace, SpaceError


@dataclass(frozen=True)
class Stepped:
    """``low + k * step`` for ``k`` in ``0 .. count - 1``, encoded as an :class:`Int` over ``k``."""

    name: str
    low: float
    step: float
    count: int
    integer: bool = False

    @property
    def _index(self) -> Int:
        return Int(self.name, 0, self.count - 1)

    def decode(self, u: float) -> Any:
        k = self._index.decode(u)
        if self.integer:
            return int(self.low) + k * int(self.step)
        return float(self.low + k * self.step)

    def encode(self, value: Any) -> float:
        return self._index.encode(int(round((float(value) - self.low) / self.step)))

    def contains(self, value: Any) -> bool:
        k = (float(value) - self.low) / self.step
        return abs(k - round(k)) < 1e-8 and 0 <= round(k) < self.count


def relative_distributions(distributions: Mapping[str, Any]) -> dict[str, Any]:
    """The distributions a DE can search: all but the single-valued ones, in the given order."""
    return {name: d for name, d in distributions.items() if not d.single()}


def space_from_distributions(distributions: Mapping[str, Any],
                             encoding: int = ENCODING_VERSION) -> SearchSpace:
    """The :class:`SearchSpace` of ``distributions`` (name -> Optuna distribution), in their order."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if encoding not in (1, 2):
        raise SpaceError(f"unknown encoding version {encoding!r}; this autodehypo knows 1 and 2")
    params = []
    for name, d in distributions.items():
        if isinstance(d, CategoricalDistribution):
            params.append(Categorical(name, tuple(d.choices), listed=encoding == 1))
        elif isinstance(d, FloatDistribution):
            if d.step is None:
                params.append(Float(name, d.low, d.high, d.log))
            else:
                count = int(math.floor((d.high - d.low) / d.step + 1e-8)) + 1
                params.append(Stepped(name, d.low, d.step, count))
        elif isinstance(d, IntDistribution):
            if d.step == 1:
                params.append(Int(name, int(d.low), int(d.high), d.log))
            else:
                count = (d.high - d.low) // d.step + 1
                params.append(Stepped(name, d.low, d.step, count, integer=True))
        else:
            raise SpaceError(f"{name}: the DE sampler cannot search a {type(d).__name__}")
    return SearchSpace(params)
