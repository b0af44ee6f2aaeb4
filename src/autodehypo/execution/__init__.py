"""Where trials run. Each executor starts a trial, then reports its :class:`TrialOutcome`."""

from .outcome import TrialOutcome
from .local import LocalExecutor, default_workers

__all__ = ["LocalExecutor", "TrialOutcome", "default_workers"]
