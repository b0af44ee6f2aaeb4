"""Any config file gives a config or one line with exit 2 or 3, and nothing on disk.

Hundreds of configs made by mutating a valid one with a seeded generator: wrong types,
huge, infinite and NaN numbers, unknown keys, odd strings, NUL characters, deep nesting,
bytes that are not UTF-8. Valid results are checked with ``run --check``, so no study runs.
"""

import copy
import json
import math
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from autodehypo.cli import main

BASE = {
    "study": {"name": "fuzz", "algorithm": "de", "seed": 1, "population": 6, "direction": "minimize",
              "failure_value": "worst", "budget": {"evaluations": 12, "wall_time": "1h", "energy": "1 kWh"},
              "options": {"strategy": "rand/1/bin", "F": 0.5, "CR": 0.9}},
    "space": {"x0": {"type": "float", "low": 0.0, "high": 1.0},
              "n": {"type": "int", "low": 1, "high": 64, "log": True},
              "opt": {"type": "categorical", "choices": ["sgd", "adam"]}},
    "objective": {"type": "python", "function": "toy_objectives:sphere", "fixed": {"epochs": 1}},
    "executor": {"type": "local", "workers": 2, "timeout": "5m"},
    "energy": {"meters": ["auto"], "watts_per_core": 10.0, "grid_intensity": 350},
}

# The study's other shapes, each a valid start for the mutations: multi-fidelity brackets, two
# objectives, and the async schedule with pre-screening weighed by cost.
MULTI_FIDELITY = {**BASE, "study": {**BASE["study"], "fidelity": {"param": "epochs", "min": 1, "max": 9, "eta": 3}},
                  "objective": {"type": "python", "function": "toy_objectives:sphere"}}
TWO_OBJECTIVES = {**BASE, "study": {k: v for k, v in BASE["study"].items()
                                    if k not in ("direction", "failure_value", "options")}}
TWO_OBJECTIVES["study"].update(algorithm="gde3", objectives=[{"name": "objective"},
                                                            {"name": "energy", "direction": "minimize"}])
ASYNC_PRESCREEN = {**BASE, "study": {**BASE["study"], "algorithm": "lshade", "schedule": "async", "noisy": True,
                                     "options": {"prescreen": 8, "cost_weight": 0.4}}}
BASES = [BASE, MULTI_FIDELITY, TWO_OBJECTIVES, ASYNC_PRESCREEN]

VALUES = [0, -1, 1, 3, 10 ** 12, 2 ** 63 - 1, -2 ** 63, 1.7e308, -1.7e308, 5e-324, math.inf, -math.inf,
          math.nan, 0.5, -0.0, True, False, "", "x", "x" * 300, "x" * 9000, "a\x00b", "\u00e9\u2603",
          "../..", "/", "slurm", "rand/1/bin", "1h", "inf", "10 kWh", "nan s", [], [1, "a"], {},
          {"type": "float"}, {"k": [[[1]]]}, "command", "mnist_cnn", "vision", "python", "true {x0}",
          "toy_objectives:nope", {"NODE_FAIL": -1}, "4G", ["rapl"], "slurm", "async", "generational",
          1.0001, 1e-300, 1e300, 1000000, [{"name": "objective"}], [{"name": "energy"}, {"name": "energy"}],
          {"param": "epochs", "min": 1, "max": 1000000, "eta": 1.0001}, {"param": "trial_dir", "min": 1, "max": 9},
          {"name": "cpu_time", "direction": "maximize"}]
KEYS = ["type", "low", "high", "name", "population", "strategy", "choices", "zzz", "x" * 150, "a\x00",
        "command", "key", "function", "fixed", "meters", "budget_source", "retry", "sbatch", "mem", "time",
        "dither", "algorithm", "cwd", "model", "dataset", "schedule", "fidelity", "objectives", "noisy",
        "prescreen", "cost_weight", "eta", "param", "min", "max", "direction"]


