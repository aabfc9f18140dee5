"""One trainer service per jobs dir: an exclusive flock on `<jobs dir>/.lock`, held while the runner lives.

Two services on one dir would wreck each other (the second's recovery stops the first's live run, both
rewrite the same job.json). The lock is the kernel's: it goes with the process that held it, however
that process ended, so a service killed with SIGKILL never leaves a stale lock behind. Its runs do not
inherit it (Python opens files non-inheritable), so a run a killed service left does not hold it either.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

LOCK_FILE = ".lock"


class JobsDirBusyError(RuntimeError):
    """Another trainer service (or runner) holds the jobs dir."""


class JobsDirLock:
    def __init__(self, root: Path) -> None:
        self.path = root / LOCK_FILE
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise JobsDirBusyError naming the dir and the holder's pid."""
        if self._fh is not None:
            return
        # Never truncated before the lock is ours: the holder's pid stays readable. Kept open while held.
        fh = open(self.path, "a+")  # noqa: SIM115
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise JobsDirBusyError(
                f"the jobs dir {self.path.parent} is in use by another trainer service (pid {holder}); "
                "stop it or give this one another CPPFORGE_JOBS_DIR"
            ) from None
        except BaseException:
            fh.close()
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is None:
            return
        fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
        self._fh.close()
        self._fh = None
