"""The driver on real trial processes and a real SQLite file."""

import csv
import io
import math
import sqlite3

import pytest

from autodehypo import ConfigError, Study
from autodehypo.reports.text import export_csv, report_text, status_text
from autodehypo.storage import Storage, StorageError
from autodehypo.study.driver_lock import DriverLock, StudyLockedError, driver_alive
from conftest import toy_config


def rows(directory):
    storage = Storage.open(directory, readonly=True)
    out = io.StringIO()
    export_csv(storage, out)
    storage.close()
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_study_runs_to_its_evaluation_budget(tmp_path):
    study = Study.create(tmp_path / "s", toy_config(evaluations=36, population=8))
    final = study.run()
    study.close()
    table = rows(tmp_path / "s")
    assert final.finished and final.evaluations == 36 and len(table) == 36
    assert [int(r["number"]) for r in table] == list(range(36))
    assert {r["status"] for r in table} == {"complete"}
    assert [(int(r["generation"]), int(r["idx"])) for r in table][:9] == \
        [(0, i) for i in range(8)] + [(1, 0)]
    values = [float(r["value"]) for r in table]
    assert final.best_value == min(values)
    # Every trial carries its timing and an energy estimate derived from its CPU time.
    for r in table:
        assert float(r["elapsed_s"]) > 0 and r["host"] and r["energy_source"] == "estimate"
        assert math.isclose(float(r["energy_j"]), 10.0 * float(r["cpu_time_s"]))
    # The optimizer state is checkpointed after every generation; the 5th is cut to 4 trials.
    with sqlite3.connect(tmp_path / "s" / "study.db") as db:
        assert [g for (g,) in db.execute("SELECT generation FROM checkpoints")] == [1, 2, 3, 4, 5]
    assert [int(r["generation"]) for r in table].count(4) == 4
    assert "36 complete" in report_text(Storage.open(tmp_path / "s", readonly=True))


def test_search_improves_on_the_initial_population(tmp_path):
    study = Study.create(tmp_path / "s", toy_config(evaluations=160, population=10, dims=3))
    study.run()
    values = [float(r["value"]) for r in rows(tmp_path / "s")]
    initial = sorted(values[:10])
    assert min(values) < 0.1 * initial[0]


def test_failed_trials_get_the_worst_value_seen_and_the_study_goes_on(tmp_path):
    config = toy_config("toy_objectives:failing_sphere", evaluations=40, population=10,
                        space={"x": {"type": "float", "low": 0.0, "high": 1.0}})
    Study.create(tmp_path / "s", config).run()
    table = rows(tmp_path / "s")
    failed = [r for r in table if r["status"] == "failed"]
    assert len(table) == 40 and failed
    for r in failed:
        assert r["error"] in ("ValueError: x too small", "objective returned nan")
        assert r["value"] == ""
        done_so_far = [float(o["value"]) for o in table if o["status"] == "complete"
                       and int(o["generation"]) <= int(r["generation"])]
        assert float(r["told_value"]) == max(done_so_far)


def test_fixed_failure_value_and_maximize(tmp_path):
    config = toy_config("toy_objectives:failing_sphere", evaluations=20, population=10,
                        space={"x": {"type": "float", "low": 0.0, "high": 1.0}},
                        extra_study={"direction": "maximize", "failure_value": -5.0})
    final = Study.create(tmp_path / "s", config).run()
    table = rows(tmp_path / "s")
    for r in table:
        if r["status"] == "failed":
            assert float(r["told_value"]) == 5.0  # told to a minimizer: the sign flips
        else:
            assert float(r["told_value"]) == -float(r["value"])
    assert final.best_value == max(float(r["value"]) for r in table if r["value"])


def test_energy_budget_stops_the_study(tmp_path):
    config = toy_config("toy_objectives:burn", evaluations=1000, population=4, workers=1,
                        space={"x": {"type": "float", "low": 0.0, "high": 1.0}})
    config["study"]["budget"]["energy"] = "15 J"  # 10 W per core: about 5 trials of 0.3 s
    final = Study.create(tmp_path / "s", config).run()
    assert 3 <= final.evaluations <= 8
    total = sum(float(r["energy_j"]) for r in rows(tmp_path / "s"))
    assert total >= 15.0 and total - 15.0 < 5.0  # stops after the trial that crossed it


