"""DESampler: the DE family inside Optuna, its state in the study's storage.

Real Optuna storages (an SQLite file, a journal file) and real processes: a worker is SIGKILLed in
the middle of a trial and the study is continued by a new process.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState

import optuna_worker
from autodehypo.algorithms import make_optimizer
from autodehypo.algorithms.base import unpack_floats
from autodehypo.integrations.optuna import CONFIG_KEY, GENERATION_KEY, SLOT_KEY, DESampler
from autodehypo.space import SearchSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)
WORKER = Path(optuna_worker.__file__)


MYSQL_SOCKET = "/run/mysqld/mysqld.sock"  # the MariaDB of scripts/slurm-local.sh
MYSQL_URL = f"mysql+pymysql://autodehypo:autodehypo@localhost/autodehypo_optuna?unix_socket={MYSQL_SOCKET}"


def storage_spec(kind: str, tmp_path: Path, name: str = "study") -> str:
    if kind == "mysql":
        return mysql_storage(name)
    return f"sqlite:///{tmp_path / name}.db" if kind == "sqlite" else f"journal:{tmp_path / name}.log"


def mysql_storage(name: str) -> str:
    """A fresh database on the local MariaDB server for one storage, or a skip (a failure in CI)
    that says how to start it."""
    try:
        import pymysql
        connection = pymysql.connect(user="autodehypo", password="autodehypo", unix_socket=MYSQL_SOCKET,
                                     database="autodehypo_optuna")
    except Exception as exc:  # no driver, no server, no database: the same advice
        message = (f"no MySQL server for the Optuna storage tests ({str(exc)[:120]}); "
                   "start the local one with: sudo scripts/slurm-local.sh start")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with connection, connection.cursor() as cursor:  # each test its own tables: drop what a run left
        cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
        cursor.execute("SHOW TABLES")
        for (table,) in cursor.fetchall():
            cursor.execute(f"DROP TABLE `{table}`")
        cursor.execute("SET FOREIGN_KEY_CHECKS = 1")
    return MYSQL_URL


def run_worker(spec: str, *args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(WORKER), spec, *args], env=env, capture_output=True,
                          text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def load(spec: str) -> optuna.Study:
    return optuna.load_study(study_name="worker", storage=optuna_worker.open_storage(spec))


def slot(trial) -> tuple[int, int]:
    return tuple(trial.system_attrs[SLOT_KEY][:2])  # [generation, row, digest of the configuration]


def study_loop(name: str, seed: int, budget: int, direction: str = "minimize",
               failure_value: float | None = None) -> list[dict]:
    """What autodehypo's own generational loop asks on the worker's space: the study's encoding
    (SearchSpace.from_config), default population and told-value policy (sign flip; a failure is
    told failure_value, else the worst complete value so far, this generation included)."""
    space = SearchSpace.from_config(optuna_worker.SPACE_TABLE)
    opt = make_optimizer(name, space.dim, seed=seed, max_evaluations=budget)
    sign = 1.0 if direction == "minimize" else -1.0
    asked, worst = [], None
    while len(batch := opt.ask_generation()):
        configs = [space.decode(u) for u in batch]
        values = [optuna_worker.loss(c) * (1 if direction == "minimize" else -1) for c in configs]
        for v in values:
            if not math.isnan(v):
                worst = sign * v if worst is None else max(worst, sign * v)
        penalty = sign * failure_value if failure_value is not None else (math.inf if worst is None else worst)
        opt.tell_generation([penalty if math.isnan(v) else sign * v for v in values])
        asked += configs
    return asked


def replay(study: optuna.Study) -> None:
    """Every stored generation state is the one its predecessor and the trials' first results make,
    and every trial evaluated its slot's point: the storage holds one consistent history."""
    attrs = study._storage.get_study_system_attrs(study._study_id)
    config = attrs[CONFIG_KEY]
    space = SearchSpace.from_config(optuna_worker.SPACE_TABLE)
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    trials = study.get_trials(deepcopy=False)
    generation = 0
    while GENERATION_KEY.format(generation) in attrs:
        record = attrs[GENERATION_KEY.format(generation)]
        opt = make_optimizer(config["algorithm"], space.dim, population=config["population"],
                             seed=config["seed"], max_evaluations=config["n_trials"])
        opt.load_state_dict(record["optimizer"])
        points = opt.ask_generation()
        rows = {}
        for t in trials:
            if SLOT_KEY in t.system_attrs and slot(t)[0] == generation:
                assert t.params == space.decode(points[slot(t)[1]])
                rows.setdefault(slot(t)[1], []).append(t)
        following = attrs.get(GENERATION_KEY.format(generation + 1))
        if following is None:
            break
        firsts = [min((t for t in rows[r] if t.state.is_finished()), key=lambda t: (t.datetime_complete, t.number))
                  for r in range(len(points))]
        worst = record["worst"]
        for t in firsts:
            if t.state == TrialState.COMPLETE:
                worst = sign * t.value if worst is None else max(worst, sign * t.value)
        told = [sign * t.value if t.state == TrialState.COMPLETE else worst for t in firsts]
        opt.tell_generation(told)
        assert json.dumps(opt.state_dict()) == json.dumps(following["optimizer"])
        generation += 1


