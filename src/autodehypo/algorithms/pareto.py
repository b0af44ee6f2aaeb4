"""Pareto tools for minimized objective vectors: dominance, sorting, crowding, hypervolume, knee.

Rows of ``F`` are objective vectors, all minimized. A row with an infinite or
NaN entry is a failed evaluation: it is in no front, its rank is after every
finite row's, and it adds nothing to a hypervolume.

References: K. Deb, A. Pratap, S. Agarwal and T. Meyarivan, "A Fast and
Elitist Multiobjective Genetic Algorithm: NSGA-II", IEEE TEVC 6(2):182-197,
2002 (non-dominated sorting, crowding distance); L. While, P. Hingston,
L. Barone and S. Huband, "A Faster Algorithm for Calculating Hypervolume",
IEEE TEVC 10(1):29-38, 2006 (slicing objectives, HSO); X. Zhang, Y. Tian and
Y. Jin, "A Knee Point-Driven Evolutionary Algorithm for Many-Objective
Optimization", IEEE TEVC 19(6):761-776, 2015 (knee: farthest from the
hyperplane through the extremes).
"""

from __future__ import annotations

import numpy as np


def _matrix(F) -> np.ndarray:
    F = np.asarray(F, dtype=float)
    return F.reshape(1, -1) if F.ndim == 1 else F


def finite_rows(F) -> np.ndarray:
    """True where a row is a usable objective vector (no inf, no NaN)."""
    return np.isfinite(_matrix(F)).all(axis=1)


def dominates(a, b) -> np.ndarray:
    """a is no worse than b in every objective and better in one; row by row for 2-D inputs.

    A finite vector dominates a failed one; a failed vector dominates nothing.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a_ok, b_ok = np.isfinite(a).all(axis=-1), np.isfinite(b).all(axis=-1)
    return a_ok & (~b_ok | ((a <= b).all(axis=-1) & (a < b).any(axis=-1)))


def weakly_dominates(a, b) -> np.ndarray:
    """a is no worse than b in every objective; row by row for 2-D inputs. Failed: as :func:`dominates`."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a_ok, b_ok = np.isfinite(a).all(axis=-1), np.isfinite(b).all(axis=-1)
    return a_ok & (~b_ok | (a <= b).all(axis=-1))


def dominance_matrix(F) -> np.ndarray:
    """D[i, j] is True when row i dominates row j (finite rows only)."""
    F = _matrix(F)
    no_worse = (F[:, None, :] <= F[None, :, :]).all(axis=2)
    better = (F[:, None, :] < F[None, :, :]).any(axis=2)
    ok = finite_rows(F)
    return no_worse & better & ok[:, None] & ok[None, :]


def non_dominated_ranks(F) -> np.ndarray:
    """Front number of each row: 0 for the non-dominated rows, 1 for those only they dominate, ...

    Deb's fast non-dominated sort on a dominance matrix. Failed rows share the
    rank after the last front of finite rows.
    """
    F = _matrix(F)
    ok = finite_rows(F)
    D = dominance_matrix(F)
    dominated_by = D.sum(axis=0)  # how many rows dominate each row
    ranks = np.full(len(F), -1)
    current = np.flatnonzero(ok & (dominated_by == 0))
    rank = 0
    while current.size:
        ranks[current] = rank
        dominated_by = dominated_by - D[current].sum(axis=0)
        current = np.flatnonzero(ok & (ranks < 0) & (dominated_by == 0))
        rank += 1
    ranks[~ok] = rank
    return ranks


def non_dominated(F) -> np.ndarray:
    """Mask of the rows no other row dominates; failed rows are never in it."""
    F = _matrix(F)
    return finite_rows(F) & ~dominance_matrix(F).any(axis=0)


def crowding_distance(F) -> np.ndarray:
    """NSGA-II crowding distance of each row of one front.

    Per objective the rows are sorted; the two extremes get inf, every other
    row the gap between its neighbours divided by the objective's range; the
    distance is the sum over objectives. Fronts of up to two rows are all
    extremes. An objective with zero range adds nothing.
    """
    F = _matrix(F)
    n, m = F.shape
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = np.argsort(F[:, j], kind="stable")
        values = F[order, j]
        distance[order[0]] = distance[order[-1]] = np.inf
        span = values[-1] - values[0]
        if span > 0:
            distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    return distance


