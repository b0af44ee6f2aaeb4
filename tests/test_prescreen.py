"""Surrogate pre-screening of DE trial vectors, aware of repeats (autodehypo.algorithms.prescreen)."""

import json

import numpy as np
import pytest

from autodehypo import ConfigError
from autodehypo.algorithms import ALGORITHMS, Prescreen, algorithm_options, make_optimizer
from autodehypo.algorithms.base import _list, unpack_floats
from autodehypo.algorithms.prescreen import knn_rank_predict, ranks
from autodehypo.config import parse_config
from conftest import toy_config, two_out

SCREENED = sorted(name for name, cls in ALGORITHMS.items() if issubclass(cls, Prescreen))
BUDGET = 150

# sum of every coordinate asked over the run of sequences() below, as main asked them before
# pre-screening existed (commit 90ffb79): off, nothing may change, draw for draw.
MAIN_SUMS = {"de": 199.11437892778724, "dish": 187.37404060888466, "jade": 261.3058701825613,
             "jde": 235.21349891456836, "jso": 172.78540381538522, "lshade": 197.8742561748159,
             "shade": 227.24819558506132}


def bumpy(x):
    """A sphere with ripples, off-centre: easy to model locally, not trivially."""
    x = np.atleast_2d(x)
    return ((x - 0.31) ** 2).sum(axis=1) + 0.02 * np.sin(25 * x).sum(axis=1)


def grid_key(x):
    """A coarse table: 5 levels per coordinate."""
    return tuple(np.minimum((np.asarray(x) * 5).astype(int), 4).tolist())


def sequences(name, seed=5, budget=BUDGET, key=None, **options):
    opt = make_optimizer(name, 4, population=12, seed=seed, max_evaluations=budget, **options)
    if key is not None:
        opt.set_key(key)
    asked = []
    while len(x := opt.ask_generation()):
        asked.append(x)
        values = bumpy(x)
        values[::5] = np.nan
        opt.tell_generation(values)
    return asked, opt


def test_screened_algorithms():
    assert SCREENED == ["de", "dish", "jade", "jde", "jso", "lshade", "shade"]
    assert all(algorithm_options(n)["prescreen"] is None for n in SCREENED)
    assert "prescreen" not in algorithm_options("spsrdemms")


@pytest.mark.parametrize("name", SCREENED)
def test_off_asks_exactly_what_main_asked(name):
    plain, opt = sequences(name)
    assert np.sum(np.vstack(plain)) == pytest.approx(MAIN_SUMS[name], rel=1e-13, abs=0)
    off, off_opt = sequences(name, prescreen=None, key=grid_key)
    for a, b in zip(plain, off, strict=True):
        np.testing.assert_array_equal(a, b)
    assert "prescreen" not in opt.state_dict() and "prescreen" not in off_opt.state_dict()


def per_candidate(opt, key, stop_after=None):
    """Drive with ask()/tell() a candidate at a time, values told in a shuffled order."""
    order = np.random.default_rng(opt.asked + 7)
    asked = []
    while True:
        out = []
        while (c := opt.ask()) is not None:
            out.append(c)
            asked.append(c.x)
            if stop_after is not None and len(asked) >= stop_after:
                return asked, out
        if not out:
            return asked, out
        for i in order.permutation(len(out)):
            value = bumpy(out[i].x)[0]
            opt.tell(out[i].id, np.nan if out[i].id % 7 == 0 else value)


def cost_of(x):
    """A training cost that grows a hundredfold along the first coordinate."""
    return float(10 ** (2 * np.asarray(x)[0]))


def drive_two_out(opt, value=lambda x: bumpy(x)[0], stop=None, outstanding=(), costs=True):
    """:func:`conftest.two_out`, each candidate told ``value`` and its cost (or none)."""
    return two_out(opt, lambda c: (value(c.x), cost_of(c.x) if costs else None), stop, outstanding)


