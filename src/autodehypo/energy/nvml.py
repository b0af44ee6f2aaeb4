"""GPU energy through NVML (the ``nvidia-ml-py`` package).

Reads the total-energy counter (millijoules since the driver loaded; Volta and
later) of each GPU visible to the trials, and integrates power samples taken
at each ``poll()`` where that counter is not supported. CUDA_VISIBLE_DEVICES
entries (indices or GPU-/MIG- UUIDs) are mapped to NVML devices; a MIG
instance is measured through its parent GPU, so the figure covers the whole
board (``node_level``). A trial that the executor gave GPUs of its own is measured on
those alone, and the figure is the trial's (not ``node_level``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from .meter import MeterUnavailable
from .reading import EnergyReading


@dataclass
class _Gpu:
    handle: Any
    label: str
    counter: bool         # total-energy counter supported
    mig: bool
    sampled_mj: float = 0.0
    last_power_mw: float | None = None
    last_time: float | None = None


def visible_entries(visible: str) -> list[str]:
    """The GPUs a CUDA_VISIBLE_DEVICES value names (indices or UUIDs); "-1" or "" names none."""
    return [e.strip() for e in visible.split(",") if e.strip() and e.strip() != "-1"]


class NvmlMeter:
    source = "nvml"

    def __init__(self, visible: str | None = None):
        try:
            import pynvml
        except ImportError:
            raise MeterUnavailable("nvml: nvidia-ml-py is not installed") from None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise MeterUnavailable(f"nvml: no NVIDIA driver or GPU ({exc})") from None
        self.nvml = pynvml
        visible = os.environ.get("CUDA_VISIBLE_DEVICES") if visible is None else visible
        self.gpus = [self._gpu(entry) for entry in self._entries(visible)]
        if not self.gpus:
            raise MeterUnavailable("nvml: no GPU visible (CUDA_VISIBLE_DEVICES is empty)")

    def _entries(self, visible: str | None) -> list[str]:
        if visible is None:
            return [str(i) for i in range(self.nvml.nvmlDeviceGetCount())]
        return visible_entries(visible)

    def _gpu(self, entry: str) -> _Gpu:
        nvml = self.nvml
        mig = entry.startswith("MIG-")
        if entry.isdigit():
            handle = nvml.nvmlDeviceGetHandleByIndex(int(entry))
        else:
            handle = nvml.nvmlDeviceGetHandleByUUID(entry)
            if mig:
                handle = nvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(handle)
        try:
            nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            counter = True
        except nvml.NVMLError:
            counter = False
        return _Gpu(handle, entry, counter, mig)

    def poll(self) -> None:
        now = time.monotonic()
        for g in self.gpus:
            if g.counter:
                continue
            power = float(self.nvml.nvmlDeviceGetPowerUsage(g.handle))  # milliwatts
            if g.last_time is not None:
                g.sampled_mj += 0.5 * (power + g.last_power_mw) * (now - g.last_time)
            g.last_power_mw, g.last_time = power, now

    def _totals(self, gpus: list[_Gpu]) -> list[float]:
        self.poll()
        return [float(self.nvml.nvmlDeviceGetTotalEnergyConsumption(g.handle)) if g.counter
                else g.sampled_mj for g in gpus]

    def start(self, gpus: list[str] | None = None, exclusive: bool = False) -> Any:
        mine = [g for g in self.gpus if g.label in gpus] if gpus is not None else []
        if gpus is None or len(mine) != len(gpus):  # not handed out, or not among those visible here
            mine, exclusive = self.gpus, False
        return mine, exclusive and not any(g.mig for g in mine), self._totals(mine)

    def stop(self, token: Any) -> EnergyReading:
        gpus, own, begin = token
        joules = sum(end - start for start, end in zip(begin, self._totals(gpus))) / 1e3
        methods = sorted({"counter" if g.counter else "power samples" for g in gpus})
        # Whole boards: unless the trial had them alone, other trials (or MIG slices) are in it.
        return EnergyReading(joules, self.source, {"gpu": joules}, node_level=not own,
                             detail={"gpus": [g.label for g in gpus], "method": methods})
