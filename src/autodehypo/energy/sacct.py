"""Job accounting lines from ``sacct --parsable2`` and the energy they hold.

The query is the AutoDEHypO paper's::

    sacct -j ID[,ID...] --format=JobID,ConsumedEnergy,CPUTime,Elapsed,TRESUsageOutAve,
          AllocTRES,Partition,State,ExitCode --parsable2 --noconvert

Rules taken from real output (Slurm 22.05):
- TIMEOUT and REQUEUED job lines have an empty ConsumedEnergy; the step lines
  (``.batch``, ``.extern``) carry it, ``.extern`` spanning the whole job.
- ``sacct -D`` repeats a requeued job: the last run is the one that counts.
- Without ``--noconvert`` energy carries decimal suffixes (``12.45K`` J).
- ConsumedEnergy 0 is what ``acct_gather_energy/none`` reports: unmeasured,
  so it reads as None, never as 0 J.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .reading import EnergyReading

FIELDS = ("JobID", "ConsumedEnergy", "CPUTime", "Elapsed", "TRESUsageOutAve", "AllocTRES",
          "Partition", "State", "ExitCode")
TERMINAL_STATES = {"COMPLETED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "CANCELLED",
                   "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED"}
_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_MEM_SUFFIX = {"K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0 ** 2}


class SacctError(ValueError):
    """Output that is not what the sacct query above prints."""


@dataclass
class JobAccounting:
    """One job (or array task) with its step lines, from its last run."""

    job_id: str
    state: str
    exit_code: str
    partition: str | None
    elapsed_s: float | None
    cpu_time_s: float | None
    alloc_tres: dict[str, str]
    consumed_energy_j: float | None   # job line, else the steps'; None if unmeasured
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    raw: list[str] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def energy(self) -> EnergyReading:
        return EnergyReading(self.consumed_energy_j, "slurm",
                             {}, node_level=True,
                             detail={"job_id": self.job_id, "state": self.state,
                                     "alloc_tres": self.alloc_tres,
                                     "note": None if self.consumed_energy_j is not None else
                                     "ConsumedEnergy empty or 0: no energy plugin measured this job"})


def parse_energy(text: str) -> float | None:
    """``300`` -> 300.0, ``12.45K`` -> 12450.0, empty -> None."""
    text = text.strip()
    if not text:
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGTP]?)", text)
    if not m:
        raise SacctError(f"cannot read energy {text!r}")
    return float(m.group(1)) * _SUFFIX[m.group(2)]


def parse_duration(text: str) -> float | None:
    """Slurm's ``[D-]HH:MM:SS``, ``MM:SS.mmm`` or ``HH:MM:SS.mmm`` as seconds."""
    text = text.strip()
    if not text or text in ("INVALID", "UNLIMITED"):
        return None
    days = 0
    if "-" in text:
        d, _, text = text.partition("-")
        days = int(d)
    parts = text.split(":")
    if not 2 <= len(parts) <= 3:
        raise SacctError(f"cannot read duration {text!r}")
    seconds = float(parts[-1]) + 60 * int(parts[-2]) + (3600 * int(parts[0]) if len(parts) == 3 else 0)
    return days * 86400 + seconds


def parse_tres(text: str) -> dict[str, str]:
    """``billing=1,cpu=1,energy=300,mem=1024M`` -> a dict of strings."""
    out = {}
    for item in filter(None, text.strip().split(",")):
        key, _, value = item.partition("=")
        out[key] = value
    return out


def memory_mb(value: str) -> float | None:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]?)", value or "")
    return None if not m else float(m.group(1)) * _MEM_SUFFIX.get(m.group(2) or "M", 1.0)


def parse_sacct(text: str, delimiter: str | None = None) -> dict[str, JobAccounting]:
    """Jobs by id from the query's output (with its header line)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return {}
    delimiter = delimiter or (";" if lines[0].count(";") >= len(FIELDS) - 1 else "|")
    header = lines[0].split(delimiter)
    missing = [f for f in FIELDS if f not in header]
    if missing:
        raise SacctError(f"sacct output lacks the field(s) {missing}")
    runs: dict[str, list[list[dict[str, str]]]] = {}
    for line in lines[1:]:
        values = line.split(delimiter)
        if len(values) != len(header):
            raise SacctError(f"sacct line has {len(values)} fields, expected {len(header)}: {line!r}")
        row = dict(zip(header, values))
        row["_raw"] = line
        job, _, step = row["JobID"].partition(".")
        if not step:
            runs.setdefault(job, []).append([row])  # a job line opens a run (requeues repeat it)
        elif job in runs:
            runs[job][-1].append(row)
    return {job: _job(job, job_runs[-1]) for job, job_runs in runs.items()}


def _job(job_id: str, rows: list[dict[str, str]]) -> JobAccounting:
    line, steps = rows[0], {r["JobID"].partition(".")[2]: r for r in rows[1:]}
    energy = parse_energy(line["ConsumedEnergy"])
    if energy is None:
        step_energy = [parse_energy(s["ConsumedEnergy"]) for s in steps.values()]
        extern = steps.get("extern")
        if extern is not None and parse_energy(extern["ConsumedEnergy"]) is not None:
            energy = parse_energy(extern["ConsumedEnergy"])
        elif any(e is not None for e in step_energy):
            energy = max(e for e in step_energy if e is not None)
    if energy == 0:
        energy = None
    return JobAccounting(
        job_id=job_id, state=line["State"].split()[0] if line["State"] else "", exit_code=line["ExitCode"],
        partition=line["Partition"] or None, elapsed_s=parse_duration(line["Elapsed"]),
        cpu_time_s=parse_duration(line["CPUTime"]), alloc_tres=parse_tres(line["AllocTRES"]),
        consumed_energy_j=energy, steps={k: _strip(v) for k, v in steps.items()},
        raw=[r["_raw"] for r in rows])


def _strip(row: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in row.items() if k != "_raw"}
