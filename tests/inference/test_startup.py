"""Start-up: the port opens at once, /healthz and /readyz say how far the (bootstrap) load is, bad settings
are one line; real `cppforge serve inference` subprocesses and real uvicorn servers."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.settings import InferenceSettings
from services.inference.app import create_app
from tests.helpers.servers import free_port, serve, spawn_serve

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "int add(int a, int b) {"
BODY = {"model": "cppforge-bootstrap", "prompt": PROMPT, "max_tokens": 2}


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CPPFORGE_HOME": str(home), **extra}


def test_serve_from_an_empty_home_answers_at_once_and_reports_the_bootstrap(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}"
    env = _env(tmp_path / "home", CPPFORGE_BOOTSTRAP_STEPS="20", CPPFORGE_VERIFIER_URL="http://127.0.0.1:1",
               CPPFORGE_API_KEYS="k1:dev,k2:pro,k3:pro")  # fmt: skip
    started = time.monotonic()
    proc = spawn_serve("inference", port, env=env, log=log, cwd=tmp_path)
    try:
        health = _first_answer(url + "/healthz", proc, log, within_s=5.0)
        assert health.status_code == 200 and health.json()["phase"] in ("loading", "bootstrapping")
        assert time.monotonic() - started < 5.0
        seen: list[dict[str, Any]] = []
        early: httpx.Response | None = None
        deadline = time.monotonic() + 120
        while (ready := httpx.get(url + "/readyz", timeout=5)).status_code == 503:
            body = ready.json()
            assert body["status"] == "not_ready" and body["phase"] in ("loading", "bootstrapping"), body
            if "progress" in body:
                seen.append(body["progress"])
            if early is None:  # a generation request meanwhile: an answer at once, never a hang
                early = httpx.post(url + "/v1/completions", json=BODY,
                                   headers={"Authorization": "Bearer k2"}, timeout=5)  # fmt: skip
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert ready.status_code == 200 and ready.json()["phase"] == "ready"
        steps = [p["step"] for p in seen]
        assert steps and all(p["total"] == 20 for p in seen), seen
        assert steps == sorted(steps) and steps[-1] > steps[0], steps  # the bootstrap's steps, rising
        assert early is not None and early.status_code == 503 and int(early.headers["Retry-After"]) >= 1
        assert early.json()["error"]["code"] == "model_loading" and set(early.json()["error"]) == {
            "message", "type", "param", "code"
        }  # fmt: skip
        done = httpx.post(url + "/v1/completions", json=BODY,
                          headers={"Authorization": "Bearer k2"}, timeout=60)  # fmt: skip
        assert done.status_code == 200, done.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
        text = log.read_text()
        assert "Traceback" not in text
        model_dir = tmp_path / "home" / "models" / "bootstrap-20steps"  # a quick trial never takes the real dir
        assert f"inference: model cppforge-bootstrap from {model_dir} on cpu (float32)" in text
        assert "inference: tiers: 3 API key(s): 1 dev, 2 pro; verifier http://127.0.0.1:1 for the dev tier" in text
        assert "k1" not in text and "k2" not in text  # key counts, never the keys
        assert "verifier at http://127.0.0.1:1 NOT reachable" in text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _first_answer(url: str, proc: subprocess.Popen[bytes], log: Path, within_s: float) -> httpx.Response:
    deadline = time.monotonic() + within_s
    while True:
        try:
            return httpx.get(url, timeout=1)
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def test_the_bootstrap_reports_each_step_and_stops_when_its_callback_raises(tmp_path: Path) -> None:
    from services.inference.startup import LoadCancelled
    from services.lm.bootstrap import MARKER_FILE, bootstrap_model

    seen: list[tuple[int, int | None]] = []

    def on_step(step: int, total: int | None) -> None:
        seen.append((step, total))
        if step == 3:
            raise LoadCancelled

    with pytest.raises(LoadCancelled):
        bootstrap_model(tmp_path / "m", n_tasks=300, max_steps=1000, log=lambda _: None, progress=None,
                        on_step=on_step)  # fmt: skip
    assert seen == [(0, 1000), (1, 1000), (2, 1000), (3, 1000)]  # 0: the corpus is ready, training begins
    assert not (tmp_path / "m" / MARKER_FILE).exists()


def test_shutdown_during_the_bootstrap_does_not_wait_for_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app = create_app(InferenceSettings(home=home, bootstrap_steps=100_000, open_tier="pro"))
    with serve(app, wait_ready=False) as url:
        deadline = time.monotonic() + 60
        while "eta_s" not in httpx.get(url + "/readyz").json().get("progress", {}):  # training has begun
            assert time.monotonic() < deadline
            time.sleep(0.1)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 10  # not the hours 100k steps would take
    loader = app.state.startup.loader
    assert loader.wait(timeout_s=10)  # the build stopped at its next step
    models = home / "models"
    assert not (models / "bootstrap-100000steps").exists()
    assert [p.name for p in models.iterdir() if p.is_dir()] == []  # the staging dir is gone too


def test_a_failed_load_is_not_ready_with_the_reason(tmp_path: Path) -> None:
    app = create_app(InferenceSettings(home=tmp_path, model=str(tmp_path / "missing"), open_tier="pro"))
    with serve(app) as url:
        ready = httpx.get(url + "/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "failed" and body["phase"] == "failed"
        assert body["error"].startswith(f"CPPFORGE_MODEL={str(tmp_path / 'missing')!r} is not a local directory")
        health = httpx.get(url + "/healthz")  # liveness stays up: a restart would fail the same way
        assert health.status_code == 200 and health.json()["phase"] == "failed"
        refused = httpx.post(url + "/v1/completions", json={"model": "cppforge-bootstrap", "prompt": PROMPT})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "model_unavailable"
        assert "Retry-After" not in refused.headers


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"CPPFORGE_MODEL": "gpt2"}, "CPPFORGE_MODEL='gpt2' is not a local directory"),
        ({"CPPFORGE_MODEL": "org/name"}, "models load from local paths only (no model hub at run time)"),
        ({"CPPFORGE_API_KEYS": "k1:dev,oops"}, "bad CPPFORGE_API_KEYS entry 'oops'"),
        ({"CPPFORGE_RATE_LIMITS": "free:lots"}, "bad CPPFORGE_RATE_LIMITS entry 'free:lots'"),
        ({"CPPFORGE_INFERENCE_PORT": "abc"}, "CPPFORGE_INFERENCE_PORT='abc': input should be a valid integer"),
        ({"CPPFORGE_OPEN_TIER": "gold"}, "CPPFORGE_OPEN_TIER='gold': expected one of free, pro, dev, train"),
        ({"CPPFORGE_API_KEYS": "a:free,a:pro"}, "CPPFORGE_API_KEYS lists one key twice"),
        ({"CPPFORGE_VERIFIER_PROBE_INTERVAL_S": "0.1"}, "CPPFORGE_VERIFIER_PROBE_INTERVAL_S='0.1': input should be"),
        ({"CPPFORGE_DEVICE": "gpu"}, "CPPFORGE_DEVICE='gpu': expected auto, cpu, cuda, cuda:N or mps"),
        ({"CPPFORGE_DTYPE": "int8"}, "CPPFORGE_DTYPE='int8': expected auto or one of float32"),
        ({"CPPFORGE_VERIFIER_URL": "localhost:8001"}, "CPPFORGE_VERIFIER_URL='localhost:8001': expected an http"),
        ({"CPPFORGE_INFERENCE_URL": "ftp://x"}, "CPPFORGE_INFERENCE_URL='ftp://x': expected an http"),
    ],
)
def test_serve_inference_with_a_bad_setting_is_one_line_exit_2(
    tmp_path: Path, env: dict[str, str], needle: str
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "inference"], capture_output=True, text=True, cwd=tmp_path,
        env=_env(tmp_path / "home", **env), timeout=120,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith("cppforge: error: bad inference settings: ") and needle in lines[0]
    assert not (tmp_path / "home" / "models").exists()  # refused before anything was built or loaded


def test_the_verifier_url_may_be_local_for_the_in_process_adapters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPPFORGE_VERIFIER_URL", "local")  # the verl/TRL reward adapters' in-process mode
    assert InferenceSettings().verifier_url == "local"


def test_a_model_handed_in_loaded_is_served_without_a_bootstrap(tmp_path: Path, tiny_model: Any) -> None:
    app = create_app(InferenceSettings(home=tmp_path, open_tier="pro"), loaded=tiny_model)
    with serve(app) as url:
        assert httpx.get(url + "/readyz").json() == {"status": "ready", "phase": "ready"}
        assert (
            httpx.post(
                url + "/v1/completions", json={"model": "cppforge-bootstrap", "prompt": PROMPT, "max_tokens": 2}
            ).status_code
            == 200
        )
    assert not (tmp_path / "models").exists()
