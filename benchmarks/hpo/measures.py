"""What the harness measures on the recorded runs: anytime curves, cost to a target, regret, tests.

All on losses (lower is better). A run's *best so far* after evaluation i is
the lowest loss among evaluations 0..i (a failed evaluation counts as +inf);
its *cost so far* is the sum of the costs of evaluations 0..i.

Cost to target: the cost so far at the first evaluation whose best so far is
at or below the target; +inf when the run never gets there within its budget
(censored). Medians are taken with those +inf included, so a median is
finite only when at least half the runs reached the target; the share that
did is reported beside it. Beside the median the report gives the expected
running time (ERT, as in the COCO/BBOB benchmarks): the cost spent by all runs
(up to the target, or their whole budget when they never reached it) divided
by the number of runs that reached it; it is finite as soon as one run did.
The Mann-Whitney U test ranks +inf above every
finite cost and ties the +inf runs, which a rank test handles as it should.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def best_so_far(losses: np.ndarray) -> np.ndarray:
    return np.minimum.accumulate(np.where(np.isnan(losses), np.inf, losses))


def cost_to_target(losses: np.ndarray, costs: np.ndarray, target: float) -> float:
    hit = np.flatnonzero(best_so_far(losses) <= target)
    if not hit.size:
        return math.inf
    return float(np.cumsum(costs)[hit[0]])


def expected_running_time(to_target: Sequence[float], totals: Sequence[float]) -> float:
    """Sum over runs of the cost spent until the target (or the whole run when it never got there),
    over the number of runs that got there; +inf when none did."""
    reached = [math.isfinite(c) for c in to_target]
    if not any(reached):
        return math.inf
    spent = sum(c if ok else t for c, t, ok in zip(to_target, totals, reached))
    return spent / sum(reached)


def final_regret(losses: np.ndarray, best_loss: float) -> float:
    best = best_so_far(losses)
    return float(best[-1] - best_loss) if len(best) else math.inf


def anytime(losses: np.ndarray, costs: np.ndarray, best_loss: float, grid: np.ndarray) -> np.ndarray:
    """Regret of the best so far at each cost in ``grid`` (+inf before the first evaluation ends)."""
    spent = np.cumsum(costs)
    regret = best_so_far(losses) - best_loss
    i = np.searchsorted(spent, grid, side="right") - 1
    return np.where(i >= 0, regret[np.maximum(i, 0)], np.inf)


def quartiles(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """25th, 50th, 75th percentiles without interpolating (+inf stays +inf, never NaN)."""
    q = np.quantile(np.asarray(values, dtype=float), [0.25, 0.5, 0.75], axis=axis, method="inverted_cdf")
    return q[0], q[1], q[2]


def median(values: Sequence[float]) -> float:
    """The usual median; with +inf in the upper half it is +inf."""
    a = np.sort(np.asarray(values, dtype=float))
    if not a.size:
        return math.nan
    n = a.size
    lo, hi = a[(n - 1) // 2], a[n // 2]
    return float(hi) if math.isinf(hi) else float((lo + hi) / 2)


def ratio(ours: float, theirs: float) -> float:
    """ours / theirs for median costs: inf/x = inf, x/inf = 0, inf/inf = NaN (undecided)."""
    if math.isinf(ours) and math.isinf(theirs):
        return math.nan
    if math.isinf(ours):
        return math.inf
    if math.isinf(theirs):
        return 0.0
    if theirs == 0.0:
        return math.nan if ours == 0.0 else math.inf
    return ours / theirs


def geometric_mean(ratios: Sequence[float]) -> tuple[float, int]:
    """Geometric mean over the finite, positive ratios, and how many those were."""
    ok = [r for r in ratios if math.isfinite(r) and r > 0]
    if not ok:
        return math.nan, 0
    return float(math.exp(sum(math.log(r) for r in ok) / len(ok))), len(ok)


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of scipy's Mann-Whitney U; 1.0 when every value is the same."""
    from scipy.stats import mannwhitneyu
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not a.size or not b.size:
        return math.nan
    both = np.concatenate([a, b])
    if np.all(both == both[0]):
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