@pytest.mark.parametrize("name", SCREENED)
@pytest.mark.parametrize("schedule", ["generational", "async"])
def test_resume_mid_run_continues_identically(name, schedule):
    if schedule == "async" and ALGORITHMS[name].no_async:
        pytest.skip(ALGORITHMS[name].no_async)

    def build():
        opt = make_optimizer(name, 4, population=12, seed=3, max_evaluations=120, schedule=schedule,
                             prescreen=4)
        opt.set_key(grid_key)
        return opt

    def drive(opt, stop=None, outstanding=()):
        """Async: two workers, results back in reverse order of asking, told without costs."""
        return drive_two_out(opt, stop=stop, outstanding=outstanding, costs=False)

    if schedule == "async":
        straight = drive(build())
        first = build()
        head = drive(first, 50)
    else:
        straight, _ = per_candidate(build(), grid_key)
        first = build()
        head, _ = per_candidate(first, grid_key, stop_after=55)  # mid-generation, values pending
    state = json.loads(json.dumps(first.state_dict(), allow_nan=False))
    assert state["prescreen"]["k"] == 4
    resumed = make_optimizer(name, 4, population=12, seed=999, max_evaluations=120, schedule=schedule)
    resumed.set_key(grid_key)
    resumed.load_state_dict(state)
    if schedule == "async":
        # the two outstanding candidates come back as the uninterrupted run told them
        rest = drive(resumed, outstanding=resumed.pending_candidates())
        np.testing.assert_array_equal(np.vstack(head + rest), np.vstack(straight))
        return
    # generational: tell the pending values as the uninterrupted run would have, then go on
    first_rest = []
    pending = resumed.pending_candidates()
    order = np.random.default_rng(pending[0].id - pending[0].index + 7) if pending else None
    assert pending  # stopped mid-generation
    # finish the generation as per_candidate does: ask the rest, tell all in its shuffled order
    gen = pending + [c for c in iter(resumed.ask, None)]
    first_rest += [c.x for c in gen[len(pending):]]
    for i in order.permutation(len(gen)):
        value = bumpy(gen[i].x)[0]
        resumed.tell(gen[i].id, np.nan if gen[i].id % 7 == 0 else value)
    rest, _ = per_candidate(resumed, grid_key)
    np.testing.assert_array_equal(np.vstack(head + first_rest + rest), np.vstack(straight))


def test_never_asks_an_evaluated_configuration_while_a_novel_candidate_exists():
    opt = make_optimizer("de", 2, population=4, seed=0, max_evaluations=100, prescreen=2)
    key = lambda x: tuple(np.round(np.asarray(x), 1).tolist())  # noqa: E731
    opt.set_key(key)
    first = opt.ask_generation()
    opt.tell_generation(bumpy(first))
    best = first[np.argmin(bumpy(first))]
    # Two draws per slot: the first repeats the best point exactly (the model's favourite: it is
    # where the best rank is), the second is a far, poorly predicted novel point; then more.
    levels = [0.97, 0.71, 0.53, 0.37, 0.19, 0.03, 0.87, 0.61]
    draws = iter([(np.tile(best, (4, 1)),)] + [(np.full((4, 2), v),) for v in levels])
    chosen = opt._screened(lambda: next(draws))[0]
    evaluated = {key(x) for x in first}
    assert key(chosen[0]) == key(np.full(2, 0.97))
    # every slot novel: not evaluated, and not taken by an earlier slot of the generation
    assert all(key(x) not in evaluated for x in chosen) and len({key(x) for x in chosen}) == 4
    # Without a key the model takes the repeat.
    opt.set_key(None)
    draws = iter([(np.tile(best, (4, 1)),), (np.full((4, 2), 0.97),)])
    np.testing.assert_array_equal(opt._screened(lambda: next(draws))[0], np.tile(best, (4, 1)))


@pytest.mark.parametrize("name", ["de", "jso"])
def test_a_run_on_a_coarse_table_repeats_almost_nothing(name):
    def repeats(**options):
        asked, _ = sequences(name, seed=1, budget=200, key=grid_key if options else None, **options)
        keys = [grid_key(x) for x in np.vstack(asked)]
        return len(keys) - len(set(keys))
    plain, screened = repeats(), repeats(prescreen=4)
    assert plain > 40 and screened <= plain // 10


@pytest.mark.parametrize("name", ["de", "jde", "jso"])
def test_prescreening_reaches_lower_values_at_a_small_budget(name):
    def best(seed, **options):
        opt = make_optimizer(name, 6, population=10, seed=seed, max_evaluations=120, **options)
        while len(x := opt.ask_generation()):
            opt.tell_generation(bumpy(x))
        return opt.best_value
    plain = [best(s) for s in range(9)]
    screened = [best(s, prescreen=4) for s in range(9)]
    assert np.median(screened) < np.median(plain)
    assert sum(a < b for a, b in zip(screened, plain)) >= 6


def test_history_holds_exactly_the_evaluated_points():
    opt = make_optimizer("de", 2, population=6, seed=1, max_evaluations=15, prescreen=3)
    told = []
    while len(x := opt.ask_generation()):
        told.append(x)
        opt.tell_generation(bumpy(x))
    np.testing.assert_array_equal(opt._seen_x, np.vstack(told))  # the cut last generation included
    assert len(opt._seen_values) == 15


def test_ranks_share_ties_and_put_inf_last():
    np.testing.assert_allclose(ranks(np.array([3.0, 1.0, np.inf, 1.0, 2.0])), [0.75, 0.125, 1.0, 0.125, 0.5])
    assert ranks(np.array([5.0])).tolist() == [0.0]


