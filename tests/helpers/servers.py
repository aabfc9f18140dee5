"""Run a real uvicorn server for an app on a free loopback port, in a background thread.

The inference service opens its port before its model is loaded (/readyz 503 with a `phase` meanwhile):
`serve` waits for that phase to end, so tests start against a loaded model.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

LOADING_PHASES = ("loading", "bootstrapping")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(app: Any, startup_timeout_s: float = 60.0, *, wait_ready: bool = True) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        while wait_ready and _loading(url):
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not finish loading")
            time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _loading(url: str) -> bool:
    """The inference service still loading its model (any other app: never)."""
    answer = httpx.get(url + "/readyz", timeout=10)
    if answer.status_code != 503 or "json" not in answer.headers.get("content-type", ""):
        return False
    body = answer.json()
    return isinstance(body, dict) and body.get("phase") in LOADING_PHASES


def spawn_serve(service: str, port: int, *, env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """`cppforge serve SERVICE --port PORT` as a real process, its output (both streams) into `log`."""
    with open(log, "wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", service, "--port", str(port)],
            cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
