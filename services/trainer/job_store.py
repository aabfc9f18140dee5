"""The state of the trainer's jobs on disk: one directory per job, `job.json` replaced atomically.

A job's dir holds `job.json`, `stdout.log`, `stderr.log` and `run/` (the run's `--out`:
metrics.jsonl, summary.json, checkpoints/). MetricsTail reads a run's growing metrics.jsonl.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class JobStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # stopped with the service; queued again (resumed) at the next start


@dataclass
class Job:
    id: str
    seq: int  # submission order: the queue is FIFO by it, across restarts
    recipe: str
    overrides: dict[str, Any]
    dir: Path = field(compare=False)
    status: JobStatus = JobStatus.QUEUED
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    error: str | None = None
    summary: dict[str, Any] | None = None
    resumed: bool = False  # queued again after the service stopped while it ran
    restarts: int = 0
    resumed_from_checkpoint: bool = False  # the latest attempt ran with --resume
    pid: int | None = None  # of the latest attempt; also its process group id
    pid_ticks: int | None = None  # the pid's start time, so a recycled pid is never signalled
    container: str | None = None  # the latest attempt's container id (the docker job runner)
    cancel_requested: bool = False
    stderr_offset: int = 0  # where the latest attempt's stderr starts in stderr.log
    registry_name: str | None = None  # the adapter registry's name of the run's adapter (a draft), once registered
    registry_warning: str | None = None  # why a succeeded run's adapter could not be registered

    @property
    def out_dir(self) -> Path:
        return self.dir / "run"

    @property
    def stdout_path(self) -> Path:
        return self.dir / "stdout.log"

    @property
    def stderr_path(self) -> Path:
        return self.dir / "stderr.log"

    @property
    def metrics_path(self) -> Path:
        return self.out_dir / "metrics.jsonl"

    @property
    def checkpoint_dir(self) -> Path:
        return self.out_dir / "checkpoints"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("dir")
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], job_dir: Path) -> Job:
        known = {f.name for f in dataclasses.fields(cls)} - {"dir", "status"}
        values = {k: v for k, v in d.items() if k in known}
        return cls(**values, dir=job_dir, status=JobStatus(d["status"]))


def new_job_id() -> str:
    return f"job-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


class JobStore:
    """Job directories under `root`, one `job.json` each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def job_dir(self, job_id: str) -> Path:
        return self.root / job_id

    def save(self, job: Job) -> None:
        job.dir.mkdir(parents=True, exist_ok=True)
        path = job.dir / "job.json"
        # A temp file of its own per writer (process and thread): two writers never write into one file.
        tmp = path.with_name(f"job.json.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "w") as fh:
            json.dump(job.to_dict(), fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # a reader (or a crash) sees the old state or the new, never half

    def load_all(self) -> list[Job]:
        jobs = []
        for path in sorted(self.root.glob("*/job.json")):
            try:
                jobs.append(Job.from_dict(json.loads(path.read_text()), path.parent))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("skipping unreadable job state %s: %s", path, exc)
        return sorted(jobs, key=lambda j: j.seq)


class MetricsTail:
    """The rows of a growing metrics.jsonl, read incrementally; a partial last line waits for its newline.

    A resumed run starts again from its checkpoint's step, so a row whose step is not after the
    previous row's drops the rows it replaces: the rows are the history of the run as resumed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.inode: int | None = None
        self.rows: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def read(self) -> list[dict[str, Any]]:
        with self.lock:
            try:
                with open(self.path, "rb") as fh:
                    st = os.fstat(fh.fileno())
                    if st.st_ino != self.inode or st.st_size < self.offset:  # replaced or truncated: start over
                        self.inode, self.offset, self.rows = st.st_ino, 0, []
                    fh.seek(self.offset)
                    data = fh.read()
            except FileNotFoundError:
                return list(self.rows)
            complete = data[: data.rfind(b"\n") + 1]
            self.offset += len(complete)
            for line in complete.splitlines():
                self._add(line)
            return list(self.rows)

    def _add(self, line: bytes) -> None:
        try:
            row = json.loads(line)
        except ValueError:
            return  # not a row (a stray print); the trainer writes one JSON object per line
        if not isinstance(row, dict):
            return
        step = row.get("step")
        if isinstance(step, int):
            while self.rows and isinstance(self.rows[-1].get("step"), int) and self.rows[-1]["step"] >= step:
                self.rows.pop()
        self.rows.append(row)


def read_summary(path: Path) -> dict[str, Any] | None:
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None