@pytest.mark.parametrize("name", ["de", "jde", "shade", "lshade", "jso", "dish"])
def test_a_sequential_study_asks_what_the_generational_loop_asks(name):
    """Same seed, one trial at a time: the parameters of every trial equal autodehypo's own loop,
    decoded by the study's space (log float, log int, numeric and one-hot categorical), with
    failed trials told the worst value so far."""
    budget = 70
    study = optuna.create_study(sampler=DESampler(name, seed=3, n_trials=budget,
                                                  search_space=optuna_worker.DISTRIBUTIONS))
    study.optimize(optuna_worker.objective, n_trials=budget, catch=(ValueError,))
    expected = study_loop(name, seed=3, budget=budget)
    assert [t.params for t in study.trials] == expected
    assert any(t.state == TrialState.FAIL for t in study.trials)  # the failure policy was exercised


def test_maximize_flips_the_sign_and_failure_value_is_told():
    budget = 40
    study = optuna.create_study(direction="maximize", sampler=DESampler(
        "jso", seed=8, n_trials=budget, search_space=optuna_worker.DISTRIBUTIONS, failure_value=-50.0))
    study.optimize(lambda t: -optuna_worker.objective(t), n_trials=budget, catch=(ValueError,))
    assert [t.params for t in study.trials] == study_loop("jso", 8, budget, "maximize", failure_value=-50.0)


def test_pruned_trials_are_told_their_last_value_or_the_failure_policy():
    space = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}
    study = optuna.create_study(sampler=DESampler("de", seed=1, population=6, search_space=space))

    def objective(trial):
        trial.suggest_float("x", 0, 1)  # the value is never read: only the told values matter here
        trial.suggest_float("y", 0, 1)
        if trial.number == 1:
            trial.report(7.0, step=1)
            raise optuna.TrialPruned()
        if trial.number == 2:
            raise optuna.TrialPruned()  # nothing reported: as a failure
        if trial.number == 3:
            raise ValueError("crash")
        return float(trial.number)

    study.optimize(objective, n_trials=7, catch=(ValueError,))
    state = study._storage.get_study_system_attrs(study._study_id)[GENERATION_KEY.format(1)]
    # The initial population's fitness is what was told: worst complete value so far is 5.
    assert state["optimizer"]["fitness"] == [0.0, 7.0, 5.0, 5.0, 4.0, 5.0]
    assert state["worst"] == 5.0


