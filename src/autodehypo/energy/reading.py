from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EnergyReading:
    """Energy of one trial from one source.

    ``joules`` is None when the source could not tell: never 0 for unknown.
    ``components`` splits it (``cpu``, ``dram``, ``gpu``) where the source can.
    ``node_level`` is True when the counter covers the whole node or package,
    so it includes whatever else ran there at the same time (other trials,
    other jobs on a shared node), rather than the trial alone.
    """

    joules: float | None
    source: str
    components: dict[str, float | None] = field(default_factory=dict)
    node_level: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "joules": self.joules, "components": dict(self.components),
                "node_level": self.node_level, "detail": dict(self.detail)}
