"""Plots of one or several studies (matplotlib, written as PNG or SVG by the file's suffix)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ..storage import COMPLETE
from .data import StudyData, best_so_far

KINDS = ("convergence", "pareto", "energy", "adaptation")
X_AXES = {"evaluations": "evaluations", "time": "wall time (s)", "energy": "energy (J)"}


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("plots need matplotlib: pip install 'autodehypo[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _series(study: StudyData, x: str) -> tuple[np.ndarray, np.ndarray]:
    """Best value so far against evaluations, cumulative trial wall time, or cumulative energy."""
    trials = sorted(study.finished_trials(), key=lambda t: (t.ended_at or 0.0, t.number))
    ys = best_so_far([t.value if t.status == COMPLETE else None for t in trials], study.direction)
    if x == "evaluations":
        xs = np.arange(1, len(trials) + 1, dtype=float)
    elif x == "time":
        start = min((t.started_at for t in trials if t.started_at), default=0.0)
        xs = np.array([(t.ended_at or start) - start for t in trials])
    else:
        xs = np.cumsum([t.energy_j or 0.0 for t in trials])
    keep = np.array([y is not None for y in ys], dtype=bool)
    return xs[keep], np.array([y for y in ys if y is not None], dtype=float)


def _label(study: StudyData, studies: list[StudyData]) -> str:
    """Studies differing only in seed share a label, so that they are summarised together."""
    algos = {s.algorithm for s in studies}
    return study.algorithm if len(algos) > 1 or len(studies) > 1 else study.name


def convergence(studies: list[StudyData], x: str = "evaluations"):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    groups: dict[str, list[StudyData]] = defaultdict(list)
    for s in studies:
        groups[_label(s, studies)].append(s)
    for label, members in groups.items():
        series = [_series(s, x) for s in members]
        series = [(xs, ys) for xs, ys in series if len(xs)]
        if not series:
            continue
        if len(series) == 1:
            ax.step(series[0][0], series[0][1], where="post", label=label)
            continue
        grid = np.linspace(max(xs[0] for xs, _ in series), max(xs[-1] for xs, _ in series), 200)
        stacked = np.array([np.interp(grid, xs, ys, left=np.nan) for xs, ys in series])
        q1, med, q3 = np.nanpercentile(stacked, [25, 50, 75], axis=0)
        line, = ax.plot(grid, med, label=f"{label} (median of {len(series)})")
        ax.fill_between(grid, q1, q3, alpha=0.25, color=line.get_color())
    ax.set_xlabel(X_AXES[x])
    ax.set_ylabel("best value so far")
    ax.set_title(f"convergence against {x}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats in both coordinates (both minimised)."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    front, best = [], np.inf
    for i in order:
        if points[i][1] < best:
            front.append(i)
            best = points[i][1]
    return front


def pareto(studies: list[StudyData]):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    points = [(t.energy_j, t.value) for s in studies for t in s.trials
              if t.status == COMPLETE and t.energy_j is not None and t.value is not None]
    if points:
        e, v = np.array(points).T
        ax.scatter(e, v, s=14, alpha=0.6, label="trials")
        front = sorted(pareto_front(points))
        fe, fv = np.array([points[i] for i in front]).T
        order = np.argsort(fe)
        ax.step(fe[order], fv[order], where="post", color="tab:red", label="Pareto front")
        ax.scatter(fe, fv, s=30, color="tab:red", zorder=3)
    ax.set_xlabel("energy per trial (J)")
    ax.set_ylabel("value")
    ax.set_title("value against energy per trial")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def energy_by(studies: list[StudyData], param: str):
    if not any(param in s.config.get("space", {}) or param in s.fixed() for s in studies):
        raise KeyError(param)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    pairs = []
    for s in studies:
        fixed = s.fixed()
        for t in s.finished_trials():
            value = t.params.get(param, fixed.get(param))
            if value is not None and t.energy_j is not None:
                pairs.append((value, t.energy_j))
    if pairs:
        xs, ys = zip(*pairs)
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs):
            ax.scatter(xs, ys, s=14, alpha=0.7)
        else:
            labels = sorted({str(x) for x in xs})
            data = [[y for x, y in pairs if str(x) == lab] for lab in labels]
            ax.boxplot(data, tick_labels=labels)
    ax.set_xlabel(param)
    ax.set_ylabel("energy per trial (J)")
    ax.set_title(f"energy per trial by {param}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def adaptation(studies: list[StudyData]):
    """Population size and the mean of the F and CR memories (or per-individual values) by generation."""
    plt = _pyplot()
    fig, (ax_pop, ax_mem) = plt.subplots(1, 2, figsize=(9, 3.8))
    for s in studies:
        gens, sizes, mean_f, mean_cr = [], [], [], []
        for c in s.checkpoints:
            state = c["state"]
            gens.append(c["generation"])
            population = state.get("population")
            sizes.append(len(population) if population else state.get("population_size"))
            mean_f.append(_mean_of(state, ("M_F", "F")))
            mean_cr.append(_mean_of(state, ("M_CR", "CR")))
        ax_pop.plot(gens, sizes, marker=".", label=s.name)
        if any(v is not None for v in mean_f):
            ax_mem.plot(gens, mean_f, label=f"{s.name} F")
            ax_mem.plot(gens, mean_cr, linestyle="--", label=f"{s.name} CR")
    ax_pop.set_xlabel("generation")
    ax_pop.set_ylabel("population size")
    ax_mem.set_xlabel("generation")
    ax_mem.set_ylabel("memory mean")
    for ax in (ax_pop, ax_mem):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _mean_of(state: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        values = state.get(key)
        if isinstance(values, list) and values:
            arr = np.array([v for v in values if isinstance(v, (int, float)) and v >= 0], dtype=float)
            return float(arr.mean()) if arr.size else None
        if isinstance(values, (int, float)):
            return float(values)
    return None


def make(kind: str, studies: list[StudyData], *, x: str = "evaluations", by: str | None = None):
    if kind == "convergence":
        return convergence(studies, x)
    if kind == "pareto":
        return pareto(studies)
    if kind == "energy":
        if not by:
            raise ValueError("--by PARAM is needed for an energy plot")
        return energy_by(studies, by)
    if kind == "adaptation":
        return adaptation(studies)
    raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")


def save(fig, path: str | Path) -> None:
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"plot file must end in .png or .svg, got {path.name!r}")
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