def test_log_int_and_stepped_parameters_stay_on_their_grid():
    space = {"lr": FloatDistribution(1e-4, 1e-1, log=True), "units": IntDistribution(16, 1024, log=True),
             "drop": FloatDistribution(0.0, 0.5, step=0.1), "k": IntDistribution(1, 9, step=2),
             "fixed": IntDistribution(3, 3)}
    study = optuna.create_study(sampler=DESampler("jde", seed=2, search_space=space))
    study.optimize(lambda t: sum(float(t.suggest_float(n, d.low, d.high, log=d.log, step=d.step))
                                 if isinstance(d, FloatDistribution)
                                 else t.suggest_int(n, d.low, d.high, log=d.log, step=d.step)
                                 for n, d in space.items()), n_trials=30)
    for t in study.trials:
        assert SLOT_KEY in t.system_attrs  # sampled by the DE, not the fallback
        assert round(t.params["drop"] * 10) == pytest.approx(t.params["drop"] * 10)
        assert t.params["k"] in (1, 3, 5, 7, 9) and t.params["fixed"] == 3
        assert 1e-4 <= t.params["lr"] <= 1e-1 and 16 <= t.params["units"] <= 1024
    assert len({t.params["lr"] for t in study.trials}) > 20  # searched, not one point (a child may keep its parent's lr)


def test_without_a_search_space_the_first_complete_trial_defines_it():
    study = optuna.create_study(sampler=DESampler("jso", seed=4, n_trials=40))
    study.optimize(optuna_worker.objective, n_trials=20, catch=(ValueError,))
    assert SLOT_KEY not in study.trials[0].system_attrs  # sampled at random: nothing known yet
    first_de = next(t for t in study.trials if SLOT_KEY in t.system_attrs)
    assert slot(first_de) == (0, 0)
    stored = study._storage.get_study_system_attrs(study._study_id)[CONFIG_KEY]
    assert [name for name, _ in stored["space"]] == list(optuna_worker.DISTRIBUTIONS)


def test_a_study_refuses_a_sampler_with_other_settings():
    study = optuna.create_study(sampler=DESampler("jso", seed=4, n_trials=30,
                                                  search_space=optuna_worker.DISTRIBUTIONS))
    study.optimize(optuna_worker.objective, n_trials=3, catch=(ValueError,))
    study.sampler = DESampler("lshade", seed=4, n_trials=30, search_space=optuna_worker.DISTRIBUTIONS)
    with pytest.raises(ValueError, match="algorithm='jso'"):
        study.optimize(optuna_worker.objective, n_trials=1)


