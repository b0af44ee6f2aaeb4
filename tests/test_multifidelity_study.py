"""Multi-fidelity studies: continued training equals straight training, budgets in full-fidelity
equivalents, and a killed driver resumes exactly."""

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autodehypo import Study
from autodehypo.continuation import write_context
from autodehypo.execution import LocalExecutor
from autodehypo.objectives.mnist_cnn import MnistCNN
from conftest import run_killed_at, toy_config


def run_all(executor, params_by_key, workdir):
    """Run each trial in its own directory under ``workdir``, as a study does."""
    for key, params in params_by_key.items():
        executor.submit(key, params, None, workdir / key)
    results = {}
    while executor.running:
        results.update(executor.wait(timeout=5))
    return results


def test_continued_training_equals_straight_training(tmp_path):
    """mnist_cnn: 1 epoch then 2 more from its checkpoint gives the 3-epoch result exactly;
    without the checkpoint it trains from scratch and says so."""
    objective = MnistCNN(param_names=["lr", "epochs"], fixed={"train_size": 400, "batch_size": 50})
    objective.prepare()

    def context(name, epochs, below=None):
        write_context(tmp_path / name, {"param": "epochs", "fidelity": epochs, "max_fidelity": 3,
                                        "continues_dir": str(tmp_path / below) if below else None,
                                        "continues_fidelity": 1 if below else None})
    context("straight", 3)
    context("low", 1)
    first = run_all(LocalExecutor(objective, workers=2),
                    {"straight": {"lr": 0.05, "epochs": 3}, "low": {"lr": 0.05, "epochs": 1}},
                    workdir=tmp_path)
    context("continued", 3, below="low")
    context("lost", 3, below="nowhere")
    second = run_all(LocalExecutor(objective, workers=2),
                     {"continued": {"lr": 0.05, "epochs": 3}, "lost": {"lr": 0.05, "epochs": 3}},
                     workdir=tmp_path)
    assert all(r.ok for r in [*first.values(), *second.values()])
    assert second["continued"].value == first["straight"].value
    assert second["continued"].metrics["continued_from"] == 1
    assert second["lost"].metrics["continued_from"] == 0  # retrained, and recorded so
    assert second["lost"].value == first["straight"].value
    assert first["low"].value != first["straight"].value


def fidelity_config(evaluations=6, algorithm="jde", workers=2):
    config = toy_config("toy_objectives:fidelity_sphere", evaluations=evaluations, population=5,
                        algorithm=algorithm, seed=6, workers=workers)
    config["study"]["fidelity"] = {"param": "epochs", "min": 1, "max": 9, "eta": 3}
    del config["study"]["population"]
    return config


def test_fidelity_study_promotes_continues_and_counts_increments(tmp_path):
    study = Study.create(tmp_path / "s", fidelity_config())
    final = study.run()
    trials = study.storage.trials()
    study.close()
    first = trials[:9]
    assert [t.fidelity for t in first] == [1.0] * 9 and all(t.continues is None for t in first)
    promoted = [t for t in trials if t.continues is not None]
    assert promoted and all(t.fidelity > trials[t.continues].fidelity for t in promoted)
    assert all(t.params["epochs"] == int(t.fidelity) for t in trials)
    for t in promoted:  # continued from the trial below, paying only the added epochs
        assert t.metrics["continued_from"] == trials[t.continues].fidelity == t.fidelity_from
    units = sum((t.fidelity - t.fidelity_from) / 9 for t in trials)
    assert 6 - 1e-9 <= units < 6 + max((t.fidelity - t.fidelity_from) / 9 for t in trials)
    top = max(t.fidelity for t in trials if t.status == "complete")
    assert final.best_value == min(t.value for t in trials if t.fidelity == top and t.status == "complete")


def test_progress_and_status_count_the_budget_in_full_fidelity_trainings(tmp_path):
    """The evaluation budget counts full-fidelity trainings; the trials are more ("evals 41/12" was
    shown before)."""
    import io

    from autodehypo.cli import ProgressView
    from autodehypo.reports.text import status_text

    study = Study.create(tmp_path / "s", fidelity_config())
    final = study.run()
    trials = len(study.storage.trials())
    stream = io.StringIO()
    ProgressView(stream)(final)
    status = status_text(study.storage, driver_alive=False)
    study.close()
    assert trials > 6 and 6 <= final.units < 7
    assert f"evals {trials} ({final.units:.1f}/6 full)" in stream.getvalue(), stream.getvalue()
    assert f"evaluations:  {trials} trials, {final.units:.1f} of 6 in full-fidelity trainings" in status, status


