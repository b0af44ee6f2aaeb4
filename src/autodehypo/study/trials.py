"""A study's trials from the driver's side: made from the search's candidates, measured while
they run, recorded when they end.

The fidelity of a multi-fidelity study lives here and in the search (its candidates carry it),
not in the loop: a candidate's fidelity and the trial it continues become the trial's, and the
trial's directory tells the objective where to continue from.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np

from ..algorithms import Candidate, Search
from ..config import StudyConfig
from ..continuation import write_context
from ..energy import CpuTimeEstimate, EnergyReading, choose, co2e_grams
from ..execution import TrialOutcome
from ..storage import COMPLETE, FAILED, Storage, StorageError, TrialRecord
from .told_value import measure_objectives

# What a trial's record takes from its outcome as it is; the rest of the outcome (ok, the
# executor's energy readings, the GPU seconds) is read into the status and the energy.
RECORDED_OUTCOME = tuple(f.name for f in fields(TrialOutcome)
                         if f.name in {g.name for g in fields(TrialRecord)})


def trial_dir(directory: Path, number: int) -> Path:
    return directory / "trials" / f"{number:06d}"


def trial_of(candidate: Candidate, config: StudyConfig, storage: Storage) -> TrialRecord:
    """The trial that evaluates ``candidate``: its parameters, and its fidelity when it has one."""
    trial = TrialRecord(number=candidate.id, generation=candidate.generation, idx=candidate.index,
                        params=config.space.decode(candidate.x), unit=candidate.x.tolist())
    fidelity = config.fidelity
    if fidelity is not None:
        trial.fidelity, trial.continues = candidate.fidelity, candidate.continues
        trial.params[fidelity.param] = int(candidate.fidelity) if fidelity.integer else candidate.fidelity
        trial.fidelity_from = 0.0
        if candidate.continues is not None:
            trial.fidelity_from = storage.trial(candidate.continues).fidelity
    return trial


def outstanding_trials(search: Search, stored: list[TrialRecord], config: StudyConfig,
                       storage: Storage) -> list[TrialRecord]:
    """The stored trials of the candidates the search waits for, in the order asked.

    A candidate with no trial (a file from before per-candidate asks deleted the unstarted
    trials of an interrupted generation) gets its trial back.
    """
    by_number = {t.number: t for t in stored}
    if by_number and max(by_number) >= search.asked:
        raise StorageError(f"{storage.path.parent}: trial {max(by_number)} was never asked by the "
                           "optimizer state in the file; the study file was changed by something "
                           "other than this driver")
    trials, missing = [], []
    for candidate in search.pending_candidates():
        trial = by_number.get(candidate.id)
        if trial is None:
            trial = trial_of(candidate, config, storage)
            missing.append(trial)
        elif not np.array_equal(np.asarray(trial.unit, dtype=float), candidate.x):
            raise StorageError(f"{storage.path.parent}: trial {trial.number} does not match the "
                               "optimizer's state; the study file was changed by something other "
                               "than this driver")
        trials.append(trial)
    if missing:
        storage.add_trials(missing)
    return trials


def prepare_directory(trial: TrialRecord, config: StudyConfig, storage: Storage, directory: Path) -> None:
    """Tell a multi-fidelity trial its budget and where the training it continues stopped."""
    fidelity = config.fidelity
    if fidelity is None:
        return
    continues_dir = continues_fidelity = None
    if trial.continues is not None:
        below = storage.trial(trial.continues)
        # A configuration answered from the record trained nowhere: its first trial did.
        trained = below.metrics.get("repeat_of", below.number)
        continues_dir, continues_fidelity = str(trial_dir(directory, trained)), below.fidelity
    write_context(trial_dir(directory, trial.number), {
        "param": fidelity.param, "fidelity": trial.params[fidelity.param],
        "max_fidelity": int(fidelity.max) if fidelity.integer else fidelity.max,
        "continues_dir": continues_dir, "continues_fidelity": continues_fidelity})


class Recorder:
    """Meters a trial from its start and fills in its record from its outcome."""

    def __init__(self, config: StudyConfig, objective_key: str, meters: list):
        self.config, self.key, self.meters = config, objective_key, meters
        self.estimate = CpuTimeEstimate(config.energy.watts_per_core, config.energy.gpu_watts)
        self._tokens: dict[int, list] = {}

    def start(self, number: int, gpus: list[str] | None = None, exclusive: bool = False) -> None:
        self._tokens[number] = [(m, m.start(gpus, exclusive)) for m in self.meters]

    def poll(self) -> None:
        for meter in self.meters:  # often enough to catch counter wrap-arounds
            meter.poll()

    def finish(self, trial: TrialRecord, outcome: TrialOutcome) -> TrialRecord:
        """Fill in a finished trial (the caller stores it)."""
        readings = self._readings(trial.number, outcome)
        reading = choose(readings, self.config.energy.budget_source)
        for name in RECORDED_OUTCOME:
            setattr(trial, name, getattr(outcome, name))
        trial.status = COMPLETE if outcome.ok else FAILED
        continued = trial.metrics.get("continued_from") if trial.continues is not None else None
        if isinstance(continued, (int, float)) and not isinstance(continued, bool):
            trial.fidelity_from = float(continued)  # 0: the checkpoint was missing, it retrained
        trial.energy_j, trial.energy_source = reading.joules, reading.source
        trial.energy_detail = {"readings": [r.as_dict() for r in readings],
                               "node_level": reading.node_level,
                               "co2e_g": co2e_grams(reading.joules, self.config.energy.grid_intensity)}
        if self.config.objectives:
            self._measure_objectives(trial)
        return trial

    def _readings(self, number: int, outcome: TrialOutcome) -> list[EnergyReading]:
        readings = []
        for meter, token in self._tokens.pop(number, []):
            try:
                readings.append(meter.stop(token))
            except OSError as exc:  # a counter that vanished mid-study: unknown, not zero
                readings.append(EnergyReading(None, meter.source, detail={"error": str(exc)}))
        return readings + list(outcome.energy) + [self.estimate.reading(outcome.cpu_time_s, outcome.gpu_seconds)]

    def _measure_objectives(self, trial: TrialRecord) -> None:
        """Several objectives: the trial's vector, its first entry the trial's value; a figure
        missing from a completed trial fails it. The objective's own value, when it is not the
        first objective, is kept among the metrics under its key."""
        if trial.value is not None and self.config.objectives[0].name not in ("objective", self.key):
            trial.metrics = {**trial.metrics, self.key: trial.value}
        if trial.status != COMPLETE:
            trial.value = None
            return
        trial.objective_values, error = measure_objectives(trial, self.config.objectives, self.key)
        if error is not None:
            trial.status, trial.value, trial.error = FAILED, None, error
        else:
            trial.value = trial.objective_values[0]

