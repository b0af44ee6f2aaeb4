"""The processes of a trial: tied to their parent, and found and ended after a driver died.

Every local trial leads a process group of its own, and whatever it starts (a
command, the processes that command starts) stays in that group unless it
leaves on purpose (``setsid``). The group is recorded with the leader's start
time, so that a driver resuming after a crash ends exactly the processes the
dead driver's trials left behind, never an unrelated process that got a
recycled pid.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from functools import lru_cache

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere).

    Trials must not outlive a killed driver: the resumed driver runs them again.
    This covers the direct child only; :func:`end_group` ends the rest.
    """
    if sys.platform.startswith("linux"):
        try:
            _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


if sys.platform.startswith("linux"):
    _libc()  # loaded once in the driver, not once in every forked trial


@lru_cache(maxsize=1)
def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return None


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, process group, start time in clock ticks since boot) from /proc/<pid>/stat."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    # The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
    fields = data[data.rfind(b")") + 2:].split()
    try:
        return fields[0].decode(), int(fields[2]), int(fields[19])
    except (IndexError, ValueError):
        return None


def process_start(pid: int) -> str | None:
    """What identifies process ``pid`` across pid reuse: "<boot id> <start ticks>"; None off Linux."""
    boot, stat = _boot_id(), _stat(pid)
    if boot is None or stat is None:
        return None
    return f"{boot} {stat[2]}"


def group_members(pgid: int, leader_start: str) -> list[int]:
    """The live processes of the group ``pgid`` that was recorded with ``leader_start``.

    Nothing when the record is from another boot or host, or when the pid ``pgid`` now
    belongs to a process started at another time: Linux does not reuse a pid while a group
    of that number has members, so then our group is gone and that one is someone else's.
    Members whose leader died are found by scanning /proc; one started before the recorded
    leader cannot belong to its group.
    """
    boot, _, ticks = (leader_start or "").partition(" ")
    if pgid <= 1 or pgid == os.getpgrp() or boot != _boot_id() or not ticks.isdigit():
        return []
    start = int(ticks)
    leader = _stat(pgid)
    if leader is not None and leader[2] != start:
        return []
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[1] == pgid and stat[2] >= start and stat[0] not in ("Z", "X"):
                members.append(int(entry))
    return members


def end_group(pgid: int, leader_start: str, wait_s: float = 5.0) -> list[int]:
    """SIGKILL what is left of a recorded trial's process group; return the pids ended."""
    members = group_members(pgid, leader_start)
    start = int(leader_start.partition(" ")[2]) if members else 0
    for pid in members:
        _kill_checked(pid, pgid, start)
    deadline = time.monotonic() + wait_s
    left = members
    while left and time.monotonic() < deadline:
        # Not our children: their new parent reaps them; a zombie is as good as gone.
        left = [pid for pid in left if (s := _stat(pid)) is not None and s[0] not in ("Z", "X")
                and s[1] == pgid and s[2] >= start]
        if left:
            time.sleep(0.01)
    return members


def _kill_checked(pid: int, pgid: int, start: int) -> None:
    """SIGKILL ``pid`` only if it is still the process that was found (through a pidfd when possible)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    try:
        stat = _stat(pid)  # read after the pidfd pinned the process: it describes that process
        if stat is None or stat[1] != pgid or stat[2] < start:
            return
        if fd is not None:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        if fd is not None:
            os.close(fd)
