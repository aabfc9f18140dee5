"""The dev tier's verifier monitor, through a real inference server: /readyz degraded while the verifier is
down, responses labelled as proxy-ranked with the reason, and back to ready when a verifier answers."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.settings import InferenceSettings
from services.inference.app import create_app
from tests.helpers.servers import free_port, serve

PROMPT = "#include <vector>\nusing namespace std;\n// return the sum of the elements of v\nint total(vector<int> v) {"


class _HealthOnly(BaseHTTPRequestHandler):
    """A 'verifier' that answers /healthz and nothing else (its /v1/verify is a 404)."""

    def do_GET(self) -> None:
        self._answer(200 if self.path == "/healthz" else 404)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(404)

    def _answer(self, status: int) -> None:
        body = json.dumps({"status": "ok"} if status == 200 else {"detail": "Not Found"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def health_only_verifier(port: int) -> Iterator[None]:
    server = ThreadingHTTPServer(("127.0.0.1", port), _HealthOnly)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def _until(check: Callable[[], dict[str, Any] | None], timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (found := check()) is None:
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return found


def _readyz(url: str, status: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        answer = httpx.get(url + "/readyz")
        body: dict[str, Any] = answer.json()
        return body if answer.status_code == 200 and body["status"] == status else None

    return check


def _best_of(url: str) -> dict[str, Any]:
    r = httpx.post(url + "/v1/best_of_n", json={"prompt": PROMPT, "n": 2, "max_tokens": 8, "seed": 1}, timeout=60)
    assert r.status_code == 200, r.text
    metrics: dict[str, Any] = r.json()["metrics"]
    return metrics


def test_the_monitor_sees_the_verifier_come_and_go(
    tiny_model_dir: Path, tiny_proxy_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    settings = InferenceSettings(
        model=str(tiny_model_dir), proxy_path=tiny_proxy_dir, api_keys=None, open_tier="dev",
        verifier_url=f"http://127.0.0.1:{port}", verifier_probe_interval_s=0.5,  # the least the setting allows
    )  # fmt: skip
    caplog.set_level(logging.INFO, logger="services.inference.verifier_health")
    with serve(create_app(settings)) as url:
        down = _until(_readyz(url, "degraded"))
        assert down["phase"] == "ready" and down["verifier"]["reachable"] is False
        assert down["verifier"]["url"] == f"http://127.0.0.1:{port}" and "ConnectError" in down["verifier"]["error"]
        assert down["verifier"]["since"].endswith("+00:00")
        m = _best_of(url)
        assert m["scorer"] == "proxy" and m["fallback"] == "verifier_unreachable" and m["verified"] == [False] * 2

        with health_only_verifier(port):
            up = _until(_readyz(url, "ready"))
            assert up["verifier"]["reachable"] is True and "error" not in up["verifier"]
            # Reachable, but it answers /v1/verify with an error: still no verdict, said as such.
            m = _best_of(url)
            assert m["scorer"] == "proxy" and m["fallback"] == "verifier_error"

        _until(_readyz(url, "degraded"))  # gone again
    lines = [r.getMessage() for r in caplog.records if r.name == "services.inference.verifier_health"]
    assert [line.split(" ")[3] for line in lines] == ["NOT", "reachable", "NOT"], lines
    assert lines[0].endswith(
        "the dev tier ranks without compiling (by the proxy, or by length without one) until it is"
    )
    assert lines[1].startswith(f"verifier at http://127.0.0.1:{port} reachable again")
