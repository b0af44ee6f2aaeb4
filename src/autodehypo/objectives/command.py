from __future__ import annotations

import json
import shlex
import string
import subprocess
from typing import Any, Mapping, Sequence

from ..processes import die_with_parent
from .python import _check_fixed


class CommandObjective:
    """Runs a command line per trial; its last stdout line is a JSON number or object.

    ``command`` is a template such as ``"python train.py --lr {lr}"`` (split
    like a shell would, once, before substitution) or a list of arguments.
    Values are substituted into single arguments and the command is run as an
    argument list, never through a shell, so no value can run as code.
    """

    def __init__(self, *, command: str | Sequence[str], fixed: Mapping[str, Any] | None = None,
                 key: str = "objective", cwd: str | None = None,
                 param_names: list[str] | None = None):
        from . import ObjectiveError
        self.key = key
        self.cwd = cwd
        self.fixed = _check_fixed(fixed, param_names)
        if isinstance(command, str):
            try:
                self.argv = shlex.split(command)
            except ValueError as exc:
                raise ObjectiveError(f"objective.command: cannot split {command!r}: {exc}") from None
        elif isinstance(command, (list, tuple)) and all(isinstance(a, str) for a in command):
            self.argv = list(command)
        else:
            raise ObjectiveError(f"objective.command: expected a string or a list of strings, got {command!r}")
        if not self.argv:
            raise ObjectiveError("objective.command: empty command")
        known = set(param_names or []) | set(self.fixed)
        for arg in self.argv:
            try:
                fields = {f for _, f, _, _ in string.Formatter().parse(arg) if f is not None}
            except ValueError as exc:
                raise ObjectiveError(f"objective.command: bad template {arg!r}: {exc} "
                                     "(write {{ and }} for literal braces)") from None
            unknown = sorted(fields - known)
            if unknown:
                raise ObjectiveError(f"objective.command: {arg!r} names {unknown}, which are neither "
                                     f"in [space] nor in objective.fixed")

    def arguments(self, params: dict[str, Any]) -> list[str]:
        values = {**self.fixed, **params}
        return [arg.format_map(values) for arg in self.argv]

    def __call__(self, params: dict[str, Any]) -> Any:
        argv = self.arguments(params)
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=None, text=True,
                              cwd=self.cwd, preexec_fn=die_with_parent)
        if proc.returncode != 0:
            raise RuntimeError(f"command exited with code {proc.returncode}")
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        if not lines:
            raise RuntimeError("command printed nothing; its last line must be a JSON result")
        try:
            return json.loads(lines[-1])
        except json.JSONDecodeError:
            raise RuntimeError(f"last line of output is not JSON: {lines[-1][:200]!r}") from None
