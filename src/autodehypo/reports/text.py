"""Read-only views of a study: status, summary report, CSV export."""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from typing import IO, Any

from ..study.budget import trial_units
from ..storage import COMPLETE, FAILED, RUNNING, TRIAL_COLUMNS, Storage, TrialRecord
from ..direction import Direction, best_trial
from ..trial_progress import describe
from .data import search_label, study_direction, study_name
from .front import front_trials, objectives_of


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def format_energy(joules: float | None) -> str:
    if joules is None:
        return "unknown"
    for unit, scale in (("MJ", 1e6), ("kJ", 1e3)):
        if abs(joules) >= scale:
            return f"{joules / scale:.3g} {unit} ({joules / 3.6e6:.3g} kWh)"
    return f"{joules:.3g} J"


def format_value(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def format_param(value: Any) -> str:
    """A parameter as a reader wants it: floats to 4 significant digits, the rest as is."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def format_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={format_param(v)}" for k, v in params.items())


def energy_by_source(trials: list[TrialRecord]) -> dict[str, dict[str, Any]]:
    """Total joules per source over finished trials, with how many trials each source measured."""
    totals: dict[str, dict[str, Any]] = {}
    for t in trials:
        if t.status not in (COMPLETE, FAILED):
            continue
        for r in (t.energy_detail or {}).get("readings", []):
            entry = totals.setdefault(r["source"], {"joules": 0.0, "trials": 0, "unknown": 0,
                                                    "node_level": False})
            if r["joules"] is None:
                entry["unknown"] += 1
            else:
                entry["joules"] += r["joules"]
                entry["trials"] += 1
            entry["node_level"] |= bool(r.get("node_level"))
    return totals


def _energy_line(trials: list[TrialRecord]) -> str:
    done = [t for t in trials if t.status in (COMPLETE, FAILED)]
    counted = [t for t in done if t.energy_j is not None]
    if not counted:
        return "unknown"
    sources = ", ".join(sorted({t.energy_source or "?" for t in counted}))
    unknown = len(done) - len(counted)
    note = f"; {unknown} trial(s) unmeasured" if unknown else ""
    line = f"{format_energy(sum(t.energy_j for t in counted))} [budget source: {sources}{note}]"
    co2 = [(t.energy_detail or {}).get("co2e_g") for t in counted]
    if any(c is not None for c in co2):
        line += f", {sum(c for c in co2 if c is not None):.3g} g CO2e"
    for source, entry in sorted(energy_by_source(trials).items()):
        flags = [f"{entry['trials']} trials"]
        if entry["unknown"]:
            flags.append(f"{entry['unknown']} unknown")
        if entry["node_level"]:
            flags.append("node-level: concurrent trials overlap")
        line += f"\n  {source:<10} {format_energy(entry['joules'])} ({', '.join(flags)})"
    return line


def status_text(storage: Storage, driver_alive: bool, live: dict | None = None) -> str:
    """``driver_alive`` tells a running study from one whose driver died (kill -9, node crash);
    ``live`` is the running driver's snapshot of its trials (``live.json``)."""
    config = storage.meta("config")
    trials = storage.trials()
    counts = Counter(t.status for t in trials)
    done = counts[COMPLETE] + counts[FAILED]
    checkpoint = storage.last_checkpoint()
    generation = checkpoint["generation"] if checkpoint else 0
    direction = study_direction(config)
    best = best_trial(trials, direction)
    budget = config.get("study", {}).get("budget", {})
    of = f" of {budget['evaluations']}" if "evaluations" in budget else ""
    fidelity = config.get("study", {}).get("fidelity")
    if fidelity:  # the budget counts full-fidelity trainings, not trials
        units = sum(trial_units(t, float(fidelity["max"])) for t in trials if t.status in (COMPLETE, FAILED))
        of = f" trials, {units:.1f}{of} in full-fidelity trainings"
    state = storage.meta("state")
    if state in ("created", "running") and not driver_alive:
        state = "stopped (driver gone; continue with autodehypo resume)"
    running = counts[RUNNING] if driver_alive else 0
    live = live if driver_alive and live else {}
    live_trials = [t for t in live.get("trials", []) if isinstance(t, dict) and "number" in t]
    driver_time = live.get("driver_elapsed_s", storage.meta("driver_elapsed_s", 0.0))
    directory = storage.path.parent
    lines = [
        f"study:        {study_name(config, directory)} ({directory})",
        f"state:        {state}",
        f"generation:   {generation} completed",
        f"evaluations:  {done}{of}",
        f"running:      {running}",
        f"failed:       {counts[FAILED]}",
        f"best so far:  {format_value(best.value if best else None)}"
        + (f" (trial {best.number}: {format_params(best.params)})" if best else ""),
        *_front_lines(config, trials),
        f"energy:       {_energy_line(trials)}",
        f"driver time:  {format_duration(driver_time)}",
        "sources:      " + _sources_line(storage),
    ]
    for trial in live_trials:
        energy = (f", ~{format_energy(trial['energy_j'])} so far (estimate from CPU time)"
                  if trial.get("energy_j") is not None else "")
        lines.append(f"  trial {trial['number']}: running {format_duration(trial['elapsed_s'])}{energy}; "
                     f"{describe(trial.get('report') or {})}")
    return "\n".join(lines)


def _front_lines(config: dict[str, Any], trials: list[TrialRecord]) -> list[str]:
    """Several objectives: the front's size so far (``report`` lists it)."""
    objectives = objectives_of(config)
    if not objectives:
        return []
    names = ", ".join(o.label for o in objectives)
    return [f"front:        {len(front_trials(trials, objectives))} trials ({names}; best so far is the first's)"]


def report_text(storage: Storage) -> str:
    config = storage.meta("config")
    trials = storage.trials()
    direction = study_direction(config)
    best = best_trial(trials, direction)
    counts = Counter(t.status for t in trials)
    directory = storage.path.parent
    objectives = objectives_of(config)
    lines = [f"study:        {study_name(config, directory)} "
             f"({search_label(config, storage.search_defaults)}, seed "
             f"{config.get('study', {}).get('seed', 0)}, "
             f"{f'{len(objectives)} objectives' if objectives else direction})",
             f"directory:    {directory}"]
    if objectives:
        lines.append("objectives:   " + ", ".join(o.label for o in objectives)
                     + " (the best value below is the first's; the front follows the table)")
    if best is None:
        lines.append("best:         no trial completed")
    else:
        at = f", fidelity {best.fidelity:g}, the highest reached" if best.fidelity is not None else ""
        lines.append(f"best value:   {format_value(best.value)} (trial {best.number}, "
                     f"generation {best.generation}{at})")
        for name, value in best.params.items():
            lines.append(f"  {name} = {format_param(value)}")
        if "test_error" in best.metrics:
            lines.append(f"test error:   {format_value(best.metrics['test_error'])} (of the best trial by "
                         "validation; the test set played no part in the search)")
    lines += [
        f"elapsed:      {format_duration(storage.meta('driver_elapsed_s', 0.0))} (driver wall time)",
        f"trial time:   {format_duration(sum(t.elapsed_s or 0.0 for t in trials))} (sum over trials)",
        f"energy:       {_energy_line(trials)}",
        "sources:      " + _sources_line(storage),
        "trials:       " + ", ".join(f"{counts[s]} {s}" for s in sorted(counts)),
    ]
    lines += _fidelity_lines(trials, direction)
    lines += _gpu_lines(trials)
    failed = [t for t in trials if t.status == FAILED]
    if failed:
        reasons = Counter(t.error or "?" for t in failed)
        lines.append("failures:")
        lines += [f"  {n} x {reason}" for reason, n in reasons.most_common(5)]
    lines += _environment_lines(storage)
    return "\n".join(lines)


def fidelity_rows(trials: list[TrialRecord], direction: str) -> list[dict[str, Any]]:
    """Per fidelity of a multi-fidelity study: its trials, how many continued a lower one (and
    how many of those had to retrain), how many were promoted, the best value, the energy."""
    finished = [t for t in trials if t.fidelity is not None and t.status in (COMPLETE, FAILED)]
    promoted = {t.continues for t in trials if t.continues is not None}
    rows = []
    for fidelity in sorted({t.fidelity for t in finished}):
        at = [t for t in finished if t.fidelity == fidelity]
        values = [t.value for t in at if t.status == COMPLETE and t.value is not None]
        continued = [t for t in at if t.continues is not None]
        rows.append({"fidelity": fidelity, "trials": len(at), "continued": len(continued),
                     "retrained": sum(1 for t in continued if not t.fidelity_from),
                     "promoted": sum(1 for t in at if t.number in promoted),
                     "best": Direction(direction).best(values) if values else None,
                     "energy_j": sum(t.energy_j or 0.0 for t in at)})
    return rows


def _fidelity_lines(trials: list[TrialRecord], direction: str) -> list[str]:
    rows = fidelity_rows(trials, direction)
    if not rows:
        return []
    lines = ["rungs:        fidelity  trials  continued (retrained)  promoted  best        energy"]
    for r in rows:
        continued = f"{r['continued']} ({r['retrained']})"
        lines.append(f"              {r['fidelity']:<9g} {r['trials']:<7} {continued:<22} {r['promoted']:<9} "
                     f"{format_value(r['best']):<11} {format_energy(r['energy_j'])}")
    return lines


NOT_RECORDED = "not recorded (study made by an older autodehypo)"


def environment_rows(env: dict[str, Any]) -> list[tuple[str, str]]:
    """One recorded environment as (what, value) rows; unknown figures say so."""
    cuda = env.get("torch_cuda")
    packages = ", ".join(
        f"{name} {version}" + ((" (CPU build)" if cuda == "none" else f" (CUDA {cuda or 'unknown'})")
                               if name == "torch" else "")
        for name, version in (env.get("packages") or {}).items())
    flags, gpus = env.get("cpu_flags"), env.get("gpus")
    return [
        ("recorded", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(env["recorded_at"]))
         if env.get("recorded_at") else "unknown"),
        ("host", env.get("host") or "unknown"),
        ("os", env.get("os") or "unknown"),
        ("python", env.get("python") or "unknown"),
        ("autodehypo", env.get("autodehypo") or "unknown"),
        ("packages", packages or "none found"),
        ("cpu", f"{env.get('cpu') or 'unknown'}, {env.get('cores') or '?'} cores"),
        ("cpu flags", "unknown" if flags is None else ", ".join(flags) or "none of avx512f, avx512_bf16, amx"),
        ("gpus", "unknown (nvidia-smi failed)" if gpus is None else "; ".join(gpus) or "none (no nvidia-smi)"),
    ]


