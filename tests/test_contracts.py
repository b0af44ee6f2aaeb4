"""The contracts the study loop relies on: every search is a Search, every executor an Executor,
and one Direction ranks values everywhere."""

import json
import math

import numpy as np
import pytest

from autodehypo.algorithms import ALGORITHMS, Search, make_optimizer
from autodehypo.algorithms.multifidelity import MultiFidelityDE
from autodehypo.direction import Direction, best_trial
from autodehypo.execution import Executor, LocalExecutor, SlurmExecutor
from autodehypo.storage import COMPLETE, FAILED, TrialRecord

SUMMARY_KEYS = {"population", "F", "CR", "adapts", "averaged", "note"}


def searches():
    """Each kind of search a study builds, by name."""
    for name, cls in sorted(ALGORITHMS.items()):
        schedules = ["generational"] + ([] if cls.no_async else ["async"])
        for schedule in schedules:
            kwargs = {"objectives": 2} if cls.multi_objective else {}
            yield f"{name}-{schedule}", lambda n=name, s=schedule, k=kwargs: make_optimizer(
                n, 3, seed=1, max_evaluations=60, schedule=s, **k)
    yield "multi-fidelity-de", lambda: MultiFidelityDE(3, inner="de", min_fidelity=1, max_fidelity=9,
                                                       integer=True, seed=1)
    yield "multi-fidelity-jde", lambda: MultiFidelityDE(3, inner="jde", min_fidelity=1, max_fidelity=9,
                                                        integer=True, seed=1)


SEARCHES = dict(searches())


def value_of(search, candidate):
    """A result of the shape the search takes: a number, or a vector for several objectives."""
    x = candidate.x
    f = float(np.sum((x - 0.3) ** 2)) + (1.0 / candidate.fidelity if candidate.fidelity else 0.0)
    return [f, float(np.sum((x - 0.7) ** 2))] if getattr(search, "multi_objective", False) else f


def drive(search, tells):
    """Ask and tell through the protocol only, in the study's way: ask until None, tell the
    oldest pending; returns the values told."""
    told = []
    while len(told) < tells:
        candidate = search.ask()
        if candidate is None:
            pending = search.pending_candidates()
            assert pending, "nothing asked and nothing pending"
            candidate = pending[0]
            value = value_of(search, candidate)
            search.tell(candidate.id, value, cost=1.0)
            told.append(value)
    return told


@pytest.mark.parametrize("name", SEARCHES)
def test_every_search_meets_the_protocol_and_resumes_exactly(name):
    search = SEARCHES[name]()
    assert isinstance(search, Search)
    drive(search, 25)
    state = search.state_dict()
    again = SEARCHES[name]()
    again.load_state_dict(state)
    assert again.pending_ids() == search.pending_ids()
    first = [(c.id, c.x.tolist()) for c in (search.ask() for _ in range(3)) if c is not None]
    second = [(c.id, c.x.tolist()) for c in (again.ask() for _ in range(3)) if c is not None]
    assert first == second
    summary = search.summary()
    assert set(summary) >= SUMMARY_KEYS, summary
    assert isinstance(summary["population"], int) and summary["population"] >= 4
    assert isinstance(summary["adapts"], bool)
    if summary["adapts"]:
        assert summary["averaged"] in ("memory", "population") and summary["note"] is None
        assert 0 < summary["F"] <= 2 and 0 <= summary["CR"] <= 1
    else:
        assert summary["note"] and summary["averaged"] is None
    search.set_key(lambda x: tuple(np.round(x, 3)))  # accepted by every search, used by some


def test_summaries_are_read_off_the_searchs_own_state():
    """What the reports draw is what the algorithm holds: L-SHADE's memory means (a negative CR
    slot counts 0) and shrinking population, jDE's individual means, DE's fixed values."""
    lshade = SEARCHES["lshade-generational"]()
    drive(lshade, 45)
    summary = lshade.summary()
    assert summary["population"] == len(lshade.population) < 16
    assert summary["F"] == pytest.approx(np.mean(lshade.M_F))
    assert summary["CR"] == pytest.approx(np.mean(np.maximum(lshade.M_CR, 0)))
    jde = SEARCHES["jde-async"]()
    drive(jde, 30)
    assert jde.summary()["F"] == pytest.approx(np.mean(jde.F)) and jde.summary()["averaged"] == "population"
    de = make_optimizer("de", 2, seed=0, F=0.7, CR=0.3)
    assert (de.summary()["F"], de.summary()["CR"], de.summary()["adapts"]) == (0.7, 0.3, False)


def test_executors_say_what_they_can_do_instead_of_being_asked_which_they_are():
    assert issubclass(LocalExecutor, Executor) and issubclass(SlurmExecutor, Executor)
    assert SlurmExecutor.outlives_driver and not LocalExecutor.outlives_driver
    local = LocalExecutor(lambda params: 0.0, workers=1)
    assert local.job_id("a") is None and local.cpu_seconds("a") is None
    with pytest.raises(NotImplementedError, match="trials do not outlive the driver"):
        local.attach("a", "123", {})


def test_direction_ranks_values_both_ways():
    low, high = Direction("minimize"), Direction("maximize")
    assert (low.sign, high.sign) == (1.0, -1.0) and (low.short, high.short) == ("min", "max")
    assert low.better(1, 2) and not low.better(2, 2) and high.better(2, 1) and not high.better(1, 2)
    assert (low.best([3, 1, 2]), high.best([3, 1, 2])) == (1, 3)
    assert low.best(["bb", "a", "cc"], key=len) == "a" and high.best(["bb", "a", "cc"], key=len) == "bb"
    with pytest.raises(ValueError, match="direction must be one of"):
        Direction("down")


