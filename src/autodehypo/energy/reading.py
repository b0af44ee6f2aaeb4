from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EnergyReading:
    """Energy of one trial. ``joules`` is None when it could not be known: never 0 for unknown."""

    joules: float | None
    source: str
    detail: dict[str, Any] = field(default_factory=dict)
