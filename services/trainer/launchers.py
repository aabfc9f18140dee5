"""How a training run is started and watched: the seam between JobRunner (queue, states, registry) and
what actually runs the command (a child process here, a container in containers.py).

JobRunner builds the `cppforge train ...` command and decides when to stop a run; a launcher starts
it (`launch`), and its handle reports the exit (`wait`), stops it (`terminate`, then `kill` after the
grace) and cleans up once it exited (`finish`). `stop_left_run` is the restart path: a run a previous
service left behind (job.json says running) is found by what `RunHandle.mark` wrote into the job and
stopped before the job runs again, so two runs never write one run dir.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from . import procs
from .job_store import Job


class RunHandle(Protocol):
    def mark(self, job: Job) -> None:
        """Write the run's identity into `job` (saved in job.json) so a restarted service can find it."""

    def wait(self, timeout: float) -> int | None:
        """The exit code once the run has exited, else None after up to `timeout` seconds."""

    def terminate(self) -> None:
        """Ask the run to stop (SIGTERM: it saves a checkpoint)."""

    def kill(self) -> None:
        """Stop it now (SIGKILL), whatever it is doing."""

    def finish(self) -> str | None:
        """After the exit: release what the run held. Returns why the run died when the exit code alone does
        not say it (killed for memory), else None."""


class RunLauncher(Protocol):
    kind: str  # "process" or "docker": what /healthz says

    def launch(self, job: Job, cmd: Sequence[str], env: Mapping[str, str]) -> RunHandle:
        """Start `cmd` for `job`, its stdout/stderr appended to the job's log files."""

    def stop_left_run(self, job: Job, grace_s: float, poll_s: float) -> bool:
        """Stop a run of `job` a previous service left alive (SIGTERM, SIGKILL after `grace_s`); True when one
        was found."""

    def health(self) -> dict[str, Any]:
        """What /healthz shows of the launcher; "ok": False when it cannot start runs now."""


class ProcessHandle:
    """A run as our child, leader of its own process group (a new session)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.ticks = procs.start_ticks(proc.pid)

    def mark(self, job: Job) -> None:
        job.pid, job.pid_ticks = self.proc.pid, self.ticks

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def terminate(self) -> None:
        procs.signal_group(self.proc.pid, signal.SIGTERM)  # the run saves a checkpoint and exits

    def kill(self) -> None:
        procs.signal_group(self.proc.pid, signal.SIGKILL)

    def finish(self) -> str | None:
        if procs.live_group_members(self.proc.pid):  # whatever the run forked and left behind
            procs.signal_group(self.proc.pid, signal.SIGKILL)
        return None


class ProcessLauncher:
    """Each run a child process in a new session: it outlives the HTTP client that asked for it, and a
    cancel reaches every process it forked."""

    kind = "process"

    def launch(self, job: Job, cmd: Sequence[str], env: Mapping[str, str]) -> RunHandle:
        with open(job.stdout_path, "ab") as out, open(job.stderr_path, "ab") as err:
            proc = subprocess.Popen(
                list(cmd), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=dict(env), start_new_session=True
            )
        return ProcessHandle(proc)

    def stop_left_run(self, job: Job, grace_s: float, poll_s: float) -> bool:
        return job.pid is not None and procs.stop_group(job.pid, job.pid_ticks, grace_s, poll_s)

    def health(self) -> dict[str, Any]:
        return {"ok": True}
