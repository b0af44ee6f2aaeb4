"""One driver per study: an exclusive flock on a file in the study directory.

The kernel releases the lock when the driver dies, however it dies, so a
study whose lock is free has no driver; ``status`` tells a running study from
a dead one this way.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

from ..storage import DB_NAME, StorageError, diagnose

LOCK_NAME = "driver.lock"


class StudyLockedError(StorageError):
    """Another driver is running this study."""


class DriverLock:
    """An exclusive flock on the study directory, released by the kernel if the driver dies."""

    def __init__(self, directory: Path):
        self.path = directory / LOCK_NAME
        if self.path.is_dir() and not self.path.is_symlink():
            raise StorageError(f"{self.path}: a directory where the driver's lock file belongs; "
                               "remove it (it holds nothing autodehypo wrote) and try again")
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(diagnose(directory / DB_NAME, exc)) from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(self.fd)
            os.close(self.fd)
            raise StudyLockedError(f"{directory}: another driver is running this study ({holder}); "
                                   "wait for it to finish or stop it first") from None
        try:
            # Written over what is there, then cut to length: the file is never empty while a
            # driver holds it, but for the moment between a new file's lock and this write.
            text = f"pid {os.getpid()} on {socket.gethostname()}".encode()
            os.pwrite(self.fd, text, 0)
            os.ftruncate(self.fd, len(text))
        except OSError as exc:
            self.release()
            raise StorageError(diagnose(directory / DB_NAME, exc)) from None

    def release(self) -> None:
        os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _holder(fd: int, wait_s: float = 1.0) -> str:
    """Who holds the lock, as the holder wrote it; a driver that has just taken the lock of a new
    file writes its name a moment later, so an empty file is read again for up to ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
        if text or time.monotonic() >= deadline:
            return text or "unknown"
        time.sleep(0.01)


def driver_alive(directory: Path) -> bool:
    """Whether a driver holds the study's lock right now."""
    try:
        fd = os.open(Path(directory) / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