def test_wall_time_budget_stops_the_study(tmp_path):
    config = toy_config("toy_objectives:burn", evaluations=1000, population=4, workers=1,
                        space={"x": {"type": "float", "low": 0.0, "high": 1.0}})
    config["study"]["budget"] = {"wall_time": "2s"}
    final = Study.create(tmp_path / "s", config).run()
    assert 2 <= final.evaluations <= 10 and 2.0 <= final.elapsed_s < 4.0


def test_second_driver_is_refused(tmp_path):
    study = Study.create(tmp_path / "s", toy_config(evaluations=8))
    assert not driver_alive(tmp_path / "s")
    lock = DriverLock(tmp_path / "s")
    try:
        assert driver_alive(tmp_path / "s")
        with pytest.raises(StudyLockedError, match="another driver is running this study"):
            study.run()
    finally:
        lock.release()
    study.run()


def test_the_refused_driver_names_a_holder_that_has_not_written_its_name_yet(tmp_path):
    """A driver takes the lock of a new lock file, then writes who it is; a second driver that
    comes in between names it once it has (it said "(unknown)" before)."""
    import fcntl
    import os
    import threading

    (tmp_path / "s").mkdir()
    fd = os.open(tmp_path / "s" / "driver.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    late = threading.Timer(0.2, lambda: os.write(fd, b"pid 4242 on node7"))
    late.start()
    try:
        with pytest.raises(StudyLockedError, match=r"\(pid 4242 on node7\)"):
            DriverLock(tmp_path / "s")
    finally:
        late.join()
        os.close(fd)
    lock = DriverLock(tmp_path / "s")  # the holder gone, the lock is free again
    assert (tmp_path / "s" / "driver.lock").read_text().startswith(f"pid {os.getpid()} on ")
    lock.release()


def test_existing_study_is_not_overwritten(tmp_path):
    Study.create(tmp_path / "s", toy_config(evaluations=8)).run()
    with pytest.raises(Exception, match="already holds a study"):
        Study.create(tmp_path / "s", toy_config(evaluations=8))


def test_bad_objective_leaves_no_directory(tmp_path):
    with pytest.raises(ConfigError, match="cannot import 'no_such_module'"):
        Study.create(tmp_path / "s", toy_config("no_such_module:f"))
    assert not (tmp_path / "s").exists()


def test_python_api_with_a_callable(tmp_path):
    def quadratic(params):
        return (params["a"] - 2.0) ** 2 + (0.0 if params["kind"] == "good" else 1.0)
    config = {"study": {"algorithm": "de", "seed": 1, "population": 6, "budget": {"evaluations": 60}},
              "space": {"a": {"type": "float", "low": -5.0, "high": 5.0},
                        "kind": {"type": "categorical", "choices": ["good", "bad"]}},
              "objective": {"type": "python"}}
    final = Study.create(tmp_path / "s", config, objective=quadratic).run()
    assert final.best_value < 0.5
    text = status_text(Storage.open(tmp_path / "s", readonly=True), driver_alive=False)
    assert "generation:   10 completed" in text and "state:        finished" in text


def _reopened_as_made_before(directory, config, monkeypatch, version, meta_key):
    """A study made and run with ``version`` 1 of the study code, its file stripped of ``meta_key`` as
    files were before that key was recorded, then opened by the current code."""
    import autodehypo.study.files as study_module
    monkeypatch.setattr(study_module, version, 1)
    old = Study.create(directory, config)
    old.run()
    old.close()
    with sqlite3.connect(directory / "study.db") as db:
        db.execute(f"DELETE FROM meta WHERE key = '{meta_key}'")
    monkeypatch.undo()
    return Study.open(directory)


def test_a_study_keeps_the_encoding_it_was_made_with(tmp_path, monkeypatch):
    space = {"x": {"type": "float", "low": 0.0, "high": 1.0},
             "act": {"type": "categorical", "choices": ["relu", "tanh", "gelu"]}}
    config = toy_config(evaluations=8, population=4, space=space)
    fresh = Study.create(tmp_path / "new", config)
    assert fresh.config.space.dim == 4 and fresh.storage.meta("space_encoding") == 2
    fresh.close()
    # A study file from before the encoding was recorded: no space_encoding, one coordinate.
    reopened = _reopened_as_made_before(tmp_path / "old", config, monkeypatch, "ENCODING_VERSION",
                                        "space_encoding")
    assert reopened.config.space.dim == 2
    for trial in reopened.storage.trials():
        assert reopened.config.space.decode(trial.unit) == trial.params
    reopened.close()


def test_without_an_algorithm_a_study_runs_the_default_search_of_the_version_it_was_made_with(
        tmp_path, monkeypatch):
    config = toy_config(evaluations=24, population=6)
    del config["study"]["algorithm"]
    fresh = Study.create(tmp_path / "new", config)
    assert (fresh.config.algorithm, fresh.config.options) == (
        "lshade", {"prescreen": 32, "cost_weight": 0.8, "cost_cooling": True, "surrogate": "gp",
                   "screen_start": True})
    assert fresh.storage.meta("search_defaults") == 10
    fresh.run()
    assert fresh.storage.current_state()["state"]["prescreen"]["k"] == 32
    assert fresh.storage.current_state()["state"]["prescreen"]["cost_weight"] == 0.8
    assert fresh.storage.current_state()["state"]["prescreen"]["cost_cooling"] is True
    assert fresh.storage.current_state()["state"]["prescreen"]["surrogate"] == "gp"
    assert fresh.storage.current_state()["state"]["prescreen"]["screen_start"] is True
    assert "(lshade, prescreen 32 (gp, screened start), cost weight 0.8 cooled, seed 3, minimize)" in report_text(
        fresh.storage)
    fresh.close()
    # Without an evaluation budget (L-SHADE shrinks toward one), de with its best pre-screening.
    timed = {**config, "study": {**config["study"], "budget": {"wall_time": "1h"}}}
    assert (lambda c: (c.algorithm, c.options))(Study.check(tmp_path / "x", timed)) == (
        "de", {"prescreen": 4, "cost_weight": 0.4})
    # The user's options are added to the default's; another algorithm's are refused by name.
    assert Study.check(tmp_path / "x", {**config, "study": {**config["study"], "options": {"p": 0.2}}}
                       ).options == {"prescreen": 32, "cost_weight": 0.8, "cost_cooling": True, "surrogate": "gp",
                                     "screen_start": True, "p": 0.2}
    # cost_weight = 0 over the default's (README: for runs that must repeat exactly) leaves no
    # weight to cool.
    assert Study.check(tmp_path / "x", {**config, "study": {**config["study"], "options": {"cost_weight": 0}}}
                       ).options["cost_weight"] == 0
    import autodehypo.study.files as study_module

    def made_with(version, made=config):
        """A study made when the search defaults were ``version``, opened again by this one."""
        monkeypatch.setattr(study_module, "SEARCH_DEFAULTS_VERSION", version)
        Study.create(tmp_path / f"v{version}", made).close()
        monkeypatch.undo()
        return Study.open(tmp_path / f"v{version}")

    # A study made with version 2 of the defaults keeps pre-screening without the cost.
    v2 = made_with(2)
    assert (v2.config.algorithm, v2.config.options) == ("lshade", {"prescreen": 32})
    assert "(lshade, prescreen 32, seed 3, minimize)" in report_text(v2.storage)
    v2.close()
    # Version 3 keeps the nearest-neighbour model.
    v3 = made_with(3)
    assert (v3.config.algorithm, v3.config.options) == ("lshade", {"prescreen": 32, "cost_weight": 0.4})
    v3.close()
    # Version 5 keeps the initial population as drawn.
    v5 = made_with(5)
    assert (v5.config.algorithm, v5.config.options) == ("lshade", {"prescreen": 32, "cost_weight": 0.4, "surrogate": "gp"})
    assert "(lshade, prescreen 32 (gp), cost weight 0.4, seed 3, minimize)" in report_text(v5.storage)
    v5.close()
    # Version 6 weighs the cost by 0.4 to the end.
    v6 = made_with(6)
    assert (v6.config.algorithm, v6.config.options) == (
        "lshade", {"prescreen": 32, "cost_weight": 0.4, "surrogate": "gp", "screen_start": True})
    v6.run()
    assert "cost_cooling" not in v6.storage.current_state()["state"]["prescreen"]
    v6.close()
    # Several objectives: gde3-shade with pre-screening from version 5, its trials made with
    # current-to-pbest/1 from version 8, redrawn copies where the population drew together from 9;
    # plain gde3 before 5.
    several = {**config, "study": {**config["study"], "objectives": [{"name": "objective"}, {"name": "energy"}]}}
    assert (lambda c: (c.algorithm, c.options))(Study.check(tmp_path / "x", several)) == ("gde3-shade", {
        "prescreen": 32, "mutation": "current-to-pbest/1", "p": 0.5, "redraws": 8, "redraw_below": 0.01})
    v7 = made_with(7, several)
    assert (v7.config.algorithm, v7.config.options) == ("gde3-shade", {"prescreen": 32})
    v7.run()
    assert v7.storage.current_state()["state"]["mutation"] == "rand/1"
    assert "(gde3-shade, prescreen 32, seed 3, 2 objectives)" in report_text(v7.storage)
    v7.close()
    v8 = made_with(8, several)
    v8.run()
    state = v8.storage.current_state()["state"]
    assert (state["mutation"], state["p"], state["prescreen"].get("redraws")) == ("current-to-pbest/1", 0.5, None)
    assert "(gde3-shade current-to-pbest/1 (p 0.5), prescreen 32, seed 3, 2 objectives)" in \
        report_text(v8.storage)
    v8.close()
    v9 = Study.create(tmp_path / "v9", several)
    v9.run()
    screen = v9.storage.current_state()["state"]["prescreen"]
    assert (screen["redraws"], screen["redraw_below"]) == (8, 0.01)
    assert "prescreen 32 (8 redrawn where spread < 0.01), seed 3, 2 objectives)" in report_text(v9.storage)
    v9.close()
    v4 = made_with(4, several)
    assert (v4.config.algorithm, v4.config.options) == ("gde3", {})
    v4.close()
    with pytest.raises(ConfigError, match=r"study.options \(for lshade, the default algorithm\).*'strategy'"):
        Study.check(tmp_path / "x", {**config, "study": {**config["study"], "options": {"strategy": "rand/1/bin"}}})
    # A study file from before the defaults were recorded ran de, and keeps running de.
    reopened = _reopened_as_made_before(tmp_path / "old", config, monkeypatch, "SEARCH_DEFAULTS_VERSION",
                                        "search_defaults")
    assert (reopened.config.algorithm, reopened.config.options) == ("de", {})
    assert "(de, seed 3, minimize)" in report_text(reopened.storage)
    assert reopened.run().finished
    reopened.close()
    # A file from a later version of the defaults: a one-line error, not a guess.
    with sqlite3.connect(tmp_path / "old" / "study.db") as db:
        db.execute("INSERT INTO meta (key, value) VALUES ('search_defaults', '99')")
    with pytest.raises(StorageError, match="made by a newer autodehypo"):
        Study.open(tmp_path / "old")


@pytest.mark.parametrize("noisy", [False, True])
def test_a_configuration_asked_again_is_not_trained_again(tmp_path, monkeypatch, noisy):
    runs = tmp_path / "runs.txt"
    monkeypatch.setenv("TOY_RUNS_FILE", str(runs))
    grid = {"a": {"type": "categorical", "choices": [0, 1, 2, 3]},
            "b": {"type": "categorical", "choices": [0, 1, 2]}}
    config = toy_config("toy_objectives:counted_grid", evaluations=40, population=8, space=grid,
                        extra_study={"noisy": noisy})
    study = Study.create(tmp_path / "s", config)
    final = study.run()
    study.close()
    table = rows(tmp_path / "s")
    trained = runs.read_text().splitlines()
    assert final.evaluations == len(table) == 40
    configs = [(r["param_a"], r["param_b"]) for r in table]
    if noisy:  # every asked configuration trains, repeated or not
        assert len(trained) == 40
        return
    # Twelve configurations exist, so forty trials must repeat some; each trains once.
    assert len(trained) == len(set(trained)) == len(set(configs)) < 40
    first = {}
    for r in table:
        key = (r["param_a"], r["param_b"])
        if key not in first:
            first[key] = r
            assert r["metric_repeat_of"] == ""
            continue
        assert int(r["metric_repeat_of"]) == int(first[key]["number"])
        assert r["value"] == first[key]["value"] and float(r["energy_j"]) == 0.0
        assert r["status"] == "complete" and float(r["elapsed_s"]) == 0.0


@pytest.mark.parametrize("fidelity", [False, True])
def test_creating_a_study_builds_its_search_once(tmp_path, monkeypatch, fidelity):
    """The config check builds the search and asks its first candidates; creation builds no
    other (it built three before), and running builds the one it runs."""
    import autodehypo.config as config_module
    built = []
    real = config_module.build_search
    monkeypatch.setattr(config_module, "build_search", lambda cfg: built.append(cfg) or real(cfg))
    config = toy_config(evaluations=6, population=4)
    if fidelity:
        config["study"]["fidelity"] = {"param": "epochs", "min": 1, "max": 9, "eta": 3}
        config["objective"]["function"] = "toy_objectives:fidelity_sphere"
    Study.create(tmp_path / "s", config).close()
    assert len(built) == 1
