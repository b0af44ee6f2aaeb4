"""The Gaussian-process surrogate of pre-screening (autodehypo.algorithms.surrogate) and the
``surrogate = "gp"`` search built on it."""

import json
import math

import numpy as np
import pytest

from autodehypo.algorithms import make_optimizer
from autodehypo.algorithms.base import SettingError
from autodehypo.algorithms.prescreen import START_AFTER, Scorer
from autodehypo.algorithms.surrogate import (MAX_POINTS, GaussianProcess, OptimisticQuantile, fitted_points,
                                             fitted_quantiles, normal_scores, rank_quantiles)
from conftest import two_out


def smooth(x):
    x = np.atleast_2d(x)
    return np.sum((x - 0.3) ** 2, axis=1) + 0.1 * np.sin(6 * x[:, 0])


def grid_key(x):
    return tuple(np.minimum((np.asarray(x) * 6).astype(int), 5).tolist())


def test_the_likelihood_gradient_is_the_likelihood_s():
    rng = np.random.default_rng(0)
    x = rng.random((30, 3))
    gp = GaussianProcess(x, normal_scores(smooth(x)))
    theta = np.array([-0.7, 0.1, 0.9, 0.3, -4.0])
    _, grad = gp._objective(theta)
    step = 1e-6
    numeric = [(gp._objective(theta + e)[0] - gp._objective(theta - e)[0]) / (2 * step)
               for e in np.eye(len(theta)) * step]
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-5)


def test_the_fitted_posterior_predicts_points_it_has_not_seen():
    rng = np.random.default_rng(1)
    x = rng.random((60, 2))
    y = smooth(x)
    gp = GaussianProcess(x, (y - y.mean()) / y.std()).fit()
    test = rng.random((200, 2))
    mean, sd = gp.predict(test)
    truth = (smooth(test) - y.mean()) / y.std()
    assert np.corrcoef(mean, truth)[0, 1] > 0.98
    assert np.mean(np.abs(mean - truth) < 3 * sd + 0.05) > 0.9  # the uncertainty is not too narrow
    _, sd_seen = gp.predict(x[:5])
    assert np.all(sd_seen < np.median(sd))


def test_normal_scores_rank_ties_together_and_failures_last():
    z = normal_scores(np.array([3.0, 1.0, np.inf, 1.0, 2.0]))
    assert z[1] == z[3] < z[4] < z[0] < z[2]
    assert z[2] == normal_scores(np.array([3.0, 1.0, 7.0, 1.0, 2.0]))[2]  # inf ranks after the rest
    assert np.all(np.isfinite(normal_scores(np.array([np.inf, np.inf]))))


def test_the_score_prefers_low_means_and_what_it_has_not_seen():
    rng = np.random.default_rng(2)
    x = rng.random((40, 2))
    score = OptimisticQuantile(x, smooth(x))
    near_best, near_worst = np.array([[0.3, 0.3]]), np.array([[0.95, 0.95]])
    assert 0 <= score(near_best)[0] < score(near_worst)[0] <= 1
    # a point chosen (pending) makes its neighbourhood less attractive: parallel asks spread out
    before = score(near_best)[0]
    score.chosen(near_best)
    assert score(near_best)[0] > before
    # a fit kept (theta) gives the same scores without fitting again
    again = OptimisticQuantile(x, smooth(x), theta=score.theta)
    again.chosen(near_best)
    np.testing.assert_allclose(again(near_worst), score(near_worst))


def test_the_fitted_set_is_bounded_and_keeps_the_best():
    values = np.arange(1000, 0, -1, dtype=float)  # the best are the latest
    values[3] = -5.0
    keep = fitted_points(values)
    assert len(keep) == MAX_POINTS and 3 in keep and 999 in keep
    assert len(fitted_points(values[:100])) == 100


