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
hyperplane through the extremes); N. Beume, B. Naujoks and M. Emmerich, "SMS-EMOA: Multiobjective
Selection Based on Dominated Hypervolume", EJOR 181(3):1653-1669, 2007 (a front thinned by the
least hypervolume contribution).
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


PRUNINGS = ("crowding", "hypervolume")
# The reference point of the volume cut, in every objective of the front scaled to its own [0, 1]:
# just beyond the worst row, so that the extremes keep a share of the volume.
SCALED_REFERENCE = 1.1


def check_pruning(by: str) -> str:
    """``by`` of :func:`prune` and :func:`survival_order`, or a one-line error."""
    if by not in PRUNINGS:
        raise ValueError(f"pruning must be one of {list(PRUNINGS)}, got {by!r}")
    return by


def survival_order(F, by: str = "crowding") -> np.ndarray:
    """Row indices best first: by rank, then by crowding distance or hypervolume contribution
    (larger first; ``by`` as :func:`prune`'s, each front scaled to its own [0, 1]), then index."""
    check_pruning(by)
    F = _matrix(F)
    ranks = non_dominated_ranks(F)
    worth = np.zeros(len(F))
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        if finite_rows(F[members[:1]]).all():
            worth[members] = crowding_distance(F[members]) if by == "crowding" else _scaled_contributions(F[members])
    return np.lexsort((np.arange(len(F)), -worth, ranks))


def prune(F, size: int, by: str = "crowding") -> np.ndarray:
    """Indices (increasing) of the ``size`` rows to keep: whole fronts while they fit, then the
    overflowing front thinned one row at a time, each removal judged on the rows still there.

    ``by="crowding"``: the most crowded row goes first (Kukkonen and Deb, "Improved Pruning of
    Non-Dominated Solutions Based on Crowding Distance for Bi-Objective Optimization Problems",
    IEEE CEC 2006). ``by="hypervolume"``: the row whose loss costs the front the least
    hypervolume goes first, as SMS-EMOA selects (:func:`hypervolume_contributions`; the front
    scaled to its own [0, 1] in each objective before the first removal, reference point 1.1).

    Ties go against the later row; failed rows go first, from the last.
    """
    check_pruning(by)
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
            elif by == "hypervolume":
                members = members[_thinned_by_hypervolume(F[members], room)]
            else:
                members = members[_thinned_by_crowding(F[members], room)]
            keep[members] = True
        break
    return np.flatnonzero(keep)


def _thinned_by_crowding(F: np.ndarray, size: int) -> np.ndarray:
    """Indices of the ``size`` rows of front ``F`` left when the most crowded goes, one at a time."""
    rows = np.arange(len(F))
    while len(rows) > size:
        crowding = crowding_distance(F[rows])
        rows = np.delete(rows, np.flatnonzero(crowding == crowding.min())[-1])
    return rows


def _thinned_by_hypervolume(F: np.ndarray, size: int) -> np.ndarray:
    """Indices (increasing) of the ``size`` rows of front ``F`` left when the row contributing
    the least hypervolume goes, one at a time (ties: the later row). Each objective is scaled
    to the front's own [0, 1] first, so that no unit weighs more; the reference 1.1 leaves the
    extremes a share too.

    A row's contribution can only grow as others go (the volume dominated is submodular), so a
    contribution computed before a removal is a lower bound after it: only the rows whose bound
    is the least are computed again, until the least is exact. The result is that of computing
    every contribution after every removal, for a few contributions per removal instead of all
    (two objectives: all of them, in one sort).
    """
    scaled, reference = _scaled(F), np.full(F.shape[1], SCALED_REFERENCE)
    rows = np.arange(len(F))
    bound = hypervolume_contributions(scaled, reference)
    exact = np.ones(len(F), dtype=bool)
    while len(rows) > size:
        while not exact[stale := np.flatnonzero(bound == bound.min())].all():
            for i in stale[~exact[stale]]:
                bound[i] = _contribution(scaled[rows], i, reference)
                exact[i] = True
        least = np.flatnonzero(bound == bound.min())[-1]
        rows, bound = np.delete(rows, least), np.delete(bound, least)
        if F.shape[1] == 2:  # all of them exactly, in one sort
            bound, exact = hypervolume_contributions(scaled[rows], reference), np.ones(len(rows), dtype=bool)
        else:
            exact = np.zeros(len(rows), dtype=bool)
    return rows


def _scaled(F: np.ndarray) -> np.ndarray:
    """Each objective of a front scaled to the front's own [0, 1]."""
    low, high = F.min(axis=0), F.max(axis=0)
    return (F - low) / np.where(high > low, high - low, 1.0)


def _scaled_contributions(F: np.ndarray) -> np.ndarray:
    return hypervolume_contributions(_scaled(F), np.full(F.shape[1], SCALED_REFERENCE))


def added_volume(point: np.ndarray, others: np.ndarray, reference: np.ndarray) -> float:
    """The hypervolume ``point`` adds to ``others`` (none of which dominates it): its box less
    the part of it the others, moved onto the box, still dominate."""
    moved = np.maximum(others, point)
    return float(np.prod(np.maximum(reference - point, 0.0))) - hypervolume(moved, reference)


def _contribution(F: np.ndarray, i: int, reference: np.ndarray) -> float:
    return added_volume(F[i], np.delete(F, i, axis=0), reference)


def hypervolume_contributions(F, reference) -> np.ndarray:
    """Per row of a front (no row dominates another), the hypervolume the front loses without it.

    A repeated row contributes nothing (its twin covers it). Two objectives: each row's rectangle
    between its neighbours, exactly; more: the row's box less the part the other rows, moved
    onto the box, still dominate.
    """
    F = _matrix(F)
    reference = np.asarray(reference, dtype=float)
    if F.shape[1] == 2:
        order = np.lexsort((F[:, 1], F[:, 0]))
        x, y = F[order, 0], F[order, 1]
        widths = np.append(x[1:], reference[0]) - x
        heights = np.insert(y[:-1], 0, reference[1]) - y
        contributions = np.empty(len(F))
        contributions[order] = np.maximum(widths, 0.0) * np.maximum(heights, 0.0)
        return contributions
    return np.array([_contribution(F, i, reference) for i in range(len(F))])


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