def environment_sections(environments: list[dict[str, Any]] | None) -> list[tuple[str, list[tuple[str, str]]]]:
    """(title, rows) per run session, sessions in an environment like the one before them merged."""
    sections: list[tuple[list[int], list[tuple[str, str]]]] = []
    for number, env in enumerate(environments or [], 1):
        rows = environment_rows(env)
        if sections and sections[-1][1][1:] == rows[1:]:  # the same but for when it was recorded
            sections[-1][0].append(number)
        else:
            sections.append(([number], rows))
    return [(f"run session {numbers[0]}" if len(numbers) == 1
             else f"run sessions {numbers[0]}-{numbers[-1]}", rows) for numbers, rows in sections]


def _environment_lines(storage: Storage) -> list[str]:
    sections = environment_sections(storage.meta("environments"))
    if not sections:
        return [f"environment:  {NOT_RECORDED}"]
    lines = []
    for title, rows in sections:
        lines.append(f"environment:  as recorded by the driver, {title}")
        lines += [f"  {what:<11} {value}" for what, value in rows]
    return lines


def _sources_line(storage: Storage) -> str:
    sources = storage.meta("energy_sources") or {}
    return "; ".join(v if v.startswith(f"{k}:") else f"{k}: {v}" for k, v in sources.items()) or "-"


