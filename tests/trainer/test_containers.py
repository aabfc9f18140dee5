"""The docker job runner's edges against a fake docker client (tests/trainer/fake_docker.py): what each
container is asked for, a blown memory limit, cancel with and without a run that honours SIGTERM, a
restart that finds a labelled container, a command the image lacks, health. The real daemon:
test_containers_real.py."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.cli import main
from services.common.settings import TrainerServiceSettings
from services.trainer.containers import JOB_LABEL, SERVICE_LABEL, ContainerLauncher, ContainerSpec, service_instance
from services.trainer.jobs import Job, JobRunner, JobStatus, JobStore
from services.trainer.service import TrainerService
from tests.trainer.conftest import wait_for
from tests.trainer.fake_docker import FakeClient, FakeContainer, Plan

CMD = ("cppforge", "train")
Factory = Callable[..., tuple[JobRunner, FakeClient]]


@pytest.fixture
def fake_runner(tmp_path: Path) -> Iterator[Factory]:
    started: list[JobRunner] = []

    def make(*plans: Plan, client: FakeClient | None = None, grace_s: float = 0.3) -> tuple[JobRunner, FakeClient]:
        client = client or FakeClient(*plans)
        spec = ContainerSpec(image="trainer:test", jobs_root=tmp_path / "jobs", memory_mb=64, gpus="none")
        runner = JobRunner(
            JobStore(tmp_path / "jobs"), command=CMD, grace_s=grace_s, poll_s=0.01,
            launcher=ContainerLauncher(client, spec),
        )  # fmt: skip
        runner.start()
        started.append(runner)
        return runner, client

    yield make
    for runner in started:
        runner.close()


def _done(runner: JobRunner, job_id: str) -> Job:
    wait_for(lambda: runner.get(job_id).status not in (JobStatus.QUEUED, JobStatus.RUNNING), what="the job's end")
    return runner.get(job_id)


def test_what_a_job_container_is_asked_for(tmp_path: Path) -> None:
    spec = ContainerSpec(
        image="trainer:1", jobs_root=tmp_path / "jobs", jobs_source="cppforge-jobs", memory_mb=512, cpus=1.5,
        pids_limit=100, mounts=("cppforge-models:/models:ro",), gpus="none", network="bridge", user="1000:1000",
    )  # fmt: skip
    launcher = ContainerLauncher(FakeClient(), spec)
    job = Job("job-a", 0, "grpo", {}, dir=tmp_path / "jobs" / "job-a")
    env = {"CPPFORGE_VERIFIER_URL": "http://127.0.0.1:8001", "CPPFORGE_API_KEYS": "k:free",
           "CPPFORGE_JOB_IMAGE": "x", "PATH": "/usr/bin", "PYTHONUNBUFFERED": "1", "HOME": "/root"}  # fmt: skip
    args = launcher.create_args(job, [*CMD, "--out", str(job.out_dir)], env)
    assert args["image"] == "trainer:1" and args["command"] == ["cppforge", "train", "--out", str(job.out_dir)]
    assert args["environment"] == {"CPPFORGE_VERIFIER_URL": "http://127.0.0.1:8001", "PYTHONUNBUFFERED": "1"}
    assert args["labels"] == {JOB_LABEL: "job-a", SERVICE_LABEL: service_instance(tmp_path / "jobs")}
    assert args["volumes"] == {
        "cppforge-jobs": {"bind": str(tmp_path / "jobs"), "mode": "rw"},  # the same path inside as out here
        "cppforge-models": {"bind": "/models", "mode": "ro"},
    }
    assert args["mem_limit"] == args["memswap_limit"] == "512m" and args["nano_cpus"] == 1_500_000_000
    assert args["pids_limit"] == 100 and args["user"] == "1000:1000" and args["network_mode"] == "bridge"
    assert args["init"] and args["detach"] and args["device_requests"] == []
    assert args["working_dir"] == str(job.dir)
    assert args["cap_drop"] == ["ALL"] and args["security_opt"] == ["no-new-privileges"]
    log_config = args["log_config"]
    assert log_config["Type"] == "json-file" and log_config["Config"] == {"max-size": "50m", "max-file": "3"}


def test_runs_run_as_the_services_user_on_a_bind_mounted_jobs_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.trainer.service import make_launcher

    ours = f"{os.getuid()}:{os.getgid()}"
    monkeypatch.delenv("CPPFORGE_JOB_USER", raising=False)
    assert TrainerServiceSettings(home=tmp_path).job_container_user == ours  # the jobs dir itself
    assert TrainerServiceSettings(home=tmp_path, job_volume="/srv/jobs").job_container_user == ours
    assert TrainerServiceSettings(home=tmp_path, job_volume="cppforge-jobs").job_container_user is None
    monkeypatch.setenv("CPPFORGE_JOB_USER", "1234:5678")
    settings = TrainerServiceSettings(home=tmp_path, job_runner="docker", job_volume="cppforge-jobs")
    assert settings.job_container_user == "1234:5678"
    with pytest.raises(ValueError, match="CPPFORGE_JOB_USER"):
        TrainerServiceSettings(home=tmp_path, job_user="1000:1000 --privileged")
    monkeypatch.setattr("services.trainer.containers.connect", lambda url, timeout_s=60.0: FakeClient())
    launcher, _ = make_launcher(settings)
    job = Job("job-u", 0, "grpo", {}, dir=settings.jobs_root / "job-u")
    assert launcher.create_args(job, ["cppforge", "train"], {})["user"] == "1234:5678"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("mode", "runtimes", "gpus"),
    [("auto", ("runc", "nvidia"), 1), ("auto", ("runc",), 0), ("none", ("nvidia",), 0), ("all", ("runc",), 1)],
)
def test_gpus_are_requested_when_the_host_has_them(
    tmp_path: Path, mode: str, runtimes: tuple[str, ...], gpus: int
) -> None:
    spec = ContainerSpec(image="t", jobs_root=tmp_path, gpus=mode)  # type: ignore[arg-type]
    requests = ContainerLauncher(FakeClient(runtimes=runtimes), spec).device_requests()
    assert len(requests) == gpus
    if gpus:
        assert requests[0]["Count"] == -1 and requests[0]["Capabilities"] == [["gpu"]]


def test_out_of_memory_fails_the_job_and_the_next_one_runs(fake_runner: Factory) -> None:
    runner, client = fake_runner(Plan(exit=137, oom=True, err=b"allocating the batch\n"), Plan(exit=0, out=b"ok\n"))
    hog = runner.submit("production", {"steps": 1})
    fine = runner.submit("production", {"steps": 1})
    done = _done(runner, hog.id)
    assert done.status == JobStatus.FAILED and done.exit_code == 137
    assert done.error == "killed: out of memory (limit 64 MiB): allocating the batch"
    assert _done(runner, fine.id).status == JobStatus.SUCCEEDED and runner.alive
    assert runner.get(fine.id).stdout_path.read_text() == "ok\n"
    assert client.containers.items == []  # each removed once its result was read
    assert [c.calls for c in client.containers.created] == [["remove"], ["remove"]]


def test_an_exit_137_without_oom_is_not_called_out_of_memory(fake_runner: Factory) -> None:
    runner, _ = fake_runner(Plan(exit=137, err=b"bye\n"))
    done = _done(runner, runner.submit("production", {}).id)
    assert done.error == "exit code 137: bye"


@pytest.mark.parametrize(("obeys", "signals", "code"), [(True, ["SIGTERM"], 143), (False, ["SIGTERM", "SIGKILL"], 137)])
def test_cancel_terms_then_kills_after_the_grace(
    fake_runner: Factory, obeys: bool, signals: list[str], code: int
) -> None:
    runner, client = fake_runner(Plan(exit=None, obeys_term=obeys))
    job = runner.submit("production", {})
    wait_for(lambda: runner.get(job.id).container, what="the container")
    runner.cancel(job.id)
    done = _done(runner, job.id)
    assert done.status == JobStatus.CANCELLED and done.exit_code == code
    assert client.containers.created[0].calls == [*signals, "remove"] and client.containers.items == []


def _left(client: FakeClient, job: Job, instance: str, status: str = "running") -> FakeContainer:
    container = FakeContainer(client, {"labels": {JOB_LABEL: job.id, SERVICE_LABEL: instance}}, Plan(exit=None))
    container.plan.err = b"SIGTERM: checkpoint saved at step 2\n"
    container.attrs["State"]["Status"] = status
    client.containers.items.append(container)
    return container


def test_a_restart_stops_its_left_container_and_resumes(fake_runner: Factory, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs")
    job = Job("job-left", 0, "production", {}, dir=store.job_dir("job-left"), status=JobStatus.RUNNING)
    job.checkpoint_dir.mkdir(parents=True)
    (job.checkpoint_dir / "latest").write_text("step-000002")
    job.stderr_path.write_text("step 1\n")  # what the dead service's copier wrote
    store.save(job)
    client = FakeClient()
    ours = _left(client, job, service_instance(tmp_path / "jobs"))
    others = _left(client, job, "trainer-another")  # another service's (another jobs dir): not ours to stop
    runner, _ = fake_runner(client=client, grace_s=2.5)
    done = _done(runner, job.id)
    assert done.status == JobStatus.SUCCEEDED and done.resumed and done.resumed_from_checkpoint
    assert ours.calls == ["stop:3", "remove"] and others.calls == [] and others.status == "running"
    assert ours.log_since[0] is None  # no stdout.log yet: all of it
    assert ours.log_since[1] is not None  # stderr: only what came after the old copier's last write
    assert done.stderr_path.read_text().startswith("step 1\nSIGTERM: checkpoint saved at step 2\n")
    assert "--resume" in client.containers.created[0].args["command"]


def test_a_left_container_that_finished_is_not_run_again(fake_runner: Factory, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs")
    job = Job("job-done", 0, "production", {}, dir=store.job_dir("job-done"), status=JobStatus.RUNNING)
    job.out_dir.mkdir(parents=True)
    (job.out_dir / "summary.json").write_text(json.dumps({"steps": 2}))
    store.save(job)
    client = FakeClient()
    left = _left(client, job, service_instance(tmp_path / "jobs"), status="exited")
    runner, _ = fake_runner(client=client)
    wait_for(lambda: runner.get(job.id).status == JobStatus.SUCCEEDED, what="settled")
    assert left.calls == ["remove"] and client.containers.created == [] and runner.get(job.id).container is None


def test_a_command_the_image_lacks_fails_the_job_and_leaves_no_container(fake_runner: Factory) -> None:
    runner, client = fake_runner(Plan(fails_to_start=True), Plan())
    bad = _done(runner, runner.submit("production", {}).id)
    assert bad.status == JobStatus.FAILED and "could not be started: " in (bad.error or "")
    assert _done(runner, runner.submit("production", {}).id).status == JobStatus.SUCCEEDED
    assert client.containers.items == []


def test_health_says_the_runner_and_whether_the_daemon_answers(tmp_path: Path) -> None:
    settings = TrainerServiceSettings(home=tmp_path, job_runner="docker")
    client = FakeClient()
    launcher = ContainerLauncher(client, ContainerSpec(image="trainer:test", jobs_root=settings.jobs_root))
    service = TrainerService(settings, launcher=launcher)
    service.start()
    try:
        health = service.health()
        assert health["status"] == "ok" and health["job_runner"] == "docker" and health["docker"] == "ok"
        client.down = True
        health = service.health()
        assert health["status"] == "not_ready" and health["docker"].startswith("unreachable: ")
        assert not service.ready()
    finally:
        service.close()


def test_job_mounts_are_checked() -> None:
    TrainerServiceSettings(job_mounts="models:/models:ro, /data:/data")
    with pytest.raises(ValueError, match="CPPFORGE_JOB_MOUNTS: 'models' is not SOURCE:/TARGET"):
        TrainerServiceSettings(job_mounts="models")


def test_job_runner_is_the_trainers_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "verifier", "--job-runner", "docker"]) == 2
    assert "--job-runner is the trainer's option" in capsys.readouterr().err


def test_serve_trainer_with_docker_and_no_daemon_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CPPFORGE_HOME", str(tmp_path))
    monkeypatch.setenv("CPPFORGE_DOCKER_URL", f"unix://{tmp_path}/no-docker.sock")
    assert main(["serve", "trainer", "--job-runner", "docker"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"cppforge: error: job runner docker: the docker daemon at unix://{tmp_path}/no-docker.sock")
    assert "does not answer" in err and err.count("\n") == 1


def test_a_left_run_that_cannot_be_checked_fails_its_job_not_the_runner(fake_runner: Factory, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs")
    job = Job("job-unsure", 0, "production", {}, dir=store.job_dir("job-unsure"), status=JobStatus.RUNNING)
    store.save(job)
    client = FakeClient()

    def daemon_gone(**kwargs: object) -> list[FakeContainer]:
        raise OSError("connection refused")

    client.containers.list = daemon_gone  # type: ignore[method-assign]
    runner, _ = fake_runner(client=client)
    done = _done(runner, job.id)
    assert done.status == JobStatus.FAILED and "could not be checked or stopped: connection refused" in (
        done.error or ""
    )
    assert _done(runner, runner.submit("production", {}).id).status == JobStatus.SUCCEEDED and runner.alive


def test_a_daemon_hiccup_while_a_run_goes_on_is_waited_out(fake_runner: Factory) -> None:
    runner, client = fake_runner(Plan(exit=None))
    job = runner.submit("production", {})
    wait_for(lambda: runner.get(job.id).container, what="the container")
    container = client.containers.created[0]
    answer = container.reload

    def no_answer() -> None:
        raise OSError("read timed out")

    container.reload = no_answer  # type: ignore[method-assign]
    time.sleep(0.1)  # polls that get no answer
    assert runner.get(job.id).status == JobStatus.RUNNING
    container.reload = answer  # type: ignore[method-assign]
    container.exit(0)
    assert _done(runner, job.id).status == JobStatus.SUCCEEDED and client.containers.items == []