def test_a_failed_low_rung_trial_is_never_promoted(tmp_path):
    config = fidelity_config(evaluations=3)
    config["space"]["x0"] = {"type": "float", "low": -1.0, "high": 1.0}
    config["objective"]["function"] = "toy_objectives:fidelity_sphere_failing_below_zero"
    study = Study.create(tmp_path / "s", config)
    study.run()
    trials = study.storage.trials()
    study.close()
    failed = {t.number for t in trials if t.status == "failed"}
    assert failed and not any(t.continues in failed for t in trials)


def test_fidelity_config_errors_are_one_line(tmp_path):
    from autodehypo.config import ConfigError
    for change, message in [
        ({"param": "x0"}, "study.fidelity.param: 'x0' is searched in [space]"),
        ({"min": 10}, "study.fidelity: min (10) is larger than max (9)"),
        ({"eta": 1}, "eta must be > 1"),
        ({"speed": 2}, "study.fidelity: unknown key(s) ['speed']"),
        # Schedules no study could run are refused at once (the first hung building its brackets).
        ({"min": 1, "max": 1000000, "eta": 1.0001}, "makes 138,163 brackets, at most 100"),
        ({"min": 1e-300, "max": 1e300}, "max / min = 1e+300 / 1e-300 is not a finite number"),
        ({"min": 1, "max": 10 ** 12, "eta": 10}, "configurations at fidelity 1, at most 100,000"),
    ]:
        config = fidelity_config()
        config["study"]["fidelity"].update(change)
        with pytest.raises(ConfigError, match=re.escape(message)):
            Study.create(tmp_path / "s", config)
    config = fidelity_config(algorithm="lshade")
    with pytest.raises(ConfigError, match="lshade cannot be the search inside multi-fidelity brackets"):
        Study.create(tmp_path / "s", config)


def _export(directory, env):
    out = subprocess.run([sys.executable, "-m", "autodehypo", "export", str(directory)],
                         capture_output=True, text=True, env=env, check=True).stdout
    keep = ("number", "status", "value", "told_value", "unit", "fidelity", "continues", "fidelity_from")
    return [{k: r[k] for k in keep} for r in csv.DictReader(io.StringIO(out))]


@pytest.mark.slow
def test_fidelity_study_killed_at_random_moments_resumes_exactly(tmp_path, subprocess_env):
    import numpy as np
    from test_resume import write_config
    env = {**subprocess_env, "TOY_SLEEP": "0.06"}
    path = write_config(tmp_path / "c.toml", "jde")
    text = path.read_text().replace('function = "toy_objectives:slow_sphere"',
                                    'function = "toy_objectives:fidelity_sphere"')
    text = text.replace("population = 6\n", "").replace("evaluations = 34", "evaluations = 8")
    text += "[study.fidelity]\nparam = \"epochs\"\nmin = 1\nmax = 9\neta = 3\n"
    path.write_text(text)
    reference = tmp_path / "reference"
    run = subprocess.run([sys.executable, "-m", "autodehypo", "run", str(path), "--dir", str(reference)],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    killed = tmp_path / "killed"
    rng = np.random.default_rng(int(os.environ.get("KILL_SEED", "3")))
    kills = run_killed_at(path, killed, env, rng.uniform(0.2, 1.5, size=5))
    assert kills >= 3
    assert _export(killed, env) == _export(reference, env)


def test_report_shows_each_rung_and_the_best_at_the_highest_fidelity(tmp_path):
    from autodehypo.reports.text import fidelity_rows, report_text
    from autodehypo.storage import Storage
    study = Study.create(tmp_path / "s", fidelity_config())
    study.run()
    study.close()
    storage = Storage.open(tmp_path / "s", readonly=True)
    trials, text = storage.trials(), report_text(storage)
    storage.close()
    rows = fidelity_rows(trials, "minimize")
    assert [r["fidelity"] for r in rows] == [1.0, 3.0, 9.0]
    assert sum(r["trials"] for r in rows) == len(trials)
    assert rows[0]["promoted"] == rows[1]["continued"] == 3  # the first bracket: 9 -> 3 -> 1
    assert all(r["retrained"] == 0 for r in rows)
    best = min(t.value for t in trials if t.fidelity == 9.0)
    assert "fidelity 9, the highest reached" in text and "rungs:" in text
    assert rows[2]["best"] == best


def test_a_command_objective_continues_through_its_placeholders(tmp_path):
    script = Path(__file__).parent / "fidelity_script.py"
    config = fidelity_config(evaluations=3)
    config["space"] = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
    config["objective"] = {"type": "command",
                           "command": [sys.executable, str(script), "--x", "{x}", "--epochs", "{epochs}",
                                       "--trial-dir", "{trial_dir}", "--continues-dir", "{continues_dir}"]}
    study = Study.create(tmp_path / "s", config)
    study.run()
    trials = study.storage.trials()
    study.close()
    promoted = [t for t in trials if t.continues is not None]
    assert promoted and all(t.status == "complete" for t in trials)
    assert all(t.metrics["continued_from"] == trials[t.continues].fidelity == t.fidelity_from
               for t in promoted)
