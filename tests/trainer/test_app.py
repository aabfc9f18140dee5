"""The trainer jobs service over real HTTP (uvicorn on a loopback port), runs played by fake_train.py."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.settings import TrainerServiceSettings
from services.trainer import procs
from services.trainer.app import create_app
from tests.helpers.servers import free_port, serve
from tests.trainer.conftest import fake_command, wait_for

ROOT = Path(__file__).resolve().parents[2]
Serve = Callable[..., contextlib.AbstractContextManager[httpx.Client]]


@pytest.fixture
def serve_trainer(tmp_path: Path) -> Serve:
    @contextlib.contextmanager
    def run(*flags: str, api_keys: str | None = None, step_s: float = 0.05) -> Iterator[httpx.Client]:
        settings = TrainerServiceSettings(home=tmp_path, api_keys=api_keys, cancel_grace_s=2.0)
        app = create_app(settings, command=fake_command(*flags, step_s=step_s))
        with serve(app) as url, httpx.Client(base_url=url, timeout=10) as http:
            yield http

    return run


def _job(http: httpx.Client, job_id: str) -> dict[str, Any]:
    r = http.get(f"/v1/jobs/{job_id}")
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def _error(r: httpx.Response, status: int) -> dict[str, Any]:
    """The error body, after checking the inference service's OpenAI shape."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json") and "Traceback" not in r.text
    body: dict[str, Any] = r.json()["error"]
    assert set(body) == {"message", "type", "param", "code"} and body["message"]
    return body


def test_submit_watch_and_finish(serve_trainer: Serve, tmp_path: Path) -> None:
    with serve_trainer(step_s=0.15) as http:
        r = http.post("/v1/jobs", json={"recipe": "grpo", "overrides": {"steps": "6", "lr": 1}, "model": "/m"})
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["status"] == "queued" and job["recipe"] == "grpo" and job["object"] == "training.job"
        assert job["overrides"] == {"steps": 6, "lr": 1.0, "model": "/m"}  # typed by TrainConfig
        assert job["out_dir"].startswith(str(tmp_path / "trainer" / "jobs")) and job["latest"] is None

        wait_for(lambda: _job(http, job["id"])["step"], what="a first step over HTTP")
        running = _job(http, job["id"])
        assert running["status"] == "running" and running["started_at"] is not None and running["pid"]
        assert running["latest"]["step"] == running["step"] and "reward_mean" in running["latest"]
        scrape = http.get("/metrics").text
        assert f'cppforge_trainer_running_step{{job="{job["id"]}"}}' in scrape
        assert 'cppforge_trainer_jobs{status="running"} 1.0' in scrape

        wait_for(lambda: _job(http, job["id"])["status"] == "succeeded", what="success")
        done = _job(http, job["id"])
        assert done["step"] == 6 and done["exit_code"] == 0 and done["error"] is None
        assert done["summary"] == {"method": "gspo", "recipe": "grpo", "steps": 6, "stopped_early": False}
        rows = http.get(f"/v1/jobs/{job['id']}/metrics").json()
        assert [r["step"] for r in rows["data"]] == [1, 2, 3, 4, 5, 6] and rows["step"] == 6
        later = http.get(f"/v1/jobs/{job['id']}/metrics", params={"since": 4}).json()
        assert [r["step"] for r in later["data"]] == [5, 6]
        listed = http.get("/v1/jobs").json()
        assert listed["object"] == "list" and [j["id"] for j in listed["data"]] == [job["id"]]
        assert http.get("/v1/jobs", params={"status": "running"}).json()["data"] == []
        scrape = http.get("/metrics").text
        assert 'cppforge_trainer_jobs{status="succeeded"} 1.0' in scrape
        assert "cppforge_trainer_queue_depth 0.0" in scrape and "cppforge_trainer_running_step{" not in scrape
        assert 'cppforge_trainer_requests_total{endpoint="/v1/jobs/{job_id}",status="200"}' in scrape


def test_fifo_over_http(serve_trainer: Serve) -> None:
    with serve_trainer(step_s=0.2) as http:
        ids = [http.post("/v1/jobs", json={"overrides": {"steps": 3, "seed": i}}).json()["id"] for i in range(3)]
        # the first takes ~0.6 s: still running (or about to start) while the others wait their turn
        assert [_job(http, i)["queue_position"] for i in ids[1:]] == [0, 1]
        wait_for(lambda: all(_job(http, i)["status"] == "succeeded" for i in ids), timeout_s=20, what="all")
        jobs = [_job(http, i) for i in ids]
        assert all(b["started_at"] >= a["finished_at"] for a, b in itertools.pairwise(jobs))


