"""The trainer's job queue and runner: one training run at a time, each in its own process group or container.

Each job is a directory under the jobs dir (job_store.py). The runner thread takes queued jobs in
submission order (FIFO by `seq`) and has its launcher (launchers.py) start the launch command: by
default in a new session, so the run outlives the HTTP client that asked for it and a cancel reaches
every process it forked; with ContainerLauncher (containers.py) in a container of its own. No
FastAPI here: service.py and app.py wrap it.

Every job that succeeds has its adapter (`run/adapter`) registered in the adapter registry as a
draft named after the job (registry/runs.py); a registration that fails leaves the job succeeded,
with the reason as its `registry_warning`.

One runner per jobs dir: start() takes an exclusive lock on `<jobs dir>/.lock` (jobs_lock.py) and
refuses, naming the holder's pid, when another runner has it.

Restarts: queued jobs stay queued; a job that was running when the service stopped (or died) is
queued again with `resumed=True` and runs with `--resume` when its run dir holds a checkpoint. If
the old run is still alive (the service was killed, its run was not), it is stopped first, so two
runs never write one run dir.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .job_store import Job, JobStatus, JobStore, MetricsTail, new_job_id, read_summary
from .jobs_lock import JobsDirBusyError, JobsDirLock
from .launchers import ProcessLauncher, RunHandle, RunLauncher
from .registry import DuplicateArtifactError, load_adapter_artifact, register_run
from .registry.hashing import sha256_file

__all__ = ["DEFAULT_COMMAND", "Job", "JobRunner", "JobStateError", "JobStatus", "JobStore", "JobsDirBusyError",
           "MetricsTail"]  # fmt: skip

log = logging.getLogger(__name__)

# The contract with `cppforge train`: the runner appends --recipe, --out, --overrides-json, --no-progress [--resume].
DEFAULT_COMMAND = (sys.executable, "-m", "services.cli", "train")
ERROR_LINES = 20  # stderr lines kept as a failed job's `error`
ERROR_CHARS = 4000


def _stderr_tail(path: Path, offset: int) -> str | None:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    lines = [line for line in text.splitlines() if line.strip()][-ERROR_LINES:]
    return "\n".join(lines)[-ERROR_CHARS:] or None


def _job_config(job: Job) -> dict[str, Any]:
    """The TrainConfig the job ran with (what registration falls back on when its run left no config.json)."""
    from .config import recipe_config

    try:
        return {"recipe": job.recipe, **recipe_config(job.recipe, **job.overrides).to_dict()}
    except ValueError:  # (validated before queueing; a job.json edited by hand may not be)
        return {"recipe": job.recipe, **job.overrides}


def _has_checkpoint(path: Path) -> bool:
    # `latest` names a complete checkpoint; a run killed while writing its first one leaves only step-N.tmp,
    # and --resume would then fail with "no complete checkpoint" on every restart.
    return (path / "latest").is_file()


class JobStateError(Exception):
    """The job is in a state that does not allow the operation (cancelling a finished job)."""


class JobRunner:
    """The FIFO queue and the one thread that runs its jobs, one at a time.

    `command` is the launch prefix (default: `python -m services.cli train`); `grace_s` is how long
    a run may take to save a checkpoint after SIGTERM before its group gets SIGKILL; `registry_root`
    is the adapter registry that succeeded runs' adapters go to (None: they are not registered);
    `launcher` starts and watches each run (default: a child process, ProcessLauncher).
    """

    def __init__(
        self,
        store: JobStore,
        *,
        command: Sequence[str] = DEFAULT_COMMAND,
        grace_s: float = 30.0,
        poll_s: float = 0.1,
        env: Mapping[str, str] | None = None,
        registry_root: Path | None = None,
        launcher: RunLauncher | None = None,
    ) -> None:
        self.store = store
        self.registry_root = registry_root
        self.command = tuple(command)
        self.grace_s = grace_s
        self.poll_s = poll_s
        self.env = dict(os.environ if env is None else env)
        self.launcher: RunLauncher = launcher or ProcessLauncher()
        self._jobs: dict[str, Job] = {}
        self._queue: deque[str] = deque()
        self._tails: dict[str, MetricsTail] = {}
        self._orphans: list[Job] = []  # jobs whose run a previous service may have left running
        self._cond = threading.Condition()
        self._stopping = False
        self._next_seq = 0
        self._thread: threading.Thread | None = None
        self._lock = JobsDirLock(store.root)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """JobsDirBusyError when another runner holds the jobs dir: nothing of its jobs is touched."""
        self._lock.acquire()
        self._recover()
        self._thread = threading.Thread(target=self._loop, name="trainer-jobs", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop taking jobs; a running job gets SIGTERM (it checkpoints) and is left `interrupted`."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.grace_s + 10)
        self._lock.release()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    def _recover(self) -> None:
        now = time.time()
        for job in self.store.load_all():
            self._next_seq = max(self._next_seq, job.seq + 1)
            self._jobs[job.id] = job
            if job.status in (JobStatus.RUNNING, JobStatus.INTERRUPTED):
                self._orphans.append(job)
                if job.cancel_requested:
                    job.status, job.finished_at = JobStatus.CANCELLED, now
                else:
                    job.status, job.resumed, job.restarts = JobStatus.QUEUED, True, job.restarts + 1
                self.store.save(job)
                log.info("job %s was running when the service stopped: %s", job.id, job.status.value)
            if job.status == JobStatus.QUEUED:
                self._queue.append(job.id)

    # -- the queue ---------------------------------------------------------------------------
    def submit(self, recipe: str, overrides: Mapping[str, Any]) -> Job:
        """Queue a run of `recipe` with `overrides` (already validated against TrainConfig)."""
        with self._cond:
            job_id = new_job_id()
            job = Job(job_id, self._next_seq, recipe, dict(overrides), dir=self.store.job_dir(job_id))
            self._next_seq += 1
            self.store.save(job)
            self._jobs[job_id] = job
            self._queue.append(job_id)
            self._cond.notify_all()
            return dataclasses.replace(job)

    def get(self, job_id: str) -> Job:
        """A snapshot of the job; KeyError when there is none."""
        with self._cond:
            return dataclasses.replace(self._jobs[job_id])

    def jobs(self) -> list[Job]:
        with self._cond:
            return [dataclasses.replace(j) for j in sorted(self._jobs.values(), key=lambda j: j.seq)]

    def queued_ids(self) -> list[str]:
        with self._cond:
            return list(self._queue)

    def rows(self, job_id: str) -> list[dict[str, Any]]:
        """The metrics rows the job's run has written so far."""
        with self._cond:
            job = self._jobs[job_id]
            tail = self._tails.setdefault(job_id, MetricsTail(job.metrics_path))
        return tail.read()

    def cancel(self, job_id: str) -> Job:
        """Queued: removed and cancelled now. Running: SIGTERM now, SIGKILL after the grace period,
        `cancelled` once the group is gone. JobStateError for a job that already finished otherwise."""
        with self._cond:
            job = self._jobs[job_id]
            if job.status == JobStatus.QUEUED:
                self._queue.remove(job_id)
                job.status, job.finished_at = JobStatus.CANCELLED, time.time()
                self.store.save(job)
            elif job.status == JobStatus.RUNNING:
                if not job.cancel_requested:
                    job.cancel_requested = True
                    self.store.save(job)
                    self._cond.notify_all()
            elif job.status != JobStatus.CANCELLED:
                raise JobStateError(f"job {job_id} already {job.status.value}; nothing to cancel")
            return dataclasses.replace(job)

    # -- the runner thread -------------------------------------------------------------------
    def _settle_orphan(self, job: Job) -> None:
        """Before anything runs: stop a run a previous service left alive, or take its result if it
        finished meanwhile (summary.json is written at the end of a run), so it is not run twice."""
        stopped = self.launcher.stop_left_run(job, self.grace_s, self.poll_s)
        if stopped:
            log.warning("stopped the run left by a previous service; job %s resumes", job.id)
        summary = read_summary(job.out_dir / "summary.json")
        # A run stopped by SIGTERM (the service's own shutdown) writes a summary too, marked stopped_early:
        # only a summary of a run that reached its end means there is nothing left to run.
        finished = summary is not None and not summary.get("stopped_early", False)
        registered = self._register(job) if not stopped and finished else (None, None)
        with self._cond:
            if not stopped and finished and job.status == JobStatus.QUEUED:
                self._queue.remove(job.id)
                job.status, job.summary, job.finished_at = JobStatus.SUCCEEDED, summary, time.time()
                job.registry_name, job.registry_warning = registered
                log.info("job %s finished while the service was down", job.id)
            job.pid = job.pid_ticks = job.container = None
            self.store.save(job)

    def _loop(self) -> None:
        for job in self._orphans:
            try:
                self._settle_orphan(job)
            except Exception as exc:  # (the docker daemon did not answer) a second run could clash with the first
                log.exception("job %s: the run a previous service left could not be checked", job.id)
                with self._cond:
                    if job.status == JobStatus.QUEUED:
                        self._queue.remove(job.id)
                        job.status, job.finished_at = JobStatus.FAILED, time.time()
                        job.error = f"the run a previous service left could not be checked or stopped: {exc}"
                    self.store.save(job)
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                job = self._jobs[self._queue.popleft()]
                job.status, job.started_at, job.finished_at = JobStatus.RUNNING, time.time(), None
                job.exit_code = job.error = job.summary = job.registry_name = job.registry_warning = None
                self.store.save(job)
            try:
                self._run(job)
            except Exception as exc:  # a launch failure (command missing, disk full) fails the job, not the runner
                log.exception("job %s could not run", job.id)
                with self._cond:
                    job.status, job.finished_at = JobStatus.FAILED, time.time()
                    job.error = f"the trainer could not be started: {exc}"
                    self.store.save(job)

    def command_for(self, job: Job) -> list[str]:
        cmd = [*self.command, "--recipe", job.recipe, "--out", str(job.out_dir)]
        cmd += ["--overrides-json", json.dumps(job.overrides), "--no-progress"]
        if job.resumed and _has_checkpoint(job.checkpoint_dir):
            cmd.append("--resume")
        return cmd

    def _run(self, job: Job) -> None:
        with self._cond:
            if job.cancel_requested:  # cancelled between leaving the queue and starting
                job.status, job.finished_at = JobStatus.CANCELLED, time.time()
                self.store.save(job)
                return
        job.out_dir.mkdir(parents=True, exist_ok=True)
        cmd = self.command_for(job)
        offset = job.stderr_path.stat().st_size if job.stderr_path.exists() else 0
        env = {**self.env, "PYTHONUNBUFFERED": "1"}  # the logs show progress as it happens
        handle = self.launcher.launch(job, cmd, env)
        with self._cond:
            handle.mark(job)
            job.stderr_offset = offset
            job.resumed_from_checkpoint = "--resume" in cmd
            self.store.save(job)
        returncode = self._supervise(job, handle)
        reason = handle.finish()
        self._finish(job, returncode, reason)

    def _supervise(self, job: Job, handle: RunHandle) -> int:
        term_at: float | None = None
        while True:
            returncode = handle.wait(self.poll_s)
            if returncode is not None:
                return returncode
            with self._cond:
                stop = job.cancel_requested or self._stopping
            if stop and term_at is None:
                handle.terminate()  # the run saves a checkpoint and exits
                term_at = time.monotonic()
            elif term_at is not None and time.monotonic() - term_at > self.grace_s:
                handle.kill()

    def _register(self, job: Job) -> tuple[str | None, str | None]:
        """(registry name, None) once the run's adapter is a draft in the registry, else (None, why not).
        Never raises: a job that trained succeeded, whatever happens to its registration."""
        if self.registry_root is None:
            return None, None
        try:
            fallback = _job_config(job)
            try:
                artifact = register_run(job.out_dir, name=job.id, fallback_config=fallback, root=self.registry_root)
            except DuplicateArtifactError:
                # Registered before the service stopped, but the job's state was not saved: the same weights?
                weights = sha256_file(job.out_dir / "adapter" / "adapter_model.safetensors")
                artifact = load_adapter_artifact(job.id, root=self.registry_root)
                if artifact.adapter_sha256 != weights:
                    raise
            log.info("job %s: adapter registered as draft %s", job.id, artifact.name)
            return artifact.name, None
        except Exception as exc:
            log.warning("job %s succeeded but its adapter was not registered: %s", job.id, exc)
            return None, f"adapter not registered: {exc}"

    def _finish(self, job: Job, returncode: int, reason: str | None = None) -> None:
        registered = self._register(job) if returncode == 0 else (None, None)
        with self._cond:
            job.exit_code, job.finished_at = returncode, time.time()
            job.summary = read_summary(job.out_dir / "summary.json")
            if returncode == 0:
                job.status = JobStatus.SUCCEEDED
                job.registry_name, job.registry_warning = registered
            elif job.cancel_requested:
                job.status = JobStatus.CANCELLED
            elif self._stopping:
                job.status = JobStatus.INTERRUPTED
            else:
                job.status = JobStatus.FAILED
                tail = _stderr_tail(job.stderr_path, job.stderr_offset)
                killed = f"killed by signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
                killed = reason or killed  # e.g. the container's memory limit
                job.error = f"{killed}: {tail}" if tail else killed
            self.store.save(job)
