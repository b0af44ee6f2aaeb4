"""benchmarks/mo_study.py: its --quick run and report, the fronts it scores against, its study-like driving.

Skipped, with the pip command, where pymoo or Optuna is missing (the benchmark's peers and
synthetic problems need them). The quick run takes a few seconds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest.importorskip("pymoo", reason="the synthetic problems and NSGA-II need pymoo: pip install pymoo")
pytest.importorskip("optuna", reason="the Optuna peers need optuna: pip install optuna")
pytest.importorskip("scipy", reason="the report's U tests need scipy: pip install scipy")

from autodehypo.config import search_of  # noqa: E402
from benchmarks import mo_study  # noqa: E402


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mo_study")
    mo_study.main(["run", "--quick", "--json-dir", str(directory)])
    return directory, {p.stem: json.loads(p.read_text()) for p in directory.glob("*.json")}


def test_quick_run_scores_every_budget_with_exactly_its_evaluations(quick):
    _, results = quick
    q = mo_study.QUICK
    assert sorted(results) == sorted(q["problems"])
    for r in results.values():
        assert r["methods"] == q["methods"] and r["budgets"] == q["evaluations"]
        for m in r["methods"]:
            for b in map(str, r["budgets"]):
                hv = r["hypervolume"][m][b]
                assert len(hv) == q["seeds"]
                assert all(0.0 <= v <= 1.0001 for v in hv), (r["problem"], m, b, hv)
                assert r["evaluations"][m][b] == [int(b)] * q["seeds"], (r["problem"], m, b)
            assert len(r["seconds"][m]) == q["seeds"]
        for p in r["peers"]:  # one run cut at each budget: a longer prefix never loses volume
            small, large = (r["hypervolume"][p][str(b)] for b in r["budgets"])
            assert all(s <= v for s, v in zip(small, large)), (r["problem"], p, small, large)
        # Something was found, or the checks above would hold for any broken scoring.
        assert max(max(v) for m in r["methods"] for v in r["hypervolume"][m].values()) > 0


def test_default_follows_the_package(quick):
    """'default' is the search a study of several objectives runs when it names none: for
    wfg4's two objectives and for dtlz2's three."""
    _, results = quick
    assert sorted(r["objectives"] for r in results.values()) == [2, 3]
    for r in results.values():
        algorithm, options = search_of({"objectives": [{"name": f"f{i}"} for i in range(r["objectives"])]})
        assert r["resolved"]["default"]["algorithm"] == algorithm
        assert r["resolved"]["default"]["options"] == options


def test_table_prints_the_summary(quick, capsys):
    directory, _ = quick
    out_file = directory / "report.md"
    mo_study.main(["table", "--json-dir", str(directory), "-o", str(out_file)])
    out = capsys.readouterr().out
    assert out == out_file.read_text()
    assert "## Summary" in out and "## Found the front" in out
    for b in mo_study.QUICK["evaluations"]:
        assert f"| default | {b} | all | " in out and f"| default | {b} | synthetic | " in out
    assert "default vs nsga2-20" in out and "default vs optuna-tpe" in out


def test_new_seeds_pool_with_the_first_and_never_overlap(quick, tmp_path, capsys):
    directory, results = quick
    later = tmp_path / "later"
    mo_study.main(["run", "--quick", "--problems", "wfg4", "--first-seed", "2", "--json-dir", str(later)])
    again = json.loads((later / "wfg4.json").read_text())
    assert again["first_seed"] == 2
    first = results["wfg4"]
    pooled, = [r for r in mo_study.pooled([[first], [again]]) if r["problem"] == "wfg4"]
    assert pooled["seeds"] == 4 and pooled["seed_list"] == [0, 1, 2, 3]
    for m in first["methods"]:
        for b in map(str, first["budgets"]):
            assert pooled["hypervolume"][m][b] == first["hypervolume"][m][b] + again["hypervolume"][m][b]
    # seed 2 is a run of its own, not seed 0 again
    assert again["hypervolume"]["default"] != first["hypervolume"]["default"]
    with pytest.raises(SystemExit, match="share seeds"):
        mo_study.pooled([[first], [first]])
    with pytest.raises(SystemExit, match="different seeds"):
        mo_study.joined([[first], [again]])
    mo_study.main(["table", "--pool", "--json-dir", str(directory), str(later)])
    assert "4 seeds" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["zdt3", "wfg4", "dtlz5", "mlp-energy"])
def test_the_front_scores_one_and_nothing_beats_it(name):
    """The front scored against is the true one: sampled points of the space never dominate it
    (beyond rounding), and the front itself scores 1."""
    from autodehypo.algorithms.pareto import dominates
    problem = mo_study.make_problem(name)
    front = problem.front[:: max(1, len(problem.front) // 300)]
    assert problem.score(front) == pytest.approx(1.0, abs=0.01)
    rng = np.random.default_rng(0)
    F = np.array([problem.evaluate(problem.space.decode(u)) for u in rng.random((300, problem.space.dim))])
    scale = problem.high - problem.low
    tight = (front - problem.low) / scale + 1e-9  # a point beats the front only if it beats this
    assert not any(dominates((f - problem.low) / scale, tight).any() for f in F)


def test_specs_parse_and_a_bad_option_stops_in_one_line():
    assert mo_study.parse_spec("gde3-shade:population=20:p=0.1:surrogate=gp") == (
        "gde3-shade", 20, {"p": 0.1, "surrogate": "gp"})
    assert mo_study.parse_spec("default") == ("default", None, {})
    with pytest.raises(SystemExit, match="method 'gde3:bogus=1'"):
        mo_study.run_problem("wfg4", ["gde3:bogus=1"], 1, [12])


def test_ours_answers_a_repeated_configuration_without_evaluating_it(monkeypatch):
    """On a space of two small categoricals most asks repeat: only first asks are evaluated."""
    problem = mo_study.Problem(
        "grid", "table", "", {"a": {"type": "categorical", "choices": [0, 1, 2]},
                              "b": {"type": "categorical", "choices": [0, 1]}},
        lambda c: (float(c["a"] + c["b"]), float(2 - c["a"])), np.zeros(2), np.full(2, 3.0), np.zeros((1, 2)))
    calls = []
    evaluate = problem.evaluate
    monkeypatch.setattr(problem, "evaluate", lambda c: calls.append(c) or evaluate(c))
    points = mo_study.run_ours(problem, "default", 0, 30)
    assert len(points) == 30
    assert len(calls) == len({tuple(sorted(c.items())) for c in calls}) <= 6
