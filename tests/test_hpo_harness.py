"""The HPO benchmark harness (benchmarks/hpo): the table loader, the measures, the runs, the CLI.

Every run here is on a tiny table that the test writes in the project's table
format, so the whole file takes seconds, bar the slow peers (Optuna's
GPSampler, SMAC, HEBO: seconds per suggestion), which run a few evaluations.
Peers whose package is missing are skipped with the pip command that installs
them; a peer that runs in its own environment (DEHB, SMAC, HEBO) is skipped
unless $DEHB_PYTHON, $SMAC_PYTHON or $HEBO_PYTHON names its python, with the
command that makes one.
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
from benchmarks.hpo.ours import parse_variant, run_autodehypo, space_config, variant_options  # noqa: E402
from benchmarks.hpo.peers import (PEERS, Peer, dehb_environment, external_environment,  # noqa: E402
                                  run_external)
from benchmarks.hpo.run import BEST, analyse, comparisons, equal_view, main, report  # noqa: E402
from benchmarks.hpo.trace import Trace  # noqa: E402
from benchmarks.hpo.tasks import TableError, hartmann6_task, load_energy_table  # noqa: E402

HERE_ENVS = ROOT / "benchmarks" / "hpo" / "envs"
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


def hand_made_runs() -> dict:
    """Four evaluations per run, two seeds alike, best loss 0. Random search's best: 2 (seed 0, at its
    4th evaluation) and 3 (seed 1), so the target is 2.5. To reach it, optuna-tpe takes 1 evaluation
    costing 100, 'cheap' 4 evaluations costing 1 each, 'de' 2 costing 10 each (then a repeat answered
    at no cost)."""
    def trace(optimizer, seed, losses, costs, repeated=()):
        flags = np.zeros(4, dtype=bool)
        flags[list(repeated)] = True
        return Trace("hand", optimizer, seed, 4, np.array(losses, dtype=float), np.array(costs, dtype=float), flags)

    traces = [trace("random", 0, [5, 4, 3, 2], [1, 1, 1, 1]), trace("random", 1, [5, 5, 5, 3], [1, 1, 1, 1])]
    for seed in (0, 1):
        traces += [trace("optuna-tpe", seed, [1, 9, 9, 9], [100, 1, 1, 1]),
                   trace("cheap", seed, [9, 9, 9, 1], [1, 1, 1, 1]),
                   trace("de", seed, [9, 1, 1, 9], [10, 10, 0, 10], repeated=[2])]
    meta = {"name": "hand", "direction": "minimize", "cost_unit": "J", "source": "test", "note": "hand-made",
            "best_loss": 0.0, "params": [], "size": 4, "skipped": {}}
    settings = {"seeds": 2, "first_seed": 0, "budgets": [2, 4], "value": "mean", "cost": "energy_j",
                "ours": ["de"], "peers": ["random", "optuna-tpe", "cheap"]}
    return {"task": meta, "settings": settings, "traces": traces}


def test_equal_cost_view_counts_evaluations_and_names_the_best_peer_per_view():
    pytest.importorskip("scipy", reason="the comparisons' U tests need scipy: pip install scipy")
    data = hand_made_runs()
    peers = data["settings"]["peers"]
    real, equal = analyse(data, [2, 4], "real"), analyse(data, [2, 4], "equal")
    assert real["target"] == equal["target"] == 2.5
    # cost to target: real = the table's costs summed, equal = the number of evaluations
    to_target = {(r["view"], o): [row["cost_to_target"] for row in r["runs"][(o, 4)]]
                 for r in (real, equal) for o in ("random", "optuna-tpe", "cheap", "de")}
    assert to_target["real", "optuna-tpe"] == [100, 100] and to_target["equal", "optuna-tpe"] == [1, 1]
    assert to_target["real", "cheap"] == [4, 4] and to_target["equal", "cheap"] == [4, 4]
    assert to_target["real", "de"] == [20, 20] and to_target["equal", "de"] == [2, 2]
    assert to_target["real", "random"] == [4, math.inf] == to_target["equal", "random"]
    # a whole run costs its evaluations, the repeat answered at no cost included
    assert [row["cost_total"] for row in real["runs"][("de", 4)]] == [30, 30]
    assert [row["cost_total"] for row in equal["runs"][("de", 4)]] == [4, 4]
    assert [row["cost_total"] for row in equal["runs"][("de", 2)]] == [2, 2]  # the prefix of 2
    # ERT ratios to the best peer of the task: by real cost 'cheap' (ERT 4), by evaluations TPE (1)
    for view, result, best, to_best, to_tpe, to_random in (("real", real, "cheap", 20 / 4, 20 / 100, 20 / 8),
                                                           ("equal", equal, "optuna-tpe", 2 / 1, 2 / 1, 2 / 8)):
        comp = comparisons([result], ["de"], peers, 4)
        cell = comp[("de", BEST)]["cells"][0]
        assert (cell["peer"], cell["ert_ratio"]) == (best, pytest.approx(to_best)), view
        assert comp[("de", BEST)]["ert"]["geomean"] == pytest.approx(to_best)
        assert comp[("de", "optuna-tpe")]["ert"]["geomean"] == pytest.approx(to_tpe)
        assert comp[("de", "random")]["ert"]["geomean"] == pytest.approx(to_random)
    # at 2 evaluations only TPE reached the target: the best peer in both views
    for result, ratio in ((real, 20 / 100), (equal, 2 / 1)):
        cell = comparisons([result], ["de"], peers, 2)[("de", BEST)]["cells"][0]
        assert (cell["peer"], cell["ert_ratio"]) == ("optuna-tpe", pytest.approx(ratio))
    env = {"cpu": "test", "cores": 1, "load_average": "0", "versions": {}, "autodehypo": "test"}
    text = report({"real": [real], "equal": [equal]}, "test", data["settings"], env, {})
    assert "| hand | cheap | 4 | 5 |" in text and "| hand | optuna-tpe | 1 | 2 |" in text
    # the summary, per view: at 2 then 4 evaluations, over TPE, the best peer per task and random search
    assert "| de | 0.2 (1/1) | 0.2 (1/1) | n/a (0/1) 1×0 | 0.2 (1/1) | 5 (1/1) | 2.5 (1/1) |" in text
    assert "| de | 2 (1/1) | 2 (1/1) | n/a (0/1) 1×0 | 2 (1/1) | 2 (1/1) | 0.25 (1/1) |" in text


def test_pool_keeps_a_slow_peer_run_on_fewer_seeds_and_says_how_many(tmp_path):
    """Two outputs on seeds 0-1 and 2-3, a slow peer on the first seed of each (--slow-peer-seeds 1):
    pooled, it keeps its 2 runs beside the others' 4, and the report says so; a slow peer one
    output did not run at all is left out."""
    pytest.importorskip("scipy", reason="the report's U tests need scipy: pip install scipy")
    from benchmarks.hpo.run import pool_traces, save_traces
    data = hand_made_runs()
    for i, first in enumerate((0, 2)):
        settings = {**data["settings"], "first_seed": first, "peers": ["random", "optuna-tpe", "optuna-gp", "smac"],
                    "peer_seeds": {"optuna-gp": 1, "smac": 1}}
        traces = []
        for t in data["traces"]:
            if t.optimizer == "cheap":
                continue
            for name in ((t.optimizer,) if t.optimizer != "optuna-tpe" else ("optuna-tpe", "optuna-gp", "smac")):
                if name in ("optuna-gp", "smac") and (t.seed != 0 or (name == "smac" and i == 1)):
                    continue  # the slow peers on the first seed only, smac only in the first output
                traces.append(Trace.from_dict({**t.as_dict(), "optimizer": name, "seed": t.seed + first}))
        if i == 1:
            settings["peers"] = ["random", "optuna-tpe", "optuna-gp"]
            settings["peer_seeds"] = {"optuna-gp": 1}
        save_traces(tmp_path / f"out{i}", data["task"], settings, traces)
    (pooled,) = pool_traces([tmp_path / "out0", tmp_path / "out1"])
    seeds = {}
    for t in pooled["traces"]:
        seeds.setdefault(t.optimizer, set()).add(t.seed)
    assert seeds == {"random": {0, 1, 2, 3}, "optuna-tpe": {0, 1, 2, 3}, "optuna-gp": {0, 2}, "de": {0, 1, 2, 3}}
    assert pooled["settings"]["seeds"] == 4 and pooled["settings"]["peer_seeds"] == {"optuna-gp": 2}
    assert main(["--pool", str(tmp_path / "out0"), str(tmp_path / "out1"), "--out", str(tmp_path / "pooled")]) == 0
    text = (tmp_path / "pooled" / "report.md").read_text()
    assert "Seeds 0..3 (4 runs per optimizer, task and budget, except optuna-gp: 2 (--slow-peer-seeds)" in text
    assert "| optuna-gp | peer, slow, fewer than the 4 seeds | **2** (0, 2) | 1 of 1 |" in text
    assert "| optuna-tpe | peer | **4** (0..3) | 1 of 1 |" in text and "| smac |" not in text


# -- the runs -----------------------------------------------------------------------------
FAST = [n for n, p in PEERS.items() if not p.external and not p.slow]
# The slow and external peers on a few evaluations, past their initial designs so that each
# model suggests (GPSampler: 10 random trials, then 3 from its GP; SMAC: 2 Sobol points at 8
# trials, then 6; HEBO, seconds per suggestion: 1 + 3 Sobol points, then 1).
SHORT = {"optuna-gp": 13, "dehb-de": 30, "smac": 8, "hebo": 5}


def external_python(name: str) -> str:
    """The python of a peer's own environment, from its variable; skips the test with the command
    that makes one where there is none."""
    python = os.environ.get(PEERS[name].external.variable)
    versions, why = external_environment(name, python)
    if versions is None:
        pytest.skip(f"{name} not installed: {why}")
    return python


@pytest.mark.parametrize("name", FAST)
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


@pytest.mark.parametrize("name", [n for n, p in PEERS.items() if p.external or p.slow])
def test_each_slow_or_external_peer_runs_reproducibly(table, name):
    """The same seed gives the same run, another seed another; every loss and cost is the table's;
    a peer in its own environment returns a run per seed, in the order asked, each the same
    whichever seed ran before it in that process."""
    task = load_energy_table(table)
    n = SHORT[name]
    if PEERS[name].external:
        python = external_python(name)
        a, c = run_external(name, task, [3, 4], n, python)
        d, b = run_external(name, task, [4, 3], n, python)  # a seed's run does not depend on the one before
        assert (a.seed, c.seed, d.seed, b.seed) == (3, 4, 4, 3) and a.optimizer == name
        np.testing.assert_array_equal(c.losses, d.losses)
    else:
        why = PEERS[name].missing()
        if why:
            pytest.skip(f"{name}: {why}")
        a, b, c = PEERS[name].run(task, 3, n), PEERS[name].run(task, 3, n), PEERS[name].run(task, 4, n)
    assert len(a.losses) == len(a.costs) == n and a.budget == n
    np.testing.assert_array_equal(a.losses, b.losses)
    np.testing.assert_array_equal(a.costs, b.costs)
    assert not (np.array_equal(a.losses, c.losses, equal_nan=True) and np.array_equal(a.costs, c.costs))
    finite = a.losses[~np.isnan(a.losses)]
    assert np.isin(finite, task.mean_loss[~np.isnan(task.mean_loss)]).all()
    assert np.isin(a.costs, task.mean_cost).all()


def test_a_missing_peer_or_dehb_environment_says_how_to_install_it():
    peer = Peer("fake", None, False, ("no_such_module_hpo_test",), "pip install no-such-package")
    assert peer.missing() == "no_such_module_hpo_test not installed (pip install no-such-package)"
    versions, why = dehb_environment(None)
    assert versions is None and "dehb==0.1.2" in why and "envs/dehb.txt" in why and "python3 -m venv" in why
    versions, why = dehb_environment(str(Path("/nonexistent") / "python"))
    assert versions is None and "does not run" in why and "dehb==0.1.2" in why
    if importlib.util.find_spec("dehb") is None:  # this environment has no DEHB: said so
        versions, why = dehb_environment(sys.executable)
        assert versions is None and "cannot import dehb" in why
    for name, module, pin in (("smac", "smac", "smac==2.4.1"), ("hebo", "hebo", "hebo==0.3.6")):
        versions, why = external_environment(name, None)
        assert versions is None and pin in why and f"envs/{name}.txt" in why and f"--peer-python {name}=" in why
        assert (HERE_ENVS / f"{name}.txt").read_text().count(pin) == 1  # the file the command names pins it
        if importlib.util.find_spec(module) is None:
            versions, why = external_environment(name, sys.executable)
            assert versions is None and f"cannot import {module}" in why


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
    assert variant_options(parse_variant("lshade:prescreen=32:cw=80:cool=1")[1]) == {
        "prescreen": 32, "cost_weight": 0.8, "cost_cooling": True}
    with pytest.raises(ValueError, match=r"\[:cw=P\].*, got 'cw=x'"):
        parse_variant("de:cw=x")
    task = load_energy_table(table)
    plain = run_autodehypo(task, "de:prescreen=4", 2, 30)
    weighed = run_autodehypo(task, "de:prescreen=4:cw=0", 2, 30)
    np.testing.assert_array_equal(plain.losses, weighed.losses)
    np.testing.assert_array_equal(plain.costs, weighed.costs)


def test_quick_harness_on_a_tiny_table(table, tmp_path, capsys):
    pytest.importorskip("scipy", reason="the report's U tests need scipy: pip install scipy")
    out = tmp_path / "out"
    installed = [n for n in FAST if PEERS[n].missing() is None]
    dehb = os.environ.get("DEHB_PYTHON") or str(tmp_path / "no-dehb" / "python")
    assert main(["--quick", "--tasks", f"table:{table}", "--ours", "de,jde",
                 "--peers", ",".join(installed + ["dehb-de"]), "--dehb-python", dehb,
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    with open(out / "runs.csv", newline="") as fh:
        both = list(csv.DictReader(fh))
    rows = [r for r in both if r["view"] == "real"]
    equal = [r for r in both if r["view"] == "equal"]
    assert len(equal) == len(rows) == len(both) / 2
    # the equal-cost view of the same runs: every evaluation costs 1
    for r in equal:
        assert float(r["cost_total"]) == float(r["budget"])
        assert not math.isfinite(float(r["cost_to_target"])) or float(r["cost_to_target"]).is_integer()
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
    assert "| de | " in report and "#### jde (40 evaluations, real cost)" in report
    assert "#### jde (40 evaluations, equal cost)" in report and "| ours | 20: / optuna-tpe | 20: / best peer" in report
    if not dehb_environment(dehb)[0]:
        assert "dehb-de: " in report and "dehb==0.1.2" in report
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "plots" / "tiny.png").stat().st_size > 0
        assert (out / "plots" / "tiny-equal.png").stat().st_size > 0
    # the report is made again from the traces alone
    assert main(["--report-only", str(out)]) == 0
    assert (out / "report.md").read_text() == report


@pytest.mark.parametrize("name", ["optuna-gp", "smac", "hebo", "dehb-de"])
def test_quick_harness_with_a_new_or_external_peer(table, tmp_path, name):
    """--quick with each new or external peer beside random search and TPE, on few evaluations:
    a slow peer on one seed (--slow-peer-seeds 1) and the report says so; its runs are in both
    views; the best peer of the task is one of the peers."""
    pytest.importorskip("scipy", reason="the report's U tests need scipy: pip install scipy")
    if PEERS[name].external:
        extra = ["--peer-python", f"{name}={external_python(name)}"]
    else:
        if PEERS[name].missing():
            pytest.skip(f"{name}: {PEERS[name].missing()}")
        extra = []
    if PEERS["optuna-tpe"].missing():
        pytest.skip(f"optuna-tpe: {PEERS['optuna-tpe'].missing()}")
    out = tmp_path / "out"
    budgets = (SHORT[name] // 2, SHORT[name])
    assert main(["--quick", "--tasks", f"table:{table}", "--ours", "de", "--peers", f"random,optuna-tpe,{name}",
                 "--evaluations", ",".join(map(str, budgets)), "--slow-peer-seeds", "1", *extra,
                 "--out", str(out)]) == 0
    with open(out / "runs.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["optimizer"] == name]
    slow = PEERS[name].slow
    seeds = [0] if slow else [0, 1]
    for view in ("real", "equal"):
        mine = [r for r in rows if r["view"] == view]
        assert sorted((int(r["seed"]), int(r["budget"])) for r in mine) == sorted(
            (s, b) for s in seeds for b in budgets)
    assert all(float(r["cost_total"]) == float(r["budget"]) for r in rows if r["view"] == "equal")
    report_text = (out / "report.md").read_text()
    if slow:
        assert f"except {name}: 1 (--slow-peer-seeds)" in report_text
        assert f"| {name} | peer, slow, fewer than the 2 seeds | **1** (0) | 1 of 1 |" in report_text
    else:
        assert f"| {name} | peer | **2** (0..1) | 1 of 1 |" in report_text
    assert f"{name} env " in report_text if PEERS[name].external else True  # its environment's versions
    best = [line.split(" | ")[1] for line in report_text.splitlines() if line.startswith("| tiny | ")
            and line.count(" | ") == 3]
    assert len(best) == 4 and set(best) <= {"random", "optuna-tpe", name, "none reached it"}  # 2 views x 2 budgets


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


def test_a_cost_weighted_search_told_equal_costs_asks_what_it_asks_without_the_weight():
    """Why the equal-cost view may stand the unweighted variant's runs in for the weighted one's:
    on Hartmann-6 every evaluation costs 1, so the cost-aware search is told equal costs."""
    task = hartmann6_task()
    for seed in (0, 1):
        weighted = run_autodehypo(task, "lshade:prescreen=8:model=gp:cw=40", seed, 40)
        cooled = run_autodehypo(task, "lshade:prescreen=8:model=gp:cw=80:cool=1", seed, 40)
        plain = run_autodehypo(task, "lshade:prescreen=8:model=gp", seed, 40)
        np.testing.assert_array_equal(weighted.losses, plain.losses)
        np.testing.assert_array_equal(cooled.losses, plain.losses)
    knn_weighted = run_autodehypo(task, "lshade:prescreen=8:cw=40", 0, 40)
    np.testing.assert_array_equal(knn_weighted.losses, run_autodehypo(task, "lshade:prescreen=8", 0, 40).losses)


def test_the_equal_cost_view_shows_a_cost_weighted_variant_by_its_unweighted_twin():
    def run(optimizer, loss):
        return Trace("t", optimizer, 0, 2, np.array([loss, loss]), np.array([5.0, 7.0]), np.zeros(2, dtype=bool))
    traces = [run("random", 3.0), run("de:prescreen=8", 1.0), run("de:prescreen=8:cw=40", 2.0),
              run("de:prescreen=8:cw=80:cool=1", 2.5), run("jso:prescreen=8:cw=40", 0.5)]
    shown = {t.optimizer: t for t in equal_view(traces)}
    assert set(shown) == {"random", "de:prescreen=8", "de:prescreen=8:cw=40",  # jso's twin was not run
                          "de:prescreen=8:cw=80:cool=1"}
    assert shown["de:prescreen=8:cw=40"].losses.tolist() == [1.0, 1.0]  # the unweighted run, renamed
    assert shown["de:prescreen=8:cw=80:cool=1"].losses.tolist() == [1.0, 1.0]
    assert all(t.costs.tolist() == [1.0, 1.0] for t in shown.values())
