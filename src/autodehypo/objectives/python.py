from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


class PythonObjective:
    """Calls ``function(params)``; ``function`` is a callable or ``"package.module:name"``."""

    def __init__(self, *, function: str | Callable[[dict[str, Any]], Any],
                 fixed: Mapping[str, Any] | None = None, key: str = "objective",
                 param_names: list[str] | None = None):
        from . import ObjectiveError
        self.key = key
        self.fixed = _check_fixed(fixed, param_names)
        if callable(function):
            self.function = function
            return
        if not isinstance(function, str) or ":" not in function:
            raise ObjectiveError(f"objective.function: expected 'module:name', got {function!r}")
        module_name, _, attr = function.partition(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # any import-time failure is a config problem
            raise ObjectiveError(f"objective.function: cannot import {module_name!r}: {exc}") from None
        try:
            target: Any = module
            for part in attr.split("."):
                target = getattr(target, part)
        except AttributeError:
            raise ObjectiveError(f"objective.function: {module_name!r} has no attribute {attr!r}") from None
        self.function = target
        if not callable(self.function):
            raise ObjectiveError(f"objective.function: {function!r} is not callable")

    def __call__(self, params: dict[str, Any]) -> Any:
        return self.function({**self.fixed, **params})


def _check_fixed(fixed: Mapping[str, Any] | None, param_names: list[str] | None) -> dict[str, Any]:
    from . import ObjectiveError
    if fixed is not None and not isinstance(fixed, Mapping):
        raise ObjectiveError(f"objective.fixed: expected a table of values, got {fixed!r:.100}")
    fixed = dict(fixed or {})
    both = sorted(set(fixed) & set(param_names or []))
    if both:
        raise ObjectiveError(f"objective.fixed: {both} are also in [space]; a parameter is "
                             "either searched or fixed")
    return fixed
