"""Command-line objectives run as argument lists: hostile values never run as code."""

import re
import sys
from pathlib import Path

import pytest

from autodehypo import ConfigError, Study
from autodehypo.execution import LocalExecutor
from autodehypo.objectives import CommandObjective, ObjectiveError
from test_local_executor import run_all

SCRIPT = str(Path(__file__).with_name("train_script.py"))
HOSTILE = ["two words", "it's \"quoted\"", "$(touch {marker})", "`touch {marker}`",
           "a;touch {marker}", "line\nbreak", "--lr=5", "{lr}"]


def test_values_reach_the_command_verbatim(tmp_path):
    marker = tmp_path / "pwned"
    # --name={name}: a value that looks like an option must stay the value of --name.
    objective = CommandObjective(command=f"{sys.executable} {SCRIPT} --lr {{lr}} --name={{name}}",
                                 param_names=["lr", "name"])
    executor = LocalExecutor(objective, workers=2)
    names = [h.format(marker=marker) if "marker" in h else h for h in HOSTILE]
    results = run_all(executor, {i: {"lr": 0.3, "name": n} for i, n in enumerate(names)})
    for i, name in enumerate(names):
        assert results[i].ok, results[i].error
        assert results[i].metrics["name_seen"] == name
        assert results[i].value == pytest.approx(0.04)
    assert not marker.exists()


def test_list_form_fixed_values_and_failures(tmp_path):
    objective = CommandObjective(command=[sys.executable, SCRIPT, "--lr={lr}", "--name", "{tag}"],
                                 fixed={"tag": "fixed tag"}, param_names=["lr"])
    assert objective.arguments({"lr": 0.5})[2:] == ["--lr=0.5", "--name", "fixed tag"]
    failing = CommandObjective(command=[sys.executable, SCRIPT, "--lr", "{lr}", "--name", "x", "--fail"],
                               param_names=["lr"])
    silent = CommandObjective(command=[sys.executable, "-c", "print('no json here')"], param_names=[])
    results = run_all(LocalExecutor(failing, workers=1), {0: {"lr": 0.1}})
    assert results[0].error == "RuntimeError: command exited with code 4"
    results = run_all(LocalExecutor(silent, workers=1), {0: {}})
    assert results[0].error == "RuntimeError: last line of output is not JSON: 'no json here'"


@pytest.mark.parametrize("command, message", [
    ("train.py --lr {learning_rate}", "names ['learning_rate'], which are neither"),
    ("train.py --x {lr", "bad template"),
    ("train.py 'unclosed", "cannot split"),
    ("", "empty command"),
    (42, "expected a string or a list of strings"),
])
def test_bad_templates(command, message):
    with pytest.raises(ObjectiveError, match=message.replace("[", r"\[").replace("]", r"\]")):
        CommandObjective(command=command, param_names=["lr"])


def test_study_with_a_command_objective(tmp_path):
    config = {"study": {"seed": 4, "population": 5, "budget": {"evaluations": 15}},
              "space": {"lr": {"type": "float", "low": 1e-3, "high": 1.0, "log": True}},
              "objective": {"type": "command", "fixed": {"name": "my study"},
                            "command": f"{sys.executable} {SCRIPT} --lr {{lr}} --name {{name}}"},
              "executor": {"workers": 2}}
    final = Study.create(tmp_path / "s", config).run()
    assert final.evaluations == 15 and final.failed == 0 and final.best_value < 0.05


@pytest.mark.parametrize("name, where", [("trial_dir", "space"), ("continues_dir", "fixed"),
                                         ("max_fidelity", "fidelity")])
def test_a_parameter_may_not_take_a_placeholders_name(name, where):
    """{trial_dir}, {continues_dir} and {max_fidelity} are the trial's own: a parameter of the same
    name would silently replace one of them."""
    names, fixed = (["lr", name], {}) if where != "fixed" else (["lr"], {name: "x"})
    with pytest.raises(ObjectiveError, match=f"a parameter may not be named '{name}'"):
        CommandObjective(command="train --lr {lr} --out {trial_dir}", fixed=fixed, param_names=names)


@pytest.mark.parametrize("command, message", [
    ("no-such-program-here {lr}", "the program 'no-such-program-here' is not on PATH"),
    ("./missing.sh {lr}", "the program './missing.sh' does not exist (looked in {cwd})"),
    ("./plain.txt {lr}", "the program './plain.txt' is not executable"),
    ("{python} missing_script.py --lr {lr}", "the script 'missing_script.py' does not exist (looked in {cwd})"),
    ("{python} -m no_such_module_for_autodehypo --lr {lr}", "cannot find the module 'no_such_module_for_autodehypo'"),
])
def test_run_check_says_when_the_program_cannot_run(tmp_path, command, message):
    """Before any trial: otherwise every trial of the budget fails the same way."""
    (tmp_path / "plain.txt").write_text("not a program\n")
    config = {"study": {"seed": 4, "population": 4, "budget": {"evaluations": 4}},
              "space": {"lr": {"type": "float", "low": 1e-3, "high": 1.0}},
              "objective": {"type": "command", "cwd": str(tmp_path),
                            "command": command.replace("{python}", sys.executable)},
              "executor": {"workers": 1}}
    with pytest.raises(ConfigError, match=re.escape(message.format(cwd=tmp_path))):
        Study.check(tmp_path / "s", config)
    assert not (tmp_path / "s").exists()


def test_run_check_says_when_the_working_directory_is_missing(tmp_path):
    config = {"study": {"seed": 4, "population": 4, "budget": {"evaluations": 4}},
              "space": {"lr": {"type": "float", "low": 1e-3, "high": 1.0}},
              "objective": {"type": "command", "cwd": str(tmp_path / "nowhere"), "command": "true {lr}"},
              "executor": {"workers": 1}}
    with pytest.raises(ConfigError, match=re.escape(f"objective.cwd: '{tmp_path / 'nowhere'}' is not a directory")):
        Study.check(tmp_path / "s", config)


def test_run_check_accepts_a_program_that_resolves(tmp_path):
    script = tmp_path / "ok.sh"
    script.write_text("#!/bin/sh\necho 0.5\n")
    script.chmod(0o755)
    for command in ("./ok.sh {lr}", f"{script} {{lr}}", "sh ok.sh {lr}",
                    f"{sys.executable} -m json.tool --lr {{lr}}", f"{sys.executable} {SCRIPT} --lr {{lr}}"):
        config = {"study": {"seed": 4, "population": 4, "budget": {"evaluations": 4}},
                  "space": {"lr": {"type": "float", "low": 1e-3, "high": 1.0}},
                  "objective": {"type": "command", "cwd": str(tmp_path), "command": command},
                  "executor": {"workers": 1}}
        Study.check(tmp_path / "s", config)