def test_values_are_placed_on_the_fitted_process_s_quantile_scale():
    rng = np.random.default_rng(3)
    few = rng.random(MAX_POINTS)
    few[[4, 9]] = few[7], np.inf
    assert np.array_equal(fitted_quantiles(few), rank_quantiles(few))  # every point fitted: unchanged
    values = np.sort(rng.random(3 * MAX_POINTS))[::-1]  # a run that improves: the fitted are the better
    values[10] = np.inf
    keep = fitted_points(values)
    q = fitted_quantiles(values)
    np.testing.assert_allclose(q[keep], rank_quantiles(values[keep]))
    assert q[10] == 1.0 and q.min() > 0.0
    # among all the values the fitted median lies near the best quarter: on their scale a process
    # fitted to these points would predict worse than what it was fitted to
    median = keep[len(keep) // 2]
    assert q[median] == pytest.approx(0.5, abs=0.01) and rank_quantiles(values)[median] < 0.35


def test_a_model_that_is_the_objective_picks_each_slot_s_best_candidate():
    """The selection machinery: with the scorer replaced by the objective itself, every slot
    asks the best of its k candidates (the candidates recorded as they are drawn)."""
    opt = make_optimizer("de", 3, population=8, seed=4, max_evaluations=40, prescreen=6, surrogate="gp")
    first = opt.ask_generation()
    opt.tell_generation(smooth(first))
    draws = []
    make = opt._trials
    opt._trials = lambda: draws.append(make()) or draws[-1]
    opt._scorer = lambda *data: Scorer(lambda x: smooth(x), chosen=lambda p: None)
    asked = opt.ask_generation()
    candidates = np.clip(np.stack([d[0] for d in draws]), 0, 1)  # k x population x dim
    best = np.argmin(np.stack([smooth(c) for c in candidates]), axis=0)
    np.testing.assert_array_equal(asked, candidates[best, np.arange(8)])


def test_each_trial_is_chosen_with_every_value_told_before_it_is_asked():
    """gp chooses a generation's rows one by one as they are asked: a value told in between
    changes what is asked next; knn chooses the whole generation when it begins."""
    def second_generation(surrogate, middle):
        opt = make_optimizer("de", 3, population=8, seed=6, max_evaluations=40, prescreen=8, surrogate=surrogate)
        first = opt.ask_generation()
        opt.tell_generation(smooth(first))
        a = opt.ask()
        opt.tell(a.id, middle)
        return opt.ask().x
    assert not np.array_equal(second_generation("gp", -5.0), second_generation("gp", 5.0))
    np.testing.assert_array_equal(second_generation("knn", -5.0), second_generation("knn", 5.0))


def drive(opt, stop=None, outstanding=(), nan_every=5):
    """:func:`conftest.two_out` with a cost; every ``nan_every``-th value NaN and its cost infinite."""
    def told(c):
        bad = c.id % nan_every == 0
        return (np.nan, math.inf) if bad else (smooth(c.x)[0], 10 ** (2 * c.x[0]))
    return two_out(opt, told, stop, outstanding)


@pytest.mark.parametrize("schedule, screen_start, stop, cooling", [
    ("generational", False, 37, False), ("async", False, 37, False),
    ("generational", True, 7, False), ("async", True, 7, False), ("generational", True, 37, False),
    ("generational", True, 37, True), ("async", True, 37, True)])
def test_same_seed_same_asks_and_an_exact_resume(schedule, screen_start, stop, cooling):
    """Stopped at 7 with screen_start: within the initial population, after the model took over."""
    def build(seed=3):
        opt = make_optimizer("lshade" if schedule == "generational" else "de", 3, population=8, seed=seed,
                             max_evaluations=80, schedule=schedule, prescreen=8, surrogate="gp",
                             cost_weight=0.4, screen_start=screen_start, cost_cooling=cooling)
        opt.set_key(grid_key)
        return opt

    straight = drive(build())
    np.testing.assert_array_equal(np.vstack(drive(build())), np.vstack(straight))
    first = build()
    head = drive(first, stop=stop)
    state = json.loads(json.dumps(first.state_dict(), allow_nan=False))
    assert state["prescreen"]["surrogate"] == "gp"
    resumed = build(seed=999)
    resumed.load_state_dict(state)
    rest = drive(resumed, outstanding=resumed.pending_candidates())
    np.testing.assert_array_equal(np.vstack(head + rest), np.vstack(straight))
    parts, history = first.state_parts()
    again = build(seed=999)
    again.load_state_parts(json.loads(json.dumps(parts)), history)
    assert again.state_dict() == first.state_dict()
    assert again.cost_cooling is cooling and resumed.cost_cooling is cooling


@pytest.mark.parametrize("algorithm", ["de", "jde", "lshade"])
def test_a_screened_start_asks_the_model_s_pick_among_uniform_points_after_the_first_six(algorithm):
    """screen_start: the first START_AFTER rows of the initial population as drawn, each later
    row the best of its k uniform candidates for a model that is the objective itself."""
    opt = make_optimizer(algorithm, 3, population=10, seed=4, max_evaluations=40, prescreen=6, surrogate="gp",
                         screen_start=True)
    opt._scorer = lambda *data: Scorer(lambda x: smooth(x), chosen=lambda p: None)
    first = opt.ask()
    candidates = np.stack([d[0].copy() for d in opt._draws])  # k x population x dim
    asked = [first.x]
    opt.tell(first.id, smooth(first.x)[0])
    for _ in range(9):
        c = opt.ask()
        asked.append(c.x)
        opt.tell(c.id, smooth(c.x)[0])
    best = np.argmin(np.stack([smooth(c) for c in candidates]), axis=0)
    expected = np.where(np.arange(10)[:, None] < START_AFTER, candidates[0], candidates[best, np.arange(10)])
    np.testing.assert_array_equal(np.stack(asked), expected)
    assert not np.array_equal(expected, candidates[0])  # the model changed some rows
    assert opt.population_ready()


def test_a_screened_start_pays_on_a_smooth_function():
    """Not a benchmark (that is benchmarks/hpo): a sanity check over a few seeds that the start
    the model picks, trial by trial, holds a better point than the one drawn."""
    def best_of_start(screen_start, seed):  # one trial at a time, as one worker asks them
        opt = make_optimizer("lshade", 4, seed=seed, population=16, max_evaluations=64, prescreen=16,
                             surrogate="gp", screen_start=screen_start)
        values = []
        while len(values) < 16:
            c = opt.ask()
            values.append(smooth(c.x)[0])
            opt.tell(c.id, values[-1])
        return min(values)
    screened = [best_of_start(True, s) for s in range(5)]
    drawn = [best_of_start(False, s) for s in range(5)]
    assert all(a < b for a, b in zip(screened, drawn)), (screened, drawn)


def test_failures_and_bad_costs_leave_the_model_usable():
    opt = make_optimizer("lshade", 4, population=8, seed=0, max_evaluations=96, prescreen=8, surrogate="gp",
                         cost_weight=1.0)
    rng = np.random.default_rng(0)
    while len(x := opt.ask_generation()):
        assert np.all(np.isfinite(x)) and np.all((0 <= x) & (x <= 1))
        values = smooth(x)
        values[rng.random(len(values)) < 0.3] = np.nan
        values[rng.random(len(values)) < 0.1] = np.inf
        costs = rng.choice([np.nan, np.inf, 0.0, -1.0, 5.0, 50.0], size=len(values))
        opt.tell_generation(values, costs)
    assert opt.evaluations == 96 and np.isfinite(opt.best_value)


def test_the_gp_search_beats_the_nearest_neighbour_search_on_a_smooth_function():
    """Not a benchmark (that is benchmarks/hpo): a sanity check that the model's choice pays on
    the kind of function a GP is for, over a few seeds."""
    def best(surrogate, seed):
        opt = make_optimizer("lshade", 4, seed=seed, max_evaluations=60, prescreen=16, surrogate=surrogate)
        while len(x := opt.ask_generation()):
            opt.tell_generation(smooth(x))
        return opt.best_value
    gp = [best("gp", s) for s in range(4)]
    knn = [best("knn", s) for s in range(4)]
    assert np.all(np.isfinite(gp))
    assert np.median(gp) < np.median(knn)


@pytest.mark.parametrize("surrogate", ["knn", "gp"])
def test_a_cooled_cost_weight_lets_the_last_trials_be_dear(surrogate):
    """Value and cost pull apart (the best values are the dearest). A constant weight keeps the
    search among the cheap points to the end; cooled, the weight is the same at the start and 0
    at the budget's end, so the last trials go where the values are best, whatever they cost."""
    def last_quarter(cooling, seed):
        opt = make_optimizer("lshade", 2, population=8, seed=seed, max_evaluations=64, prescreen=8,
                             surrogate=surrogate, cost_weight=2.0, cost_cooling=cooling)
        x0 = []
        while len(x := opt.ask_generation()):
            x0.extend(x[:, 0])
            opt.tell_generation(x[:, 0] + 0.1 * x[:, 1], 10.0 ** (2.0 * (1.0 - x[:, 0])))
        assert opt._cost_weight_now(0) == 2.0 and opt._cost_weight_now(16) == (1.5 if cooling else 2.0)
        assert opt._cost_weight_now(64) == (0.0 if cooling else 2.0)
        return float(np.mean(x0[48:]))
    cooled = [last_quarter(True, s) for s in range(3)]
    constant = [last_quarter(False, s) for s in range(3)]
    assert all(a < b for a, b in zip(cooled, constant)), (cooled, constant)


@pytest.mark.parametrize("options, message", [
    ({"prescreen": 4, "cost_weight": 0.4, "cost_cooling": "yes"}, "cost_cooling must be true or false"),
    ({"prescreen": 4, "surrogate": "forest"}, "surrogate must be one of 'knn', 'gp'"),
    ({"surrogate": "gp"}, "surrogate needs prescreen"),
    ({"prescreen": 4, "screen_start": True}, "screen_start needs prescreen of 2 or more and surrogate = 'gp'"),
    ({"prescreen": 1, "surrogate": "gp", "screen_start": True}, "screen_start needs prescreen of 2"),
    ({"prescreen": 4, "surrogate": "gp", "screen_start": "yes"}, "screen_start must be true or false"),
])
def test_bad_surrogates_name_the_option(options, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer("de", 3, seed=0, **options)


def test_cost_cooling_without_an_evaluation_budget_names_the_budget():
    with pytest.raises(SettingError, match="cost_cooling needs an evaluation budget") as caught:
        make_optimizer("de", 3, seed=0, prescreen=4, cost_weight=0.4, cost_cooling=True)
    assert caught.value.setting == "max_evaluations"
    # With no weight there is nothing to cool: cost_weight = 0 over the default search's options.
    make_optimizer("de", 3, seed=0, prescreen=4, cost_weight=0.0, cost_cooling=True)
