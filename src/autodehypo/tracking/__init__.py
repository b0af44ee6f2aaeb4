"""Where a study is also recorded, besides its own file: one tracker per service behind one
small interface, called by the driver after each step it has stored.

A tracker is a copy for people to look at, never the record: the study file stays the one
truth, and a tracker that fails (a server down, a full disk on its side) never fails a trial
or stops the study. What it could not send is retried and, at the end, said once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..storage import TrialRecord


class Tracker:
    """What the driver tells a tracker; each method does nothing unless a service overrides it."""

    def catch_up(self, trials: list[TrialRecord]) -> None:
        """When a driver starts: send the finished ``trials`` the service does not have yet (an
        earlier driver was killed, or the service was down)."""

    def trial_started(self, trial: TrialRecord) -> None:
        """A trial (or a new attempt of it) starts: its parameters are known."""

    def poll(self, running: list[TrialRecord]) -> None:
        """About once a second while trials run: what they have reported so far."""

    def trial_finished(self, trial: TrialRecord) -> None:
        """A trial's record is stored: its value(s), time, energy, state."""

    def close(self, state: str, summary: dict[str, Any]) -> None:
        """The driver stops (``state``: finished or interrupted) with the study's totals."""


class Trackers(Tracker):
    """Every tracker the config names, told in turn."""

    def __init__(self, trackers: list[Tracker]):
        self.trackers = trackers

    def catch_up(self, trials: list[TrialRecord]) -> None:
        for t in self.trackers:
            t.catch_up(trials)

    def trial_started(self, trial: TrialRecord) -> None:
        for t in self.trackers:
            t.trial_started(trial)

    def poll(self, running: list[TrialRecord]) -> None:
        for t in self.trackers:
            t.poll(running)

    def trial_finished(self, trial: TrialRecord) -> None:
        for t in self.trackers:
            t.trial_finished(trial)

    def close(self, state: str, summary: dict[str, Any]) -> None:
        for t in self.trackers:
            t.close(state, summary)


def open_trackers(tracking: dict[str, dict[str, str]], *, study_name: str, study_uid: str,
                  directory: Path, config: dict[str, Any]) -> Tracker:
    """The trackers of a study's ``[study.tracking]`` table (none: a tracker that does nothing)."""
    trackers: list[Tracker] = []
    if "mlflow" in tracking:
        from .mlflow import MlflowTracker
        trackers.append(MlflowTracker(tracking["mlflow"], study_name=study_name, study_uid=study_uid,
                                      directory=directory, config=config))
    return trackers[0] if len(trackers) == 1 else Trackers(trackers)


def missing_packages(tracking: dict[str, dict[str, str]]) -> str | None:
    """Why the trackers the config names cannot run here, or None."""
    import importlib.util
    if "mlflow" in tracking and importlib.util.find_spec("mlflow") is None:
        return ("study.tracking.mlflow: needs MLflow, which is not installed here: "
                "pip install 'autodehypo[mlflow]'")
    return None
