"""Studies of several objectives: config, told vectors, the front in reports and export, resume."""

import csv
import io
import json
import math
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from autodehypo.algorithms.pareto import dominates
from autodehypo.config import ConfigError, parse_config
from autodehypo.reports.data import load_study
from autodehypo.reports.front import front_trials
from autodehypo.reports.text import report_text
from autodehypo.storage import COMPLETE, FAILED, Storage
from autodehypo.study import Study
from conftest import export_rows, toy_config

TWO = [{"name": "objective"}, {"name": "f2"}]


def mo_config(objective="toy_objectives:zdt1", *, objectives=TWO, **kwargs):
    extra = {"objectives": objectives, **kwargs.pop("extra_study", {})}
    kwargs.setdefault("algorithm", "gde3")
    return toy_config(objective, dims=3, extra_study=extra, **kwargs)


def run_study(directory, config):
    study = Study.create(directory, config)
    try:
        return study.run()
    finally:
        study.close()


# -- config ---------------------------------------------------------------------
def test_objectives_parse_and_default_to_screened_gde3_shade():
    raw = mo_config()
    del raw["study"]["algorithm"]
    cfg = parse_config(raw)
    assert (cfg.algorithm, cfg.options, cfg.n_objectives) == ("gde3-shade", {
        "prescreen": 32, "mutation": "current-to-pbest/1", "p": 0.5, "redraws": 8, "redraw_below": 0.01}, 2)
    assert [(o.name, o.direction) for o in cfg.objectives] == [("objective", "minimize"), ("f2", "minimize")]
    assert parse_config(toy_config()).objectives == () and parse_config(toy_config()).n_objectives == 1


def test_three_objectives_default_to_hypervolume_pruning_from_version_10(tmp_path):
    raw = mo_config("toy_objectives:dtlz2", objectives=[*TWO, {"name": "f3"}], evaluations=36, population=None)
    del raw["study"]["algorithm"], raw["study"]["population"]
    raw["space"]["x3"] = {"type": "float", "low": 0.0, "high": 1.0}
    assert parse_config(raw).options == {"prescreen": 32, "mutation": "current-to-pbest/1", "p": 0.5,
                                         "redraws": 8, "redraw_below": 0.01, "pruning": "hypervolume"}
    assert "pruning" not in parse_config(raw, defaults=9).options  # older study files keep theirs
    study = Study.create(tmp_path / "three", raw)
    try:
        study.run()
        assert study.storage.current_state()["state"]["pruning"] == "hypervolume"
        assert "gde3-shade current-to-pbest/1 (p 0.5) pruned by hypervolume, prescreen 32" in \
            report_text(study.storage)
    finally:
        study.close()


@pytest.mark.parametrize("change, message", [
    ({"algorithm": "de"}, "de optimizes one objective, not 2; choose one of gde3, gde3-shade"),
    ({"objectives": [{"name": "objective"}]}, "two or more tables"),
    ({"objectives": "energy"}, "two or more tables"),
    ({"objectives": [{"name": "objective"}, {"name": "objective"}]}, "'objective' is named twice"),
    ({"objectives": [{"name": "objective"}, {"name": "f2", "direction": "down"}]},
     "study.objectives[1].direction"),
    ({"objectives": [{"name": "objective"}, {"nam": "f2"}]}, "study.objectives[1]: unknown key"),
    ({"objectives": [{"name": "objective"}, {"name": ""}]}, "study.objectives[1].name"),
    ({"direction": "maximize"}, "give each objective its direction there"),
    ({"failure_value": 3.0}, "a number applies to one objective"),
])
def test_bad_objectives_are_one_line_config_errors(change, message):
    raw = mo_config()
    raw["study"].update(change)
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_multi_objective_algorithm_needs_objectives():
    with pytest.raises(ConfigError, match="gde3-shade optimizes two or more objectives: set study.objectives"):
        parse_config(toy_config(algorithm="gde3-shade"))


# -- the study ------------------------------------------------------------------
@pytest.mark.parametrize("algorithm, schedule, options", [
    ("gde3", "generational", {}), ("gde3-shade", "async", {}),
    ("gde3", "async", {"prescreen": 8}), ("gde3-shade", "generational", {"prescreen": 8})])
