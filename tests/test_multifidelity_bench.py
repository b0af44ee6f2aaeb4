"""The multi-fidelity benchmark end to end on a tiny per-epoch table, and its cost accounting."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.hpo import multifidelity as mf  # noqa: E402
from benchmarks.hpo.tasks import load_energy_table  # noqa: E402

EPOCHS = 9
LRS = (0.001, 0.01, 0.1, 0.3)
BATCHES = (32, 128)
OPTIMIZERS = ("sgd", "adam")
WEIGHT_DECAYS = (0.0, 0.001)


def epoch_joules(lr: float, batch: int, optimizer: str, weight_decay: float) -> float:
    """Different per-epoch costs, so that charging the wrong epochs shows."""
    return (3.0 if batch == 32 else 1.0) * (1.5 if optimizer == "adam" else 1.0) + 10 * weight_decay


def val_error(lr: float, batch: int, optimizer: str, weight_decay: float, epoch: int) -> float:
    """Learning curves that cross: a fast starter (adam, large lr) ends worse than a slow one."""
    final = 0.1 + 0.2 * abs(math.log10(lr) + 2) + (0.05 if batch == 128 else 0.0) + weight_decay * 20
    speed = 0.8 if optimizer == "adam" else 0.3
    return round(min(0.9, final + 0.5 * math.exp(-speed * epoch)), 6)


def write_table(path: Path) -> Path:
    """A table in make_table.py's on-disk format: gzip CSV, one row per configuration and epoch,
    cumulative costs."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["lr", "batch_size", "optimizer", "momentum", "weight_decay", "epoch", "val_error",
                     "test_error", "wall_s", "cpu_s", "energy_j", "energy_source"])
    for lr, batch, optimizer, wd in itertools.product(LRS, BATCHES, OPTIMIZERS, WEIGHT_DECAYS):
        per_epoch = epoch_joules(lr, batch, optimizer, wd)
        for e in range(1, EPOCHS + 1):
            err = val_error(lr, batch, optimizer, wd, e)
            writer.writerow([lr, batch, optimizer, 0.9, wd, e, err, err, per_epoch * e / 10,
                             per_epoch * e / 10, per_epoch * e, "estimate"])
    path.write_bytes(gzip.compress(buffer.getvalue().encode()))
    return path


@pytest.fixture
def table(tmp_path):
    return write_table(tmp_path / "tiny.csv.gz")


def test_promotion_pays_only_its_added_epochs(table):
    task = load_energy_table(table)
    budget = mf.budget_energy(task, 20)
    run = mf.run_ours(task, "de", seed=1, budget=budget, cap=1000)
    promotions = [e for e in run.evaluations if e.start_epoch and not e.repeat]
    assert promotions, "no promotion in the run: the check below would be empty"
    for e in run.evaluations:
        config = dict(zip(("lr", "batch_size", "optimizer", "momentum", "weight_decay"),
                          (p.choices[i] for p, i in zip(task.params, e.index))))
        per_epoch = epoch_joules(config["lr"], config["batch_size"], config["optimizer"],
                                 config["weight_decay"])
        if e.repeat:
            assert e.cost == 0.0
        else:
            # the table's cumulative cost at its epoch minus at the epoch it continues from (0: scratch)
            assert e.cost == pytest.approx(per_epoch * (e.epoch - e.start_epoch))
    # a promotion continues from the fidelity of the rung below (eta 3: 1 -> 3 -> 9)
    assert {(e.start_epoch, e.epoch) for e in promotions} <= {(1, 3), (3, 9)}
    assert sum(e.cost for e in run.evaluations[:-1]) < budget


def test_low_fidelity_results_never_reach_the_target(table):
    task = load_energy_table(table)
    run = mf.run_ours(task, "jde", seed=0, budget=mf.budget_energy(task, 10), cap=1000)
    full = run.full_losses
    for e, loss in zip(run.evaluations, full):
        assert (loss == e.loss) if e.epoch == EPOCHS else math.isinf(loss)


def test_benchmark_runs_end_to_end(table, tmp_path):
    out = tmp_path / "report.md"
    methods = "mf-de,mf-jde,de,jde,optuna-tpe-hb,random"
    assert mf.main(["--tasks", str(table), "--budgets", "5,10", "--seeds", "2", "--methods", methods,
                    "--out", str(out)]) == 0
    text = out.read_text()
    assert "## Budget 10 full-fidelity evaluations" in text
    assert "| mf-de | de |" in text and "| mf-jde | optuna-tpe-hb |" in text
    rows = out.with_suffix(".csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 6 * 2  # budgets x methods x seeds
