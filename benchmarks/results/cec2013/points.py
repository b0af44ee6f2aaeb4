"""The points of reference-values.csv, one a line: "D point_index x_1 ... x_D" (repr precision).

    PYTHONPATH=. python benchmarks/results/cec2013/points.py > points.txt

For each D in (2, 10, 30): index -1 is the shift vector o (the first D numbers of shift_data.txt,
the optimum of F1-F20 and of the first component of F21-F28), then indices 0-4 are
numpy.random.default_rng(2013).uniform(-100, 100, size=(5, D)), a fresh generator for each D
(so every function is evaluated at the same points for a given D).
"""

import numpy as np

from benchmarks.cec2013 import CEC2013

DIMS = (2, 10, 30)


def points(dim: int) -> list[tuple[int, np.ndarray]]:
    random = np.random.default_rng(2013).uniform(-100.0, 100.0, size=(5, dim))
    return [(-1, CEC2013(1, dim).shift)] + [(k, random[k]) for k in range(5)]


if __name__ == "__main__":
    for dim in DIMS:
        for index, x in points(dim):
            print(dim, index, " ".join(repr(float(v)) for v in x))
