import math

import numpy as np
import pytest

from autodehypo.space import Categorical, Float, Int, SearchSpace, SpaceError


def test_roundtrip_every_type():
    space = SearchSpace([
        Float("lr", 1e-5, 1.0, log=True), Float("m", -1.0, 3.0), Int("bs", 8, 512, log=True),
        Int("epochs", 1, 10), Categorical("opt", ("sgd", "adam", 3, True))])
    values = [{"lr": 3e-4, "m": -0.25, "bs": 8, "epochs": 10, "opt": 3},
              {"lr": 1.0, "m": 3.0, "bs": 512, "epochs": 1, "opt": True},
              {"lr": 1e-5, "m": 0.1, "bs": 100, "epochs": 5, "opt": "adam"}]
    for v in values:
        back = space.decode(space.encode(v))
        assert back["bs"] == v["bs"] and back["epochs"] == v["epochs"]
        assert back["opt"] == v["opt"] and type(back["opt"]) is type(v["opt"])
        assert math.isclose(back["lr"], v["lr"], rel_tol=1e-12)
        assert math.isclose(back["m"], v["m"], rel_tol=1e-12, abs_tol=1e-15)


def test_every_int_is_reachable_and_uniform():
    p = Int("k", 1, 4)
    counts = np.bincount([p.decode(u) for u in np.linspace(0, 1, 4001)], minlength=5)[1:]
    assert counts.min() > 900 and counts.max() < 1100
    logp = Int("k", 1, 1000, log=True)
    assert logp.decode(0.0) == 1 and logp.decode(1.0) == 1000


def test_decode_clips_and_stays_in_bounds():
    space = SearchSpace([Float("a", 2.0, 3.0), Int("b", 0, 5), Categorical("c", ("x", "y"))])
    assert space.decode([-0.5, 1.5, 1.0]) == {"a": 2.0, "b": 5, "c": "y"}
    assert space.decode([1.0, 0.0, 0.0]) == {"a": 3.0, "b": 0, "c": "x"}


@pytest.mark.parametrize("table, message", [
    ({"a": {"type": "float", "low": 1.0, "high": 1.0}}, "low must be below high"),
    ({"a": {"type": "float", "low": 2.0, "high": 1.0}}, "low must be below high"),
    ({"a": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, "log scale needs low > 0"),
    ({"a": {"type": "int", "low": -1, "high": 4, "log": True}}, "log scale needs low > 0"),
    ({"a": {"type": "int", "low": 0.5, "high": 4}}, "integer bound"),
    ({"a": {"type": "categorical", "choices": []}}, "at least one choice"),
    ({"a": {"type": "categorical", "choices": ["x", "x"]}}, "distinct"),
    ({"a": {"type": "normal", "low": 0, "high": 1}}, "unknown type 'normal'"),
    ({"a": {"type": "float", "low": 0, "high": 1, "step": 2}}, "unknown key(s) ['step']"),
    ({"a": {"type": "float", "high": 1}}, "space.a.low: required"),
    ({"a": 3}, "expected a table"),
    ({}, "at least one hyperparameter"),
])
def test_bad_definitions_are_named(table, message):
    with pytest.raises(SpaceError) as err:
        SearchSpace.from_config(table)
    assert message in str(err.value)


def test_duplicate_names():
    with pytest.raises(SpaceError, match="duplicate"):
        SearchSpace([Float("a", 0, 1), Int("a", 0, 3)])


def test_unordered_choices_do_not_depend_on_their_listed_order():
    """Property: listing the choices in another order permutes the coordinates, nothing else."""
    rng = np.random.default_rng(7)
    choices = ("relu", "tanh", "gelu", "silu", "elu")
    base = SearchSpace([Float("lr", 1e-4, 1.0, log=True), Categorical("act", choices)])
    assert base.dim == 1 + len(choices)
    for _ in range(50):
        order = rng.permutation(len(choices))
        shuffled = SearchSpace([Float("lr", 1e-4, 1.0, log=True),
                                Categorical("act", tuple(choices[k] for k in order))])
        for u in rng.random((20, base.dim)):
            permuted = np.concatenate([u[:1], u[1:][order]])  # coordinate j of shuffled = choice order[j]
            assert shuffled.decode(permuted) == base.decode(u)
    # Every choice is equally likely under a uniform initial population.
    counts = {c: 0 for c in choices}
    for u in rng.random((5000, base.dim)):
        counts[base.decode(u)["act"]] += 1
    assert min(counts.values()) > 900 and max(counts.values()) < 1100


def test_numeric_choices_are_ordered_by_value_whatever_their_listed_order():
    listed = SearchSpace([Categorical("bs", (256, 16, 1024, 64))])
    assert listed.dim == 1
    assert [listed.decode([u])["bs"] for u in (0.1, 0.3, 0.6, 0.9)] == [16, 64, 256, 1024]
    for value in (16, 64, 256, 1024):
        assert listed.decode(listed.encode({"bs": value}))["bs"] == value
    # Two unordered choices need no more than one coordinate: a cut in half orders nothing.
    assert SearchSpace([Categorical("flag", (True, False))]).dim == 1


def test_studies_made_with_the_first_encoding_keep_it():
    table = {"opt": {"type": "categorical", "choices": ["sgd", "adam", "adamw"]},
             "bs": {"type": "categorical", "choices": [128, 32]}}
    old = SearchSpace.from_config(table, encoding=1)
    assert old.dim == 2
    assert old.decode([0.1, 0.1]) == {"opt": "sgd", "bs": 128}  # slices in the listed order
    assert SearchSpace.from_config(table).dim == 4
    with pytest.raises(SpaceError, match="unknown encoding version 3"):
        SearchSpace.from_config(table, encoding=3)
