import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))


@pytest.fixture
def subprocess_env():
    """Environment for `autodehypo` subprocesses: the toy objectives importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def toy_config(objective="toy_objectives:sphere", *, evaluations=40, population=8, dims=2,
               algorithm="de", seed=3, workers=2, extra_study=None, executor=None, space=None):
    config = {
        "study": {"name": "toy", "algorithm": algorithm, "seed": seed, "population": population,
                  "budget": {"evaluations": evaluations}, **(extra_study or {})},
        "space": space or {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(dims)},
        "objective": {"type": "python", "function": objective},
        "executor": {"workers": workers, **(executor or {})},
    }
    return config


def toy_toml(*, seed, evaluations):
    """A small study as a user writes it: DE on slow_sphere over two floats, two workers."""
    return f"""
[study]
name = "toy"
algorithm = "de"
seed = {seed}
population = 6
[study.budget]
evaluations = {evaluations}
[space.x0]
type = "float"
low = 0.0
high = 1.0
[space.x1]
type = "float"
low = -1.0
high = 1.0
[objective]
type = "python"
function = "toy_objectives:slow_sphere"
[executor]
workers = 2
"""


def export_rows(directory):
    """A study's trials as `autodehypo export` writes them, one dict per CSV row."""
    out = subprocess.run([sys.executable, "-m", "autodehypo", "export", str(directory)],
                         capture_output=True, text=True, check=True).stdout
    return list(csv.DictReader(io.StringIO(out)))


def run_killed_at(config, directory, env, delays):
    """`autodehypo run` a study, SIGKILL its driver after each delay (seconds) while it runs and
    start it again (`resume`, or `run` when killed before the study file appeared), as a user
    would; wait for the last driver to finish. Returns how many kills landed."""
    import signal
    import time

    def start(args):
        return subprocess.Popen([sys.executable, "-m", "autodehypo", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc, kills = start(["run", str(config), "--dir", str(directory)]), 0
    for delay in delays:
        time.sleep(delay)
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        proc = start(["resume", str(directory)] if (directory / "study.db").exists()
                     else ["run", str(config), "--dir", str(directory)])
    assert proc.wait() == 0, proc.stderr.read()
    return kills


def two_out(opt, told, stop=None, outstanding=()):
    """Drive a search with two candidates out at a time, the later told first, ``told(candidate)``
    giving its (value, cost). Works for both schedules; ``outstanding``: a resumed run's pending
    candidates. Returns the points asked, in order."""
    asked, out = [], list(outstanding)
    while stop is None or len(asked) < stop:
        c = opt.ask()
        if c is None and not out:
            break
        if c is not None:
            out.append(c)
            asked.append(c.x)
        if len(out) == 2 or (c is None and out):
            done = out.pop()
            opt.tell(done.id, *told(done))
    return asked
