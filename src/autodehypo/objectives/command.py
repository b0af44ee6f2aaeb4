from __future__ import annotations

import json
import os
import re
import selectors
import shlex
import shutil
import signal
import string
import subprocess
from typing import Any, Mapping, Sequence

from ..continuation import fidelity_context
from ..processes import die_with_parent
from .python import _check_fixed

TRIAL_FIELDS = ("trial_dir", "continues_dir", "max_fidelity")  # placeholders besides the parameters
MAX_COMMAND_CHARS = 8192  # a longer command line belongs in a script; shlex needs ~30 us a character
_STDOUT_KEPT = 1 << 20  # the result is on the last line: keep that much of the end of stdout
_STDERR_KEPT = 4096
_REASON_LINES, _REASON_CHARS = 3, 300


class CommandObjective:
    """Runs a command line per trial; its last stdout line is a JSON number or object.

    ``command`` is a template such as ``"python train.py --lr {lr}"`` (split
    like a shell would, once, before substitution) or a list of arguments.
    Values are substituted into single arguments and the command is run as an
    argument list, never through a shell, so no value can run as code. Besides
    the hyperparameters, ``{trial_dir}`` is the trial's own directory, and in a
    multi-fidelity study ``{continues_dir}`` the directory of the trial whose
    training this one continues (empty when none) and ``{max_fidelity}`` the
    study's largest fidelity.
    """

    def __init__(self, *, command: str | Sequence[str], fixed: Mapping[str, Any] | None = None,
                 key: str = "objective", cwd: str | None = None,
                 param_names: list[str] | None = None):
        from . import ObjectiveError
        self.key = key
        self.cwd = cwd
        self.fixed = _check_fixed(fixed, param_names)
        if isinstance(command, str) and len(command) > MAX_COMMAND_CHARS:
            raise ObjectiveError(f"objective.command: {len(command)} characters, at most "
                                 f"{MAX_COMMAND_CHARS}; put a longer command line in a script")
        if isinstance(command, (list, tuple)) and sum(len(a) for a in command if isinstance(a, str)) \
                > MAX_COMMAND_CHARS:
            raise ObjectiveError(f"objective.command: more than {MAX_COMMAND_CHARS} characters in all; "
                                 "put a longer command line in a script")
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
        reserved = sorted((set(param_names or []) | set(self.fixed)) & set(TRIAL_FIELDS))
        if reserved:
            raise ObjectiveError(f"objective.command: a parameter may not be named {reserved[0]!r}: "
                                 f"{{{reserved[0]}}} is the trial's own placeholder; rename the parameter")
        known = set(param_names or []) | set(self.fixed) | set(TRIAL_FIELDS)
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

    def prepare(self) -> None:
        """Before any trial runs: the program exists and can run (from PATH, or a path from the
        trial's working directory), and so does a Python script or ``-m`` module it is given."""
        from . import ObjectiveError
        program, rest = self.argv[0], self.argv[1:]
        if self.cwd is not None and not os.path.isdir(self.cwd):
            raise ObjectiveError(f"objective.cwd: {self.cwd!r} is not a directory")
        if "{" in program:
            return  # set per trial: nothing to check yet
        base = self.cwd or os.getcwd()
        if os.sep in program:
            path = os.path.join(base, program)
            if not os.path.isfile(path):
                raise ObjectiveError(f"objective.command: the program {program!r} does not exist"
                                     + ("" if os.path.isabs(program) else f" (looked in {base})"))
            if not os.access(path, os.X_OK):
                raise ObjectiveError(f"objective.command: the program {program!r} is not executable "
                                     f"(chmod +x {program}, or run it through its interpreter)")
            resolved = path
        else:
            resolved = shutil.which(program)
            if resolved is None:
                raise ObjectiveError(f"objective.command: the program {program!r} is not on PATH; "
                                     "install it, or give its path")
        if _PYTHON.fullmatch(os.path.basename(program)) and rest:
            _check_python_target(resolved, rest, base)

    def arguments(self, params: dict[str, Any]) -> list[str]:
        context = fidelity_context() or {}
        trial = {"trial_dir": os.environ.get("AUTODEHYPO_TRIAL_DIR", ""),
                 "continues_dir": context.get("continues_dir") or "",
                 "max_fidelity": context.get("max_fidelity", "")}
        values = {**trial, **self.fixed, **params}
        return [arg.format_map(values) for arg in self.argv]

    def __call__(self, params: dict[str, Any]) -> Any:
        argv = self.arguments(params)
        # The command stays in the trial's process group (no new session), so that whatever it
        # starts ends with the trial; its stderr goes to the trial's log and its end to the reason.
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=self.cwd, preexec_fn=die_with_parent)
        stdout, stderr = _follow(proc)
        returncode = proc.wait()
        if returncode != 0:
            if returncode < 0:
                try:
                    how = f"killed by signal {signal.Signals(-returncode).name}"
                except ValueError:
                    how = f"killed by signal {-returncode}"
            else:
                how = f"exited with code {returncode}"
            tail = _last_lines(stderr)
            raise RuntimeError(f"command {how}" + (f"; stderr ends: {tail}" if tail else ""))
        lines = [line for line in stdout.decode(errors="replace").splitlines() if line.strip()]
        if not lines:
            raise RuntimeError("command printed nothing; its last line must be a JSON result")
        try:
            return json.loads(lines[-1])
        except json.JSONDecodeError:
            raise RuntimeError(f"last line of output is not JSON: {lines[-1][:200]!r}") from None


