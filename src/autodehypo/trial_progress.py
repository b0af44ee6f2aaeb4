"""Progress inside a running trial: what a long training reports per epoch, and how it is read.

A trial writes one JSON object per line to ``progress.jsonl`` in its trial directory (the
directory named by ``$AUTODEHYPO_TRIAL_DIR``); the driver reads the last line of each running
trial's file about once a second for ``run``'s progress bar and ``status``. Any program can
write the file; from Python, call :func:`report_progress`::

    from autodehypo import report_progress
    for epoch in range(epochs):
        loss = train_one_epoch()
        report_progress(epoch=epoch + 1, epochs=epochs, loss=loss, val_error=validate())

A line holds ``time`` (seconds since the epoch), ``cpu_s`` (CPU seconds of the reporting
process, for an energy estimate while the trial runs) and whatever the trial gives: ``epoch``,
``epochs``, ``loss``, ``val_error``, ``images_per_s`` are shown by name, other numbers are kept.
Reporting is a side channel: it never changes a trial's result, and a trial that reports
nothing runs exactly as before (its elapsed time and estimated energy still move).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

PROGRESS_FILE = "progress.jsonl"
TRIAL_DIR_VAR = "AUTODEHYPO_TRIAL_DIR"
_TAIL_BYTES = 4096  # a progress line is short; never read a whole long file


def report_progress(*, epoch: int | None = None, epochs: int | None = None, **metrics: Any) -> None:
    """Record the trial's progress: a line in its ``progress.jsonl`` and one in its log.

    Outside a study (no ``$AUTODEHYPO_TRIAL_DIR``) only the log line is written. Values that
    are not finite numbers, strings or booleans are left out rather than failing the trial.
    """
    entry: dict[str, Any] = {"time": time.time(), "cpu_s": time.process_time()}
    if epoch is not None:
        entry["epoch"] = int(epoch)
    if epochs is not None:
        entry["epochs"] = int(epochs)
    for name, value in metrics.items():
        if hasattr(value, "item"):  # numpy and torch scalars
            value = value.item()
        if isinstance(value, (bool, str)) or (isinstance(value, (int, float)) and math.isfinite(value)):
            entry[str(name)] = value
    print(describe(entry), file=sys.stderr, flush=True)
    directory = os.environ.get(TRIAL_DIR_VAR)
    if not directory:
        return
    path = Path(directory) / PROGRESS_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One write() of a whole line in append mode: a reader sees whole lines or none.
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
    except OSError as exc:  # a full or read-only disk must not fail the training itself
        print(f"autodehypo: cannot record progress in {path}: {exc}", file=sys.stderr, flush=True)


def read_progress(trial_dir: Path) -> dict[str, Any] | None:
    """The last whole line of a trial's progress file, or None if it has none yet."""
    path = Path(trial_dir) / PROGRESS_FILE
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read()
    except OSError:
        return None
    for line in reversed(tail.split(b"\n")):
        try:
            entry = json.loads(line)
        except ValueError:  # a partial first line of the tail, or an empty one
            continue
        if isinstance(entry, dict):
            return entry
    return None


def read_progress_since(trial_dir: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """The whole lines a trial's progress file gained after byte ``offset``, and the offset
    after the last of them (a line still being written is left for the next call)."""
    path = Path(trial_dir) / PROGRESS_FILE
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    entries = []
    for line in data[:end].split(b"\n"):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries, offset + end


def describe(entry: dict[str, Any]) -> str:
    """One short human line: ``epoch 3/10  loss 0.412  val_error 0.1200  850 img/s``."""
    parts = []
    if "epoch" in entry:
        parts.append(f"epoch {entry['epoch']}" + (f"/{entry['epochs']}" if "epochs" in entry else ""))
    for name in ("loss", "val_error"):
        if isinstance(entry.get(name), (int, float)):
            parts.append(f"{name} {entry[name]:.4g}")
    if isinstance(entry.get("images_per_s"), (int, float)):
        parts.append(f"{entry['images_per_s']:.0f} img/s")
    return "  ".join(parts) or "alive"


# -- the driver's view of its running trials, for `status` in another process --------------------
LIVE_FILE = "live.json"


def write_live(study_dir: Path, snapshot: dict[str, Any]) -> None:
    """Replace the study's live snapshot atomically: a reader sees the old one or the new one."""
    path = Path(study_dir) / LIVE_FILE
    tmp = path.with_name(f".{LIVE_FILE}.{os.getpid()}")
    try:
        tmp.write_text(json.dumps(snapshot), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a display aid: a full disk stops it, not the study
        tmp.unlink(missing_ok=True)


def read_live(study_dir: Path) -> dict[str, Any] | None:
    try:
        snapshot = json.loads((Path(study_dir) / LIVE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return snapshot if isinstance(snapshot, dict) else None


def remove_live(study_dir: Path) -> None:
    (Path(study_dir) / LIVE_FILE).unlink(missing_ok=True)
