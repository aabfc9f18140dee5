"""Every job that succeeds registers its adapter as a draft named after the job (fake_train.py plays the run
and copies a PEFT-shaped safetensors adapter to run/adapter, as `cppforge train` saves its own)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from services.common.settings import TrainerServiceSettings
from services.trainer.app import create_app
from services.trainer.jobs import Job, JobRunner, JobStatus, JobStore
from services.trainer.registry import Status, load_adapter_artifact
from tests.helpers.registry import fake_adapter, fake_base_model
from tests.helpers.servers import serve
from tests.trainer.conftest import fake_command, wait_for


@pytest.fixture
def runner_with(tmp_path: Path) -> Iterator[Callable[..., JobRunner]]:
    started: list[JobRunner] = []

    def make(*flags: str) -> JobRunner:
        runner = JobRunner(
            JobStore(tmp_path / "jobs"), command=fake_command(*flags, step_s=0.02), grace_s=2.0, poll_s=0.02,
            registry_root=tmp_path / "registry",
        )  # fmt: skip
        runner.start()
        started.append(runner)
        return runner

    yield make
    for runner in started:
        runner.close()


def _done(runner: JobRunner, job_id: str) -> Job:
    wait_for(lambda: runner.get(job_id).status == JobStatus.SUCCEEDED, timeout_s=20, what=f"job {job_id}")
    return runner.get(job_id)


def test_a_finished_job_shows_up_as_a_draft(runner_with: Callable[..., JobRunner], tmp_path: Path) -> None:
    base = fake_base_model(tmp_path / "base")
    adapter = fake_adapter(tmp_path / "trained", seed=4)
    runner = runner_with("--adapter-from", str(adapter))
    gspo = runner.submit("production", {"steps": 2, "model": str(base)})
    dcd = runner.submit("distill", {"steps": 1, "model": str(base), "dcd": True})
    job = _done(runner, gspo.id)
    assert (job.registry_name, job.registry_warning) == (gspo.id, None)
    art = load_adapter_artifact(gspo.id, root=tmp_path / "registry")
    assert art.status == Status.DRAFT and art.training_method == "gspo" and art.base_model == str(base.resolve())
    assert art.metrics == {"method": "gspo", "recipe": "production", "steps": 2, "stopped_early": False}
    assert art.config["recipe"] == "production" and art.config["steps"] == 2 and art.config["lr"] == 1e-3
    assert (art.path / "adapter_model.safetensors").read_bytes() == (adapter / "adapter_model.safetensors").read_bytes()
    on_disk = JobStore(tmp_path / "jobs").load_all()
    assert {j.id: j.registry_name for j in on_disk}[gspo.id] == gspo.id  # the job record keeps it
    assert _done(runner, dcd.id).registry_name == dcd.id
    assert load_adapter_artifact(dcd.id, root=tmp_path / "registry").training_method == "dcd"  # distill + dcd


def test_a_job_whose_adapter_cannot_be_registered_still_succeeds(
    runner_with: Callable[..., JobRunner], tmp_path: Path
) -> None:
    runner = runner_with()  # the run leaves no adapter/
    job = _done(runner, runner.submit("production", {"steps": 1}).id)
    assert job.exit_code == 0 and job.registry_name is None
    missing = job.out_dir / "adapter"
    assert job.registry_warning == f"adapter not registered: adapter dir {missing} does not exist or is not a directory"


def test_registration_is_idempotent_for_the_same_weights(tmp_path: Path) -> None:
    """A service that died after registering a job but before saving its state registers it again on restart."""
    base = fake_base_model(tmp_path / "base")
    runner = JobRunner(JobStore(tmp_path / "jobs"), registry_root=tmp_path / "registry")
    job = Job("job-x", 0, "production", {"model": str(base)}, dir=tmp_path / "jobs" / "job-x")
    fake_adapter(job.out_dir / "adapter", seed=1)
    assert runner._register(job) == ("job-x", None)
    assert runner._register(job) == ("job-x", None)
    fake_adapter(job.out_dir / "adapter", seed=2)  # other weights under a taken name: refused
    name, warning = runner._register(job)
    assert name is None and warning == "adapter not registered: an adapter named 'job-x' is already registered"


def test_the_jobs_api_shows_the_registry_name(tmp_path: Path) -> None:
    base = fake_base_model(tmp_path / "base")
    adapter = fake_adapter(tmp_path / "trained")
    settings = TrainerServiceSettings(home=tmp_path, cancel_grace_s=2.0)  # the registry: $CPPFORGE_HOME/registry
    app = create_app(settings, command=fake_command("--adapter-from", str(adapter), step_s=0.02))
    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        job_id = http.post("/v1/jobs", json={"overrides": {"steps": 1}, "model": str(base)}).json()["id"]
        wait_for(lambda: http.get(f"/v1/jobs/{job_id}").json()["status"] == "succeeded", timeout_s=20, what="success")
        body = http.get(f"/v1/jobs/{job_id}").json()
    assert body["registry_name"] == job_id and body["registry_warning"] is None
    assert load_adapter_artifact(job_id, root=tmp_path / "registry").status == Status.DRAFT