def survival_order(F) -> np.ndarray:
    """Row indices best first: by rank, then by crowding distance (larger first), then index."""
    F = _matrix(F)
    ranks = non_dominated_ranks(F)
    crowding = np.zeros(len(F))
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        if finite_rows(F[members[:1]]).all():
            crowding[members] = crowding_distance(F[members])
    return np.lexsort((np.arange(len(F)), -crowding, ranks))


def prune(F, size: int) -> np.ndarray:
    """Indices (increasing) of the ``size`` rows to keep: whole fronts while they fit, then the
    overflowing front thinned one row at a time, the most crowded first, its crowding distances
    recomputed after every removal (Kukkonen and Deb, "Improved Pruning of Non-Dominated Solutions
    Based on Crowding Distance for Bi-Objective Optimization Problems", IEEE CEC 2006).

    Ties go against the later row; failed rows go first, from the last.
    """
    F = _matrix(F)
    if size >= len(F):
        return np.arange(len(F))
    ranks = non_dominated_ranks(F)
    keep = np.zeros(len(F), dtype=bool)
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        room = size - keep.sum()
        if members.size <= room:
            keep[members] = True
            continue
        if room > 0:
            if not finite_rows(F[members[:1]]).all():
                members = members[:room]  # failed rows: nothing to tell them apart
            while members.size > room:
                crowding = crowding_distance(F[members])
                least = np.flatnonzero(crowding == crowding.min())[-1]
                members = np.delete(members, least)
            keep[members] = True
        break
    return np.flatnonzero(keep)


def hypervolume(F, reference) -> float:
    """Volume dominated by the rows and bounded by ``reference`` (every objective minimized).

    Only finite rows strictly better than the reference in every objective count.
    2-D is a sweep; more objectives slice the last objective recursively (HSO),
    fine for the few objectives and hundreds of points a study has.
    """
    F = _matrix(F)
    reference = np.asarray(reference, dtype=float)
    if F.shape[1] != reference.size:
        raise ValueError(f"reference has {reference.size} objectives, the points {F.shape[1]}")
    F = F[finite_rows(F)]
    F = F[(F < reference).all(axis=1)]
    if len(F) == 0:
        return 0.0
    return float(_hso(F[non_dominated(F)], reference))


def _hso(F: np.ndarray, reference: np.ndarray) -> float:
    m = F.shape[1]
    if m == 1:
        return float(reference[0] - F[:, 0].min())
    if m == 2:
        F = F[np.argsort(F[:, 0], kind="stable")]
        heights = np.minimum.accumulate(F[:, 1])  # the best second objective so far
        widths = np.diff(np.append(F[:, 0], reference[0]))
        return float(np.sum(widths * (reference[1] - heights)))
    F = F[np.argsort(F[:, -1], kind="stable")]
    bounds = np.append(F[1:, -1], reference[-1])
    volume = 0.0
    for k in range(len(F)):
        depth = bounds[k] - F[k, -1]
        if depth > 0:
            slab = F[:k + 1, :-1]
            if m > 3:  # the 2-D sweep needs no filtering: a dominated point adds no area
                slab = slab[non_dominated(slab)]
            volume += depth * _hso(slab, reference[:-1])
    return volume


def knee_point(F) -> int | None:
    """Index (into ``F``) of the front's knee, or None when no row is finite.

    The non-dominated rows are normalized so that each objective's best is 0
    and worst is 1; the extremes then lie on the hyperplane sum(f) = 1, and the
    knee is the point farthest below it, i.e. the smallest sum of normalized
    objectives (KnEA's definition; in 2-D the point farthest from the line
    through the two extremes). Ties go to the lower index.
    """
    F = _matrix(F)
    front = np.flatnonzero(non_dominated(F))
    if front.size == 0:
        return None
    P = F[front]
    low, high = P.min(axis=0), P.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return int(front[np.argmin(((P - low) / span).sum(axis=1))])
