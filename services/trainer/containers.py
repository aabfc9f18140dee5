"""Training runs in containers of their own, through the docker SDK (`cppforge serve trainer --job-runner docker`).

A run that leaks memory, forks without end or crashes the interpreter takes its container down, never
the service: each container has a memory limit (no swap on top, so the kernel's OOM killer ends it and
docker says so: State.OOMKilled), a CPU quota and a pids limit. The jobs dir is mounted at the same
path inside, so the paths in job.json and the `--out` the command names stay valid; the container's
stdout/stderr are copied into the job's stdout.log/stderr.log as they come, so error tails and log
files read as with a child process.

Every container carries the labels cppforge.job=<job id> and cppforge.service=<instance> (the instance
is derived from the jobs dir): a restarted service finds what its predecessor left (job.json says
running) and stops it before the job resumes, as it does with a pid. A container is removed once its
result is read (no auto-remove: the exit code and OOMKilled are read first).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import docker
from docker.errors import DockerException, ImageNotFound, NotFound
from docker.types import DeviceRequest, LogConfig

from .job_store import Job
from .launchers import RunHandle

log = logging.getLogger(__name__)

JOB_LABEL = "cppforge.job"
SERVICE_LABEL = "cppforge.service"
# A run's settings travel with it; the service's own (keys, bind address, the runner's knobs) do not.
HELD_BACK = frozenset({"CPPFORGE_API_KEYS", "CPPFORGE_ADMIN_KEYS", "CPPFORGE_DOCKER_URL", "CPPFORGE_TRAINER_HOST",
                       "CPPFORGE_TRAINER_PORT", "CPPFORGE_JOBS_DIR"})  # fmt: skip
PASSED = frozenset({"PYTHONUNBUFFERED", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM"})
GpuMode = Literal["auto", "none", "all"]
LOG_MAX_SIZE, LOG_MAX_FILES = "50m", "3"  # the daemon's own copy of a run's output
DAEMON_PATIENCE_S = 120.0  # how long a running job's daemon may not answer before the job is given up


def service_instance(jobs_root: Path) -> str:
    """The cppforge.service label: one per jobs dir, so a restart (same dir) finds its containers and
    another service (another dir) never touches them."""
    return "trainer-" + hashlib.sha256(str(jobs_root).encode()).hexdigest()[:12]


def container_env(env: Mapping[str, str]) -> dict[str, str]:
    """What of the service's environment a job container gets: the CPPFORGE_* settings a run reads."""
    out = {}
    for name, value in env.items():
        ours = name.startswith("CPPFORGE_") and name not in HELD_BACK and not name.startswith("CPPFORGE_JOB_")
        if ours or name in PASSED:
            out[name] = value
    return out


def connect(url: str | None, timeout_s: float = 60.0) -> Any:
    """A docker client: `url` (unix:// or tcp://), else the environment's DOCKER_HOST (the local socket)."""
    if url:
        return docker.DockerClient(base_url=url, timeout=int(timeout_s))
    return docker.from_env(timeout=int(timeout_s))


@dataclass(frozen=True)
class ContainerSpec:
    """What every job container gets (from TrainerServiceSettings.container_spec)."""

    image: str
    jobs_root: Path  # mounted at the same path inside
    jobs_source: str | None = None  # the host path or volume name that holds the jobs dir (None: jobs_root itself)
    mounts: tuple[str, ...] = ()  # more "SOURCE:TARGET[:ro]" (the models volume)
    memory_mb: int | None = None
    cpus: float | None = None
    pids_limit: int | None = 4096
    gpus: GpuMode = "auto"
    network: str = "host"  # the verifier/inference URLs (127.0.0.1) mean the same inside
    user: str | None = None  # "uid:gid"; None: the image's user

    def volumes(self) -> dict[str, dict[str, str]]:
        vols = {self.jobs_source or str(self.jobs_root): {"bind": str(self.jobs_root), "mode": "rw"}}
        for entry in self.mounts:
            source, target, *mode = entry.split(":")
            vols[source] = {"bind": target, "mode": mode[0] if mode else "rw"}
        return vols


