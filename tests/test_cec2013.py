"""benchmarks/cec2013.py: the official C code's values, f(o) = bias, one call on a population.

The reference values (benchmarks/results/cec2013/reference-values.csv) come from the official
CEC 2013 C code; see that folder's README. The data files come with opfunu; without it the tests
that need them are skipped, with the pip command. They are found with importlib's find_spec, not
``pytest.importorskip("opfunu")``: opfunu 1.0.4's import needs pkg_resources, which recent
setuptools no longer has, so importorskip would skip here even with opfunu installed.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.cec2013 import CEC2013, bias, data_directory  # noqa: E402

REFERENCE = ROOT / "benchmarks" / "results" / "cec2013" / "reference-values.csv"

try:
    data_directory()
    MISSING = None
except RuntimeError:
    MISSING = "the CEC 2013 data files come with opfunu: pip install opfunu"
needs_data = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def reference_rows():
    with open(REFERENCE, newline="") as handle:
        return [(int(r["function"]), int(r["dim"]), int(r["point_index"]), float(r["value"]))
                for r in csv.DictReader(handle)]


def points(f: CEC2013) -> dict[int, np.ndarray]:
    """The CSV's points (benchmarks/results/cec2013/points.py): -1 is o, 0-4 are random."""
    random = np.random.default_rng(2013).uniform(-100.0, 100.0, size=(5, f.dim))
    return {-1: f.shift, **{k: random[k] for k in range(5)}}


def test_reference_file_covers_every_function():
    keys = {(n, d, k) for n, d, k, _ in reference_rows()}
    assert keys == {(n, d, k) for n in range(1, 29) for d in (2, 10, 30) for k in range(-1, 5)}


@needs_data
@pytest.mark.parametrize("dim", [2, 10, 30])
@pytest.mark.parametrize("number", range(1, 29))
def test_matches_the_official_c_code(number, dim):
    f = CEC2013(number, dim)
    at = points(f)
    expected = {k: v for n, d, k, v in reference_rows() if n == number and d == dim}
    indices = sorted(expected)
    got = f(np.array([at[k] for k in indices]))
    for k, value in zip(indices, got):
        # On the error f - f_opt, stricter than on f: relative 1e-9, or absolute 1e-8 (the CEC
        # "counts as 0" threshold) near the optimum.
        error, want = value - f.optimum_value, expected[k] - f.optimum_value
        assert error == pytest.approx(want, rel=1e-9, abs=1e-8), f"F{number}, D={dim}, point {k}"


@needs_data
@pytest.mark.parametrize("number", range(1, 29))
def test_the_shift_vector_gives_the_bias(number):
    # The C code gives exactly the bias at o for all 28 functions at D = 2, 10, 30 (at D >= 50 the
    # Schwefel-based ones, F14-15 and F22-26, leave about 1e-11).
    f = CEC2013(number, 10)
    assert f(f.shift) == f.optimum_value == bias(number)


def test_biases():
    assert [bias(n) for n in range(1, 29)] == [*range(-1400, 0, 100), *range(100, 1500, 100)]


@needs_data
@pytest.mark.parametrize("number", [1, 3, 5, 8, 9, 12, 13, 16, 17, 19, 20, *range(21, 29)])
def test_one_call_on_a_population_equals_single_calls(number):
    f = CEC2013(number, 10)
    X = np.random.default_rng(number).uniform(-100.0, 100.0, size=(6, 10))
    together = f(X)
    assert together.shape == (6,)
    singles = [f(x) for x in X]
    assert all(isinstance(v, float) for v in singles)
    np.testing.assert_array_equal(together, singles)


@needs_data
def test_bad_arguments():
    with pytest.raises(ValueError, match="functions 1-28"):
        CEC2013(29, 10)
    with pytest.raises(ValueError, match="defined for D in"):
        CEC2013(1, 3)
    with pytest.raises(ValueError, match="dimension 10"):
        CEC2013(1, 10)(np.zeros((4, 9)))


def test_a_folder_without_the_data_says_how_to_get_it(tmp_path):
    with pytest.raises(ValueError, match="pip install opfunu"):
        CEC2013(1, 10, data_dir=tmp_path)


@needs_data
def test_the_cec_benchmark_runs_the_2013_suite_with_its_own_biases():
    from benchmarks.cec import cec_function
    f, f_opt = cec_function(2013, 21, 10)
    X = np.random.default_rng(0).uniform(-100, 100, (3, 10))
    assert f_opt == 700.0 and np.array_equal(f(X), CEC2013(21, 10)(X))


def test_runs_equal_to_ten_digits_tie_in_the_rank_test():
    """Two evaluators of one function differ in the last digits; on a plateau that must not
    read as a difference (the CEC 2013 F21 runs: 48 of 51 at 400.19386721861...)."""
    pytest.importorskip("scipy", reason="the rank test needs scipy: pip install scipy")
    from benchmarks.cec import mann_whitney_verdict
    ours = [400.1938672186129] * 48 + [200.00000000000023] * 3
    theirs = [400.1938672186] * 49 + [200.0] * 2
    assert mann_whitney_verdict(ours, theirs)[0] == "same"
    assert mann_whitney_verdict([x * 0.9 for x in ours], theirs)[0] == "better"
    assert mann_whitney_verdict([x * 1.1 for x in ours], theirs)[0] == "worse"
