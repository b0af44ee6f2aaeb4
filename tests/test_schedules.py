"""The per-candidate contract: ask() one candidate, tell(id, value) its value, in both schedules."""

from __future__ import annotations

import heapq
import json

import numpy as np
import pytest

from autodehypo.algorithms import ALGORITHMS, SINGLE_OBJECTIVE, make_optimizer

ASYNC = sorted(name for name in SINGLE_OBJECTIVE if not ALGORITHMS[name].no_async)


def sphere(x: np.ndarray) -> float:
    return float(np.sum((np.asarray(x) - 0.3) ** 2))


def build(name: str, schedule: str, budget: int = 120, dim: int = 3):
    return make_optimizer(name, dim, seed=11, max_evaluations=budget, schedule=schedule)


def simulate(opt, *, workers: int = 4, seed: int = 0, reload_at=(), fail_every: int = 0):
    """Run ``opt`` on simulated workers whose trials take seeded random times.

    Returns the trace of asks and tells. At each tell count in ``reload_at`` the optimizer is
    replaced by a fresh one loaded from its JSON state, as a resumed driver does.
    """
    durations = np.random.default_rng(seed)
    running: list[tuple[float, int, float]] = []
    trace: list[tuple] = []
    now, told = 0.0, 0
    while True:
        while len(running) < workers:
            candidate = opt.ask()
            if candidate is None:
                break
            value = sphere(candidate.x)
            if fail_every and candidate.id % fail_every == fail_every - 1:
                value = float("nan")
            trace.append(("ask", candidate.id, candidate.x.tolist(), candidate.index))
            heapq.heappush(running, (now + durations.uniform(1, 10), candidate.id, value))
        if not running:
            return trace
        now, id, value = heapq.heappop(running)
        opt.tell(id, value)
        trace.append(("tell", id))
        told += 1
        if told in reload_at:
            state = json.loads(json.dumps(opt.state_dict(), allow_nan=False))
            opt = make_optimizer(opt.name, opt.dim, population=opt.population_size, seed=999,
                                 max_evaluations=opt.max_evaluations, schedule=opt.schedule)
            opt.load_state_dict(state)


@pytest.mark.parametrize("name", SINGLE_OBJECTIVE)
def test_one_candidate_at_a_time_is_the_generation_at_once(name):
    """Generational per-candidate asks and tells, told in any order within a generation,
    reproduce the batch interface exactly."""
    batch, single = build(name, "generational"), build(name, "generational")
    shuffle = np.random.default_rng(5)
    while len(x := batch.ask_generation()):
        asked = []
        while (candidate := single.ask()) is not None:
            asked.append(candidate)
        np.testing.assert_array_equal(np.array([c.x for c in asked]), x)
        assert [c.index for c in asked] == list(range(len(x)))
        for i in shuffle.permutation(len(asked)):
            assert single.pending_ids()
            single.tell(asked[i].id, sphere(asked[i].x))
        batch.tell_generation([sphere(u) for u in x])
    assert single.ask() is None and single.pending_ids() == []
    assert json.dumps(single.state_dict()) == json.dumps(batch.state_dict())


def test_a_generation_waits_for_its_values():
    opt = build("de", "generational")
    asked = [opt.ask() for _ in range(opt.population_size)]
    assert opt.ask() is None  # all of generation 0 is out
    assert [c.id for c in asked] == list(range(opt.population_size))
    for c in asked[:-1]:
        opt.tell(c.id, 1.0)
    assert opt.ask() is None
    with pytest.raises(ValueError, match="not waiting"):
        opt.tell(asked[0].id, 1.0)  # told already
    with pytest.raises(ValueError, match="not waiting"):
        opt.tell(99, 1.0)  # never asked
    opt.tell(asked[-1].id, float("nan"))
    assert opt.generation == 1 and opt.ask().generation == 1


