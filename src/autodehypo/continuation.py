"""What a multi-fidelity trial needs to know to continue a lower-fidelity one.

The driver writes ``fidelity.json`` into the trial's directory before the trial
starts; objectives read it there (``$AUTODEHYPO_TRIAL_DIR``), on whichever
node the trial runs, as long as the study directory is shared:

- ``param``, ``fidelity``, ``max_fidelity``: the budget of this trial and the
  largest of the study (a learning-rate schedule spans ``max_fidelity`` so that
  a continued run equals a run trained straight to the same fidelity);
- ``continues_dir``, ``continues_fidelity``: the directory of the trial this one
  continues (its checkpoint) and the fidelity it reached, or null.

An objective that continues reports ``continued_from`` (the fidelity it started
from: 0 when the checkpoint was missing and it trained from scratch) among its
metrics; the study then counts only the increment toward its budget.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FIDELITY_FILE = "fidelity.json"


def write_context(trial_dir: Path, context: dict[str, Any]) -> None:
    trial_dir.mkdir(parents=True, exist_ok=True)
    tmp = trial_dir / (FIDELITY_FILE + ".tmp")
    tmp.write_text(json.dumps(context))
    os.replace(tmp, trial_dir / FIDELITY_FILE)


def fidelity_context() -> dict[str, Any] | None:
    """In a trial: the fidelity context the driver wrote, or None outside multi-fidelity studies."""
    trial_dir = os.environ.get("AUTODEHYPO_TRIAL_DIR")
    if not trial_dir:
        return None
    try:
        return json.loads((Path(trial_dir) / FIDELITY_FILE).read_text())
    except (OSError, ValueError):
        return None
