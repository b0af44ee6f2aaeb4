"""Command-line objectives run as argument lists: hostile values never run as code."""

import sys
from pathlib import Path

import pytest

from autodehypo import Study
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
