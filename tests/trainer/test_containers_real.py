"""The docker job runner against the real daemon: each job in a container of the local base image, the
stand-in trainer (fake_train.py) mounted into it. Success, a crash, a blown memory limit (and the service
carrying on), a cancel, and a restart that finds the container its predecessor left running."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.settings import TrainerServiceSettings
from services.trainer.app import create_app
from services.trainer.containers import JOB_LABEL, ContainerLauncher
from services.trainer.jobs import Job, JobRunner, JobStatus, JobStore
from tests.helpers.servers import serve
from tests.trainer.conftest import BASE_IMAGE, FAKE, STAND_IN, container_command, remove_labelled, wait_for

pytestmark = pytest.mark.docker
RunnerFactory = Callable[..., JobRunner]


def _status(runner: JobRunner, job_id: str) -> JobStatus:
    return runner.get(job_id).status


def _containers_of(client: Any, job_id: str) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": f"{JOB_LABEL}={job_id}"}))


def test_a_job_container_runs_to_success(make_container_runner: RunnerFactory, docker_client: Any) -> None:
    runner = make_container_runner(step_s=0.1)
    job = runner.submit("production", {"steps": 5})
    wait_for(lambda: runner.get(job.id).container, timeout_s=120, what="the job's container")
    container = docker_client.containers.get(runner.get(job.id).container)
    assert container.labels[JOB_LABEL] == job.id and container.attrs["HostConfig"]["Memory"] == 256 << 20
    wait_for(lambda: _status(runner, job.id) == JobStatus.SUCCEEDED, timeout_s=120, what="success")
    done = runner.get(job.id)
    assert done.exit_code == 0 and done.error is None
    assert [r["step"] for r in runner.rows(job.id)] == [1, 2, 3, 4, 5]
    assert done.summary == {"method": "gspo", "recipe": "production", "steps": 5, "stopped_early": False}
    assert "overrides {'steps': 5}" in done.stdout_path.read_text()  # the container's stdout, in the job's log
    assert _containers_of(docker_client, job.id) == []  # removed once its result was read


def test_a_crashing_run_fails_with_its_stderr(make_container_runner: RunnerFactory, docker_client: Any) -> None:
    runner = make_container_runner("--crash-at", "2")
    job = runner.submit("production", {"steps": 5})
    wait_for(lambda: _status(runner, job.id) == JobStatus.FAILED, timeout_s=120, what="failure")
    done = runner.get(job.id)
    assert done.exit_code == 3
    assert done.error == "exit code 3: step 2: something broke\nRuntimeError: stand-in crash"
    assert [r["step"] for r in runner.rows(job.id)] == [1, 2]
    assert _containers_of(docker_client, job.id) == []


def test_a_run_over_its_memory_limit_fails_and_the_service_runs_the_next(tmp_path: Path, docker_client: Any) -> None:
    settings = TrainerServiceSettings(
        home=tmp_path, job_runner="docker", job_image=BASE_IMAGE, job_memory_mb=64, job_gpus="none",
        job_network="none", job_mounts=f"{FAKE.parent}:{STAND_IN}:ro", cancel_grace_s=5.0,
    )  # fmt: skip
    # --eat-mb only where steps is 1: the second job, same command, fits its limit.
    command = ["sh", "-c", 'case "$*" in *\'"steps": 1\'*) e=256;; *) e=0;; esac; exec "$0" "$@" --eat-mb $e',
               *container_command()]  # fmt: skip
    app = create_app(settings, command=command)
    try:
        with serve(app) as url, httpx.Client(base_url=url, timeout=30) as http:
            health = http.get("/healthz").json()
            assert health["job_runner"] == "docker" and health["docker"] == "ok" and health["status"] == "ok"
            hog = http.post("/v1/jobs", json={"recipe": "production", "overrides": {"steps": 1}}).json()["id"]
            ok = http.post("/v1/jobs", json={"recipe": "production", "overrides": {"steps": 2}}).json()["id"]

            def status(job_id: str) -> str:
                state: str = http.get(f"/v1/jobs/{job_id}").json()["status"]
                return state

            wait_for(lambda: status(ok) in ("succeeded", "failed"), timeout_s=200, what="both jobs")
            failed = http.get(f"/v1/jobs/{hog}").json()
            assert failed["status"] == "failed" and failed["exit_code"] == 137
            assert failed["error"].startswith("killed: out of memory (limit 64 MiB): eating 256 MiB")
            assert status(ok) == "succeeded"
            assert http.get("/readyz").status_code == 200 and http.get("/healthz").json()["status"] == "ok"
            assert _containers_of(docker_client, hog) == [] and _containers_of(docker_client, ok) == []
    finally:
        remove_labelled(docker_client, settings.jobs_root)


def test_cancel_a_running_container(make_container_runner: RunnerFactory, docker_client: Any) -> None:
    runner = make_container_runner(step_s=0.2)
    job = runner.submit("production", {"steps": 200})
    wait_for(lambda: runner.rows(job.id), timeout_s=120, what="a first row")
    (container,) = _containers_of(docker_client, job.id)
    host = container.attrs["HostConfig"]  # hardened: no capabilities, no privilege gain, capped logs, our uid
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "50m", "max-file": "3"}}
    assert container.attrs["Config"]["User"] == f"{os.getuid()}:{os.getgid()}"
    runner.cancel(job.id)
    wait_for(lambda: _status(runner, job.id) == JobStatus.CANCELLED, timeout_s=60, what="cancelled")
    done = runner.get(job.id)
    # SIGTERM reached the run through the container's init: it checkpointed and exited by itself
    assert done.exit_code == 143 and "checkpoint saved" in done.stderr_path.read_text()
    assert done.summary is not None and done.summary["stopped_early"]
    assert _containers_of(docker_client, job.id) == []


def test_a_restart_stops_the_left_container_and_resumes(
    make_container_runner: RunnerFactory, docker_client: Any, tmp_path: Path
) -> None:
    # What a SIGKILLed service leaves: job.json says running, its container still runs, nobody copies its logs.
    jobs_root = tmp_path / "jobs"
    store = JobStore(jobs_root)
    job = Job("job-left", 3, "production", {"steps": 8}, dir=store.job_dir("job-left"), status=JobStatus.RUNNING)
    job.out_dir.mkdir(parents=True)
    probe = make_container_runner()  # only for its launcher's settings (same jobs dir: same instance label)
    probe.close()
    launcher = probe.launcher
    assert isinstance(launcher, ContainerLauncher)
    probe.command = tuple(container_command(step_s=0.1))
    args = launcher.create_args(job, probe.command_for(job), {})
    left = docker_client.containers.run(**args)
    job.container = left.id
    store.save(job)
    wait_for(lambda: (job.checkpoint_dir / "latest.json").exists(), timeout_s=120, what="the left run's checkpoint")

    runner = make_container_runner(step_s=0.02)
    assert runner.get(job.id).resumed and runner.get(job.id).restarts == 1
    wait_for(lambda: _status(runner, job.id) == JobStatus.SUCCEEDED, timeout_s=120, what="the resumed job")
    done = runner.get(job.id)
    assert done.resumed_from_checkpoint and done.container != left.id
    assert [r["step"] for r in runner.rows(job.id)] == list(range(1, 9))
    # the left container got SIGTERM (it checkpointed: its stderr was kept) and is gone, as is the new one
    assert "SIGTERM: checkpoint saved" in done.stderr_path.read_text()
    assert _containers_of(docker_client, job.id) == []
    assert json.loads((job.dir / "job.json").read_text())["status"] == "succeeded"
