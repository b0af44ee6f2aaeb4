from __future__ import annotations

from .reading import EnergyReading

# A busy core of a current server CPU draws roughly 5 to 15 W (package TDP over
# core count); 10 W is the stated middle. Set `energy.watts_per_core` for your CPU.
DEFAULT_WATTS_PER_CORE = 10.0


class CpuTimeEstimate:
    """Energy estimated as CPU seconds x watts per core, labelled ``estimate``."""

    source = "estimate"

    def __init__(self, watts_per_core: float = DEFAULT_WATTS_PER_CORE):
        if not watts_per_core > 0:
            raise ValueError(f"watts_per_core must be > 0, got {watts_per_core!r}")
        self.watts_per_core = float(watts_per_core)

    def reading(self, cpu_seconds: float | None) -> EnergyReading:
        detail = {"method": "cpu_seconds * watts_per_core", "watts_per_core": self.watts_per_core,
                  "cpu_seconds": cpu_seconds}
        if cpu_seconds is None:
            return EnergyReading(None, self.source, detail)
        return EnergyReading(cpu_seconds * self.watts_per_core, self.source, detail)