@pytest.mark.parametrize(
    ("body", "param", "needle"),
    [
        ({"recipe": "nope"}, "recipe", "unknown recipe"),
        ({"overrides": {"lrr": 0.1}}, "overrides.lrr", "not a TrainConfig field"),
        ({"overrides": {"lr": "fast"}}, "overrides.lr", "lr must be a number"),
        ({"overrides": {"group_size": 1}}, "overrides.group_size", "group_size must be at least 2"),
        ({"overrides": {"lora": "maybe"}}, "overrides.lora", "true or false"),
        ({"overrides": {"steps": [1]}}, "overrides.steps", "integer"),
        ({"overrides": {}}, "overrides.steps", "give a budget"),
        ({"overrides": {"steps": 0, "minutes": 0}}, "overrides.steps", "give a budget"),
        ({"overrides": {"steps": 1, "lr": "inf"}}, "overrides.lr", "finite"),
        ({"overrides": {"steps": 1, "kl_coeff": "nan"}}, "overrides.kl_coeff", "finite"),
        ({"model": "/a", "overrides": {"model": "/b"}}, "model", "both"),
        ({"recipes": "grpo"}, "recipes", "unsupported parameter: recipes"),
        ({"overrides": "steps=3"}, "overrides", "dictionary"),
        # Overrides are readable by every caller: the service's own key goes through its environment.
        (
            {"overrides": {"steps": 1, "inference_api_key": "sk"}},
            "overrides.inference_api_key",
            "set CPPFORGE_INFERENCE_API_KEY on the trainer service",
        ),
    ],
)
def test_bad_requests_are_400_naming_the_field(
    serve_trainer: Serve, body: dict[str, Any], param: str, needle: str
) -> None:
    with serve_trainer() as http:
        error = _error(http.post("/v1/jobs", json=body), 400)
        assert error["param"] == param and error["type"] == "invalid_request_error"
        assert needle in error["message"], error["message"]
        assert http.get("/v1/jobs").json()["data"] == []  # nothing was queued


def test_unknown_job_is_404(serve_trainer: Serve) -> None:
    with serve_trainer() as http:
        for r in (http.get("/v1/jobs/job-nope"), http.get("/v1/jobs/job-nope/metrics"), http.delete("/v1/jobs/x")):
            error = _error(r, 404)
            assert error["code"] == "job_not_found" and error["param"] == "job_id"


def test_cancel_queued_and_running(serve_trainer: Serve) -> None:
    with serve_trainer("--spawn-child", step_s=0.2) as http:
        running = http.post("/v1/jobs", json={"overrides": {"steps": 100}}).json()
        queued = http.post("/v1/jobs", json={"overrides": {"steps": 2}}).json()
        r = http.delete(f"/v1/jobs/{queued['id']}")
        assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["started_at"] is None

        child_pid = Path(running["out_dir"]) / "child.pid"
        wait_for(lambda: child_pid.exists() and _job(http, running["id"])["pid"], what="the run and its child")
        pid, child = _job(http, running["id"])["pid"], int(child_pid.read_text())
        r = http.delete(f"/v1/jobs/{running['id']}")
        assert r.status_code == 202 and r.json()["status"] == "running" and r.json()["cancel_requested"]
        wait_for(lambda: _job(http, running["id"])["status"] == "cancelled", what="cancelled")
        assert procs.live_group_members(pid) == []
        assert procs.proc_stat(child) is None or procs.proc_stat(child).state == "Z"  # type: ignore[union-attr]
        assert http.delete(f"/v1/jobs/{running['id']}").status_code == 200  # cancelling twice is fine

        done = http.post("/v1/jobs", json={"overrides": {"steps": 1}}).json()
        wait_for(lambda: _job(http, done["id"])["status"] == "succeeded", what="success")
        error = _error(http.delete(f"/v1/jobs/{done['id']}"), 409)
        assert error["code"] == "job_finished" and "succeeded" in error["message"]


def test_a_failure_shows_the_last_stderr_lines(serve_trainer: Serve, tmp_path: Path) -> None:
    with serve_trainer() as http:
        job = http.post("/v1/jobs", json={"dataset": str(tmp_path / "nope.jsonl"), "overrides": {"steps": 1}}).json()
        assert job["overrides"] == {"steps": 1, "dataset": str(tmp_path / "nope.jsonl")}
        wait_for(lambda: _job(http, job["id"])["status"] == "failed", what="failure")
        failed = _job(http, job["id"])
        assert failed["exit_code"] == 2 and "dataset not found" in failed["error"]


