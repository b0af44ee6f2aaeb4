from __future__ import annotations

from typing import Any, Protocol

from .reading import EnergyReading


class Meter(Protocol):
    """A measured energy source, read around a trial.

    The driver calls ``start(gpus, exclusive)`` when a trial starts (the GPUs the executor
    gave it, or None, and whether they are the trial's alone), ``poll()`` at least every few
    seconds while trials run (so that wrapping counters and power samples are caught), and
    ``stop(token)`` when the trial ends.
    """

    source: str

    def start(self, gpus: list[str] | None = None, exclusive: bool = False) -> Any: ...

    def poll(self) -> None: ...

    def stop(self, token: Any) -> EnergyReading: ...


class MeterUnavailable(RuntimeError):
    """The source does not exist here or cannot be read; the message says which and why."""
