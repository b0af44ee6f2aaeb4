"""The HPO benchmark harness (benchmarks/hpo): the table loader, the measures, the runs, the CLI.

Every run here is on a tiny table that the test writes in the project's table
format, so the whole file takes seconds. Peers whose package is missing are
skipped with the pip command that installs them.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.hpo import measures  # noqa: E402
from benchmarks.hpo.ours import parse_variant, run_autodehypo, space_config  # noqa: E402
from benchmarks.hpo.peers import PEERS, Peer, dehb_environment, run_dehb_de  # noqa: E402
from benchmarks.hpo.run import main  # noqa: E402
from benchmarks.hpo.tasks import TableError, load_energy_table  # noqa: E402

LRS = ["0.001", "0.01", "0.1", "1.0"]
BATCHES = ["16", "128", "1024"]
OPTIMIZERS = ["sgd", "adam"]
HEADER = ["lr", "batch_size", "optimizer", "epoch", "val_error", "test_error", "wall_s", "cpu_s",
          "energy_j", "energy_source"]


def table_rows(epochs=2, failed=()):
    """A 4 x 3 x 2 grid; each configuration's val_error differs, cost grows with epochs and batch."""
    rows = []
    for i, lr in enumerate(LRS):
        for j, bs in enumerate(BATCHES):
            for k, opt in enumerate(OPTIMIZERS):
                for e in range(1, epochs + 1):
                    err = 0.05 + 0.1 * abs(i - 1) + 0.03 * j + 0.02 * k + 0.01 * i * k + 0.1 / e
                    bad = (lr, bs, opt) in failed
                    wall = e * (10.0 + 5.0 * (2 - j) + 3 * k)
                    rows.append([lr, bs, opt, str(e), "nan" if bad else f"{err:.4f}",
                                 "nan" if bad else f"{err + 0.01:.4f}", f"{wall:.1f}", f"{wall * 0.9:.1f}",
                                 f"{wall * 9.0:.1f}", "estimate"])
    return rows


def write_table(path: Path, rows, header=HEADER) -> Path:
    text = "\n".join(",".join(r) for r in [header] + rows) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.fixture
def table(tmp_path):
    return write_table(tmp_path / "tiny.csv.gz", table_rows(failed={("1.0", "1024", "adam")}))


# -- the loader ---------------------------------------------------------------------
def test_loader_reads_the_project_table_format(table):
    task = load_energy_table(table)
    assert [p.name for p in task.params] == ["lr", "batch_size", "optimizer"]
    assert [p.kind for p in task.params] == ["ordinal", "ordinal", "categorical"]
    assert task.params[0].choices == (0.001, 0.01, 0.1, 1.0)
    assert task.params[1].choices == (16, 128, 1024)
    assert task.params[2].choices == ("sgd", "adam")
    assert task.size == 24 and task.cost_unit == "J"
    rng = np.random.default_rng(0)
    # value = val_error at the last epoch (2), cost = cumulative energy at epoch 2
    loss, cost = task.evaluate({"lr": 0.01, "batch_size": 16, "optimizer": "sgd"}, rng)
    assert loss == pytest.approx(0.05 + 0.1 / 2) and cost == pytest.approx(2 * 20.0 * 9.0)
    loss, _ = task.evaluate({"lr": 1.0, "batch_size": 1024, "optimizer": "adam"}, rng)
    assert math.isnan(loss)  # a failed training
    assert task.best_loss == pytest.approx(0.1)
    assert task.fidelity_values.shape == (4, 3, 2, 2)
    wall = load_energy_table(table, cost="wall_s")
    assert wall.evaluate({"lr": 0.01, "batch_size": 16, "optimizer": "sgd"}, rng)[1] == pytest.approx(40.0)


def _without(rows, column):
    k = HEADER.index(column)
    return [r[:k] + r[k + 1:] for r in rows], HEADER[:k] + HEADER[k + 1:]