def test_jso_needs_the_budget_and_says_so_when_built():
    with pytest.raises(ValueError, match="n_trials"):
        DESampler("jso", search_space=optuna_worker.DISTRIBUTIONS)


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_killed_mid_study_and_reopened_it_continues_as_an_uninterrupted_run(kind, tmp_path, subprocess_env):
    straight = storage_spec(kind, tmp_path, "straight")
    run_worker(straight, env=subprocess_env)
    killed = storage_spec(kind, tmp_path, "killed")
    done = run_worker(killed, "--kill-at", "21", env=subprocess_env, check=False)
    assert done.returncode == -9  # SIGKILL, in the middle of trial 21
    run_worker(killed, env=subprocess_env)  # a new process opens the storage and goes on

    expected, resumed = load(straight).trials, load(killed).trials
    assert resumed[21].state == TrialState.RUNNING  # the killed trial, left as it died
    finished = [t for t in resumed if t.state.is_finished()]
    # Every point is asked with the same parameters; the killed one is asked again once the rest of
    # its generation (16 rows) is out, so its row moves to the end of generation 1.
    assert {slot(t): t.params for t in finished} == {slot(t): t.params for t in expected}
    order = [slot(t) for t in expected]
    order.insert(31, order.pop(21))
    assert [slot(t) for t in finished] == order
    states = [load(s)._storage.get_study_system_attrs(load(s)._study_id) for s in (straight, killed)]
    assert json.dumps(states[0], sort_keys=True) == json.dumps(states[1], sort_keys=True)
    replay(load(killed))


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_two_threads_complete_without_duplicate_or_lost_trials(kind, tmp_path):
    spec = storage_spec(kind, tmp_path)
    optuna_worker.main([spec, "--n-jobs", "2", "--complete", "40", "--budget", "60", "--sleep", "0.002"])
    study = load(spec)
    trials = study.trials
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert 40 <= len(trials) <= 41 and all(t.state.is_finished() for t in trials)
    assert all(SLOT_KEY in t.system_attrs for t in trials)
    by_slot = {}
    for t in trials:
        by_slot.setdefault(slot(t), []).append(t)
    generations = max(g for g, _ in by_slot)
    # Every row of each generation before the last was evaluated; a row asked twice (a backup of
    # the generation's last running row) has the same parameters.
    for g in range(generations):
        assert {r for gg, r in by_slot if gg == g} == set(range(16))
    assert all(len({json.dumps(t.params) for t in group}) == 1 for group in by_slot.values())
    assert all(t.params["layers"] == optuna_worker.FAILING_LAYERS for t in trials if t.state == TrialState.FAIL)
    replay(study)


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_two_processes_share_one_storage(kind, tmp_path, subprocess_env):
    spec = storage_spec(kind, tmp_path)
    run_worker(spec, "--complete", "1", "--budget", "60", env=subprocess_env)  # creates the study first
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    workers = [subprocess.Popen([sys.executable, str(WORKER), spec, "--complete", "40", "--budget", "60",
                                 "--sleep", "0.002"], env=subprocess_env, stderr=log.open("w"))
               for log in logs]
    for w, log in zip(workers, logs):
        assert w.wait(timeout=300) == 0, log.read_text()[-3000:]
    study = load(spec)
    trials = study.trials
    assert len(trials) >= 40 and all(t.state.is_finished() for t in trials)
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert all(SLOT_KEY in t.system_attrs for t in trials)
    # Only the objective failed (a configuration with FAILING_LAYERS), never the sampler.
    assert all(t.params["layers"] == optuna_worker.FAILING_LAYERS for t in trials if t.state == TrialState.FAIL)
    replay(study)


def readme_example() -> str:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Inside Optuna", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_runs_and_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = readme_example()
    assert len(code.strip().splitlines()) <= 16
    exec(compile(code, "README.md", "exec"), {})
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend("de.log"))
    trials = optuna.load_study(study_name="de", storage=storage).trials
    # The first trial is random (it fixes the space) and is not one of the budget's 100 rows.
    assert len(trials) == 100 and SLOT_KEY not in trials[0].system_attrs
    exec(compile(code, "README.md", "exec"), {})  # a second run spends the one row left
    exec(compile(code, "README.md", "exec"), {})  # a third finds the budget spent
    trials = optuna.load_study(study_name="de", storage=storage).trials
    assert len(trials) == 101 and all(SLOT_KEY in t.system_attrs for t in trials[1:])


def test_a_row_asked_twice_and_values_told_out_of_order_give_the_sequential_state():
    space = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(-1.0, 1.0, step=0.5)}

    def value(trial):
        return (trial.params["x"] - 0.3) ** 2 + trial.params["y"] ** 2

    def run(shuffled: bool) -> dict:
        study = optuna.create_study(sampler=DESampler("shade", seed=6, population=6, search_space=space))
        for _ in range(3):  # generations
            trials = [study.ask(space) for _ in range(6)]
            if shuffled:
                backup = study.ask(space)  # every row is out: the unfinished row with fewest trials again
                assert slot(study._storage.get_trial(backup._trial_id)) == slot(
                    study._storage.get_trial(trials[0]._trial_id)) and backup.params == trials[0].params
                study.tell(backup, value(backup))  # the backup finishes first: its value counts
                for t in reversed(trials[1:]):
                    study.tell(t, value(t))
                study.tell(trials[0], 99.0)  # later than the backup: ignored
            else:
                for t in trials:
                    study.tell(t, value(t))
        study.ask(space)  # tells the third generation
        return study._storage.get_study_system_attrs(study._study_id)

    assert json.dumps(run(True)[GENERATION_KEY.format(3)]) == json.dumps(run(False)[GENERATION_KEY.format(3)])


