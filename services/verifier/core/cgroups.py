"""Per-run cgroup v1 groups (pids + memory) for the sandbox.

Why: RLIMIT_NPROC is not enforced for root and counts per uid (so parallel runs as `nobody`
would share one budget); a `pids` cgroup caps one run's process tree on its own, and a
`memory` cgroup caps resident memory including tmpfs pages the run writes. Where the
controllers are not writable (an unprivileged host), `RunCgroup.create` returns None and the
sandbox falls back to rlimits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT_NAME = "cppforge"
# kill_all's pauses between sweeps: the first short, doubling up to the last.
_FIRST_PAUSE_S = 0.0001
_LAST_PAUSE_S = 0.005


def _controller_dir(controller: str) -> Path:
    return CGROUP_ROOT / controller / PARENT_NAME


def cgroups_available() -> bool:
    """True when this process can create pids and memory child groups."""
    if os.geteuid() != 0:
        return False
    for controller in ("pids", "memory"):
        base = CGROUP_ROOT / controller
        if not (base / "cgroup.procs").exists():
            return False
        try:
            _controller_dir(controller).mkdir(exist_ok=True)
        except OSError:
            return False
    return True


@dataclass
class RunCgroup:
    """One pids group and one memory group that hold exactly one sandboxed run."""

    pids_dir: Path
    memory_dir: Path

    @classmethod
    def create(cls, max_pids: int, memory_bytes: int) -> RunCgroup | None:
        if not cgroups_available():
            return None
        name = f"run_{os.getpid()}_{uuid.uuid4().hex[:12]}"
        pids_dir = _controller_dir("pids") / name
        memory_dir = _controller_dir("memory") / name
        try:
            pids_dir.mkdir()
            memory_dir.mkdir()
            (pids_dir / "pids.max").write_text(str(max_pids))
            (memory_dir / "memory.limit_in_bytes").write_text(str(memory_bytes))
            # Swap would let a run exceed its cap silently; forbid it where the kernel allows.
            with contextlib.suppress(OSError):
                (memory_dir / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
        except OSError:
            for d in (pids_dir, memory_dir):
                with contextlib.suppress(OSError):
                    d.rmdir()
            return None
        return cls(pids_dir=pids_dir, memory_dir=memory_dir)

    @property
    def procs_files(self) -> tuple[str, str]:
        return (str(self.pids_dir / "cgroup.procs"), str(self.memory_dir / "cgroup.procs"))

    def pids(self) -> list[int]:
        try:
            text = (self.pids_dir / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(tok) for tok in text.split()]

    def memory_exceeded(self) -> bool:
        """True when the kernel refused or reclaimed memory at the cap (OOM kill or failcnt)."""
        try:
            oom = (self.memory_dir / "memory.oom_control").read_text()
        except OSError:
            oom = ""
        for line in oom.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit() and int(value) > 0:
                return True
        try:
            return int((self.memory_dir / "memory.failcnt").read_text().strip() or 0) > 0
        except (OSError, ValueError):
            return False

    def kill_all(self, deadline_s: float = 5.0) -> bool:
        """SIGKILL every process in the group until it is empty; True when empty."""
        end = time.monotonic() + deadline_s
        pause = _FIRST_PAUSE_S
        while time.monotonic() < end:
            pids = self.pids()
            if not pids:
                return True
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            # A killed task leaves the group within a fraction of a millisecond (usually bwrap's
            # PID 1, still exiting when its parent is reaped): poll fast first, then back off.
            time.sleep(pause)
            pause = min(pause * 2, _LAST_PAUSE_S)
        return not self.pids()

    def remove(self) -> None:
        self.kill_all()
        for d in (self.pids_dir, self.memory_dir):
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    # Still busy for a moment after the last process is reaped.
                    time.sleep(0.01)
