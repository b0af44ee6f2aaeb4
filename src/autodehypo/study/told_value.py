"""What the search is told for a finished trial, and when.

The optimizers minimize, so a maximized objective is told with its sign
flipped. A failed trial is told ``failure_value`` when the config sets one,
else the worst value seen so far (+inf before any completed trial): a failure
then loses every comparison without stretching the scale the adaptive
variants learn from.

With several objectives (``study.objectives``) the optimizer is told a vector:
:func:`measure_objectives` reads it off the finished trial, and
:class:`ToldVectorPolicy` signs it.
"""

from __future__ import annotations

import math

from ..algorithms import Search
from ..config import MEASURED_OBJECTIVES, StudyConfig
from ..direction import Direction
from ..storage import COMPLETE, TrialRecord
from .answers import RecordedAnswers
from .budget import Tally


class ToldValuePolicy:
    def __init__(self, direction: str, failure_value: float | None):
        self.sign = Direction(direction).sign
        self.failure_value = failure_value

    def told(self, trial: TrialRecord, worst_value: float | None) -> float:
        """``worst_value``: the worst completed value so far, in the objective's own sign."""
        if trial.status == COMPLETE:
            return self.sign * trial.value
        if self.failure_value is not None:
            return self.sign * self.failure_value
        return math.inf if worst_value is None else self.sign * worst_value

    def tell(self, trial: TrialRecord, worst_value: float | None) -> float:
        """What the search is told for ``trial``, kept on the trial as its ``told_value``."""
        trial.told_value, trial.told_values = self.told(trial, worst_value), None
        return trial.told_value


def measure_objectives(trial: TrialRecord, objectives, value_key: str = "objective"
                       ) -> tuple[list[float] | None, str | None]:
    """A finished trial's value of each objective, in its own direction, or why there is none.

    A name is the objective's value ("objective", or the configured ``value_key``), a measured
    quantity of the trial (:data:`~autodehypo.config.MEASURED_OBJECTIVES`: energy is the figure
    the study counts toward its energy budget), or else a metric the objective returned. Only a
    completed trial is measured; a missing, unknown or non-finite figure is the error.
    """
    values = []
    for spec in objectives:
        if spec.name in ("objective", value_key):
            value = trial.value
        elif spec.name in MEASURED_OBJECTIVES:
            value = getattr(trial, MEASURED_OBJECTIVES[spec.name])
            if value is None:
                source = f" (source {trial.energy_source or 'none'})" if spec.name == "energy" else ""
                return None, f"objective {spec.name!r}: the trial's {spec.name} is unknown{source}"
        elif spec.name in trial.metrics:
            value = trial.metrics[spec.name]
        else:
            shown = ", ".join(sorted(trial.metrics)) or "none"
            return None, f"objective {spec.name!r} not in the trial's metrics: {shown}"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None, f"objective {spec.name!r}: expected a finite number, got {value!r:.60}"
        values.append(float(value))
    return values, None


class ToldVectorPolicy:
    """What a multi-objective optimizer is told: each objective's value, sign-flipped where it
    is maximized. A failed trial is told +inf for every objective: the multi-objective
    algorithms take a vector with an infinite entry as a failure, which loses to every
    completed trial and never enters the front. (A vector of the worst values seen would be
    finite, could tie with a completed trial and survive selection beside it.)"""

    def __init__(self, objectives):
        self.signs = tuple(Direction(s.direction).sign for s in objectives)

    def told(self, trial: TrialRecord, worst_value: float | None = None) -> list[float]:
        if trial.status == COMPLETE and trial.objective_values is not None:
            return [s * v for s, v in zip(self.signs, trial.objective_values)]
        return [math.inf] * len(self.signs)

    def tell(self, trial: TrialRecord, worst_value: float | None = None) -> list[float]:
        """What the search is told for ``trial``, kept on the trial (``told_values``, and the
        first objective's as its ``told_value``)."""
        trial.told_values = self.told(trial, worst_value)
        trial.told_value = trial.told_values[0]
        return trial.told_values


def told_policy(config: StudyConfig) -> ToldValuePolicy | ToldVectorPolicy:
    return (ToldVectorPolicy(config.objectives) if config.objectives
            else ToldValuePolicy(config.direction, config.failure_value))


class Teller:
    """Tells the search the finished trials, in the order the schedule allows.

    With the generational schedule and failures told the worst value seen, a failed trial
    waits for the rest of its generation: the worst value is then the whole generation's,
    whatever order its results came in.
    """

    def __init__(self, config: StudyConfig, tally: Tally, answers: RecordedAnswers, told_seq: int,
                 held: list[TrialRecord]):
        self.policy = told_policy(config)
        self.waits_for_generation = config.schedule == "generational" and config.failure_value is None
        self.tally, self.answers, self.told_seq = tally, answers, told_seq
        self.held = held  # finished trials not told yet

    def tell(self, search: Search, finished: list[TrialRecord]) -> list[TrialRecord]:
        """Count ``finished``, tell the search what can be told; the trials changed, to store."""
        for trial in finished:
            self.tally.add(trial)
        self.held.extend(finished)
        if self.waits_for_generation:
            generation_in = {t.number for t in self.held}.issuperset(search.pending_ids())
            telling = [t for t in self.held if t.status == COMPLETE or generation_in]
        else:
            telling = list(self.held)
        telling_now = {t.number for t in telling}
        self.held = [t for t in self.held if t.number not in telling_now]
        for trial in telling:
            told = self.policy.tell(trial, self.tally.worst_value)
            trial.told_seq = self.told_seq
            self.told_seq += 1
            search.tell(trial.number, told, self._configuration_energy(trial))
        return list({t.number: t for t in [*finished, *telling]}.values())

    def _configuration_energy(self, trial: TrialRecord) -> float | None:
        """What training the trial's configuration cost: a repeat answered from the record
        cost nothing itself, so its first trial's energy (for cost-aware pre-screening)."""
        if "repeat_of" in trial.metrics:
            earlier = self.answers.earlier(trial)
            return earlier.energy_j if earlier is not None else None
        return trial.energy_j