def test_failed_trials_are_told_inf_and_never_enter_the_front(tmp_path, algorithm, schedule, options):
    """zdt1_failing raises where x0 < 0.2 and leaves out the metric f2 where x0 > 0.9."""
    config = mo_config("toy_objectives:zdt1_failing", algorithm=algorithm, evaluations=40,
                       extra_study={"schedule": schedule, "options": options})
    progress = run_study(tmp_path / "s", config)
    trials = Storage.open(tmp_path / "s", readonly=True).trials()
    failed = [t for t in trials if t.status == FAILED]
    missing = [t for t in failed if "f2" in (t.error or "")]
    assert failed and missing, "the toy must fail both ways for this test to mean anything"
    assert missing[0].error == "objective 'f2' not in the trial's metrics: none"
    for t in failed:
        assert t.told_values == [math.inf, math.inf] and t.told_value == math.inf
        assert t.value is None and t.objective_values is None
    done = [t for t in trials if t.status == COMPLETE]
    for t in done:
        assert t.value == t.objective_values[0] and t.told_values == t.objective_values
    front = front_trials(trials, load_study(tmp_path / "s").objectives)
    numbers = {t.number for t in front}
    assert numbers and not numbers & {t.number for t in failed}
    F = np.array([t.objective_values for t in done])
    for t in front:  # no completed trial dominates a member; every non-member is dominated
        assert not dominates(F, np.array(t.objective_values)).any()
    for t in done:
        if t.number not in numbers:
            assert dominates(np.array([m.objective_values for m in front]), np.array(t.objective_values)).any()
    assert progress.front_size == len(front) and progress.failed == len(failed)
    rows = export_rows(tmp_path / "s")
    assert {int(r["number"]) for r in rows if r["front"] == "1"} == numbers
    assert all(r["front"] == "0" for r in rows if r["status"] == "failed")


def test_maximized_objective_and_a_metric_first(tmp_path):
    """The first objective a metric, maximized: told with the sign flipped; the objective's own
    value is kept among the metrics."""
    objectives = [{"name": "f2", "direction": "maximize"}, {"name": "objective"}]
    run_study(tmp_path / "s", mo_config(objectives=objectives, evaluations=16))
    trials = Storage.open(tmp_path / "s", readonly=True).trials()
    for t in trials:
        f2, f1 = t.objective_values
        assert t.value == f2 and t.metrics["objective"] == f1
        assert t.told_values == [-f2, f1]
    front = front_trials(trials, load_study(tmp_path / "s").objectives)
    assert [t.value for t in front] == sorted((t.value for t in front), reverse=True)  # best first


def test_repeats_are_answered_with_the_recorded_vector_and_stay_off_the_front(tmp_path):
    config = toy_config("toy_objectives:grid_two", algorithm="gde3", evaluations=36, population=6,
                        space={"a": {"type": "categorical", "choices": [0, 1, 2, 3]},
                               "b": {"type": "categorical", "choices": [0, 1, 2]}},
                        extra_study={"objectives": [{"name": "objective"}, {"name": "cost"}]})
    run_study(tmp_path / "s", config)
    trials = Storage.open(tmp_path / "s", readonly=True).trials()
    by_number = {t.number: t for t in trials}
    repeats = [t for t in trials if "repeat_of" in t.metrics]
    assert repeats
    for t in repeats:
        assert t.objective_values == by_number[t.metrics["repeat_of"]].objective_values
        assert t.energy_j == 0.0
    front = front_trials(trials, load_study(tmp_path / "s").objectives)
    assert not {t.number for t in front} & {t.number for t in repeats}
    assert len({tuple(t.params.items()) for t in front}) == len(front)


def test_energy_objective_and_its_source_in_the_report(tmp_path, subprocess_env):
    config = mo_config(objectives=[{"name": "objective"}, {"name": "energy"}], evaluations=16)
    run_study(tmp_path / "s", config)
    trials = Storage.open(tmp_path / "s", readonly=True).trials()
    assert all(t.objective_values[1] == t.energy_j for t in trials if t.status == COMPLETE)
    out = subprocess.run([sys.executable, "-m", "autodehypo", "report", str(tmp_path / "s")],
                         capture_output=True, text=True, env=subprocess_env, check=True).stdout
    assert "energy objective measured by: estimate (16 trials)" in out


