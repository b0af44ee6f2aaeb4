"""SIGKILL the real driver process at several moments; the resumed study equals an uninterrupted one."""

import csv
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import run_killed_at, toy_config

pytestmark = pytest.mark.slow  # rounds of SIGKILL and resume in real processes

COMPARED = ("number", "generation", "idx", "status", "value", "told_value", "unit",
            "param_x0", "param_x1", "param_k")


def write_config(path, algorithm):
    config = toy_config("toy_objectives:slow_sphere", evaluations=34, population=6,
                        algorithm=algorithm, seed=11, workers=2,
                        space={"x0": {"type": "float", "low": 0.0, "high": 1.0},
                               "x1": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
                               "k": {"type": "int", "low": 1, "high": 5}})
    lines = []
    for section, table in config.items():
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml(v)}" for k, v in scalars.items()]
        for sub, subtable in table.items():
            if isinstance(subtable, dict):
                lines.append(f"[{section}.{sub}]")
                lines += [f"{k} = {_toml(v)}" for k, v in subtable.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if not isinstance(v, str) else f'"{v}"'


def start(args, env):
    return subprocess.Popen([sys.executable, "-m", "autodehypo", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finished_trials(directory):
    db = directory / "study.db"
    if not db.exists():
        return -1
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM trials WHERE status IN "
                                "('complete', 'failed')").fetchone()[0]
    except sqlite3.OperationalError:  # schema not written yet
        return -1


def kill_when(proc, directory, at_least):
    deadline = time.monotonic() + 60
    while finished_trials(directory) < at_least:
        assert proc.poll() is None, f"driver ended before the kill point: {proc.stderr.read()}"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def export(directory, env):
    out = subprocess.run([sys.executable, "-m", "autodehypo", "export", str(directory)],
                         capture_output=True, text=True, env=env, check=True)
    return [{k: r[k] for k in COMPARED} for r in csv.DictReader(io.StringIO(out.stdout))]


@pytest.mark.parametrize("algorithm, kill_points", [
    ("de", [0, 1, 6, 9, 17, 30]),      # before any result, mid-generation, at boundaries, late
    ("jde", [3, 12, 13, 25]),
])
def test_sigkill_then_resume_equals_uninterrupted(tmp_path, subprocess_env, algorithm, kill_points):
    env = {**subprocess_env, "TOY_SLEEP": "0.15"}
    config = write_config(tmp_path / "c.toml", algorithm)
    reference = tmp_path / "reference"
    proc = start(["run", str(config), "--dir", str(reference)], env)
    assert proc.wait() == 0, proc.stderr.read()

    killed = tmp_path / "killed"
    proc = start(["run", str(config), "--dir", str(killed)], env)
    for point in kill_points:
        kill_when(proc, killed, point)
        status = subprocess.run([sys.executable, "-m", "autodehypo", "status", str(killed)],
                                capture_output=True, text=True, env=env).stdout
        assert "driver gone" in status and "running:      0" in status
        proc = start(["resume", str(killed)], env)
    assert proc.wait() == 0, proc.stderr.read()

    got, want = export(killed, env), export(reference, env)
    assert len(want) == 34
    assert got == want
    status = subprocess.run([sys.executable, "-m", "autodehypo", "status", str(killed)],
                            capture_output=True, text=True, env=env).stdout
    assert "state:        finished" in status


def test_random_kill_times(tmp_path, subprocess_env):
    env = {**subprocess_env, "TOY_SLEEP": "0.1"}
    config = write_config(tmp_path / "c.toml", "jde")
    reference = tmp_path / "reference"
    assert start(["run", str(config), "--dir", str(reference)], env).wait() == 0
    killed = tmp_path / "killed"
    rng = np.random.default_rng(int(os.environ.get("KILL_SEED", "2026")))
    run_killed_at(config, killed, env, rng.uniform(0.05, 1.5, size=6))
    assert export(killed, env) == export(reference, env)


def test_resume_with_repeated_configurations_equals_uninterrupted(tmp_path, subprocess_env):
    """On a small grid most trials repeat earlier ones and are answered from the record."""
    env = {**subprocess_env, "TOY_SLEEP": "0.1", "TOY_RUNS_FILE": str(tmp_path / "runs.txt")}
    config = tmp_path / "c.toml"
    config.write_text('[study]\nalgorithm = "jde"\nseed = 5\npopulation = 6\n[study.budget]\nevaluations = 36\n'
                      '[space.a]\ntype = "categorical"\nchoices = [0, 1, 2, 3]\n'
                      '[space.b]\ntype = "categorical"\nchoices = ["x", "y", "z"]\n'
                      '[objective]\ntype = "python"\nfunction = "toy_objectives:counted_grid_str"\n'
                      '[executor]\nworkers = 2\n')
    reference = tmp_path / "reference"
    assert start(["run", str(config), "--dir", str(reference)], env).wait() == 0
    killed = tmp_path / "killed"
    proc = start(["run", str(config), "--dir", str(killed)], env)
    for point in (2, 9, 20):
        kill_when(proc, killed, point)
        proc = start(["resume", str(killed)], env)
    assert proc.wait() == 0, proc.stderr.read()
    compared = ("number", "generation", "idx", "status", "value", "told_value", "param_a", "param_b")
    def table(directory):
        out = subprocess.run([sys.executable, "-m", "autodehypo", "export", str(directory)],
                             capture_output=True, text=True, env=env, check=True).stdout
        return [{k: r[k] for k in compared} for r in csv.DictReader(io.StringIO(out))]
    assert table(killed) == table(reference)
    assert len({(r["param_a"], r["param_b"]) for r in table(reference)}) < 36
