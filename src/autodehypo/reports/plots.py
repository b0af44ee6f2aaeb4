"""Plots of one or several studies (matplotlib, written as PNG or SVG by the file's suffix)."""

from __future__ import annotations

import textwrap
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..storage import COMPLETE
from .data import StudyData, best_so_far
from .front import REFERENCE, Bounds, candidates, front_trials, hypervolume_curve, knee_trial, minimized

KINDS = ("convergence", "pareto", "energy", "adaptation", "hypervolume")
X_AXES = {"evaluations": "evaluations", "time": "wall time (s)", "energy": "cumulative energy"}


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


def value_label(studies: list[StudyData]) -> str:
    """The objective's name and direction, e.g. "validation error (minimize)"; each one if they differ."""
    labels = [f"{s.value_name} ({s.direction})" for s in studies]
    return " / ".join(dict.fromkeys(labels)) or "value"


def energy_label(studies: list[StudyData], what: str) -> str:
    """An energy axis with the sources its figures come from, e.g. "energy per trial (J, estimate)"."""
    sources = sorted({t.energy_source for s in studies for t in s.finished_trials() if t.energy_source})
    return f"{what} (J, {', '.join(sources) or 'no source'})"


def _say(ax, text: str) -> None:
    """An empty plot says why it is empty instead of drawing bare axes."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.35",
            fontsize=12).set_in_layout(False)  # else tight_layout shrinks the axes around a long text
    ax.set_xticks([])
    ax.set_yticks([])


def _legend(ax, **options) -> None:
    if ax.get_legend_handles_labels()[0]:  # matplotlib warns about a legend of nothing
        ax.legend(**options)


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
    ax.set_xlabel(energy_label(studies, X_AXES[x]) if x == "energy" else X_AXES[x])
    ax.set_ylabel(f"best {value_label(studies)} so far")
    ax.set_title(f"convergence against {x}")
    ax.grid(alpha=0.3)
    if not ax.lines:
        _say(ax, "no completed trial yet")
    _legend(ax)
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
    if studies and all(s.objectives for s in studies) and len({tuple(s.objectives) for s in studies}) == 1:
        return front_plot(studies)
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
    elif any(t.status == COMPLETE for s in studies for t in s.trials):
        _say(ax, "no completed trial with a known energy")
    else:
        _say(ax, "no completed trial yet")
    ax.set_xlabel(energy_label(studies, "energy per trial"))
    ax.set_ylabel(value_label(studies))
    ax.set_title("value against energy per trial")
    ax.grid(alpha=0.3)
    _legend(ax)
    fig.tight_layout()
    return fig


def _same_objectives(studies: list[StudyData]):
    objectives = studies[0].objectives
    if any(s.objectives != objectives for s in studies):
        raise ValueError("these studies have different objectives; plot them one at a time")
    return objectives


def front_plot(studies: list[StudyData]):
    """Studies of several objectives: every completed trial in the first two objectives, the
    front's members in colour (joined as a staircase), the dominated ones grey, the knee starred.
    With three or more objectives the front is still computed in all of them."""
    plt = _pyplot()
    objectives = _same_objectives(studies)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    failed = sum(t.status == "failed" for s in studies for t in s.trials)
    for s in studies:
        pool = candidates(s.trials)
        members = front_trials(s.trials, objectives)
        on_front = {t.number for t in members}
        dominated = [t for t in pool if t.number not in on_front]
        if dominated:
            d = np.array([t.objective_values[:2] for t in dominated])
            ax.scatter(d[:, 0], d[:, 1], s=12, color="0.7", label="dominated" if s is studies[0] else None)
        if not members:
            continue
        f = np.array([t.objective_values[:2] for t in members])
        label = _label(s, studies)
        line = ax.scatter(f[:, 0], f[:, 1], s=30, zorder=3, label=f"front: {label} ({len(members)})")
        if len(objectives) == 2:
            order = np.argsort(minimized(members, objectives)[:, 0])
            ax.step(f[order, 0], f[order, 1], where="post", color=line.get_facecolor()[0], alpha=0.7)
        knee = knee_trial(members, objectives)
        ax.scatter([knee.objective_values[0]], [knee.objective_values[1]], marker="*", s=180,
                   color=line.get_facecolor()[0], edgecolor="k", zorder=4,
                   label=f"knee: trial {knee.number}" if len(studies) == 1 else None)
    if not any(candidates(s.trials) for s in studies):
        _say(ax, "no completed trial yet")
    ax.set_xlabel(_axis_label(studies, objectives[0]))
    ax.set_ylabel(_axis_label(studies, objectives[1]))
    more = f", front over all {len(objectives)} objectives" if len(objectives) > 2 else ""
    ax.set_title(f"Pareto front ({failed} failed trial{'s' if failed != 1 else ''} not shown{more})")
    ax.grid(alpha=0.3)
    _legend(ax, fontsize=8)
    fig.tight_layout()
    return fig


def _axis_label(studies: list[StudyData], objective) -> str:
    if objective.name == "energy":
        return energy_label(studies, f"energy ({objective.direction})")
    return objective.label if objective.name != "objective" else f"{value_label(studies)}"


def hypervolume(studies: list[StudyData], x: str = "evaluations"):
    """Hypervolume of the front so far against evaluations or cumulative energy, all studies
    normalized by the same bounds (see :mod:`.front`); several seeds of one algorithm: median
    and quartiles."""
    if x not in ("evaluations", "energy"):
        raise ValueError("a hypervolume plot is against evaluations or energy")
    plt = _pyplot()
    objectives = _same_objectives(studies)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    bounds = Bounds.of([s.trials for s in studies], objectives)
    groups: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    if bounds is not None:
        for s in studies:
            evaluations, energy, volumes = hypervolume_curve(s.trials, objectives, bounds)
            if len(volumes):
                groups[_label(s, studies)].append((evaluations if x == "evaluations" else energy, volumes))
    for label, series in groups.items():
        if len(series) == 1:
            ax.step(series[0][0], series[0][1], where="post", label=label)
            continue
        grid = np.linspace(max(xs[0] for xs, _ in series), max(xs[-1] for xs, _ in series), 200)
        stacked = np.array([np.interp(grid, xs, ys, left=np.nan) for xs, ys in series])
        q1, med, q3 = np.nanpercentile(stacked, [25, 50, 75], axis=0)
        line, = ax.plot(grid, med, label=f"{label} (median of {len(series)})")
        ax.fill_between(grid, q1, q3, alpha=0.25, color=line.get_color())
    if not groups:
        _say(ax, "no completed trial yet")
    ax.set_xlabel(energy_label(studies, X_AXES[x]) if x == "energy" else X_AXES[x])
    ax.set_ylabel("hypervolume (normalized)")
    ax.set_title(f"hypervolume against {x}; objectives scaled to [0, 1], reference {REFERENCE:g}")
    ax.grid(alpha=0.3)
    _legend(ax)
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
    elif any(s.finished_trials() for s in studies):
        _say(ax, "no trial with a known energy")
    else:
        _say(ax, "no completed trial yet")
    ax.set_xlabel(param)
    ax.set_ylabel(energy_label(studies, "energy per trial"))
    ax.set_title(f"energy per trial by {param}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def adaptation(studies: list[StudyData]):
    """What each search adapts, by generation, as its own summary says (Search.summary()).

    Population size, and F and CR: the means of the SHADE family's memories (JADE's single
    memory is its mu_F, mu_CR) or the mean of jDE's per-individual values; a multi-fidelity
    search shows its population at the highest fidelity. A search that adapts nothing (classic
    DE, GDE3) gets its note instead of flat lines.
    """
    plt = _pyplot()
    adaptive = [s for s in studies if s.checkpoints and s.checkpoints[-1]["summary"]["adapts"]]
    notes = [f"{s.name}: {_fixed_note(s)}" for s in studies if s not in adaptive]
    if not adaptive:
        fig, ax = plt.subplots(figsize=(7, 4.2))
        _say(ax, "\n".join(textwrap.fill(n, 64, subsequent_indent="    ") for n in notes))
        ax.set_title("adaptation")
        fig.tight_layout()
        return fig
    fig, (ax_pop, ax_mem) = plt.subplots(1, 2, figsize=(9, 3.8 + 0.25 * len(notes)))
    for s in adaptive:
        gens = [c["generation"] for c in s.checkpoints]
        summaries = [c["summary"] for c in s.checkpoints]
        scope = f", {summaries[-1]['scope']}" if summaries[-1].get("scope") else ""
        ax_pop.plot(gens, [m["population"] for m in summaries], marker=".", label=s.name + scope)
        of = f"{summaries[-1]['averaged']} mean{scope}"
        line, = ax_mem.plot(gens, [m["F"] for m in summaries], label=f"{s.name} F ({of})")
        ax_mem.plot(gens, [m["CR"] for m in summaries], linestyle="--",
                    color=line.get_color(), label=f"{s.name} CR ({of})")
    ax_pop.set_xlabel("generation")
    ax_pop.set_ylabel("population size")
    ax_pop.yaxis.get_major_locator().set_params(integer=True)
    ax_mem.set_xlabel("generation")
    ax_mem.set_ylabel("F and CR")
    for ax in (ax_pop, ax_mem):
        ax.grid(alpha=0.3)
        _legend(ax, fontsize=7)
    for i, note in enumerate(notes):
        fig.text(0.01, 0.01 + 0.05 * i, textwrap.shorten(note, 150), fontsize=8, color="0.35")
    fig.tight_layout(rect=(0, 0.05 * len(notes), 1, 1))
    return fig


def _fixed_note(study: StudyData) -> str:
    """Why a study has no adaptation to draw."""
    if not study.checkpoints:
        return "no generation completed yet"
    return study.checkpoints[-1]["summary"]["note"]


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
    if kind == "hypervolume":
        return hypervolume(studies, x)
    raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")


def save(fig, path: str | Path) -> None:
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"plot file must end in .png or .svg, got {path.name!r}")
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