class ContainerHandle:
    """One job's container: its logs copied to the job's files by two threads while it runs."""

    def __init__(self, container: Any, job: Job, memory_mb: int | None) -> None:
        self.container = container
        self.memory_mb = memory_mb
        self.unanswered_since: float | None = None
        self.copiers = [
            threading.Thread(target=_copy_logs, args=(container, path, is_out), daemon=True, name=f"logs-{job.id}")
            for path, is_out in ((job.stdout_path, True), (job.stderr_path, False))
        ]
        for thread in self.copiers:
            thread.start()

    def mark(self, job: Job) -> None:
        job.container, job.pid, job.pid_ticks = self.container.id, None, None

    def wait(self, timeout: float) -> int | None:
        # Polled rather than a blocking wait(): the runner checks for a cancel between polls.
        try:
            self.container.reload()
        except NotFound:
            raise  # removed by someone else: its result is gone with it
        except (DockerException, OSError) as exc:  # a busy or restarting daemon: the run goes on meanwhile
            self.unanswered_since = self.unanswered_since or time.monotonic()
            if time.monotonic() - self.unanswered_since > DAEMON_PATIENCE_S:
                raise
            log.warning("container %s: the daemon did not answer (%s); asking again", self.container.short_id, exc)
            time.sleep(timeout)
            return None
        self.unanswered_since = None
        state = self.container.attrs["State"]
        if state["Status"] in ("exited", "dead"):
            return int(state["ExitCode"])
        time.sleep(timeout)
        return None

    def terminate(self) -> None:
        _signal(self.container, "SIGTERM")  # the run saves a checkpoint and exits

    def kill(self) -> None:
        _signal(self.container, "SIGKILL")

    def finish(self) -> str | None:
        for thread in self.copiers:
            thread.join(timeout=30)  # the log stream ends with the container
        self.container.reload()
        oom = bool(self.container.attrs["State"].get("OOMKilled"))
        self.container.remove(force=True)
        if oom:
            limit = f"limit {self.memory_mb} MiB" if self.memory_mb else "no limit set"
            return f"killed: out of memory ({limit})"
        return None


def _signal(container: Any, sig: str) -> None:
    try:
        container.kill(signal=sig)
    except DockerException as exc:  # 409: already stopped; the next poll sees its exit
        log.debug("signal %s to %s: %s", sig, container.id, exc)


def _copy_logs(container: Any, path: Path, is_out: bool, since: float | None = None) -> None:
    try:
        stream = container.logs(stdout=is_out, stderr=not is_out, stream=True, follow=True, since=since)
        with open(path, "ab") as fh:
            for chunk in stream:
                fh.write(chunk)
                fh.flush()
    except (DockerException, OSError) as exc:  # the log files are a convenience; the run's state is not in them
        log.warning("logs of container %s into %s stopped: %s", container.id, path, exc)


