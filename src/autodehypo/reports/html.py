"""One self-contained HTML page: tables, plots embedded as PNG, config, environment, energy sources."""

from __future__ import annotations

import base64
import html
import io
import time

from .. import __version__
from ..direction import best_trial
from . import plots
from .data import StudyData
from .tables import group_rows, render, render_front
from .text import NOT_RECORDED, energy_by_source, environment_sections, format_energy, format_param

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { padding: 0.25em 0.7em; border: 1px solid #ccc; }
th { background: #f0f3f7; text-align: left; } td { text-align: right; } td:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.4em 0; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.note { color: #666; font-size: 0.9em; }
table.environment td { text-align: left; }
"""


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plots._pyplot().close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _environment(study: StudyData) -> str:
    """The environment each run session recorded, side by side where sessions differ."""
    e = html.escape
    sections = environment_sections(study.meta.get("environments"))
    if not sections:
        return f"<h3>{e(study.name)}</h3><p>{e(NOT_RECORDED)}</p>"
    head = "".join(f"<th>{e(title)}</th>" for title, _ in sections)
    body = "".join(f"<tr><td>{e(what)}</td>" + "".join(f"<td>{e(rows[i][1])}</td>" for _, rows in sections)
                   + "</tr>" for i, (what, _) in enumerate(sections[0][1]))
    where = ("the driver's machine; Slurm trials ran on the nodes named in each trial's host"
             if study.config.get("executor", {}).get("type") == "slurm" else "the machine the study ran on")
    return (f'<h3>{e(study.name)}</h3><p class="note">as recorded when the study ran, on {e(where)}</p>'
            f'<table class="environment"><tr><th></th>{head}</tr>{body}</table>')


def render_html(studies: list[StudyData], group_by: str | None) -> str:
    return "\n".join([f"<!doctype html><html lang=en><head><meta charset=utf-8>"
                      f"<title>autodehypo report</title><style>{STYLE}</style></head><body>",
                      "<h1>autodehypo report</h1>", render_sections(studies, group_by), "</body></html>"])


def render_sections(studies: list[StudyData], group_by: str | None) -> str:
    """The report's body below its title (also what the dashboard shows and refreshes)."""
    e = html.escape
    parts = [f'<p class="note">{len(studies)} stud{"y" if len(studies) == 1 else "ies"}: '
             + ", ".join(e(str(s.directory)) for s in studies)
             + f" &middot; generated {e(time.strftime('%Y-%m-%d %H:%M:%S'))} by autodehypo "
             + f"{e(__version__)}</p>"]
    label = group_by or "study"
    parts += [f"<h2>Results by {e(label)}</h2>", render(group_rows(studies, group_by), "html", label)]

    parts.append("<h2>Best configuration</h2>")
    for s in studies:
        best = best_trial(s.trials, s.direction)  # with fidelities: the best at the highest one
        if best is None:
            parts.append(f"<p>{e(s.name)}: no trial completed</p>")
            continue
        rows = "".join(f"<tr><td>{e(k)}</td><td>{e(format_param(v))}</td></tr>" for k, v in best.params.items())
        parts.append(f"<h3>{e(s.name)}: {best.value:.6g} (trial {best.number})</h3>"
                     f"<table><tr><th>parameter</th><th>value</th></tr>{rows}</table>")

    several = [s for s in studies if s.objectives]
    if several:
        parts.append("<h2>Pareto front</h2>")
        for s in several:
            parts += [f"<h3>{e(s.name)}</h3>", render_front(s, "html")]
        if len({tuple(s.objectives) for s in several}) == 1:
            parts += [_png(plots.hypervolume(several, "evaluations")), _png(plots.hypervolume(several, "energy"))]

    parts.append("<h2>Plots</h2>")
    figures = [plots.convergence(studies, "evaluations"), plots.convergence(studies, "time"),
               plots.convergence(studies, "energy"), plots.pareto(studies)]
    if group_by:
        figures.append(plots.energy_by(studies, group_by))
    if any(s.checkpoints for s in studies):
        figures.append(plots.adaptation(studies))
    parts += [_png(f) for f in figures]

    parts.append("<h2>Energy sources</h2>")
    for s in studies:
        sources = s.meta.get("energy_sources") or {}
        items = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in sources.items())
        totals = "".join(
            f"<tr><td>{e(src)}</td><td>{e(format_energy(v['joules']))}</td><td>{v['trials']}</td>"
            f"<td>{v['unknown']}</td><td>{'yes' if v['node_level'] else 'no'}</td></tr>"
            for src, v in sorted(energy_by_source(s.trials).items()))
        parts.append(f"<h3>{e(s.name)}</h3><ul>{items}</ul><table><tr><th>source</th><th>energy</th>"
                     f"<th>trials measured</th><th>unknown</th><th>node-level</th></tr>{totals}</table>")

    parts.append("<h2>Config</h2>")
    for s in studies:
        parts.append(f"<h3>{e(s.name)}</h3><pre>{e(s.meta.get('config_toml') or repr(s.config))}</pre>")
    parts += ["<h2>Environment</h2>", *(_environment(s) for s in studies)]
    return "\n".join(parts)