@pytest.mark.parametrize("fault, expected", [
    ("missing column", "missing column(s) ['energy_j']"),
    ("non-numeric", "non-numeric value 'fast' in column wall_s"),
    ("duplicate row", ":5: duplicate row for {'lr': '0.001', 'batch_size': '16', 'optimizer': 'adam'} epoch 1"),
    ("inconsistent epochs", "inconsistent epochs: {'lr': '0.1', 'batch_size': '128', 'optimizer': 'adam'} "
                            "has epochs 1, expected 1..2"),
    ("decreasing cost", "inconsistent epochs: energy_j of"),
    ("incomplete grid", "incomplete grid: 1 of 24 configurations missing"),
    ("bad epoch", "epoch must be an integer >= 1, got 'two'"),
])
def test_loader_rejects_a_malformed_table_in_one_line(tmp_path, fault, expected):
    rows, header = table_rows(), HEADER
    if fault == "missing column":
        rows, header = _without(rows, "energy_j")
    elif fault == "non-numeric":
        rows[5][HEADER.index("wall_s")] = "fast"
    elif fault == "duplicate row":
        rows.insert(3, list(rows[2]))
    elif fault == "inconsistent epochs":
        rows = [r for r in rows if not (r[:3] == ["0.1", "128", "adam"] and r[3] == "2")]
    elif fault == "decreasing cost":
        rows[1][HEADER.index("energy_j")] = "0.5"
    elif fault == "incomplete grid":
        rows = [r for r in rows if r[:3] != ["1.0", "16", "sgd"]]
    elif fault == "bad epoch":
        rows[0][HEADER.index("epoch")] = "two"
    path = write_table(tmp_path / "bad.csv", rows, header)
    with pytest.raises(TableError) as info:
        load_energy_table(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert expected in message


def test_cli_reports_a_malformed_table_in_one_line(tmp_path, capsys):
    rows, header = _without(table_rows(), "val_error")
    path = write_table(tmp_path / "bad.csv", rows, header)
    with pytest.raises(SystemExit) as info:
        main(["--quick", "--tasks", f"table:{path}", "--peers", "random", "--ours", "de",
              "--out", str(tmp_path / "out")])
    assert str(info.value).count("\n") == 0
    assert "missing column(s) ['val_error']" in str(info.value)


# -- the measures on a hand-made run ------------------------------------------------------
def test_cost_to_target_regret_and_anytime_on_a_known_run():
    pytest.importorskip("scipy", reason="the U test needs scipy: pip install scipy")
    losses = np.array([5.0, np.nan, 3.0, 4.0, 1.0])
    costs = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert measures.best_so_far(losses).tolist() == [5.0, 5.0, 3.0, 3.0, 1.0]
    assert measures.cost_to_target(losses, costs, 3.0) == 6.0      # reached at the third evaluation
    assert measures.cost_to_target(losses, costs, 1.0) == 15.0
    assert measures.cost_to_target(losses, costs, 0.5) == math.inf  # never: censored
    assert measures.cost_to_target(losses, costs, 5.0) == 1.0
    assert measures.final_regret(losses, 0.5) == 0.5
    grid = np.array([0.5, 1.0, 2.9, 3.0, 6.0, 14.9, 15.0, 100.0])
    assert measures.anytime(losses, costs, 0.5, grid).tolist() == [math.inf, 4.5, 4.5, 4.5, 2.5, 2.5, 0.5, 0.5]
    # censored runs in the median: finite only when at least half reached the target
    assert measures.median([1.0, 2.0, 3.0, math.inf]) == 2.5
    assert measures.median([1.0, 2.0, math.inf, math.inf]) == math.inf
    # ERT: all cost spent (to the target, or the whole run when censored) per run that reached it
    assert measures.expected_running_time([6.0, math.inf, 3.0], [10.0, 20.0, 5.0]) == 14.5
    assert measures.expected_running_time([math.inf, math.inf], [10.0, 20.0]) == math.inf
    assert measures.ratio(2.0, 4.0) == 0.5
    assert measures.ratio(math.inf, 4.0) == math.inf and measures.ratio(2.0, math.inf) == 0.0
    assert math.isnan(measures.ratio(math.inf, math.inf))
    assert measures.geometric_mean([0.5, 2.0, 4.0, math.inf, 0.0]) == (pytest.approx(4 ** (1 / 3)), 3)
    assert measures.mann_whitney([1, 2, 3, 4, 5, 6], [7, 8, 9, math.inf, math.inf, math.inf]) < 0.01
    assert measures.mann_whitney([1, 1], [1, 1]) == 1.0


# -- the runs -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", [n for n in PEERS if n != "dehb-de"])
def test_each_peer_runs_the_budget_reproducibly(table, name):
    peer = PEERS[name]
    why = peer.missing()
    if why:
        pytest.skip(f"{name}: {why}")
    task = load_energy_table(table)
    a, b, c = peer.run(task, 3, 30), peer.run(task, 3, 30), peer.run(task, 4, 30)
    assert len(a.losses) == 30 and len(a.costs) == 30
    np.testing.assert_array_equal(a.losses, b.losses)     # same seed, same run
    np.testing.assert_array_equal(a.costs, b.costs)
    assert not (np.array_equal(a.losses, c.losses, equal_nan=True) and np.array_equal(a.costs, c.costs))
    # every loss and cost is one of the table's
    finite = a.losses[~np.isnan(a.losses)]
    assert np.isin(finite, task.mean_loss[~np.isnan(task.mean_loss)]).all()
    assert np.isin(a.costs, task.mean_cost).all()
    # 30 evaluations of 24 configurations: at least 6 repeat an earlier one
    assert a.repeats >= 6


def test_dehb_de_in_its_own_environment(table):
    versions, why = dehb_environment(os.environ.get("DEHB_PYTHON"))
    if versions is None:
        pytest.skip(f"dehb-de: {why}")
    task = load_energy_table(table)
    a, b = run_dehb_de(task, [3, 4], 30, os.environ["DEHB_PYTHON"])
    again = run_dehb_de(task, [3], 30, os.environ["DEHB_PYTHON"])[0]
    assert len(a.losses) == 30 and a.seed == 3 and b.seed == 4
    np.testing.assert_array_equal(a.losses, again.losses)


def test_a_missing_peer_or_dehb_environment_says_how_to_install_it():
    peer = Peer("fake", None, False, ("no_such_module_hpo_test",), "pip install no-such-package")
    assert peer.missing() == "no_such_module_hpo_test not installed (pip install no-such-package)"
    versions, why = dehb_environment(None)
    assert versions is None and "pip install dehb==0.1.2" in why
    versions, why = dehb_environment(str(Path("/nonexistent") / "python"))
    assert versions is None and "does not run" in why and "pip install dehb==0.1.2" in why
    if importlib.util.find_spec("dehb") is None:  # this environment has no DEHB: said so
        versions, why = dehb_environment(sys.executable)
        assert versions is None and "cannot import dehb" in why


def lookup_objective(params):
    task = lookup_objective.task
    loss, _ = task.evaluate(params, np.random.default_rng(0))
    return loss


def test_run_autodehypo_asks_and_tells_as_a_study_does(table, tmp_path):
    """The same configurations in the same order, and the same told values (a failed
    configuration included), as a real Study with the same space, seed and budget."""
    from autodehypo import Study
    from autodehypo.algorithms import ALGORITHMS

    task = load_energy_table(table)
    lookup_objective.task = task
    for algorithm in ("de", "lshade"):
        config = {"study": {"seed": 5, "algorithm": algorithm, "budget": {"evaluations": 30}},
                  "space": space_config(task), "objective": {"type": "python"},
                  "executor": {"workers": 2}}
        study = Study.create(tmp_path / algorithm, config, objective=lookup_objective)
        study.run()
        trials = sorted(study.storage.trials(), key=lambda t: t.number)
        study.close()
        assert study.config.population == ALGORITHMS[algorithm].default_population(3)
        trace = run_autodehypo(task, algorithm, 5, 30)
        assert len(trials) == len(trace.losses) == 30
        study_losses = np.array([t.value if t.value is not None else np.nan for t in trials], dtype=float)
        np.testing.assert_array_equal(study_losses, trace.losses)
        assert np.isnan(trace.losses).any()  # the failed configuration was asked: the policy was used
        # A repeated configuration is answered from the record in both, at no cost.
        repeats = np.array(["repeat_of" in t.metrics for t in trials])
        assert repeats.any()
        np.testing.assert_array_equal(trace.costs == 0.0, repeats)
        assert trace.note == f"population {ALGORITHMS[algorithm].default_population(3)}"


def test_variants_name_their_settings_and_cost_weight_zero_changes_nothing(table):
    assert parse_variant("lshade:prescreen=32:cw=25") == ("lshade", {"prescreen": 32, "cw": 25})
    with pytest.raises(ValueError, match=r"\[:cw=P\], got 'cw=x'"):
        parse_variant("de:cw=x")
    task = load_energy_table(table)
    plain = run_autodehypo(task, "de:prescreen=4", 2, 30)
    weighed = run_autodehypo(task, "de:prescreen=4:cw=0", 2, 30)
    np.testing.assert_array_equal(plain.losses, weighed.losses)
    np.testing.assert_array_equal(plain.costs, weighed.costs)


def test_quick_harness_on_a_tiny_table(table, tmp_path, capsys):
    pytest.importorskip("scipy", reason="the report's U tests need scipy: pip install scipy")
    out = tmp_path / "out"
    installed = [n for n, p in PEERS.items() if n != "dehb-de" and p.missing() is None]
    dehb = os.environ.get("DEHB_PYTHON") or str(tmp_path / "no-dehb" / "python")
    assert main(["--quick", "--tasks", f"table:{table}", "--ours", "de,jde",
                 "--peers", ",".join(installed + ["dehb-de"]), "--dehb-python", dehb,
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    with open(out / "runs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ran = sorted({r["optimizer"] for r in rows})
    expected = set(installed) | {"de", "jde"} | ({"dehb-de"} if dehb_environment(dehb)[0] else set())
    assert set(ran) == expected
    # 2 seeds x 2 budgets (20, 40) per optimizer, every run with exactly its budget's evaluations
    for name in ran:
        mine = [r for r in rows if r["optimizer"] == name]
        assert sorted((int(r["seed"]), int(r["budget"])) for r in mine) == [(0, 20), (0, 40), (1, 20), (1, 40)]
    # the target is random search's median best at 40 evaluations, and the same in every row
    random40 = [float(r["best_loss"]) for r in rows if r["optimizer"] == "random" and r["budget"] == "40"]
    targets = {float(r["target"]) for r in rows}
    assert len(targets) == 1 and targets.pop() == pytest.approx(float(np.median(random40)))
    for r in rows:
        reached = float(r["best_loss"]) <= float(r["target"])
        assert (r["reached"] == "True") == reached
        assert math.isfinite(float(r["cost_to_target"])) == reached
    report = (out / "report.md").read_text()
    assert printed == report + "\n"  # the report is also what it prints
    assert "| de | " in report and "#### jde (40 evaluations)" in report
    if not dehb_environment(dehb)[0]:
        assert "dehb-de: " in report and "pip install dehb==0.1.2" in report
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "plots" / "tiny.png").stat().st_size > 0
    # the report is made again from the traces alone
    assert main(["--report-only", str(out)]) == 0
    assert (out / "report.md").read_text() == report


def test_first_seed_runs_another_set_of_seeds_and_peers_are_reused_only_from_the_same_set(table, tmp_path,
                                                                                         capsys):
    first = tmp_path / "first"
    assert main(["--quick", "--tasks", f"table:{table}", "--ours", "de", "--peers", "random",
                 "--first-seed", "5", "--out", str(first)]) == 0
    with open(first / "runs.csv", newline="") as fh:
        assert sorted({int(r["seed"]) for r in csv.DictReader(fh)}) == [5, 6]
    assert "Seeds 5..6 (2 runs" in (first / "report.md").read_text()
    for seed, reused in (("5", True), ("0", False)):
        again = tmp_path / f"again-{seed}"
        capsys.readouterr()
        assert main(["--quick", "--tasks", f"table:{table}", "--ours", "de", "--peers", "random",
                     "--first-seed", seed, "--peers-from", str(first), "--out", str(again)]) == 0
        assert (f"taken from {first}" in capsys.readouterr().err) == reused
        with open(again / "runs.csv", newline="") as fh:
            seeds = sorted({int(r["seed"]) for r in csv.DictReader(fh) if r["optimizer"] == "random"})
        assert seeds == ([5, 6] if reused else [0, 1])


def test_pool_reports_runs_of_several_seed_sets_as_one(table, tmp_path):
    parts = [tmp_path / "a", tmp_path / "b"]
    assert main(["--quick", "--tasks", f"table:{table}", "--ours", "de,jde", "--peers", "random",
                 "--out", str(parts[0])]) == 0
    assert main(["--quick", "--tasks", f"table:{table}", "--ours", "de", "--peers", "random",
                 "--first-seed", "2", "--out", str(parts[1])]) == 0
    pooled = tmp_path / "pooled"
    assert main(["--pool", *map(str, parts), "--out", str(pooled)]) == 0
    with open(pooled / "runs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # jde ran on seeds 0-1 only: left out; de and random have all four seeds
    assert {r["optimizer"] for r in rows} == {"de", "random"}
    assert sorted({int(r["seed"]) for r in rows}) == [0, 1, 2, 3]
    random40 = [float(r["best_loss"]) for r in rows if r["optimizer"] == "random" and r["budget"] == "40"]
    targets = {float(r["target"]) for r in rows}
    assert len(targets) == 1 and targets.pop() == pytest.approx(float(np.median(random40)))
    assert "Seeds 0..3 (4 runs" in (pooled / "report.md").read_text()
    # a pooled output is an output: its report is made again from its traces alone
    report = (pooled / "report.md").read_text()
    assert main(["--report-only", str(pooled)]) == 0
    assert (pooled / "report.md").read_text() == report