def test_api_keys(serve_trainer: Serve) -> None:
    with serve_trainer(api_keys="kfree:free,kdev:dev") as http:
        assert _error(http.get("/v1/jobs"), 401)["code"] == "invalid_api_key"
        assert _error(http.post("/v1/jobs", json={}, headers={"Authorization": "Bearer nope"}), 401)
        assert _error(http.get("/v1/jobs", headers={"Authorization": "kfree"}), 401)
        r = http.post("/v1/jobs", json={"overrides": {"steps": 1}}, headers={"Authorization": "Bearer kfree"})
        assert r.status_code == 202  # any valid key may submit
        assert http.get("/v1/jobs", headers={"Authorization": "Bearer kdev"}).json()["data"][0]["id"] == r.json()["id"]
        health = http.get("/healthz").json()  # health stays open, for probes
        assert health["auth"] == "api_keys"


def test_health_readiness_and_docs(serve_trainer: Serve, tmp_path: Path) -> None:
    with serve_trainer() as http:
        health = http.get("/healthz").json()
        assert health["status"] == "ok" and health["auth"] == "open" and health["running"] is None
        assert health["jobs_dir"] == str(tmp_path / "trainer" / "jobs")
        assert http.get("/readyz").json() == {"status": "ready"}
        paths = http.get("/openapi.json").json()["paths"]
        assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/metrics"} <= set(paths)
        assert set(paths["/v1/jobs/{job_id}"]) == {"get", "delete"}
        assert http.get("/docs").status_code == 200
        big = b"{" + b" " * (2 << 20) + b"}"
        assert _error(http.post("/v1/jobs", content=big, headers={"content-type": "application/json"}), 413)


def _start_service(jobs_dir: Path, port: int, step_s: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = str(Path(__file__).with_name("serve_fake.py"))
    proc = subprocess.Popen([sys.executable, script, str(jobs_dir), str(port), str(step_s)], env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/readyz"

    def ready() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(url, timeout=1).status_code == 200
        return False

    wait_for(ready, timeout_s=60, what="the service")
    return proc


def test_a_killed_service_resumes_its_job_on_restart(tmp_path: Path) -> None:
    jobs_dir, port = tmp_path / "jobs", free_port()
    service = _start_service(jobs_dir, port, step_s=0.3)
    try:
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        # 100 steps of 0.3 s: the run outlives the restart below by far, even on a busy machine (then 0.02 s a step)
        job = http.post("/v1/jobs", json={"overrides": {"steps": 100}}).json()
        wait_for(lambda: (_job(http, job["id"])["step"] or 0) >= 3, what="three steps")
        run_pid = _job(http, job["id"])["pid"]
        service.send_signal(signal.SIGKILL)  # no shutdown: the run (its own session) keeps going
        service.wait()
        assert procs.live_group_members(run_pid) == [run_pid]

        service = _start_service(jobs_dir, port, step_s=0.02)
        resumed = _job(http, job["id"])
        assert resumed["resumed"] and resumed["restarts"] == 1
        wait_for(lambda: _job(http, job["id"])["status"] == "succeeded", timeout_s=30, what="the resumed job")
        done = _job(http, job["id"])
        assert done["resumed_from_checkpoint"] and done["pid"] != run_pid, done
        assert procs.live_group_members(run_pid) == []  # the old run was stopped, not left beside the new one
        rows = http.get(f"/v1/jobs/{job['id']}/metrics").json()["data"]
        assert [r["step"] for r in rows] == list(range(1, 101)) and rows[-1]["resumed_from"] >= 3
    finally:
        service.terminate()
        service.wait(timeout=30)


def test_a_second_service_on_the_jobs_dir_refuses_to_start(serve_trainer: Serve, tmp_path: Path) -> None:
    with serve_trainer(step_s=0.1) as http:
        job = http.post("/v1/jobs", json={"overrides": {"steps": 30}}).json()
        wait_for(lambda: _job(http, job["id"])["step"], what="a first step")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CPPFORGE_HOME": str(tmp_path),
               "CPPFORGE_TRAINER_PORT": str(free_port())}  # fmt: skip
        env.pop("CPPFORGE_JOBS_DIR", None)
        second = subprocess.run([sys.executable, "-m", "services.cli", "serve", "trainer"], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        assert second.returncode == 1, second.stderr[-2000:]
        assert f"the jobs dir {tmp_path / 'trainer' / 'jobs'} is in use" in second.stderr
        assert f"(pid {os.getpid()})" in second.stderr and "Traceback" not in second.stderr
        running = _job(http, job["id"])  # the first service's run went on untouched
        assert running["status"] == "running" and not running["resumed"] and running["restarts"] == 0
