"""Energy per trial: each source behind one small interface, each figure labelled with its source.

Meters (:class:`RaplMeter`, :class:`NvmlMeter`) are read by the driver around
each trial; Slurm accounting arrives with a job's outcome (:mod:`.sacct`); the
CPU-time estimate is always computed. :func:`choose` picks the figure that
counts toward the study's energy budget.
"""

from __future__ import annotations

from typing import Sequence

from .estimate import DEFAULT_GPU_WATTS, DEFAULT_WATTS_PER_CORE, CpuTimeEstimate
from .meter import Meter, MeterUnavailable
from .nvml import NvmlMeter
from .rapl import RaplMeter
from .reading import EnergyReading

METERS = {"rapl": RaplMeter, "nvml": NvmlMeter}
# Which figure counts toward the budget with budget_source = "auto": the job's
# own accounting when the trial ran as a Slurm job, else the measured counters
# (RAPL and NVML added up), else the estimate.
BUDGET_SOURCES = ("slurm", "measured", "estimate")


def open_meters(names: Sequence[str]) -> tuple[list[Meter], dict[str, str]]:
    """Open the named meters ("auto": every one that works here).

    Returns the working meters and, for every meter tried, "ok" or why not.
    A meter named explicitly that does not work raises :class:`MeterUnavailable`.
    """
    explicit = "auto" not in names
    wanted = list(METERS) if not explicit else list(names)
    meters: list[Meter] = []
    status: dict[str, str] = {}
    for name in wanted:
        try:
            meters.append(METERS[name]())
            status[name] = "ok"
        except MeterUnavailable as exc:
            if explicit:
                raise
            status[name] = str(exc)
    return meters, status


def measured_total(readings: Sequence[EnergyReading]) -> EnergyReading | None:
    """RAPL and NVML readings of one trial added into one figure, or None without any."""
    parts = [r for r in readings if r.source in METERS and r.joules is not None]
    if not parts:
        return None
    components: dict[str, float | None] = {}
    for r in parts:
        for key, value in r.components.items():
            components[key] = (components.get(key) or 0.0) + (value or 0.0)
    return EnergyReading(sum(r.joules for r in parts), "+".join(sorted(r.source for r in parts)),
                         components, node_level=any(r.node_level for r in parts))


def choose(readings: Sequence[EnergyReading], preference: str = "auto") -> EnergyReading:
    """The reading that counts toward the budget. The estimate is the last resort."""
    by_source = {r.source: r for r in readings}
    candidates = {"slurm": by_source.get("slurm"), "measured": measured_total(readings),
                  "estimate": by_source.get("estimate")}
    order = BUDGET_SOURCES if preference == "auto" else (preference, "estimate")
    for name in order:
        r = candidates.get(name)
        if r is not None and r.joules is not None:
            return r
    return candidates["estimate"] or EnergyReading(None, "none")


def co2e_grams(joules: float | None, grams_per_kwh: float | None) -> float | None:
    if joules is None or grams_per_kwh is None:
        return None
    return joules / 3.6e6 * grams_per_kwh


__all__ = ["BUDGET_SOURCES", "CpuTimeEstimate", "DEFAULT_GPU_WATTS", "DEFAULT_WATTS_PER_CORE",
           "EnergyReading", "METERS", "Meter", "MeterUnavailable", "NvmlMeter", "RaplMeter",
           "choose", "co2e_grams", "measured_total", "open_meters"]
