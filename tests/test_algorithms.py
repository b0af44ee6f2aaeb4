import json

import numpy as np
import pytest

from autodehypo.algorithms import ALGORITHMS, SINGLE_OBJECTIVE, STRATEGIES, algorithm_options, make_optimizer

VARIANTS = [("de", {"strategy": s}) for s in STRATEGIES] + [("de", {"dither": [0.5, 1.0]})] + \
    [(name, {}) for name in SINGLE_OBJECTIVE if name != "de"]
BUDGET = 100_000  # evaluation budget given to every variant (L-SHADE and kin need one)


def rastrigin(x):
    z = 10.24 * x - 5.12
    return 10 * z.shape[1] + (z ** 2 - 10 * np.cos(2 * np.pi * z)).sum(axis=1)


def sphere(x):
    return ((x - 0.37) ** 2).sum(axis=1)


def run(name, options, f, generations, seed=0, dim=5, population=20):
    opt = make_optimizer(name, dim, population=population, seed=seed, max_evaluations=BUDGET, **options)
    for _ in range(generations):
        opt.tell_generation(f(opt.ask_generation()))
    return opt


@pytest.mark.parametrize("name, options", VARIANTS)
def test_beats_random_search_with_the_same_budget(name, options):
    generations, population, dim = 60, 20, 5
    ours = [run(name, options, sphere, generations, seed=s).best_value for s in range(5)]
    rng = np.random.default_rng(99)
    random_search = [sphere(rng.random((generations * population, dim))).min() for _ in range(5)]
    assert np.median(ours) < 0.01 * np.median(random_search)


@pytest.mark.parametrize("name, options", VARIANTS)
def test_state_dict_round_trip_continues_identically(name, options):
    straight = run(name, options, rastrigin, 30, seed=7)
    first = run(name, options, rastrigin, 12, seed=7)
    state = json.loads(json.dumps(first.state_dict()))  # must survive JSON
    resumed = make_optimizer(name, 5, population=20, seed=12345, max_evaluations=BUDGET, **options)
    resumed.load_state_dict(state)
    for _ in range(18):
        resumed.tell_generation(rastrigin(resumed.ask_generation()))
    assert resumed.best_value == straight.best_value
    np.testing.assert_array_equal(resumed.best_x, straight.best_x)
    np.testing.assert_array_equal(resumed.ask_generation(), straight.ask_generation())


@pytest.mark.parametrize("name, options", VARIANTS)
def test_pending_batch_survives_state_dict(name, options):
    opt = run(name, options, sphere, 3, seed=1)
    batch = opt.ask_generation()
    clone = make_optimizer(name, 5, population=20, seed=0, max_evaluations=BUDGET, **options)
    clone.load_state_dict(json.loads(json.dumps(opt.state_dict())))
    np.testing.assert_array_equal(clone.ask_generation(), batch)
    np.testing.assert_array_equal(opt.ask_generation(), batch)  # asking twice gives the same batch


@pytest.mark.parametrize("name, options", VARIANTS)
def test_candidates_stay_in_the_unit_cube_and_inf_is_handled(name, options):
    opt = make_optimizer(name, 3, population=8, seed=2, max_evaluations=BUDGET, **options)
    for g in range(20):
        x = opt.ask_generation()
        assert x.shape[1] == 3 and 4 <= len(x) <= 8 and x.min() >= 0.0 and x.max() <= 1.0
        values = sphere(x)
        values[g % 4] = np.inf
        values[(g + 3) % 4] = np.nan
        opt.tell_generation(values)
    assert np.isfinite(opt.best_value)
    json.dumps(opt.state_dict())


def test_greedy_selection_never_worsens_the_population():
    opt = make_optimizer("de", 4, population=10, seed=5)
    opt.tell_generation(rastrigin(opt.ask_generation()))
    for _ in range(15):
        before = opt.fitness.copy()
        opt.tell_generation(rastrigin(opt.ask_generation()))
        assert np.all(opt.fitness <= before)


def test_jde_keeps_control_values_of_successful_trials_only():
    opt = make_optimizer("jde", 4, population=30, seed=11, tau1=1.0, tau2=1.0)
    opt.tell_generation(sphere(opt.ask_generation()))
    opt.ask_generation()
    trial_F, trial_CR = opt._trial_F.copy(), opt._trial_CR.copy()
    assert np.all((trial_F >= 0.1) & (trial_F <= 1.0))
    old_F = opt.F.copy()
    values = np.where(np.arange(30) % 2 == 0, -1.0, np.inf)  # even trials win
    opt.tell_generation(values)
    np.testing.assert_array_equal(opt.F[::2], trial_F[::2])
    np.testing.assert_array_equal(opt.F[1::2], old_F[1::2])
    np.testing.assert_array_equal(opt.CR[::2], trial_CR[::2])


@pytest.mark.parametrize("kwargs, message", [
    ({"strategy": "rand/9/bin"}, "strategy must be one of"),
    ({"strategy": "rand/2/bin", "population": 5}, "population must be an integer >= 6"),
    ({"dither": [0.9, 0.5]}, "dither must be [low, high]"),
    ({"F": 2.5}, "F must be in (0, 2]"),
    ({"CR": -0.1}, "CR must be in [0, 1]"),
    ({"population": 3}, "population must be an integer >= 4"),
    ({"bogus": 1}, "unknown option(s) ['bogus']"),
])
def test_bad_options_are_named(kwargs, message):
    args = {"population": 10, **kwargs}
    with pytest.raises(ValueError) as err:
        make_optimizer("de", 2, seed=0, **args)
    assert message in str(err.value)


def test_unknown_algorithm_lists_the_choices():
    with pytest.raises(ValueError, match=r"choose one of \['de', 'dish', 'gde3', 'gde3-shade', 'jade', 'jde', 'jso', 'lshade', 'shade', 'spsrdemms'\]"):
        make_optimizer("pso", 2, population=10, seed=0)


def test_options_are_introspected():
    assert algorithm_options("de") == {"strategy": "rand/1/bin", "F": 0.5, "CR": 0.9, "dither": None,
                                       "p": 0.1, "prescreen": None, "cost_weight": 0.0,
                                       "surrogate": "knn", "screen_start": False, "cost_cooling": False}
    assert algorithm_options("jso")["M_F_init"] == 0.3 and algorithm_options("dish")["M_F_init"] == 0.5


def test_last_generation_is_cut_at_the_budget():
    opt = make_optimizer("de", 2, population=10, seed=0, max_evaluations=25)
    sizes = []
    while len(x := opt.ask_generation()):
        sizes.append(len(x))
        opt.tell_generation(sphere(x))
    assert sizes == [10, 10, 5] and opt.evaluations == 25


@pytest.mark.parametrize("name", SINGLE_OBJECTIVE)
def test_without_a_population_the_search_default_applies_as_in_a_study(name):
    from autodehypo.config import parse_config
    opt = make_optimizer(name, 3, seed=0, max_evaluations=200)
    config = parse_config({"study": {"algorithm": name, "budget": {"evaluations": 200}},
                           "space": {f"x{i}": {"type": "float", "low": 0, "high": 1} for i in range(3)},
                           "objective": {"type": "python", "function": "math:fabs"}})
    assert len(opt.ask_generation()) == config.population == ALGORITHMS[name].default_population(3)