class ContainerLauncher:
    """Runs each job's command in a new container of `spec.image` (see the module docstring)."""

    kind = "docker"

    def __init__(self, client: Any, spec: ContainerSpec) -> None:
        self.client = client
        self.spec = spec
        self.instance = service_instance(spec.jobs_root)
        self._gpus: list[Any] | None = None

    def device_requests(self) -> list[Any]:
        """All GPUs (`gpus=all`, or `auto` when the daemon has the nvidia runtime), else none."""
        if self._gpus is None:
            wanted = self.spec.gpus == "all"
            if self.spec.gpus == "auto":
                wanted = "nvidia" in (self.client.info().get("Runtimes") or {})
            self._gpus = [DeviceRequest(count=-1, capabilities=[["gpu"]])] if wanted else []
        return self._gpus

    def create_args(self, job: Job, cmd: Sequence[str], env: Mapping[str, str]) -> dict[str, Any]:
        spec = self.spec
        args: dict[str, Any] = {
            "image": spec.image, "command": list(cmd), "environment": container_env(env),
            "labels": {JOB_LABEL: job.id, SERVICE_LABEL: self.instance}, "volumes": spec.volumes(),
            "working_dir": str(job.dir), "network_mode": spec.network, "pids_limit": spec.pids_limit,
            "init": True,  # a PID 1 that passes SIGTERM on and reaps what the run forks
            # A run needs no capability and no setuid gain; its logs are capped (they are copied to the job dir).
            "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"],
            "log_config": LogConfig(type="json-file", config={"max-size": LOG_MAX_SIZE, "max-file": LOG_MAX_FILES}),
            "device_requests": self.device_requests(), "detach": True,
        }  # fmt: skip
        if spec.memory_mb:
            args["mem_limit"] = args["memswap_limit"] = f"{spec.memory_mb}m"  # no swap: over the limit is OOM
        if spec.cpus:
            args["nano_cpus"] = int(spec.cpus * 1e9)
        if spec.user:
            args["user"] = spec.user
        return args

    def launch(self, job: Job, cmd: Sequence[str], env: Mapping[str, str]) -> RunHandle:
        args = self.create_args(job, cmd, env)
        try:
            try:
                container = self.client.containers.create(**args)
            except ImageNotFound:
                log.info("pulling %s for job %s", self.spec.image, job.id)
                self.client.images.pull(self.spec.image)
                container = self.client.containers.create(**args)
            container.start()
        except Exception:
            # A command that is not in the image, or a call that timed out after the daemon made the
            # container: nothing of this attempt may stay behind.
            self._remove_job_containers(job.id)
            raise
        log.info("job %s runs in container %s", job.id, container.short_id)
        return ContainerHandle(container, job, self.spec.memory_mb)

    def _remove_job_containers(self, job_id: str) -> None:
        try:
            for container in self.left_containers(job_id):
                container.remove(force=True)
        except (DockerException, OSError) as exc:  # a restart finds what is left by its label
            log.warning("could not remove the containers of job %s: %s", job_id, exc)

    def left_containers(self, job_id: str | None = None) -> list[Any]:
        labels = [f"{SERVICE_LABEL}={self.instance}"] + ([f"{JOB_LABEL}={job_id}"] if job_id else [])
        return list(self.client.containers.list(all=True, filters={"label": labels}))

    def stop_left_run(self, job: Job, grace_s: float, poll_s: float) -> bool:
        """Stop (docker stop: SIGTERM, SIGKILL after the grace) what a previous service left running of `job`,
        keep the logs it wrote since that service stopped copying them, and remove the container."""
        found = False
        for container in self.left_containers(job.id):
            if container.status in ("running", "restarting", "paused"):
                container.stop(timeout=math.ceil(grace_s))
                found = True
            for path, is_out in ((job.stdout_path, True), (job.stderr_path, False)):
                # what the old copier wrote ends at the file's mtime; seconds of overlap are the price
                since = path.stat().st_mtime if path.exists() else None
                _copy_logs(container, path, is_out, since=since)
            with contextlib.suppress(NotFound):  # removed by hand meanwhile
                container.remove(force=True)
        return found

    def health(self) -> dict[str, Any]:
        try:
            self.client.ping()
        except (DockerException, OSError) as exc:
            return {"ok": False, "docker": f"unreachable: {exc}", "image": self.spec.image}
        return {"ok": True, "docker": "ok", "image": self.spec.image, "instance": self.instance}


def check_daemon(docker_url: str | None) -> Any:
    """A client of a daemon that answered, else RuntimeError saying which daemon did not."""
    where = docker_url or os.environ.get("DOCKER_HOST") or "the local docker socket"
    try:
        client = connect(docker_url)
        client.ping()
    except (DockerException, OSError) as exc:
        raise RuntimeError(f"job runner docker: the docker daemon at {where} does not answer: {exc}") from None
    return client


def make_container_launcher(spec: ContainerSpec, docker_url: str | None) -> ContainerLauncher:
    """A launcher whose daemon answered (the service does not start without one: RuntimeError)."""
    return ContainerLauncher(check_daemon(docker_url), spec)