def test_zdt1_end_to_end_through_the_cli(tmp_path, subprocess_env):
    config = tmp_path / "zdt.toml"
    config.write_text("""
[study]
name = "zdt"
seed = 4
population = 8
objectives = [{ name = "objective" }, { name = "f2" }]
[study.budget]
evaluations = 32
[space.x0]
type = "float"
low = 0.0
high = 1.0
[space.x1]
type = "float"
low = 0.0
high = 1.0
[objective]
type = "python"
function = "toy_objectives:zdt1"
[executor]
workers = 2
""")
    directory = tmp_path / "zdt"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "autodehypo", *args], capture_output=True,
                              text=True, env=subprocess_env)

    run = cli("run", str(config), "--dir", str(directory))
    assert run.returncode == 0, run.stderr
    assert "front:" in run.stdout and "knee:    trial" in run.stdout
    assert "front " in run.stderr  # the progress line
    study = load_study(directory)
    front = front_trials(study.trials, study.objectives)
    text = cli("report", str(directory)).stdout
    assert ("(gde3-shade current-to-pbest/1 (p 0.5), prescreen 32 (8 redrawn where spread < 0.01), seed 4, "
            "2 objectives)") in text
    assert "Pareto front of zdt" in text
    assert f"{len(front)} trials on the front of 32 completed (0 failed, never on it)" in text
    assert "hypervolume: " in text and "reference point 1.1 in each" in text
    for fmt, marker in (("md", "| trial | objective (min) | f2 (min) | x0 | x1 | knee |"),
                        ("latex", r"trial & objective (min) & f2 (min) & x0 & x1 & knee \\"),
                        ("html", "<h2>Pareto front</h2>")):
        out = cli("report", str(directory), "--format", fmt)
        assert out.returncode == 0 and marker in out.stdout, (fmt, out.stderr)
    table = text[text.index("Pareto front of zdt"):].splitlines()[3:3 + len(front)]
    assert [int(line.split()[0]) for line in table] == [t.number for t in front]
    assert sum("knee" in line for line in table) == 1
    for kind, x in (("pareto", "evaluations"), ("hypervolume", "evaluations"), ("hypervolume", "energy")):
        out = cli("plot", str(directory), "--kind", kind, "--x", x, "-o", str(tmp_path / f"{kind}-{x}.png"))
        assert out.returncode == 0 and (tmp_path / f"{kind}-{x}.png").stat().st_size > 1000, out.stderr
    wrong = cli("plot", str(directory), "--kind", "hypervolume", "--x", "time", "-o", str(tmp_path / "t.png"))
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1
    # ZDT1's front is f2 = 1 - sqrt(f1) at x1 = 0; 32 evaluations get within reach of it.
    gaps = [t.objective_values[1] - (1 - math.sqrt(t.objective_values[0])) for t in front]
    assert min(gaps) < 1.0


def test_bad_objectives_on_the_command_line_are_one_line(tmp_path, subprocess_env):
    config = tmp_path / "bad.toml"
    config.write_text('[study]\nalgorithm = "de"\nobjectives = [{ name = "objective" }, { name = "energy" }]\n'
                      '[study.budget]\nevaluations = 4\n[space.x]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n'
                      '[objective]\ntype = "python"\nfunction = "toy_objectives:sphere"\n')
    out = subprocess.run([sys.executable, "-m", "autodehypo", "run", str(config), "--dir", str(tmp_path / "s")],
                         capture_output=True, text=True, env=subprocess_env)
    assert out.returncode == 2
    assert out.stderr == ("autodehypo: config error: study.algorithm: de optimizes one objective, not 2; "
                          "choose one of gde3, gde3-shade\n")


def test_an_older_file_gets_the_objective_columns(tmp_path):
    run_study(tmp_path / "s", toy_config(evaluations=8))
    with sqlite3.connect(tmp_path / "s" / "study.db") as conn:
        conn.execute("ALTER TABLE trials DROP COLUMN told_values")
        conn.execute("ALTER TABLE trials DROP COLUMN objective_values")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")  # as version 1 wrote it
    reader = Storage.open(tmp_path / "s", readonly=True)
    assert all(t.objective_values is None for t in reader.trials())
    reader.close()
    Storage.open(tmp_path / "s").close()
    with sqlite3.connect(tmp_path / "s" / "study.db") as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(trials)")}
    assert {"objective_values", "told_values"} <= columns
    rows = export_rows(tmp_path / "s")
    assert "front" not in rows[0] and len(rows) == 8  # one objective: the export is as before


