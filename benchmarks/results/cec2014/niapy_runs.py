"""NiaPy's L-SHADE alone on chosen CEC functions, one row per run appended as it ends.

Same function, bounds, budget, population (18 D) and seeds as ``benchmarks/cec.py --reference
niapy`` (it calls that script's ``niapy_lshade``), in the ``--runs-csv`` format, so the file can be
read back with ``--baseline FILE:"niapy L-SHADE"`` once it has as many runs as the table.

    PYTHONPATH=src python benchmarks/results/cec2014/niapy_runs.py OUT.csv 22 51 [SUITE] [DIM]
"""

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import cec  # noqa: E402  (benchmarks/cec.py)

out, functions, runs = sys.argv[1], cec.parse_functions(sys.argv[2]), int(sys.argv[3])
suite = int(sys.argv[4]) if len(sys.argv) > 4 else 2014
dim = int(sys.argv[5]) if len(sys.argv) > 5 else 10
new = not Path(out).exists()
with open(out, "a", newline="") as fh:
    writer = csv.writer(fh)
    if new:
        writer.writerow(["algorithm", "suite", "D", "F", "seed", "error"])
    for number in functions:
        for seed in range(runs):
            error = cec.niapy_lshade(suite, number, dim, seed, 10000 * dim)
            writer.writerow(["niapy L-SHADE", suite, dim, number, seed, repr(float(error))])
            fh.flush()
