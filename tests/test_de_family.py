"""The adaptive DE variants: beat DE/rand/1/bin on real CEC 2017 functions, and their mechanisms."""

import json

import minionpy
import numpy as np
import pytest

from autodehypo.algorithms import ALGORITHMS, make_optimizer
from autodehypo.algorithms.shade import TERMINAL

ADAPTIVE = sorted(set(ALGORITHMS) - {"de"})


def cec_run(name, number, seed, dim=10, fes=20_000, population=50):
    f = minionpy.CEC2017Functions(number, dim)  # matches the official C code
    opt = make_optimizer(name, dim, population=population, seed=seed, max_evaluations=fes)
    while len(u := opt.ask()):
        opt.tell(np.asarray(f(-100.0 + 200.0 * u)) - 100.0 * number)
    return opt.best_value


@pytest.fixture(scope="module")
def baseline():
    """DE/rand/1/bin (F 0.5, CR 0.9) on the same functions, seeds and budget."""
    return {n: np.mean([cec_run("de", n, s) for s in range(3)]) for n in (5, 7, 8)}


@pytest.mark.parametrize("name", ADAPTIVE)
@pytest.mark.parametrize("number", [5, 7, 8])  # shifted rotated Rastrigin, Lunacek bi-Rastrigin, non-cont. Rastrigin
def test_beats_de_rand_1_bin_on_cec2017(baseline, name, number):
    ours = np.mean([cec_run(name, number, s) for s in range(3)])
    assert ours < baseline[number], f"{name} on F{number}: {ours:.3g} vs DE {baseline[number]:.3g}"


@pytest.mark.parametrize("name", ["lshade", "jso", "dish"])
@pytest.mark.parametrize("budget", [1000, 1237])
def test_population_reduction_ends_at_the_minimum_exactly_at_the_budget(name, budget):
    opt = make_optimizer(name, 4, population=40, seed=3, max_evaluations=budget)
    sizes = []
    while len(x := opt.ask()):
        sizes.append(len(opt.population) if opt.population is not None else len(x))
        opt.tell(((x - 0.2) ** 2).sum(axis=1))
    assert opt.evaluations == budget
    assert len(opt.population) == 4
    assert sizes[0] == 40 and all(a >= b for a, b in zip(sizes, sizes[1:]))
    assert len(opt.archive) <= round(opt.archive_rate * 4)


@pytest.mark.parametrize("name", ["lshade", "jso", "dish"])
def test_reduction_needs_an_evaluation_budget(name):
    with pytest.raises(ValueError, match="needs an evaluation budget"):
        make_optimizer(name, 3, population=20, seed=0)


def test_lshade_terminal_cr():
    opt = make_optimizer("lshade", 3, population=20, seed=0, max_evaluations=10_000)
    k = opt.k
    opt._update_slot(np.array([0.5, 0.7]), np.array([0.0, 0.0]), np.array([0.5, 0.5]))
    assert opt.M_CR[k] == TERMINAL
    assert np.all(opt._sample_CR(np.full(50, TERMINAL)) == 0.0)
    opt.k = k
    opt._update_slot(np.array([0.5, 0.6]), np.array([0.0, 0.0]), np.array([0.3, 0.7]))
    assert opt.M_CR[k] == TERMINAL
    opt.k = k
    # Tanabe's code zeroes the slot before summing, so a terminal slot takes the next update
    opt._update_slot(np.array([0.5, 0.6]), np.array([0.9, 0.0]), np.array([0.5, 0.5]))
    assert opt.M_CR[k] == pytest.approx(0.9)


def test_lshade_rounds_halves_up_like_c():
    opt = make_optimizer("lshade", 2, population=150, seed=0, max_evaluations=100_000)
    opt.ask()
    opt.tell(np.arange(150.0))  # fitness = index, so the largest pbest index is the pool size - 1
    assert max(opt._pbest().max() for _ in range(20)) == 16  # round(0.11 * 150 = 16.5) = 17
    assert opt._archive_capacity() == 390  # round(2.6 * 150) at the initial size


def test_lshade_reduction_drops_the_first_of_equal_worst_keeps_order_and_truncates_archive():
    opt = make_optimizer("lshade", 2, population=20, seed=0, max_evaluations=320)
    first = opt.ask()
    fitness = np.array([3.0, 9, 1, 9, 2, 9, 5, 0, 4, 6, 7, 8, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5])
    opt.tell(fitness)
    assert len(opt.population) == 20  # no reduction after the initial population
    opt.ask()
    opt.archive = np.arange(52 * 2.0).reshape(52, 2)  # full: round(2.6 * 20)
    opt.tell(np.full(20, np.inf))  # no trial wins: population and fitness stay
    # 40 evaluations: round(20 - 16 * 40 / 320) = 18, so two go: of the three equal worst (9 at
    # 1, 3 and 5) the code removes the first one found each time, and the rest keep their order
    expected = [i for i in range(20) if i not in (1, 3)]
    np.testing.assert_array_equal(opt.fitness, fitness[expected])
    np.testing.assert_array_equal(opt.population, first[expected])
    assert opt._archive_capacity() == 46  # int(2.6 * 18 = 46.8), not round
    np.testing.assert_array_equal(opt.archive, np.arange(46 * 2.0).reshape(46, 2))  # its first members