@pytest.mark.parametrize("name", ASYNC)
def test_async_keeps_every_worker_busy_and_uses_the_budget(name):
    opt = build(name, "async", budget=150)
    trace = simulate(opt, workers=4)
    asks = [e for e in trace if e[0] == "ask"]
    tells = [e for e in trace if e[0] == "tell"]
    assert len(asks) == len(tells) == 150 and opt.evaluations == 150
    assert sorted(e[1] for e in tells) == list(range(150))
    # No worker waits: every result arrives with all 4 busy, until the whole budget is asked.
    running = asked = 0
    for e in trace:
        if e[0] == "ask":
            running, asked = running + 1, asked + 1
        else:
            assert running == 4 or asked == 150
            running -= 1
    initial = min(sphere(e[2]) for e in asks[:opt.population_size])
    assert opt.best_value < initial / 4  # it searches, not only samples


@pytest.mark.parametrize("name", ASYNC)
def test_async_resumed_from_its_state_equals_an_uninterrupted_run(name):
    straight = simulate(build(name, "async"), seed=3, fail_every=7)
    points = np.random.default_rng(len(name)).choice(np.arange(1, 119), 6, replace=False)
    resumed = simulate(build(name, "async"), seed=3, fail_every=7, reload_at=set(points.tolist()))
    assert resumed == straight


def test_async_selects_each_result_against_its_parent_at_once():
    opt = build("de", "async", budget=200)
    start = [opt.ask() for _ in range(opt.population_size)]
    for c in start:
        opt.tell(c.id, 5.0)
    assert opt.generation == 1 and np.all(opt.fitness == 5.0)
    child = opt.ask()
    assert child.index == 0 and child.generation == 1
    opt.tell(child.id, 1.0)
    assert opt.fitness[0] == 1.0 and np.array_equal(opt.population[0], child.x)
    worse = opt.ask()
    opt.tell(worse.id, 9.0)
    assert opt.fitness[1] == 5.0  # kept its parent


def test_async_start_up_points_keep_workers_busy_and_compete_with_the_worst():
    opt = build("jde", "async", budget=200)
    n = opt.population_size
    first = [opt.ask() for _ in range(n)]
    extra = opt.ask()  # the initial population is out, none of it back yet
    assert extra.index == -1 and opt.population_ready() is False
    for c in first[1:]:
        opt.tell(c.id, 3.0)
    opt.tell(extra.id, 2.0)  # completes the population in arrival order
    assert opt.population_ready() and sorted(opt.fitness) == [2.0] + [3.0] * (n - 1)
    opt.tell(first[0].id, 0.5)  # arrives late: replaces the worst member
    assert sorted(opt.fitness) == [0.5, 2.0] + [3.0] * (n - 2)


def test_async_shrinks_lshade_by_evaluations():
    opt = build("lshade", "async", budget=300)
    sizes = []
    for _ in range(300):
        c = opt.ask()
        opt.tell(c.id, sphere(c.x))
        if opt.population_ready():
            sizes.append(len(opt.population))
    assert sizes[0] == opt.population_size and sizes[-1] < sizes[0]
    assert sizes == sorted(sizes, reverse=True)
    assert abs(sizes[-1] - opt.planned_population()) <= 1


def test_async_adapts_shade_memories_from_windows():
    opt = build("shade", "async", budget=400)
    before = opt.M_F.copy()
    simulate(opt, workers=3)
    assert opt.k > 0 and not np.array_equal(opt.M_F, before)


def test_async_is_refused_where_it_cannot_work():
    with pytest.raises(ValueError, match="spsrdemms runs only with the generational schedule"):
        make_optimizer("spsrdemms", 3, max_evaluations=100, schedule="async")
    with pytest.raises(ValueError, match="schedule must be one of"):
        make_optimizer("de", 3, schedule="steady")
    with pytest.raises(RuntimeError, match="generational"):
        build("de", "async").ask_generation()


def test_a_state_from_before_per_candidate_asks_still_loads():
    """A checkpoint written by the batch contract (a pending generation all out) continues."""
    opt = build("shade", "generational")
    opt.ask_generation()
    state = opt.state_dict()
    for key in ("asked", "first_id", "handed", "told", "outstanding", "initial", "window",
                "window_count", "layout", "schedule"):
        state.pop(key)
    old = build("shade", "generational")
    old.load_state_dict(state)
    assert old.pending_ids() == list(range(old.population_size)) and old.ask() is None
    for i in old.pending_ids():
        old.tell(i, 1.0)
    opt.tell_generation(np.ones(opt.population_size))
    assert json.dumps(old.state_dict()) == json.dumps(opt.state_dict())
