"""The docker compose stack for tests/e2e/test_compose.py: find a daemon, build the images, bring the stack up
on free ports under its own project name, wait for every service to be healthy, take it down with its volumes.

No daemon: a skip with the reason, or a failure when CPPFORGE_REQUIRE_DOCKER=1 (CI, where docker is set up).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("redis", "verifier", "inference", "trainer")
# A small bootstrap model (built at first start into the volume): ~1 min instead of ~4+ for the real one.
BOOTSTRAP_STEPS = 40
DEV_ADMIN_KEY = "dev-admin-key"  # docker-compose.yml's documented dev defaults
DEV_PRO_KEY = "dev-pro-key"
HEALTHY_TIMEOUT_S = float(os.environ.get("CPPFORGE_COMPOSE_HEALTHY_TIMEOUT_S", "900"))


def docker_client() -> Any:
    """A docker SDK client whose daemon answers; else skip (or fail under CPPFORGE_REQUIRE_DOCKER=1)."""
    required = os.environ.get("CPPFORGE_REQUIRE_DOCKER") == "1"
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:
        reason = f"no docker daemon answers ({type(exc).__name__}: {exc})"
        if required:
            pytest.fail(f"CPPFORGE_REQUIRE_DOCKER=1 but {reason}")
        pytest.skip(f"{reason}; set CPPFORGE_REQUIRE_DOCKER=1 to make this a failure")
    return client


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return ["docker", "compose"]
    pytest.fail("a docker daemon answers but neither docker-compose nor the compose plugin is installed")


def base_image(client: Any) -> str:
    """CPPFORGE_BASE_IMAGE, else the locally made base when it exists, else the public default."""
    chosen = os.environ.get("CPPFORGE_BASE_IMAGE")
    if chosen:
        return chosen
    try:
        client.images.get("cppforge-base:bookworm")
        return "cppforge-base:bookworm"
    except Exception:
        return "python:3.11-slim-bookworm"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    client: Any
    project: str
    env: dict[str, str]
    ports: dict[str, int]
    compose: list[str]
    timings: dict[str, float] = field(default_factory=dict)

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        cmd = [*self.compose, "-p", self.project, "-f", str(ROOT / "docker-compose.yml"), *args]
        return subprocess.run(cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout, check=False)

    def container(self, service: str) -> Any:
        found = self.client.containers.list(
            all=True,
            filters={"label": [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={service}"]},
        )
        assert found, f"no container for {service}"
        return found[0]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def health(self) -> dict[str, str]:
        out = {}
        for service in SERVICES:
            state = self.container(service).attrs["State"]
            out[service] = state.get("Health", {}).get("Status", state["Status"])
        return out

    def logs(self, service: str, tail: int = 40) -> str:
        return str(self.container(service).logs(tail=tail).decode(errors="replace"))

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTHY_TIMEOUT_S
        while True:
            health = self.health()
            if all(status == "healthy" for status in health.values()):
                return
            if (
                any(status in ("unhealthy", "exited", "dead") for status in health.values())
                or time.monotonic() > deadline
            ):
                logs = "\n".join(f"--- {s}\n{self.logs(s)}" for s in SERVICES)
                raise AssertionError(f"stack not healthy: {health}\n{logs}")
            time.sleep(3)


def build_images(base: str) -> float:
    """scripts/build_images.sh on the chosen base (the layer cache makes a rebuild of unchanged images quick)."""
    t0 = time.monotonic()
    done = subprocess.run([str(ROOT / "scripts" / "build_images.sh"), f"BASE_IMAGE={base}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=3600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return time.monotonic() - t0


def start_stack(client: Any) -> Stack:
    base = base_image(client)
    build_s = build_images(base)
    ports = {name: free_port() for name in ("verifier", "inference", "trainer")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPPFORGE_")}  # the host's settings stay out
    env.update({
        "CPPFORGE_BASE_IMAGE": base,
        "CPPFORGE_BOOTSTRAP_STEPS": str(BOOTSTRAP_STEPS),
        "CPPFORGE_VERIFIER_PORT": str(ports["verifier"]),
        "CPPFORGE_INFERENCE_PORT": str(ports["inference"]),
        "CPPFORGE_TRAINER_PORT": str(ports["trainer"]),
    })  # fmt: skip
    stack = Stack(client, f"cppforge-e2e-{os.getpid()}", env, ports, compose_command())
    stack.timings["build_s"] = build_s
    t0 = time.monotonic()
    up = stack.run("up", "-d", "--no-build")
    if up.returncode != 0:
        stop_stack(stack)
        raise AssertionError(f"compose up failed:\n{up.stdout}\n{up.stderr}")
    try:
        stack.wait_healthy()
    except BaseException:
        stop_stack(stack)
        raise
    stack.timings["up_to_healthy_s"] = time.monotonic() - t0
    return stack


def stop_stack(stack: Stack) -> None:
    down = stack.run("down", "-v", "--remove-orphans", timeout=300)
    assert down.returncode == 0, down.stderr
