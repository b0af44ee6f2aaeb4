"""Answers from the record: a configuration asked again is not trained again.

A study of a deterministic objective (``study.noisy = false``, the default)
pays once for each configuration it tries: a candidate that decodes to the
parameters of an earlier completed trial is told that trial's result, counts
as an evaluation, and costs no time and no energy.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..storage import COMPLETE, TrialRecord


def params_key(params: dict[str, Any]) -> str:
    """One configuration's identity: its decoded values, which is what a trial trains."""
    return json.dumps(params, sort_keys=True, default=str)


class RecordedAnswers:
    def __init__(self, trials: list[TrialRecord] = ()):
        self._first: dict[str, TrialRecord] = {}
        for trial in trials:
            self.remember(trial)

    def remember(self, trial: TrialRecord) -> None:
        """Keep the first completed result of each configuration.

        A failed configuration is tried again: its failure may have been the node's, not its own.
        """
        if trial.status == COMPLETE:
            self._first.setdefault(params_key(trial.params), trial)

    def earlier(self, trial: TrialRecord) -> TrialRecord | None:
        return self._first.get(params_key(trial.params))


def answer(trial: TrialRecord, earlier: TrialRecord) -> TrialRecord:
    """Fill in ``trial`` with ``earlier``'s result: no time, no energy, ``repeat_of`` set."""
    now = time.time()
    trial.status, trial.value, trial.error = COMPLETE, earlier.value, None
    trial.objective_values = earlier.objective_values
    trial.metrics = {**earlier.metrics, "repeat_of": earlier.number}
    trial.started_at = trial.ended_at = now
    trial.elapsed_s = trial.cpu_time_s = trial.energy_j = 0.0
    trial.energy_source = earlier.energy_source
    trial.energy_detail = {"repeat_of": earlier.number, "readings": [], "node_level": False,
                           "co2e_g": 0.0}
    return trial
