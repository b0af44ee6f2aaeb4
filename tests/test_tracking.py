"""MLflow tracking, against a real MLflow tracking store (SQLite) read back with MLflow's client.

The study is a parent run, each trial a nested run; resume (after kill -9 too) continues the
same runs; a tracking server that does not answer never fails a trial.
"""

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autodehypo import ConfigError, Study
from conftest import run_killed_at, toy_config

mlflow = pytest.importorskip("mlflow", reason="MLflow is not installed: pip install -e '.[dev]'")
from mlflow.tracking import MlflowClient  # noqa: E402

TESTS = Path(__file__).parent


def tracked_config(uri, evaluations=8, **study):
    config = toy_config("toy_objectives:reported_epochs", evaluations=evaluations, population=4,
                        space={"x": {"type": "float", "low": 0.0, "high": 1.0}})
    config["study"]["tracking"] = {"mlflow": {"tracking_uri": uri, "experiment": "hpo"}}
    config["study"].update(study)
    return config


def runs_of(uri):
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("hpo")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("autodehypo_role") == "study"]
    trials = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return client, parents, trials


def test_a_study_is_a_parent_run_and_each_trial_a_nested_run(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    study = Study.create(tmp_path / "s", tracked_config(uri))
    study.run()
    stored = {t.number: t for t in study.storage.trials()}
    study.close()
    client, parents, trials = runs_of(uri)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0]
    assert parent.data.params["study.population"] == "4" and "study.tracking.mlflow.tracking_uri" not in parent.data.params
    assert parent.data.metrics["evaluations"] == 8
    assert sorted(int(r.data.tags["autodehypo_trial"]) for r in trials) == sorted(stored)
    for run in trials:
        trial = stored[int(run.data.tags["autodehypo_trial"])]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert float(run.data.params["x"]) == pytest.approx(trial.params["x"])
        assert run.data.tags["autodehypo_energy_source"] == trial.energy_source
        assert run.data.metrics["energy_j"] == pytest.approx(trial.energy_j)
        assert run.data.metrics["elapsed_s"] == pytest.approx(trial.elapsed_s)
        assert run.data.tags["autodehypo_host"] == trial.host
        history = client.get_metric_history(run.info.run_id, "loss")
        if trial.status == "complete":
            assert run.info.status == "FINISHED"
            assert run.data.metrics["value"] == pytest.approx(trial.value)
            assert run.data.metrics["result.accuracy"] == pytest.approx(trial.metrics["accuracy"])
            assert [(m.step, m.value) for m in history] == [(1, 1.0), (2, 0.5), (3, 1 / 3)]
        else:  # failed after reporting its first epoch
            assert run.info.status == "FAILED" and "diverged" in run.data.tags["autodehypo_error"]
            assert [(m.step, m.value) for m in history] == [(1, 1.0)]
    assert {r.info.status for r in trials} == {"FINISHED", "FAILED"}  # both kinds were exercised


def _toml(uri, evaluations):
    return f"""
[study]
name = "tracked"
algorithm = "de"
seed = 5
population = 4
[study.budget]
evaluations = {evaluations}
[study.tracking.mlflow]
tracking_uri = "{uri}"
experiment = "hpo"
[space.x]
type = "float"
low = 0.0
high = 1.0
[objective]
type = "python"
function = "toy_objectives:reported_epochs"
[executor]
workers = 2
"""


@pytest.mark.slow
def test_resume_after_kill_continues_the_same_runs(tmp_path, subprocess_env):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = tmp_path / "c.toml"
    config.write_text(_toml(uri, 16))
    subprocess_env["TOY_EPOCH_SECONDS"] = "0.15"
    kills = run_killed_at(config, tmp_path / "s", subprocess_env, [4, 2.5, 2.5])
    assert kills >= 2
    study = Study.open(tmp_path / "s")
    stored = study.storage.trials()
    study.close()
    _, parents, trials = runs_of(uri)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    numbers = [int(r.data.tags["autodehypo_trial"]) for r in trials]
    assert sorted(numbers) == sorted(t.number for t in stored)  # one run per trial: none twice
    assert all(r.info.status in ("FINISHED", "FAILED") for r in trials)
    attempts = {int(r.data.tags["autodehypo_trial"]): r.data.tags.get("autodehypo_attempt") for r in trials}
    assert any(t.attempt > 1 for t in stored) == any(a not in (None, "1") for a in attempts.values())


