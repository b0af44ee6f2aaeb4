"""The study: its driver (ask, submit, collect, tell, checkpoint) and what only the driver uses.

``driver`` holds the loop; ``files`` creates, checks and opens a study on disk; ``trials`` makes
a trial from a candidate and records its outcome; ``live`` is what a running study shows;
``budget``, ``told_value``, ``answers`` and ``driver_lock`` are the loop's rules (when the budget
is spent, what a result tells the search, a configuration answered from the record, one driver
per study).
"""

from .driver import Interrupted, Study
from .files import load_search, open_storage
from .live import LiveTrial, Progress

__all__ = ["Interrupted", "LiveTrial", "Progress", "Study", "load_search", "open_storage"]