# -- resume ---------------------------------------------------------------------
RESUME_TOML = """
[study]
algorithm = "{algorithm}"
seed = 7
population = 6
schedule = "{schedule}"
objectives = [{{ name = "objective" }}, {{ name = "f2" }}]
{options}
[study.budget]
evaluations = 30
[space.x0]
type = "float"
low = 0.0
high = 1.0
[space.x1]
type = "float"
low = 0.0
high = 1.0
[space.x2]
type = "float"
low = 0.0
high = 1.0
[objective]
type = "python"
function = "toy_objectives:slow_zdt1"
[executor]
workers = 2
"""
RESUME_COMPARED = ("number", "generation", "idx", "status", "value", "told_value", "objective_values",
                   "told_values", "unit", "front")


@pytest.mark.slow
@pytest.mark.parametrize("algorithm, schedule, kill_points", [
    ("gde3", "generational", [0, 5, 6, 13, 25]),
    ("gde3-shade", "generational", [3, 12, 19]),
    ("gde3-shade:prescreen", "generational", [4, 11, 20]),
])
def test_sigkill_then_resume_equals_uninterrupted(tmp_path, subprocess_env, algorithm, schedule, kill_points):
    from test_resume import kill_when, start
    env = {**subprocess_env, "TOY_SLEEP": "0.15"}
    config = tmp_path / "c.toml"
    algorithm, screened = algorithm.split(":")[0], ":prescreen" in algorithm
    config.write_text(RESUME_TOML.format(algorithm=algorithm, schedule=schedule,
                                         options="options = { prescreen = 8 }" if screened else ""))
    reference = tmp_path / "reference"
    proc = start(["run", str(config), "--dir", str(reference)], env)
    assert proc.wait() == 0, proc.stderr.read()
    killed = tmp_path / "killed"
    proc = start(["run", str(config), "--dir", str(killed)], env)
    for point in kill_points:
        kill_when(proc, killed, point)
        proc = start(["resume", str(killed)], env)
    assert proc.wait() == 0, proc.stderr.read()

    def table(directory):
        out = subprocess.run([sys.executable, "-m", "autodehypo", "export", str(directory)],
                             capture_output=True, text=True, env=env, check=True).stdout
        return [{k: r[k] for k in RESUME_COMPARED} for r in csv.DictReader(io.StringIO(out))]
    got, want = table(killed), table(reference)
    assert len(want) == 30 and got == want
    assert Storage.open(killed, readonly=True).current_state()["state"] == \
        Storage.open(reference, readonly=True).current_state()["state"]


@pytest.mark.slow
def test_async_sigkill_at_random_moments_then_resume(tmp_path, subprocess_env):
    """With the async schedule the search follows the order results arrive, which no seed fixes: the
    killed and resumed study must equal a fresh optimizer told its recorded order, ask for ask, and end
    in the same state (as for one objective in test_async_study)."""
    import os

    from conftest import run_killed_at
    from test_async_study import replay
    env = {**subprocess_env, "TOY_SLEEP": "0.4"}  # 6 s of trials: the kills land while it runs
    config = tmp_path / "c.toml"
    config.write_text(RESUME_TOML.format(algorithm="gde3-shade", schedule="async", options=""))
    directory = tmp_path / "killed"
    rng = np.random.default_rng(int(os.environ.get("KILL_SEED", "21")))
    kills = run_killed_at(config, directory, env, rng.uniform(0.3, 1.5, size=6))
    assert kills >= 3
    opt, trials = replay(directory)
    assert len(trials) == 30 and all(t.told_values is not None for t in trials)
    assert opt.evaluations == 30 and opt.pending_ids() == []
    storage = Storage.open(directory, readonly=True)
    stored = storage.current_state()["state"]
    storage.close()
    assert stored == json.loads(json.dumps(opt.state_dict()))
