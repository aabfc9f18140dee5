"""The verifier's temp work dirs: named after the process that owns them, swept once it is gone.

A `with TemporaryDirectory()` removes its dir on every way out of the block but one: the process
dying inside it (SIGKILL, SIGTERM's default action, an OOM kill of a trainer or a service worker
mid-verification). Such a dir holds the candidate's source, object and program, and nothing else
would ever remove it. Each dir's name therefore says which process made it (pid and start time, so a
reused pid is not mistaken for the owner), and `sweep_stale` removes the dirs whose owner is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

TEMP_PREFIX = "cppforge_verify_"
LAUNCH_PREFIX = "cppforge_launch_"  # the sandbox launcher's private dir (launcher.py)
# `cppforge_verify_<kind>_<pid>_<start>_<random>`; kind is "" for verify_cpp's own dirs. Word
# characters only: tests and tools match a work dir's name as `cppforge_verify_\w+`.
_OWNED = re.compile(rf"^(?:{TEMP_PREFIX}|{LAUNCH_PREFIX})(?:[a-z]+_)?(\d+)_(\d+)_")
# Dirs named before owners were recorded: removed once this old (no verification lasts an hour).
LEGACY_AGE_S = 24 * 3600.0
SWEEP_INTERVAL_S = 60.0
SANDBOX_UID = 65534  # nobody: the sandbox's user when the verifier runs as root (sandbox.NOBODY_UID)
_sweep_lock = threading.Lock()
_last_sweep: dict[str, float] = {}


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def owner_tag() -> str:
    pid = os.getpid()
    return f"{pid}_{_start_time(pid) or 0}"


@contextlib.contextmanager
def workdir(kind: str = "") -> Iterator[str]:
    """A fresh temp dir (removed on the way out) whose name records this process as its owner."""
    prefix = f"{TEMP_PREFIX}{kind + '_' if kind else ''}{owner_tag()}_"
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield tmp


def _owner_alive(pid: int, start: str) -> bool:
    # "0": the start time could not be read when the dir was made; the pid alone has to do.
    now = _start_time(pid)
    return now is not None and (start == "0" or now == start)


def _stale(entry: os.DirEntry[str], now: float) -> bool:
    m = _OWNED.match(entry.name)
    if m is not None:
        return not _owner_alive(int(m.group(1)), m.group(2))
    if not entry.name.startswith(TEMP_PREFIX):
        return False
    with contextlib.suppress(OSError):
        return now - entry.stat(follow_symlinks=False).st_mtime > LEGACY_AGE_S
    return False


def _force_remove(path: str) -> None:
    """shutil.rmtree works on file descriptors here (never following a link another user swaps in), and
    root needs no chmod to get through what the sandbox left unwritable; nothing is resolved twice."""
    shutil.rmtree(path, ignore_errors=True)


def _ours(entry: os.DirEntry[str]) -> bool:
    """Made by this user or by the sandbox's user: another user's dir under the prefix is not ours to remove."""
    with contextlib.suppress(OSError):
        return entry.stat(follow_symlinks=False).st_uid in (os.geteuid(), SANDBOX_UID)
    return False


def sweep_stale(root: str | None = None, *, force: bool = False) -> list[str]:
    """Remove the verifier's temp dirs under `root` (the temp dir) whose owner process is gone;
    at most once per SWEEP_INTERVAL_S per root unless `force`. Returns the paths removed."""
    root = root or tempfile.gettempdir()
    now = time.time()
    with _sweep_lock:
        if not force and now - _last_sweep.get(root, 0.0) < SWEEP_INTERVAL_S:
            return []
        _last_sweep[root] = now
    removed = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith((TEMP_PREFIX, LAUNCH_PREFIX)) or not entry.is_dir(follow_symlinks=False):
            continue
        if _ours(entry) and _stale(entry, now):
            with contextlib.suppress(OSError):
                _force_remove(entry.path)
            if not os.path.lexists(entry.path):
                removed.append(entry.path)
    return removed
