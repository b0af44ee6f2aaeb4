"""Energy per trial: a reading says how many joules, from which source, and how sure.

Only the CPU-time estimate exists so far; measured sources (NVML, RAPL, Slurm
accounting) plug in as further meters returning the same :class:`EnergyReading`.
"""

from .reading import EnergyReading
from .estimate import DEFAULT_WATTS_PER_CORE, CpuTimeEstimate

__all__ = ["EnergyReading", "CpuTimeEstimate", "DEFAULT_WATTS_PER_CORE"]