def trial(number, value, status=COMPLETE, fidelity=None):
    return TrialRecord(number, 0, number, {}, [], status=status, value=value, fidelity=fidelity)


def test_the_best_trial_is_the_best_at_the_highest_fidelity_and_the_first_of_equals():
    plain = [trial(0, 0.5), trial(1, 0.2), trial(2, 0.2), trial(3, None, FAILED), trial(4, 0.9)]
    assert best_trial(plain, "minimize").number == 1
    assert best_trial(plain, Direction("maximize")).number == 4
    rungs = [trial(0, 0.1, fidelity=1.0), trial(1, 0.4, fidelity=9.0), trial(2, 0.3, fidelity=9.0),
             trial(3, 0.05, fidelity=3.0)]
    assert best_trial(rungs, "minimize").number == 2  # 0.1 and 0.05 are at lower fidelities
    assert best_trial([trial(0, None, FAILED)], "minimize") is None and best_trial([], "maximize") is None
    assert math.isinf(Direction("minimize").best([math.inf, math.inf]))


@pytest.mark.parametrize("name", ["lshade-generational", "de-async", "jde-generational"])
def test_a_search_in_parts_continues_as_from_its_whole_state(name):
    """The study stores the current state and appends the history (Search.state_parts): loaded
    from the parts, a pre-screening search asks what it asks from its whole state, bit for bit."""
    search = make_optimizer(name.split("-")[0], 3, seed=2, max_evaluations=400, schedule=name.split("-")[1],
                            prescreen=4, cost_weight=0.3)
    for _ in range(30):  # four out at a time, as a study with four workers
        drive_asks(search, 1)
    state, history = search.state_parts()
    assert "seen_x" not in json.dumps(state) and history.shape == (search.evaluations, 3 + 2)
    whole = make_optimizer(name.split("-")[0], 3, seed=9, max_evaluations=400, schedule=name.split("-")[1],
                           prescreen=4, cost_weight=0.3)
    whole.load_state_dict(search.state_dict())
    parts = make_optimizer(name.split("-")[0], 3, seed=9, max_evaluations=400, schedule=name.split("-")[1],
                           prescreen=4, cost_weight=0.3)
    parts.load_state_parts(json.loads(json.dumps(state)), np.vstack([history, np.ones((3, 5))]))
    asks_whole, asks_parts = drive_asks(whole), drive_asks(parts)
    assert len(asks_whole) == len(asks_parts) >= 20
    np.testing.assert_array_equal(np.vstack(asks_whole), np.vstack(asks_parts))
    with pytest.raises(ValueError, match=f"the state needs {len(history)} rows"):
        parts.load_state_parts(state, history[:5])


def drive_asks(search, asks_wanted=30):
    """What the search asks while it is told each result once four are out, oldest first."""
    asks = []
    while len(asks) < asks_wanted:
        candidate = search.ask()
        if candidate is not None:
            asks.append(candidate.x)
        pending = search.pending_candidates()
        if candidate is None and not pending:
            break
        if candidate is None or len(pending) >= 4:
            search.tell(pending[0].id, value_of(search, pending[0]), cost=float(pending[0].x.sum()))
    return asks


def test_a_trials_record_takes_every_field_of_its_outcome_or_reads_it_into_another():
    """The record is filled from the outcome by the fields they share; a field added to the
    outcome must be recorded (a column of the same name) or read into the status or energy."""
    from dataclasses import fields

    from autodehypo.execution import TrialOutcome
    from autodehypo.study.trials import RECORDED_OUTCOME
    read_into_others = {"ok", "energy", "gpu_seconds"}  # status; the energy reading chosen
    names = {f.name for f in fields(TrialOutcome)}
    assert set(RECORDED_OUTCOME) | read_into_others == names
    assert not set(RECORDED_OUTCOME) & read_into_others
    assert {"value", "metrics", "error", "elapsed_s", "cpu_time_s", "host", "gpus"} <= set(RECORDED_OUTCOME)


def test_one_runner_encodes_a_trials_result_for_both_executors():
    """execution.trial: what the local child and the Slurm job both send the driver."""
    from autodehypo.execution import trial

    assert json.loads(trial.encode(trial.run(lambda p: {"objective": np.float32(0.5)}, {}))) == \
        {"ok": True, "result": {"objective": 0.5}}
    failed = json.loads(trial.encode(trial.run(lambda p: 1 / 0, {})))
    assert failed == {"ok": False, "error": "ZeroDivisionError: division by zero"}
    unserialisable = json.loads(trial.encode({**trial.run(lambda p: object(), {}), "host": "n1"}))
    assert unserialisable["ok"] is False and unserialisable["host"] == "n1"
    assert unserialisable["error"].startswith("result is not JSON-serialisable")
    with pytest.raises(KeyboardInterrupt):  # a Slurm job lets what stops the process stop it
        trial.run(lambda p: (_ for _ in ()).throw(KeyboardInterrupt()), {})
    assert trial.run(lambda p: (_ for _ in ()).throw(KeyboardInterrupt()), {},
                     catch=BaseException)["error"] == "KeyboardInterrupt"
