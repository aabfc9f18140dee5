"""`cppforge demo` / `make demo`: start the local stack (services.stack's LocalStack: Redis if none
answers, then the verifier, inference and trainer services as processes) and run the loop against it."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from ..common.settings import get_settings
from .loop import DemoFailed, run_loop

DEFAULT_OUT = Path("out/demo")
DEFAULT_PORTS = (8001, 8002, 8003)


def _busy(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pick_ports(defaults: tuple[int, int, int] = DEFAULT_PORTS, out: TextIO = sys.stdout) -> tuple[int, int, int]:
    """The default ports, each replaced by a free one when something already holds it (said on `out`)."""
    ports = []
    for port, service in zip(defaults, ("verifier", "inference", "trainer"), strict=True):
        if _busy(port):
            free = _free_port()
            print(f"port {port} ({service}) is busy: using {free} instead", file=out)
            port = free
        ports.append(port)
    return ports[0], ports[1], ports[2]


def demo_env(out_dir: Path) -> dict[str, str]:
    """A registry and a jobs dir of the demo's own under `out_dir`: a run promotes into a fresh registry (so
    every run shows the gate deciding from scratch), and the user's registry never gets a demo adapter."""
    return {"CPPFORGE_REGISTRY_DIR": str(out_dir / "registry"), "CPPFORGE_JOBS_DIR": str(out_dir / "jobs")}


def run_demo(out_dir: Path = DEFAULT_OUT) -> int:
    from ..stack.local import LocalStack, StackConfig, StackError

    print("cppforge demo: the post-training loop over real HTTP (local processes; no Docker, no GPU)")
    verifier_port, inference_port, trainer_port = pick_ports()
    out_dir.mkdir(parents=True, exist_ok=True)
    own = demo_env(out_dir.resolve())
    print(f"registry and jobs of this run: {own['CPPFORGE_REGISTRY_DIR']}, {own['CPPFORGE_JOBS_DIR']} "
          "(your own registry is left alone)")  # fmt: skip
    config = StackConfig(verifier_port=verifier_port, inference_port=inference_port, trainer_port=trainer_port,
                         env=own, log=None, log_dir=out_dir / "logs", progress=sys.stdout)  # fmt: skip
    with own_environment(own):  # the eval and promotion steps read the registry in this process
        try:
            with LocalStack(config) as urls:
                run_loop(urls, out_dir, sys.stdout)
        except StackError as exc:
            print(f"cppforge demo: the stack did not start: {exc}", file=sys.stderr)
            return 1
        except DemoFailed as exc:
            print(f"cppforge demo: {exc}", file=sys.stderr)
            return 1
    return 0


@contextlib.contextmanager
def own_environment(env: dict[str, str]) -> Iterator[None]:
    """`env` in os.environ (and the settings read afresh) while the demo runs; as it was afterwards."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
