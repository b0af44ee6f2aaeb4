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
