"""What a trial computes: a Python callable, a command line, or a built-in training task.

An objective is called in the trial's own process with a dict of
hyperparameters and returns a number or a dict holding the number under its
``key`` plus extra metrics. ``prepare()``, when present, runs once in the
driver before any trial (to check inputs and load shared data).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .command import CommandObjective
from .python import PythonObjective


class ObjectiveError(ValueError):
    """An objective definition that cannot be used."""


def _mnist_cnn(**kwargs: Any):
    from .mnist_cnn import MnistCNN
    return MnistCNN(**kwargs)


def _vision(**kwargs: Any):
    from .vision import VisionObjective
    return VisionObjective(**kwargs)


BUILDERS: dict[str, Callable[..., Any]] = {
    "python": PythonObjective,
    "command": CommandObjective,
    "mnist_cnn": _mnist_cnn,
    "vision": _vision,
}


def build_objective(table: Mapping[str, Any], param_names: list[str]) -> Any:
    """Build the objective of an ``[objective]`` config table.

    ``param_names`` are the searched hyperparameters; ``fixed`` values join
    them in every call.
    """
    table = dict(table)
    kind = table.pop("type", None)
    if not isinstance(kind, str) or kind not in BUILDERS:
        raise ObjectiveError(f"objective.type: unknown type {kind!r}; choose one of {sorted(BUILDERS)}")
    try:
        return BUILDERS[kind](param_names=param_names, **table)
    except TypeError as exc:
        raise ObjectiveError(f"objective: {exc}") from None


__all__ = ["BUILDERS", "CommandObjective", "ObjectiveError", "PythonObjective", "build_objective"]
