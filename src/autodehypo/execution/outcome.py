from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..energy import EnergyReading


@dataclass
class TrialOutcome:
    """What running one trial produced, success or not."""

    ok: bool
    value: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    elapsed_s: float | None = None
    cpu_time_s: float | None = None
    peak_rss_mb: float | None = None
    host: str | None = None
    gpus: list[str] | None = None  # the GPUs the executor gave the trial (CUDA_VISIBLE_DEVICES)
    gpu_seconds: float = 0.0  # elapsed time x GPUs held (a shared GPU counts its share)
    energy: list[EnergyReading] = field(default_factory=list)  # from the executor (Slurm accounting)


def interpret_result(result: Any, key: str) -> tuple[float | None, dict[str, Any], str | None]:
    """Turn an objective's return value into (value, metrics, error).

    A number is the objective value; a dict holds it under ``key`` and carries
    the other entries as metrics. NaN or infinite values are failures.
    """
    metrics: dict[str, Any] = {}
    if isinstance(result, dict):
        if key not in result:
            return None, {k: v for k, v in result.items()}, \
                f"objective returned a dict without the key {key!r} (keys: {sorted(map(str, result))})"
        metrics = {str(k): v for k, v in result.items() if k != key}
        result = result[key]
    if isinstance(result, bool) or not isinstance(result, (int, float)) and not hasattr(result, "__float__"):
        return None, metrics, f"objective returned {type(result).__name__} {result!r}; expected a number"
    try:
        value = float(result)
    except (TypeError, ValueError):
        return None, metrics, f"objective returned {result!r}; expected a number"
    if not math.isfinite(value):
        return None, metrics, f"objective returned {value}"
    return value, metrics, None


def one_line(exc: BaseException) -> str:
    """An exception as "Type: first line of its message", for a failed trial's reason."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def jsonable(obj: Any) -> Any:
    """json.dumps' fallback for numpy and torch scalars and arrays in a trial's result."""
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")
