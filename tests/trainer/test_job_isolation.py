"""What one trainer job cannot do to the service or to other jobs: send the service's inference key to a
host of its choosing, share a jobs dir with a second runner, or replace another run's rollout policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.trainer.config import INFERENCE_KEY_ENV, INFERENCE_URL_ENV, inference_key_from_env
from services.trainer.jobs import JobRunner, JobsDirBusyError, JobStatus, JobStore
from services.trainer.run import adapter_name

from .conftest import RunnerFactory, fake_command, wait_for


@pytest.mark.parametrize(
    ("own", "asked", "sent"),
    [
        ("http://127.0.0.1:8002", "http://127.0.0.1:8002", True),
        ("http://127.0.0.1:8002", "http://127.0.0.1:8002/", True),  # a trailing slash is the same service
        ("http://Inference:80/", "http://inference", True),  # the scheme's port, case of the host
        ("https://inf.example/api", "https://inf.example:443/api/", True),
        ("http://127.0.0.1:8002", "http://attacker.example:8002", False),
        ("http://127.0.0.1:8002", "http://127.0.0.1:8003", False),
        ("http://127.0.0.1:8002", "https://127.0.0.1:8002", False),
        ("http://127.0.0.1:8002", "http://127.0.0.1:8002/other", False),
        ("http://127.0.0.1:8002", "http://127.0.0.1:8002@attacker.example", False),
        ("http://127.0.0.1:8002", "", False),
        (None, "http://127.0.0.1:8002", True),  # unset: the service's default URL
        (None, "http://10.0.0.9:8002", False),
    ],
)
def test_the_env_key_goes_only_to_the_services_own_inference_url(
    monkeypatch: pytest.MonkeyPatch, own: str | None, asked: str, sent: bool
) -> None:
    monkeypatch.setenv(INFERENCE_KEY_ENV, "the-admin-key")
    if own is None:
        monkeypatch.delenv(INFERENCE_URL_ENV, raising=False)
    else:
        monkeypatch.setenv(INFERENCE_URL_ENV, own)
    assert inference_key_from_env(asked) == ("the-admin-key" if sent else "")


def test_no_env_key_is_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INFERENCE_KEY_ENV, raising=False)
    monkeypatch.setenv(INFERENCE_URL_ENV, "http://127.0.0.1:8002")
    assert inference_key_from_env("http://127.0.0.1:8002") == ""


def test_a_second_runner_on_the_jobs_dir_refuses_and_the_first_job_goes_on(
    make_runner: RunnerFactory, tmp_path: Path
) -> None:
    first = make_runner(step_s=0.05)
    job = first.submit("production", {"steps": 20})
    wait_for(lambda: first.rows(job.id), what="a first row")
    second = JobRunner(JobStore(tmp_path / "jobs"), command=fake_command(), poll_s=0.02)
    with pytest.raises(JobsDirBusyError) as refused:
        second.start()
    message = str(refused.value)
    assert str(tmp_path / "jobs") in message and "(pid " in message and "another trainer service" in message
    assert second._thread is None  # (nothing recovered, nothing started)
    wait_for(lambda: first.get(job.id).status == JobStatus.SUCCEEDED, timeout_s=20, what="the first job")
    done = first.get(job.id)
    assert not done.resumed and done.restarts == 0 and [r["step"] for r in first.rows(job.id)] == list(range(1, 21))
    assert json.loads((job.dir / "job.json").read_text())["status"] == "succeeded"
    assert not list(job.dir.glob("*.tmp"))  # each write's temp file was renamed into place

    first.close()  # released: a restart on the same dir starts
    second.start()
    try:
        assert second.get(job.id).status == JobStatus.SUCCEEDED
    finally:
        second.close()


def test_each_jobs_run_pushes_its_adapter_under_its_own_name(tmp_path: Path) -> None:
    a, b = tmp_path / "job-20261207-120000-aaaaaa" / "run", tmp_path / "job-20261207-120000-bbbbbb" / "run"
    assert adapter_name(a) == "cppforge-train-job-20261207-120000-aaaaaa"
    assert adapter_name(a) != adapter_name(b)
    assert adapter_name(tmp_path / "my.run") == "cppforge-train-my-run"  # the inference service refuses dots
    long = adapter_name(tmp_path / ("x" * 100))
    assert len(long) == 64 and long.startswith("cppforge-train-x")
