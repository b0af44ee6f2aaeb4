from __future__ import annotations

from .reading import EnergyReading

# A busy core of a current server CPU draws roughly 5 to 15 W (package TDP over
# core count); 10 W is the stated middle. A data-centre GPU under training load
# draws 250 to 700 W; 300 W is the stated default. Set both for your hardware.
DEFAULT_WATTS_PER_CORE = 10.0
DEFAULT_GPU_WATTS = 300.0


class CpuTimeEstimate:
    """CPU seconds x watts per core + GPU seconds x board power, always labelled ``estimate``."""

    source = "estimate"

    def __init__(self, watts_per_core: float = DEFAULT_WATTS_PER_CORE,
                 gpu_watts: float = DEFAULT_GPU_WATTS):
        if not watts_per_core > 0:
            raise ValueError(f"watts_per_core must be > 0, got {watts_per_core!r}")
        if not gpu_watts > 0:
            raise ValueError(f"gpu_watts must be > 0, got {gpu_watts!r}")
        self.watts_per_core = float(watts_per_core)
        self.gpu_watts = float(gpu_watts)

    def reading(self, cpu_seconds: float | None, gpu_seconds: float = 0.0) -> EnergyReading:
        detail = {"method": "cpu_seconds * watts_per_core + gpu_seconds * gpu_watts",
                  "watts_per_core": self.watts_per_core, "cpu_seconds": cpu_seconds,
                  "gpu_watts": self.gpu_watts, "gpu_seconds": gpu_seconds}
        if cpu_seconds is None:
            return EnergyReading(None, self.source, {"cpu": None, "gpu": None}, detail=detail)
        cpu = cpu_seconds * self.watts_per_core
        gpu = gpu_seconds * self.gpu_watts
        return EnergyReading(cpu + gpu, self.source, {"cpu": cpu, "gpu": gpu}, detail=detail)
