"""CPU package and DRAM energy from RAPL counters in the powercap sysfs tree.

Layout read (Intel, and AMD since Linux 5.8, both under ``intel-rapl``)::

    /sys/class/powercap/intel-rapl:0/name                 "package-0"
    /sys/class/powercap/intel-rapl:0/energy_uj            microjoules, wraps
    /sys/class/powercap/intel-rapl:0/max_energy_range_uj  where it wraps
    /sys/class/powercap/intel-rapl:0:0/name               "core" (inside the package)
    /sys/class/powercap/intel-rapl:0:1/name               "dram"

Packages and DRAM are summed; core and uncore are already inside their
package. Since CVE-2020-8694 ``energy_uj`` is readable by root only on most
kernels: the meter then says so instead of reading zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .meter import MeterUnavailable
from .reading import EnergyReading

POWERCAP = Path("/sys/class/powercap")
_ZONE = re.compile(r"^intel-rapl:(\d+)(?::(\d+))?$")


@dataclass
class _Domain:
    path: Path
    name: str
    kind: str          # "cpu" (a package) or "dram"
    max_range_uj: int
    last_uj: int
    total_uj: int = 0  # accumulated since the meter started, wraps undone


class RaplMeter:
    source = "rapl"

    def __init__(self, root: Path | str = POWERCAP):
        self.root = Path(root)
        self.domains = self._discover()

    def _discover(self) -> list[_Domain]:
        if not self.root.is_dir():
            raise MeterUnavailable(f"rapl: no powercap tree at {self.root}")
        domains = []
        for zone in sorted(self.root.iterdir()):
            m = _ZONE.match(zone.name)
            if not m:
                continue
            name = _read_text(zone / "name")
            if m.group(2) is None:
                kind = "cpu"
            elif name == "dram":
                kind = "dram"
            else:
                continue  # core, uncore: part of their package
            try:
                value = int(_read_text(zone / "energy_uj"))
                max_range = int(_read_text(zone / "max_energy_range_uj"))
            except PermissionError:
                raise MeterUnavailable(
                    f"rapl: not readable: permission denied on {zone / 'energy_uj'} (root-only on most "
                    "kernels since CVE-2020-8694; an administrator can grant read access)") from None
            domains.append(_Domain(zone, name, kind, max_range, value))
        if not domains:
            raise MeterUnavailable(f"rapl: no intel-rapl zones under {self.root}")
        return domains

    def poll(self) -> None:
        for d in self.domains:
            value = int(_read_text(d.path / "energy_uj"))
            delta = value - d.last_uj
            if delta < 0:  # the counter wrapped at max_energy_range_uj
                delta += d.max_range_uj + 1
            d.total_uj += delta
            d.last_uj = value

    def start(self, gpus: list[str] | None = None, exclusive: bool = False) -> Any:  # the package, not GPUs
        self.poll()
        return [d.total_uj for d in self.domains]

    def stop(self, token: Any) -> EnergyReading:
        self.poll()
        components: dict[str, float | None] = {}
        for d, begin in zip(self.domains, token):
            components[d.kind] = components.get(d.kind, 0.0) + (d.total_uj - begin) / 1e6
        return EnergyReading(sum(v for v in components.values() if v is not None), self.source,
                             components, node_level=True,
                             detail={"domains": [d.name for d in self.domains]})


def _read_text(path: Path) -> str:
    return path.read_text().strip()