def test_cost_weight_weighs_each_trial_run_time():
    """With pre-screening and ``cost_weight``, each told trial's run time (what Optuna records of
    its cost) enters the optimizer's record beside its value."""
    budget = 30
    study = optuna.create_study(sampler=DESampler("de", seed=2, n_trials=budget, prescreen=4, cost_weight=0.5,
                                                  search_space=optuna_worker.DISTRIBUTIONS))
    study.optimize(optuna_worker.objective, n_trials=budget, catch=(ValueError,))
    attrs = study._storage.get_study_system_attrs(study._study_id)
    last = max(int(k.rsplit(":", 1)[-1]) for k in attrs if k.startswith(GENERATION_KEY.format("")))
    seen = attrs[GENERATION_KEY.format(last)]["optimizer"]["prescreen"]
    assert seen["cost_weight"] == 0.5
    costs = unpack_floats(seen["seen_costs"])
    told = study.trials[:len(costs)]  # one trial at a time: the generations are told in order
    durations = [(t.datetime_complete - t.datetime_start).total_seconds() for t in told]
    assert len(costs) >= 16 and (costs > 0).all()
    np.testing.assert_allclose(np.sort(costs), np.sort(durations))


@pytest.mark.parametrize("kind", ["sqlite", "mysql"])
def test_killed_with_a_heartbeat_the_retry_counts_and_the_run_equals_an_uninterrupted_one(kind, tmp_path,
                                                                                          subprocess_env):
    """Optuna's recipe for dead workers (heartbeat, grace period, RetryFailedTrialCallback): the
    killed trial is failed by the storage and queued again; its FAIL is not the row's result, the
    retry's is, and the stored generations equal those of a run that was never killed."""
    straight = storage_spec(kind, tmp_path, "straight")
    run_worker(straight, "--remaining", "--heartbeat", env=subprocess_env)
    states = [load(straight)._storage.get_study_system_attrs(load(straight)._study_id)]
    straight_slots = sorted(slot(t) for t in load(straight).trials)
    killed = storage_spec(kind, tmp_path, "killed")
    done = run_worker(killed, "--remaining", "--heartbeat", "--kill-at", "21", env=subprocess_env, check=False)
    assert done.returncode == -9
    run_worker(killed, "--remaining", "--heartbeat", env=subprocess_env)  # goes on within the grace period

    study = load(killed)
    dead = study.trials[21]
    assert dead.state == TrialState.FAIL  # failed by the heartbeat, not by the objective
    assert any(21 in t.system_attrs.get("retry_history", ()) for t in study.trials)
    states.append(study._storage.get_study_system_attrs(study._study_id))
    assert json.dumps(states[0], sort_keys=True) == json.dumps(states[1], sort_keys=True)
    finished = [t for t in study.trials if t.state.is_finished() and t.number != 21
                and "autodehypo:superseded_by" not in t.system_attrs]
    assert sorted(slot(t) for t in finished) == straight_slots
    assert DESampler("jso", seed=5, n_trials=48).remaining_trials(study) == 0


def test_a_trial_whose_process_died_on_this_machine_is_asked_again_at_once(tmp_path, subprocess_env):
    """Without a heartbeat, a row held by a dead process of this machine is asked again as soon as
    the rest of its generation is out, however long reask_after is: the claim names the process."""
    killed = storage_spec("sqlite", tmp_path, "killed")
    done = run_worker(killed, "--kill-at", "21", env=subprocess_env, check=False)
    assert done.returncode == -9
    started = time.monotonic()
    run_worker(killed, "--reask-after", "3600", env=subprocess_env)
    assert time.monotonic() - started < 120  # not an hour
    trials = load(killed).trials
    again = [t for t in trials if t.number > 21 and slot(t) == slot(trials[21])]
    assert len(again) == 1 and again[0].state.is_finished()


