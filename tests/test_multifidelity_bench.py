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


def late_bloomer_error(lr: float, batch: int, optimizer: str, weight_decay: float, epoch: int) -> float:
    """Curves where the best learning rate (0.01) learns slowly and trails the others after one epoch."""
    final = 0.1 + 0.2 * abs(math.log10(lr) + 2) + (0.05 if batch == 128 else 0.0) + weight_decay * 20
    speed = 0.3 if lr == 0.01 else 2.0
    return round(min(0.9, final + 0.5 * math.exp(-speed * epoch)), 6)


def write_table(path: Path, failing: tuple = (), curve=val_error) -> Path:
    """A table in make_table.py's on-disk format: gzip CSV, one row per configuration and epoch,
    cumulative costs, val_error from ``curve``. The learning rates in ``failing`` fail from their
    first epoch on (``nan``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["lr", "batch_size", "optimizer", "momentum", "weight_decay", "epoch", "val_error",
                     "test_error", "wall_s", "cpu_s", "energy_j", "energy_source"])
    for lr, batch, optimizer, wd in itertools.product(LRS, BATCHES, OPTIMIZERS, WEIGHT_DECAYS):
        per_epoch = epoch_joules(lr, batch, optimizer, wd)
        for e in range(1, EPOCHS + 1):
            err = math.nan if lr in failing else curve(lr, batch, optimizer, wd, e)
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
    methods = "mf-de,mf-jde,de,jde,optuna-tpe-hb,hyperband,random"
    assert mf.main(["--tasks", str(table), "--budgets", "5,10", "--seeds", "2", "--methods", methods,
                    "--out", str(out)]) == 0
    text = out.read_text()
    assert "## Budget 10 full-fidelity evaluations" in text
    assert "| mf-de | de |" in text and "| mf-jde | optuna-tpe-hb |" in text and "| mf-de | hyperband |" in text
    assert "The schedule's ceiling: with uniform sampling" in text
    assert "| epoch 1: " in text and ", epoch 9: 1 |" in text  # the full-fidelity bracket divided by itself
    rows = out.with_suffix(".csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 7 * 2  # budgets x methods x seeds


def test_hyperband_follows_the_brackets_and_continues(table):
    task = load_energy_table(table)
    run = mf.run_hyperband(task, seed=3, budget=mf.budget_energy(task, 40), cap=1000)
    trained = [e for e in run.evaluations if not e.repeat]
    # eta 3 over 1..9: brackets start at 1, 3 and 9 epochs; a promotion goes 1 -> 3 or 3 -> 9
    assert {(e.start_epoch, e.epoch) for e in trained} == {(0, 1), (0, 3), (0, 9), (1, 3), (3, 9)}
    # the first bracket as Hyperband's schedule has it: 9 configurations at epoch 1, 3 at 3, 1 at 9
    assert [e.epoch for e in run.evaluations[:13]] == [1] * 9 + [3] * 3 + [9]
    first = run.evaluations[:9]
    kept = sorted(first, key=lambda e: e.loss)[:3]
    assert [e.index for e in run.evaluations[9:12]] == [e.index for e in kept]
    assert run.evaluations[12].index == min(run.evaluations[9:12], key=lambda e: e.loss).index


def test_hyperband_never_promotes_a_failed_training(tmp_path):
    # three of the four learning rates fail: most rungs of 9 hold fewer than 3 that did not
    task = load_energy_table(write_table(tmp_path / "failing.csv.gz", failing=(0.001, 0.1, 0.3)))
    run = mf.run_hyperband(task, seed=0, budget=mf.budget_energy(task, 30), cap=2000)
    failed = {e.index for e in run.evaluations if math.isnan(e.loss)}
    assert failed, "no failed training in the run: the check below would be empty"
    assert not [e for e in run.evaluations if e.start_epoch and e.index in failed]


def test_one_bracket_alone_and_the_ceiling(table, tmp_path):
    task = load_energy_table(table)
    budget = mf.budget_energy(task, 30)
    full_only = mf.run_hyperband(task, seed=0, budget=budget, cap=1000, bracket=2)
    assert {(e.start_epoch, e.epoch) for e in full_only.evaluations if not e.repeat} == {(0, 9)}
    top = mf.run_hyperband(task, seed=0, budget=budget, cap=1000, bracket=0)
    assert {e.epoch for e in top.evaluations} == {1, 3, 9}

    def ceiling(task, curve):
        best = min(curve(*c, EPOCHS) for c in itertools.product(LRS, BATCHES, OPTIMIZERS, WEIGHT_DECAYS))
        return mf.bracket_ceiling(task, list(range(10)), budget, 1000, best)

    # The best configuration (adam, lr 0.01) also leads after one epoch: the bracket from epoch 1
    # finds it for less than training every configuration to the end.
    fast = ceiling(task, val_error)
    assert len(fast) == 3 and fast[-1] == 1.0 and fast[0] < 0.7
    # Here the best learning rate trails after one epoch and is dropped at the first rung.
    slow = ceiling(load_energy_table(write_table(tmp_path / "late.csv.gz", curve=late_bloomer_error)),
                   late_bloomer_error)
    assert slow[-1] == 1.0 and slow[0] > 1.2
