"""The paper's table: group | best error | elapsed | energy, in text, Markdown, CSV, LaTeX or HTML."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from typing import Any

from ..storage import COMPLETE, FAILED
from .data import StudyData, better
from .front import (REFERENCE, Bounds, candidates, energy_sources_note, front_trials, knee_trial,
                    normalized_hypervolume)
from .text import format_duration, format_param

FORMATS = ("text", "md", "csv", "latex", "html")


@dataclass
class Row:
    group: str
    best: float | None
    best_params: dict[str, Any]
    wall_time_s: float | None     # whole studies only
    trial_time_s: float
    energy_j: float | None
    trials: int
    failed: int
    sources: str


def _value_label(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def group_rows(studies: list[StudyData], group_by: str | None) -> list[Row]:
    """One row per study, or per value of ``group_by`` (searched or fixed) over all given studies."""
    groups: dict[str, list[tuple[StudyData, Any]]] = {}
    whole: dict[str, set[str]] = {}
    order: list[str] = []
    for study in studies:
        for t in study.finished_trials():
            if group_by is None:
                label = study.name
            elif group_by in t.params:
                label = _value_label(t.params[group_by])
            elif group_by in study.fixed():
                label = _value_label(study.fixed()[group_by])
            else:
                raise KeyError(group_by)
            if label not in groups:
                order.append(label)
            groups.setdefault(label, []).append((study, t))
            whole.setdefault(label, set()).add(str(study.directory))
    rows = []
    for label in _sorted_labels(order):
        members = groups[label]
        best = None
        for study, t in members:
            if t.status == COMPLETE and t.value is not None and (
                    best is None or better(t.value, best[1].value, study.direction)):
                best = (study, t)
        studies_here = [s for s in studies if str(s.directory) in whole[label]]
        entire = all(sum(1 for m in members if m[0] is s) == len(s.finished_trials()) for s in studies_here)
        energies = [t.energy_j for _, t in members]
        rows.append(Row(
            group=label, best=best[1].value if best else None,
            best_params=dict(best[1].params) if best else {},
            wall_time_s=sum(s.wall_time_s for s in studies_here) if entire else None,
            trial_time_s=sum(t.elapsed_s or 0.0 for _, t in members),
            energy_j=sum(e for e in energies if e is not None) if any(e is not None for e in energies) else None,
            trials=len(members), failed=sum(t.status == FAILED for _, t in members),
            sources=", ".join(sorted({t.energy_source for _, t in members if t.energy_source}))))
    return rows


def _sorted_labels(labels: list[str]) -> list[str]:
    try:
        return sorted(labels, key=float)
    except ValueError:
        return labels


def energy_unit(rows: list[Row]) -> tuple[str, float]:
    top = max((r.energy_j or 0.0) for r in rows) if rows else 0.0
    for unit, scale in (("MJ", 1e6), ("kJ", 1e3)):
        if top >= scale:
            return unit, scale
    return "J", 1.0


def render(rows: list[Row], fmt: str, group_label: str) -> str:
    unit, scale = energy_unit(rows)
    header = [group_label, "best", "wall time", "trial time", f"energy ({unit})", "energy (kWh)",
              "trials", "failed", "energy source"]
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow([group_label, "best", "wall_time_s", "trial_time_s", "energy_j", "trials", "failed",
                    "energy_source"])
        for r in rows:
            w.writerow([r.group, _blank(r.best), _blank(r.wall_time_s), r.trial_time_s,
                        _blank(r.energy_j), r.trials, r.failed, r.sources])
        return out.getvalue()
    body = [[r.group, "-" if r.best is None else f"{r.best:.4g}",
             "-" if r.wall_time_s is None else format_duration(r.wall_time_s),
             format_duration(r.trial_time_s),
             "unknown" if r.energy_j is None else f"{r.energy_j / scale:.3g}",
             "unknown" if r.energy_j is None else f"{r.energy_j / 3.6e6:.3g}",
             str(r.trials), str(r.failed), r.sources or "-"] for r in rows]
    return render_grid(header, body, fmt)


def render_grid(header: list[str], body: list[list[str]], fmt: str) -> str:
    """Cells already formatted as text, as a text, Markdown, LaTeX or HTML table."""
    if fmt == "text":
        widths = [max(len(x) for x in col) for col in zip(header, *body)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in [header, *body]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines) + "\n"
    if fmt == "md":
        lines = ["| " + " | ".join(_md_cell(c) for c in header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(_md_cell(c) for c in line) + " |" for line in body]
        return "\n".join(lines) + "\n"
    if fmt == "latex":
        esc = _latex_escape
        lines = [r"\begin{tabular}{l" + "r" * (len(header) - 2) + "l}", r"\toprule",
                 " & ".join(esc(h) for h in header) + r" \\", r"\midrule"]
        lines += [" & ".join(esc(c) for c in line) + r" \\" for line in body]
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines) + "\n"
    if fmt == "html":
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in line) + "</tr>" for line in body)
        return f'<table class="results"><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>'
    raise ValueError(f"format must be one of {list(FORMATS)}, got {fmt!r}")


def front_rows(study: StudyData) -> tuple[list[str], list[list[str]]]:
    """The Pareto front of a study of several objectives: one row per member, sorted by the
    first objective, with its parameters; the knee marked."""
    objectives = study.objectives
    front = front_trials(study.trials, objectives)
    knee = knee_trial(front, objectives)
    names: list[str] = []
    for t in front:
        names += [k for k in t.params if k not in names]
    header = ["trial", *(o.label for o in objectives), *names, "knee"]
    body = [[str(t.number), *(f"{v:.4g}" for v in t.objective_values),
             *(format_param(t.params[k]) if k in t.params else "-" for k in names),
             "knee" if t is knee else ""] for t in front]
    return header, body


def front_summary(study: StudyData, bounds: Bounds | None = None) -> list[str]:
    """Lines under the front table: its size, the knee, the hypervolume and its reference point,
    and which energy source fed an energy objective."""
    objectives = study.objectives
    front = front_trials(study.trials, objectives)
    if not front:
        return [f"{study.name}: no trial completed, no front yet"]
    bounds = bounds or Bounds.of([study.trials], objectives)
    knee = knee_trial(front, objectives)
    failed = sum(t.status == FAILED for t in study.trials)
    lines = [f"{study.name}: {len(front)} trials on the front of {len(candidates(study.trials))} completed "
             f"({failed} failed, never on it)",
             f"knee point: trial {knee.number} ("
             + ", ".join(f"{o.name} {v:.4g}" for o, v in zip(objectives, knee.objective_values)) + ")",
             f"hypervolume: {normalized_hypervolume(study.trials, objectives, bounds):.4f} (each objective "
             f"scaled to [0, 1] by its best and worst completed value; reference point {REFERENCE:g} "
             "in each)"]
    sources = energy_sources_note(study.trials, objectives)
    if sources is not None:
        lines.append(f"energy objective measured by: {sources}")
    return lines


def render_front(study: StudyData, fmt: str) -> str:
    """The front table with its summary lines, in any format but CSV (export has a front column)."""
    header, body = front_rows(study)
    lines = front_summary(study)
    if fmt == "html":
        e = html.escape
        return render_grid(header, body, fmt) + "".join(f'<p class="note">{e(x)}</p>' for x in lines)
    if fmt == "latex":
        notes = "\n\n".join(_latex_escape(x) for x in lines)
        return f"% Pareto front of {study.name}\n" + render_grid(header, body, fmt) + f"\n{notes}\n"
    title = f"Pareto front of {study.name}"
    if fmt == "md":
        return f"**{title}**\n\n" + render_grid(header, body, fmt) + "\n" + "\n".join(f"- {x}" for x in lines) + "\n"
    return f"{title}\n" + render_grid(header, body, fmt) + "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    """A Markdown table cell stays one cell on one line: a pipe is escaped, a line break is <br>."""
    return "<br>".join(text.replace("\\", "\\\\").replace("|", "\\|").splitlines())


def _blank(value: Any) -> Any:
    return "" if value is None else value


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in text)