def test_lshade_initial_population_is_uniform():
    opt = make_optimizer("lshade", 3, population=10, seed=4, max_evaluations=1000)
    np.testing.assert_array_equal(opt.ask(), np.random.default_rng(4).random((10, 3)))


def test_jso_memory_last_slot_schedules_and_averaging():
    opt = make_optimizer("jso", 3, population=20, seed=0, max_evaluations=10_000)
    assert opt.H == 5 and np.all(opt.M_F == 0.3) and np.all(opt.M_CR == 0.8)
    mu_F, mu_CR = opt._memory_means(np.array([0, 4]))
    assert mu_F.tolist() == [0.3, 0.9] and mu_CR.tolist() == [0.8, 0.9]
    opt.evaluations = 0
    assert opt._sample_CR(np.full(500, 0.1)).min() >= 0.7
    assert opt._sample_F(np.full(500, 0.9)).max() <= 0.7
    assert np.allclose(opt._Fw(np.ones(3)), 0.7)
    opt.evaluations = 9_000
    assert np.allclose(opt._Fw(np.ones(3)), 1.2)
    assert opt._sample_CR(np.full(500, 0.1)).min() < 0.6
    k = opt.k
    opt._update_slot(np.array([0.5]), np.array([0.4]), np.array([1.0]))
    assert opt.M_F[k] == pytest.approx((0.5 + 0.3) / 2) and opt.M_CR[k] == pytest.approx((0.4 + 0.8) / 2)


def test_jso_p_falls_from_a_quarter_to_an_eighth():
    opt = make_optimizer("jso", 3, population=200, seed=0, max_evaluations=10_000)
    opt.tell(np.arange(200.0)[:len(opt.ask())])  # first generation: fitness = index
    opt.evaluations = 0
    early = max(opt._pbest().max() for _ in range(20))
    opt.evaluations = 10_000
    late = max(opt._pbest().max() for _ in range(20))
    # fitness = index, so the largest pbest index seen is the pool size - 1
    n = len(opt.population)
    assert early == round(0.25 * n) - 1 and late == round(0.125 * n) - 1


def test_dish_weights_by_distance_and_guards_zero_distance():
    opt = make_optimizer("dish", 2, population=6, seed=0, max_evaluations=1000)
    opt.ask()
    opt.tell(np.arange(6.0))
    improved = np.array([True, True, False, False, False, False])
    trials = opt.population.copy()
    trials[0] += [0.3, 0.4]  # moved 0.5
    trials[1] += [0.0, 0.15]  # moved 0.15
    w = opt._weights(improved, trials, np.zeros(6))
    assert w == pytest.approx([0.5 / 0.65, 0.15 / 0.65])
    assert opt._weights(improved, opt.population.copy(), np.zeros(6)) is None
    before = (opt.M_F.copy(), opt.M_CR.copy())
    opt.ask()
    opt._pending[:2] = opt.population[:2]  # successful trials identical to their parents
    opt.tell(np.array([-1.0, -1.0, 9, 9, 9, 9]))
    assert np.array_equal(opt.M_F, before[0]) and np.array_equal(opt.M_CR, before[1])


def test_jade_keeps_the_parent_on_ties_shade_takes_the_trial():
    for name, replaced in (("jade", False), ("shade", True)):
        opt = make_optimizer(name, 2, population=6, seed=0)
        opt.ask()
        opt.tell(np.ones(6))
        x = opt.ask()
        opt.tell(np.ones(6))
        assert np.array_equal(opt.population, x) == replaced
        assert len(opt.archive) == 0  # a tie is not a success


def test_archive_is_used_and_bounded():
    opt = make_optimizer("shade", 3, population=10, seed=1)
    rng = np.random.default_rng(0)
    for _ in range(30):
        x = opt.ask()
        opt.tell(((x - 0.5) ** 2).sum(axis=1) + rng.random(len(x)) * 1e-3)
    assert 0 < len(opt.archive) <= 10
    json.dumps(opt.state_dict())


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_hpo_and_benchmark_populations(name):
    cls = ALGORITHMS[name]
    assert 4 <= cls.default_population(5) <= 20
    assert cls.benchmark_population(10) in {100, 180, 182}