def test_model_prefers_candidates_near_good_points():
    rng = np.random.default_rng(0)
    points = rng.random((200, 5))
    values = ((points - 0.2) ** 2).sum(axis=1)
    predicted = knn_rank_predict(points, values, np.array([[0.2] * 5, [0.9] * 5]))
    assert predicted[0] < 0.1 < 0.8 < predicted[1]


@pytest.mark.parametrize("value", [0, -3, 2.5, True, "4", 1001])
def test_bad_values_name_the_option(value):
    with pytest.raises(ValueError, match=r"^prescreen must be an integer from 1 to 1000") as info:
        make_optimizer("de", 3, population=10, seed=0, prescreen=value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("options, message", [
    ({"prescreen": 0}, r"^study\.options: prescreen must be an integer from 1 to 1000"),
    ({"prescreen": "eight"}, r"^study\.options: prescreen must be an integer from 1 to 1000"),
    ({"prescreen": 4, "cost_weight": "high"}, r"^study\.options: cost_weight must be a number from 0 to 10"),
    ({"cost_weight": 0.5}, r"^study\.options: cost_weight needs prescreen"),
])
def test_config_errors_are_one_line(options, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(toy_config(extra_study={"options": options}))
    assert "\n" not in str(info.value)


def test_config_refuses_it_for_an_algorithm_without_it():
    with pytest.raises(ConfigError, match=r"prescreen") as info:
        parse_config(toy_config(extra_study={"algorithm": "spsrdemms", "options": {"prescreen": 4}}))
    assert "\n" not in str(info.value)


def test_a_study_with_prescreen_asks_no_configuration_twice(tmp_path, monkeypatch):
    from autodehypo import Study
    runs = tmp_path / "runs.txt"
    monkeypatch.setenv("TOY_RUNS_FILE", str(runs))
    grid = {"a": {"type": "categorical", "choices": list(range(8))},
            "b": {"type": "categorical", "choices": list(range(6))}}
    config = toy_config("toy_objectives:counted_grid", evaluations=40, population=8, space=grid,
                        extra_study={"options": {"prescreen": 4}})
    study = Study.create(tmp_path / "s", config)
    final = study.run()
    study.close()
    trained = runs.read_text().splitlines()
    assert final.evaluations == 40
    assert len(trained) == len(set(trained)) >= 38  # 48 configurations: hardly one asked twice


# -- cost-aware pre-screening (cost_weight) ------------------------------------------------------

@pytest.mark.parametrize("value", [-0.1, 11, True, "1", None])
def test_bad_cost_weights_name_the_option(value):
    with pytest.raises(ValueError, match=r"^cost_weight must be a number from 0 to 10") as info:
        make_optimizer("de", 3, population=10, seed=0, prescreen=4, cost_weight=value)
    assert "\n" not in str(info.value)


def test_cost_weight_picks_the_cheapest_of_equally_good_candidates():
    # A flat objective: every candidate is predicted equally good, so the cost alone decides.
    # (Without the cost, DE on a flat objective drifts at random: its mean varies by seed.)
    def mean_first_coordinate(cost_weight):
        means = []
        for seed in range(5):
            opt = make_optimizer("de", 3, population=10, seed=seed, max_evaluations=200, prescreen=8,
                                 cost_weight=cost_weight)
            asked = drive_two_out(opt, value=lambda x: 1.0)
            means.append(np.mean(np.vstack(asked[10:])[:, 0]))  # after the random initial population
        return np.mean(means)

    assert mean_first_coordinate(1.0) < 0.1 < 0.4 < mean_first_coordinate(0.0)


def test_cost_weight_lowers_the_cost_paid_on_a_real_objective():
    paid = {}
    for weight in (0.0, 0.5):
        totals = []
        for seed in range(5):
            opt = make_optimizer("lshade", 4, population=12, seed=seed, max_evaluations=120, prescreen=8,
                                 cost_weight=weight)
            totals.append(sum(cost_of(x) for x in drive_two_out(opt)))
        paid[weight] = np.mean(totals)
    assert paid[0.5] < 0.7 * paid[0.0]


def test_a_cost_that_is_not_a_finite_number_is_left_out():
    opt = make_optimizer("de", 2, population=4, seed=0, max_evaluations=4, prescreen=2, cost_weight=1.0)
    costs = iter([1.0, float("nan"), float("inf"), 2.0])
    for c in iter(opt.ask, None):
        opt.tell(c.id, bumpy(c.x)[0], next(costs))
    state = json.loads(json.dumps(opt.state_dict(), allow_nan=False))
    assert [str(c) for c in unpack_floats(state["prescreen"]["seen_costs"])] == ["1.0", "nan", "nan", "2.0"]


def test_without_costs_told_the_weight_changes_nothing():
    runs = []
    for weight in (0.0, 2.0):
        opt = make_optimizer("shade", 4, population=12, seed=2, max_evaluations=100, prescreen=4,
                             cost_weight=weight)
        opt.set_key(grid_key)
        runs.append(np.vstack(drive_two_out(opt, costs=False)))
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("name", ["de", "lshade"])
@pytest.mark.parametrize("schedule", ["generational", "async"])
def test_cost_aware_resume_mid_run_continues_identically(name, schedule):
    def build(seed=3):
        opt = make_optimizer(name, 4, population=12, seed=seed, max_evaluations=120, schedule=schedule,
                             prescreen=4, cost_weight=0.5)
        opt.set_key(grid_key)
        return opt

    straight = drive_two_out(build())
    first = build()
    head = drive_two_out(first, stop=55)
    state = json.loads(json.dumps(first.state_dict(), allow_nan=False))
    assert state["prescreen"]["cost_weight"] == 0.5
    resumed = make_optimizer(name, 4, population=12, seed=999, max_evaluations=120, schedule=schedule)
    resumed.set_key(grid_key)
    resumed.load_state_dict(state)
    pending = resumed.pending_candidates()
    assert pending  # stopped with a candidate out: its cost arrives after the resume
    rest = drive_two_out(resumed, outstanding=pending)
    np.testing.assert_array_equal(np.vstack(head + rest), np.vstack(straight))
    np.testing.assert_array_equal(resumed._seen_costs, [cost_of(x) for x in resumed._seen_x])


def test_a_study_tells_each_trial_energy_as_its_cost(tmp_path, monkeypatch):
    from autodehypo import Study
    monkeypatch.setenv("TOY_RUNS_FILE", str(tmp_path / "runs.txt"))
    grid = {"a": {"type": "categorical", "choices": list(range(5))},
            "b": {"type": "categorical", "choices": list(range(4))}}
    config = toy_config("toy_objectives:counted_grid", evaluations=30, population=6, space=grid,
                        extra_study={"options": {"prescreen": 4, "cost_weight": 0.25}})
    study = Study.create(tmp_path / "s", config)
    study.run()
    trials = sorted(study.storage.trials(), key=lambda t: t.told_seq)
    current = study.storage.current_state()
    study.close()
    seen, history = current["state"]["prescreen"], current["history"]
    assert seen["cost_weight"] == 0.25 and seen["seen"] == len(history)
    first = {t.number: t for t in trials}
    told = np.array([first[t.metrics.get("repeat_of", t.number)].energy_j for t in trials], dtype=float)
    assert len(told) == 30 and (told > 0).all()  # a repeat is told its first trial's energy
    costs = history[:, -1]  # the history's rows: x, value, cost
    # the optimizer's record is in the order of its generations, not of the tells: compare as sets
    np.testing.assert_array_equal(np.sort(costs), np.sort(told))


def test_the_history_is_packed_exactly_and_a_state_saved_as_lists_still_loads():
    """The history is stored as float64 bytes (a list costs a JSON float per number, and the
    state is saved after every step); states saved before that, with lists, must still resume."""
    opt = make_optimizer("de", 3, population=6, seed=5, max_evaluations=60, prescreen=3, cost_weight=0.5)
    costs = iter(np.r_[[np.nan, np.inf], np.linspace(1.0, 2.0, 58)])
    for _ in range(24):
        c = opt.ask()
        opt.tell(c.id, bumpy(c.x)[0] + 1e-17 * c.id, next(costs))
    state = json.loads(json.dumps(opt.state_dict(), allow_nan=False))
    screen = state["prescreen"]
    np.testing.assert_array_equal(unpack_floats(screen["seen_x"]), opt._seen_x)
    np.testing.assert_array_equal(unpack_floats(screen["seen_costs"]), opt._seen_costs)  # nan included
    as_lists = json.loads(json.dumps(state))
    as_lists["prescreen"].update({k: _list(unpack_floats(screen[k]))
                                  for k in ("seen_x", "seen_values", "seen_costs")})
    asks = []
    for saved in (state, as_lists):
        resumed = make_optimizer("de", 3, population=6, seed=0, max_evaluations=60)
        resumed.load_state_dict(saved)
        run = []
        for c in iter(resumed.ask, None):
            run.append(c.x)
            resumed.tell(c.id, bumpy(c.x)[0], 1.5)
        asks.append(np.array(run))
    assert len(asks[0]) == 36
    np.testing.assert_array_equal(asks[0], asks[1])
