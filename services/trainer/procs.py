"""Process groups of training runs: who is alive, and stopping all of a group (Linux /proc).

A run is started in a new session, so its pid is also its process group id and every process it
forks (verifier workers, data loaders) shares that group unless it asks for another. After a
restart of the service the run is no longer our child, so its identity is checked by the kernel's
start time of the pid (field 22 of /proc/PID/stat): a recycled pid is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    state: str  # R, S, D, Z (zombie), X (dead), ...
    ppid: int
    pgrp: int
    start_ticks: int  # clock ticks after boot; with the pid, the identity of a process


def proc_stat(pid: int) -> ProcStat | None:
    """The /proc view of `pid`, or None when there is no such process."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces and parentheses: the fields start after the last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return ProcStat(state=fields[0], ppid=int(fields[1]), pgrp=int(fields[2]), start_ticks=int(fields[19]))


def _alive(stat: ProcStat | None) -> bool:
    return stat is not None and stat.state not in ("Z", "X")


def start_ticks(pid: int) -> int | None:
    stat = proc_stat(pid)
    return stat.start_ticks if stat is not None else None


def live_group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes in process group `pgid`."""
    members = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if _alive(stat) and stat is not None and stat.pgrp == pgid:
                members.append(int(entry.name))
    return members


def live_descendants(pid: int) -> list[tuple[int, ProcStat]]:
    """(pid, stat) of every live process below `pid` (children, theirs, ...), whatever their group or session."""
    stats = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if _alive(stat) and stat is not None:
                stats[int(entry.name)] = stat
    found: list[tuple[int, ProcStat]] = []
    parents = {pid}
    while parents:
        below = [(p, s) for p, s in stats.items() if s.ppid in parents]
        found += below
        parents = {p for p, _ in below}
        for p in parents:
            stats.pop(p)
    return found


def group_is_ours(pgid: int, leader_ticks: int | None) -> bool:
    """Whether group `pgid` still holds processes of the run whose leader started at `leader_ticks`."""
    leader = proc_stat(pgid)
    if leader is not None:
        # A process holds the number: ours only if it is the same process (a recycled pid is not).
        return leader_ticks is not None and leader.start_ticks == leader_ticks and _alive(leader)
    # The leader is gone; a group id stays pinned (not reusable as a pid) while members hold it.
    return bool(live_group_members(pgid))


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone, or not ours to signal
        os.killpg(pgid, sig)


def stop_group(pgid: int, leader_ticks: int | None, grace_s: float, poll_s: float = 0.1) -> bool:
    """SIGTERM a run's group that is not our child, SIGKILL what is left after `grace_s`.

    Returns True when something of the run was found (and is now stopped).
    """
    if not group_is_ours(pgid, leader_ticks):
        return False
    signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while live_group_members(pgid) and time.monotonic() < deadline:
        time.sleep(poll_s)
    if live_group_members(pgid):  # only while the number is still pinned by the run's own processes
        signal_group(pgid, signal.SIGKILL)
    while live_group_members(pgid) and time.monotonic() < deadline + 5:
        time.sleep(poll_s)
    return True


# prctl(2) options (linux/prctl.h).
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _prctl_function() -> Callable[[int, int], None]:
    """prctl(option, value) through ctypes, looked up here: a forked child must not load libraries."""
    import ctypes

    call = ctypes.CDLL(None, use_errno=True).prctl

    def prctl(option: int, value: int) -> None:
        if call(option, value, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    return prctl


def become_subreaper(on: bool = True) -> None:
    """Orphans below this process re-parent to it (not to init), so that a stop can still find them."""
    _prctl_function()(PR_SET_CHILD_SUBREAPER, 1 if on else 0)


def death_signal(sig: signal.Signals) -> Callable[[], None]:
    """A Popen preexec_fn: the child gets `sig` when the thread that created it exits (the parent killed too).

    It fires on the exit of the creating *thread*: start children from a thread that lives as long as they do.
    """
    parent = os.getpid()
    prctl = _prctl_function()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig))
        if os.getppid() != parent:  # the parent died before the prctl: no signal would ever come
            os.kill(os.getpid(), sig)

    return preexec


def environ_has(pid: int, entry: str) -> bool:
    """Whether `entry` ("NAME=value") is in the environment `pid` started with (False if unreadable)."""
    try:
        return entry.encode() in (PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return False
