"""LocalStack: Redis (when none answers), the verifier, the inference service and the trainer as local
processes (`python -m services.cli serve NAME --host H --port P`), each in its own session.

The children's settings come from the environment the stack gives them: its own URLs for
CPPFORGE_VERIFIER_URL / CPPFORGE_INFERENCE_URL / CPPFORGE_REDIS_URL, and CPPFORGE_JOB_USE_SERVICES=1 so
that the trainer's jobs take their rewards from this verifier and their rollouts from this inference
service over HTTP (the run's adapter pushed by path: its job dir must be an allowed adapter dir).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

import services

from ..common.settings import DEFAULT_REDIS_URL, default_home
from ..common.store import masked_url
from .errors import StackError
from .readiness import wait_ready
from .redis_server import RedisServer, answers
from .supervisor import Child

__all__ = ["LocalStack", "StackConfig", "StackError", "StackUrls"]

SERVICES = ("verifier", "inference", "trainer")
STOP_ORDER = ("trainer", "inference", "verifier")  # the trainer first: its running job still talks to the others
JOB_GRACE_S = 10.0  # a running job's time to checkpoint after SIGTERM (the trainer's CPPFORGE_CANCEL_GRACE_S)


@dataclass(frozen=True)
class StackUrls:
    verifier: str  # "http://127.0.0.1:8001"
    inference: str
    trainer: str
    redis: str  # "redis://127.0.0.1:6379/0" (a started one: redis://:PASSWORD@...); "" when the cache is off


@dataclass
class StackConfig:
    host: str = "127.0.0.1"
    verifier_port: int = 8001
    inference_port: int = 8002
    trainer_port: int = 8003
    redis_url: str | None = None  # None: the settings' CPPFORGE_REDIS_URL; a redis-server is started when none answers
    home: Path | None = None  # CPPFORGE_HOME for every child (None: inherited)
    env: dict[str, str] = field(default_factory=dict)  # extra env for every child (e.g. CPPFORGE_MODEL)
    log: TextIO | None = None  # if set, every child log line is copied here prefixed "[verifier] " etc.
    log_dir: Path | None = None  # children's full logs (default: <home>/logs/up)
    ready_timeout_s: float = 900.0  # first start may build the bootstrap model (~4 min)
    progress: TextIO | None = None  # the stack's own "[up] waiting for ..." lines (None: to `log`)

    def ports(self) -> dict[str, int]:
        return {"verifier": self.verifier_port, "inference": self.inference_port, "trainer": self.trainer_port}


def _setting(env: dict[str, str], name: str) -> str | None:
    """A CPPFORGE_* value as the children will see it: the stack's extra env, else this process's."""
    return env.get(name, os.environ.get(name))


def _url_host(host: str) -> str:
    """Where a client reaches a service bound to `host`."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def check_ports_free(host: str, ports: dict[str, int]) -> None:
    """StackError naming the first port something already listens on (before anything is started)."""
    if len(set(ports.values())) != len(ports):
        raise StackError(f"the services need distinct ports, got {ports}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for name, port in ports.items():
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
            try:
                s.bind((host, port))
            except OSError as exc:
                raise StackError(f"{name}: port {port} on {host} is already in use ({exc.strerror}); stop what "
                                 f"holds it or pick another with --{name}-port") from None  # fmt: skip


class LocalStack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        env = self.config.env
        home = self.config.home or Path(_setting(env, "CPPFORGE_HOME") or default_home())
        self.home = home.expanduser().resolve()
        self.log_dir = (self.config.log_dir or self.home / "logs" / "up").expanduser().resolve()
        url = self.config.redis_url if self.config.redis_url is not None else _setting(env, "CPPFORGE_REDIS_URL")
        self.redis_url = (DEFAULT_REDIS_URL if url is None else url).strip()
        self.redis_started = False  # whether the stack runs its own redis-server
        self.children: dict[str, Child] = {}  # started from the calling thread: their death signal is tied to it
        self._redis: RedisServer | None = None
        host = _url_host(self.config.host)
        ports = self.config.ports()
        verifier, inference, trainer = (f"http://{host}:{ports[name]}" for name in SERVICES)
        self.urls = StackUrls(verifier=verifier, inference=inference, trainer=trainer, redis=self.redis_url)

    # -- start -----------------------------------------------------------------------------
    def start(self) -> StackUrls:
        """Start what is needed and wait for /readyz of all three; on failure (or Ctrl-C) stop everything."""
        check_ports_free(self.config.host, self.config.ports())
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._start_redis()
            env = self.child_env()
            for name in SERVICES:
                self.children[name] = self._child(name, env)
                self.children[name].start()
            wait_ready([(self.children[n], getattr(self.urls, n)) for n in SERVICES],
                       timeout_s=self.config.ready_timeout_s, say=self._say)  # fmt: skip
        except BaseException:
            self.stop()
            raise
        return self.urls

    def _say(self, line: str) -> None:
        out = self.config.progress or self.config.log
        if out is not None:
            with contextlib.suppress(ValueError, OSError):
                out.write(f"[up] {line}\n")
                out.flush()

    def _start_redis(self) -> None:
        if not self.redis_url or answers(self.redis_url):
            return
        self._say(f"no Redis answers at {masked_url(self.redis_url)}: starting redis-server")
        self._redis = RedisServer(self.redis_url, log_path=self.log_dir / "redis.log", echo=self.config.log,
                                  env=os.environ)  # fmt: skip
        self._redis.start()
        self.redis_started = True
        self.redis_url = self._redis.url  # with its password: for the children, never to print
        self.urls = replace(self.urls, redis=self.redis_url)

    def child_env(self) -> dict[str, str]:
        """The environment of every service: this process's, the config's extra env, then the stack's own."""
        env = {**os.environ, **self.config.env}
        # The children run this very code, wherever it was imported from.
        root = str(Path(services.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"  # log lines as they happen
        env["CPPFORGE_HOME"] = str(self.home)
        env["CPPFORGE_VERIFIER_URL"] = self.urls.verifier
        env["CPPFORGE_INFERENCE_URL"] = self.urls.inference
        env["CPPFORGE_REDIS_URL"] = self.redis_url
        env["CPPFORGE_JOB_USE_SERVICES"] = "1"
        env.setdefault("CPPFORGE_CANCEL_GRACE_S", str(JOB_GRACE_S))
        if "CPPFORGE_ADAPTER_DIRS" not in env:
            # The runs push their adapters by path from their job dirs: home by default, else CPPFORGE_JOBS_DIR.
            dirs = [str(self.home)]
            jobs = env.get("CPPFORGE_JOBS_DIR")
            if jobs:
                dirs.append(str(Path(jobs).expanduser().resolve()))
            env["CPPFORGE_ADAPTER_DIRS"] = os.pathsep.join(dirs)
        return env

    def _child(self, name: str, env: dict[str, str]) -> Child:
        argv = [sys.executable, "-m", "services.cli", "serve", name, "--host", self.config.host,
                "--port", str(self.config.ports()[name])]  # fmt: skip
        # The trainer SIGTERMs its running job and waits up to the job's grace for its checkpoint.
        try:
            job_grace = float(env.get("CPPFORGE_CANCEL_GRACE_S", JOB_GRACE_S))
        except ValueError:  # the trainer refuses it at start-up, naming it
            job_grace = JOB_GRACE_S
        grace = job_grace + 10.0 if name == "trainer" else 10.0
        return Child(name, argv, env=env, log_path=self.log_dir / f"{name}.log", echo=self.config.log, grace_s=grace)

    # -- while running -----------------------------------------------------------------------
    def exited(self) -> dict[str, int]:
        """Children (redis included) that have exited, with their exit codes."""
        children = [*self.children.values(), *([self._redis.child] if self._redis is not None else [])]
        return {c.name: code for c in children if (code := c.exit_code()) is not None}

    def pids(self) -> dict[str, int]:
        children = [*self.children.values(), *([self._redis.child] if self._redis is not None else [])]
        return {c.name: c.pid for c in children if c.pid is not None}

    # -- stop --------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every child (SIGTERM, SIGKILL after a grace), Redis last; nothing is left. Idempotent."""
        for name in STOP_ORDER:
            child = self.children.get(name)
            if child is not None:
                child.stop()
        if self._redis is not None:
            self._redis.stop()

    def __enter__(self) -> StackUrls:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
