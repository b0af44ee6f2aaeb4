"""What the optimizer is told for a finished trial.

The optimizers minimize, so a maximized objective is told with its sign
flipped. A failed trial is told ``failure_value`` when the config sets one,
else the worst value seen so far (+inf before any completed trial): a failure
then loses every comparison without stretching the scale the adaptive
variants learn from.
"""

from __future__ import annotations

import math

from .storage import COMPLETE, TrialRecord


class ToldValuePolicy:
    def __init__(self, direction: str, failure_value: float | None):
        self.sign = 1.0 if direction == "minimize" else -1.0
        self.failure_value = failure_value

    def told(self, trial: TrialRecord, worst_value: float | None) -> float:
        """``worst_value``: the worst completed value so far, in the objective's own sign."""
        if trial.status == COMPLETE:
            return self.sign * trial.value
        if self.failure_value is not None:
            return self.sign * self.failure_value
        return math.inf if worst_value is None else self.sign * worst_value
