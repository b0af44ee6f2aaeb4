"""Multi-fidelity DE: Hyperband's brackets, promotions that continue, a failed trial never promoted."""

import json
import math

import numpy as np
import pytest

from autodehypo.algorithms.multifidelity import MultiFidelityDE, brackets


def test_brackets_are_hyperbands_published_schedule():
    """Li et al. 2018, Table 1: R = 81, eta = 3 (n_i configurations at r_i)."""
    assert brackets(1, 81, 3, integer=True) == [
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        [(34, 3), (11, 9), (3, 27), (1, 81)],
        [(15, 9), (5, 27), (1, 81)],
        [(8, 27), (2, 81)],
        [(5, 81)],
    ]
    # The example: epochs 1 to 27, eta 3.
    assert brackets(1, 27, 3, integer=True)[0] == [(27, 1), (9, 3), (3, 9), (1, 27)]
    assert brackets(1, 27, 3, integer=True)[-1] == [(4, 27)]
    assert brackets(5, 5, 3) == [[(1, 5.0)]]  # one fidelity: plain search at it
    with pytest.raises(ValueError, match="eta must be > 1"):
        brackets(1, 9, 1)


def value_of(x, fidelity):
    return float(np.sum((x - 0.3) ** 2) + 1.0 / fidelity)


def drive(opt, until, fail=lambda c: False, reload_every=0):
    """Ask all that can be asked, tell in reverse order; returns (candidate, value) pairs."""
    seen = []
    while opt.evaluations < until:
        batch = []
        while (c := opt.ask()) is not None:
            batch.append(c)
        assert batch, "nothing to ask and nothing pending"
        for c in reversed(batch):
            v = math.inf if fail(c) else value_of(c.x, c.fidelity)
            opt.tell(c.id, v)
            seen.append((c, v))
            if reload_every and opt.evaluations % reload_every == 0:
                state = json.loads(json.dumps(opt.state_dict(), allow_nan=False))
                opt = MultiFidelityDE(3, inner=opt.inner, min_fidelity=1, max_fidelity=27, eta=3,
                                      integer=True, seed=123)
                opt.load_state_dict(state)
    return seen, opt


@pytest.mark.parametrize("inner", ["de", "jde", "shade"])
def test_rungs_promote_the_best_and_continue_them(inner):
    opt = MultiFidelityDE(3, inner=inner, min_fidelity=1, max_fidelity=27, eta=3, integer=True, seed=5)
    seen, _ = drive(opt, 27 + 9 + 3 + 1)
    rung0 = [(c, v) for c, v in seen[:27]]
    assert all(c.fidelity == 1 and c.continues is None for c, _ in rung0)
    best9 = sorted(rung0, key=lambda cv: cv[1])[:9]
    rung1 = seen[27:36]
    assert all(c.fidelity == 3 for c, _ in rung1)
    assert sorted(c.continues for c, _ in rung1) == sorted(c.id for c, _ in best9)
    for c, _ in rung1:  # the same configuration, trained further
        np.testing.assert_array_equal(c.x, next(p.x for p, _ in rung0 if p.id == c.continues))
    assert [c.fidelity for c, _ in seen[36:40]] == [9, 9, 9, 27]
    assert opt.best_fidelity == 27 and opt.best_value == seen[39][1]


def test_a_rung_waits_for_its_values_and_a_failed_trial_is_never_promoted():
    opt = MultiFidelityDE(2, inner="de", min_fidelity=1, max_fidelity=9, eta=3, integer=True, seed=1)
    first = [opt.ask() for _ in range(9)]
    assert opt.ask() is None  # rung 0 of the first bracket is 9 configurations
    failed = {c.id for c in first[:7]}
    for c in first:
        opt.tell(c.id, math.inf if c.id in failed else value_of(c.x, 1))
    promoted = []
    while (c := opt.ask()) is not None:
        promoted.append(c)
    assert len(promoted) == 2 and {c.continues for c in promoted} == {first[7].id, first[8].id}
    with pytest.raises(ValueError, match="not waiting"):
        opt.tell(first[0].id, 1.0)


def test_all_failed_rung_ends_its_bracket():
    opt = MultiFidelityDE(2, inner="de", min_fidelity=1, max_fidelity=9, eta=3, integer=True, seed=1)
    for c in [opt.ask() for _ in range(9)]:
        opt.tell(c.id, math.inf)
    c = opt.ask()
    assert c.fidelity == 3 and c.continues is None  # the next bracket starts at 3
    assert math.isinf(opt.best_value)


def test_state_round_trip_continues_identically():
    straight, _ = drive(MultiFidelityDE(3, inner="jde", min_fidelity=1, max_fidelity=27, eta=3,
                                        integer=True, seed=8), 150)
    reloaded, _ = drive(MultiFidelityDE(3, inner="jde", min_fidelity=1, max_fidelity=27, eta=3,
                                        integer=True, seed=8), 150, reload_every=7)
    assert [(c.id, c.x.tolist(), c.fidelity, c.continues, v) for c, v in straight] == \
           [(c.id, c.x.tolist(), c.fidelity, c.continues, v) for c, v in reloaded]
    assert {c.fidelity for c, _ in straight} == {1, 3, 9, 27} and len(straight) >= 150


def test_inner_algorithms_that_need_an_evaluation_budget_are_refused():
    with pytest.raises(ValueError, match="lshade cannot be the search inside multi-fidelity"):
        MultiFidelityDE(2, inner="lshade", min_fidelity=1, max_fidelity=9)
    with pytest.raises(ValueError, match="spsrdemms cannot be the search"):
        MultiFidelityDE(2, inner="spsrdemms", min_fidelity=1, max_fidelity=9)
