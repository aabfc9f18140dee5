"""The sandbox's first process, built once per verifier process from runtime/launch.cpp.

It joins the run's cgroups, sets the rlimits and drops to nobody in one process before it execs
bwrap: what `sh -c 'echo $$ > ...'`, `prlimit` and `setpriv` did in three (each exec costs
milliseconds on every sandbox start, two starts per verification). It runs as root, so it lives in
a private dir of this process's (mode 0700, removed at exit, swept by workdirs if the process dies):
nothing else can swap the binary. Where it cannot be built, the sandbox keeps the three tools.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from .workdirs import LAUNCH_PREFIX, owner_tag

LAUNCH_SOURCE = Path(__file__).parent / "runtime" / "launch.cpp"
_lock = threading.Lock()
_built: dict[int, str | None] = {}  # pid -> path: a forked child builds its own (see launcher_path)


def _remove_if_mine(path: str, pid: int) -> None:
    if os.getpid() == pid:  # a forked child's exit must not take its parent's launcher away
        shutil.rmtree(path, ignore_errors=True)


def _build() -> str | None:
    tmp = tempfile.mkdtemp(prefix=f"{LAUNCH_PREFIX}{owner_tag()}_")
    atexit.register(_remove_if_mine, tmp, os.getpid())
    target = str(Path(tmp) / "cppforge-launch")
    base = ["g++", "-std=c++17", "-O2", "-Wall", "-o", target, str(LAUNCH_SOURCE)]
    # Static: no dynamic loader on every start. Dynamic where no static libc is installed.
    for cmd in ([*base[:4], "-static", *base[4:]], base):
        try:
            out = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0:
            return target
    shutil.rmtree(tmp, ignore_errors=True)
    return None


def launcher_path() -> str | None:
    """This process's launcher, built on first use (again in a forked child, whose parent's dir is
    swept once the parent is gone, and again if something removed it); None when it cannot be built."""
    pid = os.getpid()
    with _lock:
        path = _built.get(pid, "")
        if path == "" or (path is not None and not os.path.exists(path)):
            path = _built[pid] = _build()
        return path