_PYTHON = re.compile(r"python[0-9.]*")


def _check_python_target(python: str, args: list[str], base: str) -> None:
    """``python script.py ...``: the script exists; ``python -m module ...``: the interpreter finds
    the module (asked in a subprocess: it may be another Python than this one)."""
    from . import ObjectiveError
    if args[0] == "-m" and len(args) > 1 and "{" not in args[1]:
        module = args[1]
        check = ("import importlib.util, sys\n"
                 "try:\n    found = importlib.util.find_spec(sys.argv[1]) is not None\n"
                 "except Exception:\n    found = False\n"
                 "sys.exit(0 if found else 3)")
        try:
            found = subprocess.run([python, "-c", check, module], cwd=base, capture_output=True,
                                   timeout=60).returncode
        except (OSError, subprocess.TimeoutExpired):
            return  # the interpreter itself will say what is wrong when the trial runs
        if found == 3:
            raise ObjectiveError(f"objective.command: {python} cannot find the module {module!r} "
                                 f"(python -m {module}, run in {base})")
    elif not args[0].startswith("-") and "{" not in args[0]:
        script = os.path.join(base, args[0])
        if not os.path.isfile(script):
            raise ObjectiveError(f"objective.command: the script {args[0]!r} does not exist"
                                 + ("" if os.path.isabs(args[0]) else f" (looked in {base})"))


def _follow(proc: subprocess.Popen) -> tuple[bytes, bytes]:
    """Read the command's stdout (its end kept) and stderr (copied to ours, its end kept).

    Until the command exits, not until its pipes close: a process it started in the
    background may hold them open for as long as it runs (it ends with the trial).
    """
    out, err = bytearray(), bytearray()
    streams = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    for fd in streams:
        os.set_blocking(fd, False)
    with selectors.DefaultSelector() as selector:
        for fd, buffer in streams.items():
            selector.register(fd, selectors.EVENT_READ, buffer)
        while selector.get_map():
            exited = proc.poll() is not None
            ready = [key for key, _ in selector.select(timeout=0 if exited else 0.1)]
            for key in ready:
                if not _read(key.fd, key.data, err):
                    selector.unregister(key.fd)
            if exited and not ready:
                break  # what it wrote before exiting has been read
    proc.stdout.close()
    proc.stderr.close()
    return bytes(out), bytes(err)


def _read(fd: int, buffer: bytearray, err: bytearray) -> bool:
    """Read what is there now; False at end of file."""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        buffer.extend(chunk)
        if buffer is err:
            _write_all(2, chunk)
            del buffer[:-_STDERR_KEPT]
        else:
            del buffer[:-_STDOUT_KEPT]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except OSError:
            return  # a log that cannot be written must not fail the trial


def _last_lines(stderr: bytes) -> str:
    """The last few non-empty lines of stderr as one line, capped."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    text = " | ".join(lines[-_REASON_LINES:])
    return text if len(text) <= _REASON_CHARS else "..." + text[-(_REASON_CHARS - 3):]