@pytest.mark.parametrize("kind", ["sqlite", "journal", "mysql"])
def test_four_processes_starting_together_take_different_rows(kind, tmp_path, subprocess_env):
    """Four workers start at the same moment with trials of different lengths: each row is trained
    once (a worker waits for the generation instead of training a row again), and the budget is
    spent exactly once every worker runs what remaining_trials() said when it started."""
    spec = storage_spec(kind, tmp_path)
    optuna.create_study(study_name="worker", storage=optuna_worker.open_storage(spec))
    start = f"{time.time() + 2:.3f}"  # after every process has imported optuna
    logs = [tmp_path / f"worker{i}.log" for i in range(4)]
    workers = [subprocess.Popen([sys.executable, str(WORKER), spec, "--complete", "32", "--budget", "64",
                                 "--sleep", "0.05", "--start-at", start], env=subprocess_env, stderr=log.open("w"))
               for log in logs]
    for w, log in zip(workers, logs):
        assert w.wait(timeout=300) == 0, log.read_text()[-3000:]
    study = load(spec)
    trials = study.trials
    assert all(t.state.is_finished() and SLOT_KEY in t.system_attrs for t in trials)
    repeats = len(trials) - len({slot(t) for t in trials})
    assert repeats <= 1, sorted(slot(t) for t in trials)
    replay(study)


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_processes_that_fix_a_conditional_space_together_agree_on_one(kind, tmp_path, subprocess_env):
    """No search_space and a conditional space: the first complete trials of processes that start
    together differ; one configuration wins and no trial fails in the sampler."""
    spec = storage_spec(kind, tmp_path)
    optuna.create_study(study_name="worker", storage=optuna_worker.open_storage(spec))
    start = f"{time.time() + 2:.3f}"  # after every process has imported optuna
    logs = [tmp_path / f"worker{i}.log" for i in range(4)]
    workers = [subprocess.Popen([sys.executable, str(WORKER), spec, "--conditional", "--complete", "12",
                                 "--algorithm", "de", "--start-at", start], env=subprocess_env, stderr=log.open("w"))
               for log in logs]
    for w, log in zip(workers, logs):
        assert w.wait(timeout=300) == 0, log.read_text()[-3000:]
    trials = load(spec).trials
    assert len(trials) == 48 and all(t.state == TrialState.COMPLETE for t in trials)
    config = load(spec)._storage.get_study_system_attrs(load(spec)._study_id)[CONFIG_KEY]
    from autodehypo.integrations.optuna import _digest
    told = [t for t in trials if SLOT_KEY in t.system_attrs and t.system_attrs[SLOT_KEY][2] == _digest(config)]
    random_first = [t for t in trials if SLOT_KEY not in t.system_attrs]
    assert len(random_first) <= 8 and len(told) >= 36, (len(random_first), len(told))


def test_a_multi_objective_study_runs_the_default_and_a_single_objective_algorithm_is_refused_at_the_first_ask():
    space = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}

    def two(trial):
        x, y = trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("y", 0.0, 1.0)
        return x, (1 - x) ** 2 + y

    study = optuna.create_study(directions=["minimize", "minimize"], sampler=DESampler(
        "shade", seed=1, search_space=space))
    with pytest.raises(ValueError, match="optimizes one objective"):
        study.optimize(two, n_trials=3, catch=(Exception,))  # not hidden by catch: no objective ran
    assert [(t.state, t.params) for t in study.trials] == [(TrialState.FAIL, {})]

    study = optuna.create_study(directions=["minimize", "maximize"],
                                sampler=DESampler(seed=1, n_trials=60, search_space=space))
    study.optimize(lambda t: (two(t)[0], -two(t)[1]), n_trials=60)
    attrs = study._storage.get_study_system_attrs(study._study_id)
    assert (attrs[CONFIG_KEY]["algorithm"], attrs[CONFIG_KEY]["options"]) == ("gde3-shade", {
        "prescreen": 32, "mutation": "current-to-pbest/1", "p": 0.5, "redraws": 8, "redraw_below": 0.01})
    assert GENERATION_KEY.format(2) in attrs and all(SLOT_KEY in t.system_attrs for t in study.trials)
    three = optuna.create_study(directions=["minimize"] * 3, sampler=DESampler(seed=1, n_trials=4, search_space=space))
    three.optimize(lambda t: (*two(t), t.params["y"]), n_trials=4)
    stored = three._storage.get_study_system_attrs(three._study_id)[CONFIG_KEY]
    assert stored["options"]["pruning"] == "hypervolume"  # three objectives: the thinning by volume
    # The second objective is maximized: the stored worst is minus its smallest value.
    worst = attrs[GENERATION_KEY.format(1)]["worst"]
    first = [t for t in study.trials if slot(t)[0] == 0]
    assert worst == pytest.approx([max(t.values[0] for t in first), max(-t.values[1] for t in first)])

    with pytest.raises(ValueError, match="several objectives"):
        optuna.create_study(sampler=DESampler("gde3", seed=1, search_space=space)).optimize(
            lambda t: two(t)[0], n_trials=1)