def toml_key(key):
    return json.dumps(key)  # a TOML basic string is a JSON string for what json.dumps writes


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def to_toml(config):
    lines = []
    for section, table in config.items():
        if isinstance(table, dict):
            lines.append(f"[{toml_key(section)}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
        else:
            lines.insert(0, f"{toml_key(section)} = {toml_value(table)}")
    return "\n".join(lines) + "\n"


def tables(config, path=()):
    yield path, config
    for key, value in config.items():
        if isinstance(value, dict):
            yield from tables(value, path + (key,))


def mutate(rng):
    config = json.loads(json.dumps(BASES[rng.integers(len(BASES))]))
    for _ in range(int(rng.integers(1, 4))):
        all_tables = list(tables(config))
        _, table = all_tables[rng.integers(len(all_tables))]
        kind = rng.integers(5)
        if kind == 0 or not table:  # a new or unknown key
            table[KEYS[rng.integers(len(KEYS))]] = copy.deepcopy(VALUES[rng.integers(len(VALUES))])
        elif kind == 1:  # a value replaced
            key = list(table)[rng.integers(len(table))]
            table[key] = copy.deepcopy(VALUES[rng.integers(len(VALUES))])
        elif kind == 2:  # a key removed
            del table[list(table)[rng.integers(len(table))]]
        elif kind == 3:  # a value nested deeply
            key = list(table)[rng.integers(len(table))]
            value = table[key]
            for _ in range(int(rng.integers(2, 40))):
                value = [value] if rng.random() < 0.5 else {"k": value}
            table[key] = value
        else:  # a number scaled far out
            numbers = [k for k, v in table.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if numbers:
                key = numbers[rng.integers(len(numbers))]
                table[key] = table[key] * float(rng.choice([-1.0, 1e300, 1e-300, 7.0]))
    text = to_toml(config).encode()
    kind = rng.integers(8)
    if kind == 0:  # bytes that are not UTF-8
        at = int(rng.integers(len(text)))
        text = text[:at] + bytes([0xff, 0xfe, 0x80]) + text[at:]
    elif kind == 1:  # a raw NUL byte
        at = int(rng.integers(len(text)))
        text = text[:at] + b"\x00" + text[at:]
    elif kind == 2:  # cut short
        text = text[:int(rng.integers(len(text)))]
    elif kind == 3:  # deep nesting the TOML parser must survive
        text += b"deep = " + b"[" * 5000 + b"]" * 5000 + b"\n"
    return text


@pytest.mark.parametrize("base", range(len(BASES)))
def test_each_starting_config_is_valid(tmp_path, capsys, base):
    """Otherwise every mutation of it would fail for the same reason and test nothing else."""
    config = tmp_path / "c.toml"
    config.write_text(to_toml(BASES[base]))
    assert main(["run", str(config), "--dir", str(tmp_path / "s"), "--check"]) == 0, capsys.readouterr().err


def test_mutated_configs_give_a_config_or_one_line(tmp_path, capsys):
    rng = np.random.default_rng(int(os.environ.get("FUZZ_SEED", "20260512")))
    codes = {0: 0, 2: 0, 3: 0}

    def too_long(signum, frame):
        raise TimeoutError("run --check took more than 20 s")  # it hung on a bracket schedule once

    previous = signal.signal(signal.SIGALRM, too_long)
    try:
        for i in range(480):
            config = tmp_path / f"c{i}.toml"
            config.write_bytes(mutate(rng))
            study = tmp_path / f"s{i}"
            signal.alarm(20)
            try:
                code = main(["run", str(config), "--dir", str(study), "--check"])
            finally:
                signal.alarm(0)
            out, err = capsys.readouterr()
            shown = f"config {i}:\n{config.read_bytes()[:3000]!r}\nstderr: {err}"
            assert code in codes, shown
            codes[code] += 1
            assert "Traceback" not in err, shown
            if code == 0:
                assert err == "" and out.startswith("config ok"), shown
            else:
                assert len(err.strip().splitlines()) == 1 and err.startswith("autodehypo: "), shown
                assert "internal error" not in err, shown
            assert not study.exists(), shown
    finally:
        signal.signal(signal.SIGALRM, previous)
    # The mutations reach both sides.
    assert codes[0] >= 20 and codes[2] >= 200, codes


def test_what_is_not_a_regular_file_is_refused_at_once(tmp_path, subprocess_env):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * (1 << 20) + b"\n")
    cases = {str(fifo): "a FIFO, not a regular file", "/dev/zero": "a device, not a regular file",
             str(tmp_path): "a directory, not a regular file", str(big): "bytes, at most 1048576"}
    for path, message in cases.items():
        run = subprocess.run([sys.executable, "-m", "autodehypo", "run", path, "--dir", str(tmp_path / "s")],
                             capture_output=True, text=True, env=subprocess_env, timeout=60)
        assert run.returncode == 2, (path, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1 and message in run.stderr, (path, run.stderr)
        assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("change, message", [
    ({"study": {"name": "n" * 300}}, "study.name: expected 1 to 100 letters, digits, spaces"),
    ({"study": {"population": 10 ** 12}}, "study.population: at most 1,000,000 candidates"),
    ({"study": {"options": {"strategy": 1}}}, "strategy must be one of"),
    ({"study": {"budget": {"wall_time": math.inf}}}, "study.budget.wall_time: must be a finite duration"),
    ({"space": {"x0": {"type": "float", "low": -1.7e308, "high": 1.7e308}}}, "space.x0: the range"),
    ({"objective": {"type": "command", "command": "x" * 9000}}, "characters, at most 8192"),
    ({"objective": {"fixed": {"s": "a\x00b"}}}, "objective.fixed.s: a NUL character"),
])
def test_the_testers_internal_errors_are_config_errors(tmp_path, capsys, change, message):
    config = json.loads(json.dumps(BASE))
    for section, table in change.items():
        for key, value in table.items():
            if isinstance(value, dict) and isinstance(config[section].get(key), dict):
                config[section][key].update(value)
            else:
                config[section][key] = value
    path = tmp_path / "c.toml"
    path.write_text(to_toml(config))
    assert main(["run", str(path), "--dir", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "s").exists()


def test_slurm_without_submitit_is_a_config_error_before_anything_exists(tmp_path, subprocess_env):
    config = json.loads(json.dumps(BASE))
    config["executor"] = {"type": "slurm"}
    path = tmp_path / "c.toml"
    path.write_text(to_toml(config))
    # sys.modules[name] = None is how Python itself marks a module as absent.
    code = ("import sys; sys.modules['submitit'] = None; from autodehypo.cli import main; "
            f"sys.exit(main(['run', {str(path)!r}, '--dir', {str(tmp_path / 's')!r}]))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env,
                         timeout=60)
    assert run.returncode == 2 and "needs submitit" in run.stderr, run.stderr
    assert not (tmp_path / "s").exists()