def test_a_tracking_server_that_does_not_answer_never_fails_a_trial(tmp_path, subprocess_env):
    """Port 9 (discard) on this machine: nothing listens; the study runs, says so twice, keeps all."""
    config = tmp_path / "c.toml"
    config.write_text(_toml("http://127.0.0.1:9", 8))
    done = subprocess.run([sys.executable, "-m", "autodehypo", "run", str(config), "--dir", str(tmp_path / "s")],
                          env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "MLflow at http://127.0.0.1:9" in line]
    assert len(said) == 2, done.stderr  # the first failure, and what was not sent at the end
    assert "the study goes on" in said[0] and "updates not sent" in said[1]
    assert "Traceback" not in done.stderr
    study = Study.open(tmp_path / "s")
    assert len(study.storage.trials()) == 8
    study.close()


def test_a_store_mlflow_cannot_open_never_fails_a_trial(tmp_path, subprocess_env):
    """A store without its schema version and one table, as MLflow leaves one killed while making
    it: MLflow then makes it again over what is there and fails ("index ... already exists",
    "duplicate column name"). The study runs, says so in one line, keeps all."""
    store = tmp_path / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{store}").search_experiments(max_results=1)
    with sqlite3.connect(store) as db:
        db.execute("DROP TABLE params")
        db.execute("DROP TABLE alembic_version")
    config = tmp_path / "c.toml"
    config.write_text(_toml(f"sqlite:///{store}", 4))
    done = subprocess.run([sys.executable, "-m", "autodehypo", "run", str(config), "--dir", str(tmp_path / "s")],
                          env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if line.startswith(f"autodehypo: MLflow at sqlite:///{store}")]
    assert len(said) == 2 and "OperationalError" in said[0], done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    study = Study.open(tmp_path / "s")
    assert len(study.storage.trials()) == 4
    study.close()


@pytest.mark.slow
def test_a_store_being_made_when_killed_is_not_left_half_made(tmp_path, subprocess_env):
    """SIGKILL while the store is made, at moments across its making: afterwards the store is
    either absent or whole (MLflow opens it), and a later start makes it and tidies up."""
    from autodehypo.tracking.mlflow import _create_store

    store = tmp_path / "mlflow.db"
    make = ("import sys; from pathlib import Path; import mlflow.tracking; "
            "from autodehypo.tracking.mlflow import _create_store; "
            "print('ready', flush=True); _create_store(Path(sys.argv[1]))")
    for delay in (0.2, 0.6, 1.0, 1.5):
        store.unlink(missing_ok=True)
        proc = subprocess.Popen([sys.executable, "-c", make, str(store)], env=subprocess_env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.kill()
        proc.wait()
        if store.exists():
            MlflowClient(tracking_uri=f"sqlite:///{store}").search_experiments(max_results=1)
    store.unlink(missing_ok=True)
    _create_store(store)
    assert MlflowClient(tracking_uri=f"sqlite:///{store}").get_experiment("0") is not None
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []


@pytest.mark.parametrize("change, message", [
    ({"mlflow": {"uri": "x"}}, "study.tracking.mlflow: unknown key(s) ['uri']"),
    ({"mlflow": {"experiment": ""}}, "study.tracking.mlflow.experiment: expected a non-empty string"),
    ({"mlflow": "http://x"}, "study.tracking.mlflow: expected a table"),
    ({"wandb": {}}, "study.tracking: unknown key(s) ['wandb']"),
])
def test_tracking_config_errors_name_the_key(tmp_path, change, message):
    config = tracked_config("sqlite:///unused.db")
    config["study"]["tracking"] = change
    with pytest.raises(ConfigError, match=re.escape(message)):
        Study.check(tmp_path / "s", config)
