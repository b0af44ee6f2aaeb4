"""Where trials run. Each executor starts a trial, then reports its :class:`TrialOutcome`."""

from .base import Executor
from .outcome import TrialOutcome
from .local import LocalExecutor, default_workers
from .slurm import SlurmError, SlurmExecutor

__all__ = ["Executor", "LocalExecutor", "SlurmError", "SlurmExecutor", "TrialOutcome", "default_workers"]