def _gpu_lines(trials: list[TrialRecord]) -> list[str]:
    """Where the executor handed out GPUs: the trials each GPU ran and their energy."""
    per_gpu: dict[str, list[TrialRecord]] = {}
    for t in trials:
        for gpu in t.gpus or ():
            per_gpu.setdefault(gpu, []).append(t)
    if not per_gpu:
        return []
    parts = [f"{gpu}: {len(ts)} trials, {format_energy(sum(t.energy_j or 0.0 for t in ts))}"
             for gpu, ts in sorted(per_gpu.items())]
    return ["gpus:         " + "; ".join(parts) + " (a trial on several GPUs counts on each)"]


def trial_table(trials: list[TrialRecord], front: set[int] | None = None) -> tuple[list[str], list[list[Any]]]:
    """All stored columns, params and metrics flattened into param_* and metric_* columns; with
    ``front`` (the numbers of the front's trials, in a study of several objectives) a last
    column ``front``, 1 for its members and 0 for the rest."""
    param_names: list[str] = []
    metric_names: list[str] = []
    for t in trials:
        param_names += [k for k in t.params if k not in param_names]
        metric_names += [k for k in t.metrics if k not in metric_names]
    plain = [c for c in TRIAL_COLUMNS if c not in ("params", "metrics")]
    header = plain + [f"param_{k}" for k in param_names] + [f"metric_{k}" for k in metric_names]
    if front is not None:
        header.append("front")
    rows = []
    for t in trials:
        row: list[Any] = []
        for c in plain:
            v = getattr(t, c)
            row.append(json.dumps(v) if isinstance(v, (dict, list)) else v)
        row += [_cell(t.params.get(k)) for k in param_names]
        row += [_cell(t.metrics.get(k)) for k in metric_names]
        if front is not None:
            row.append(int(t.number in front))
        rows.append(row)
    return header, rows


def export_csv(storage: Storage, out: IO[str]) -> int:
    """One row per trial; returns the row count."""
    header, rows = _export_table(storage)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return len(rows)


def export_parquet(storage: Storage, path: str) -> int:
    """The same table as a Parquet file (pandas and pyarrow needed)."""
    try:
        import pandas as pd
    except ImportError:
        raise RuntimeError("Parquet export needs pandas and pyarrow: pip install 'autodehypo[plot]'") from None
    header, rows = _export_table(storage)
    frame = pd.DataFrame(rows, columns=header)
    for column in frame.columns:  # mixed types (a categorical of str and int) become text
        if frame[column].dtype == object and len({type(v) for v in frame[column].dropna()}) > 1:
            frame[column] = frame[column].map(lambda v: None if v is None else str(v))
    frame.to_parquet(path, index=False)
    return len(rows)


def _export_table(storage: Storage) -> tuple[list[str], list[list[Any]]]:
    trials = storage.trials()
    objectives = objectives_of(storage.meta("config"))
    front = {t.number for t in front_trials(trials, objectives)} if objectives else None
    return trial_table(trials, front)


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (dict, list)) else value