def test_after_the_budget_a_trial_is_pruned_before_it_trains_and_optimize_stops():
    study = optuna.create_study(sampler=DESampler("de", seed=2, population=5, n_trials=10,
                                                  search_space=optuna_worker.DISTRIBUTIONS))
    study.optimize(optuna_worker.objective, n_trials=study.sampler.remaining_trials(study), catch=(ValueError,))
    assert len(study.trials) == 10 and study.sampler.remaining_trials(study) == 0
    entered = []
    with pytest.warns(UserWarning, match="budget of 10 trials is spent") as caught:
        study.optimize(lambda t: entered.append(t.number) or optuna_worker.objective(t), n_trials=3)
    assert len([w for w in caught if "budget" in str(w.message)]) == 1
    assert [t.state for t in study.trials[10:]] == [TrialState.PRUNED]  # then study.optimize stopped
    assert entered == [10] and study.trials[10].params == {}  # pruned at its first suggest
    with pytest.raises(optuna.TrialPruned):  # ask-and-tell: the caller sees it
        study.ask().suggest_float("lr", 1e-5, 1.0, log=True)


def test_the_default_search_is_the_studys():
    """Without an algorithm the sampler runs autodehypo's default search (with a budget: version 7
    less the screened start, which a generation asked whole cannot use), and a study started by
    another algorithm keeps it."""
    study = optuna.create_study(sampler=DESampler(seed=3, n_trials=40, search_space=optuna_worker.DISTRIBUTIONS))
    study.optimize(optuna_worker.objective, n_trials=20, catch=(ValueError,))
    config = study._storage.get_study_system_attrs(study._study_id)[CONFIG_KEY]
    assert (config["algorithm"], config["options"]) == (
        "lshade", {"prescreen": 32, "cost_weight": 0.8, "cost_cooling": True, "surrogate": "gp"})
    older = optuna.create_study(sampler=DESampler("jso", seed=3, n_trials=40, search_space=optuna_worker.DISTRIBUTIONS))
    older.optimize(optuna_worker.objective, n_trials=3, catch=(ValueError,))
    older.sampler = DESampler(seed=3, n_trials=40, search_space=optuna_worker.DISTRIBUTIONS)
    older.optimize(optuna_worker.objective, n_trials=3, catch=(ValueError,))
    assert older._storage.get_study_system_attrs(older._study_id)[CONFIG_KEY]["algorithm"] == "jso"


def test_the_private_optuna_names_the_sampler_reads_exist():
    """There is no public path from a sampler to its study's storage (Optuna's GridSampler uses
    these same names); this fails first if an Optuna release renames them."""
    from autodehypo.integrations import optuna as integration
    study = optuna.create_study()
    trial = study.ask()
    frozen = study.get_trials()[0]
    assert isinstance(integration._storage_of(study), optuna.storages.BaseStorage)
    storage = integration._storage_of(study)
    assert integration._study_id(study) == storage.get_study_id_from_name(study.study_name)
    assert storage.get_trial(integration._trial_id(frozen)).number == trial.number
