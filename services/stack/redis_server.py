"""Redis for the stack: the configured URL when something answers there, else a private `redis-server`
on its port (local hosts only), with no persistence and a random password (any local user could otherwise
write the verifier's result cache), started and stopped with the stack."""

from __future__ import annotations

import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

from ..common.store import masked_url
from .errors import StackError
from .supervisor import Child

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


def answers(url: str, timeout_s: float = 1.0) -> bool:
    """Whether a Redis at `url` answers PING (one that wants another password answers too: it is there)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        return bool(client.ping())
    except redis.AuthenticationError:
        return True
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def with_password(url: str, password: str) -> str:
    """`url` with `password` (no user name: Redis's default user), e.g. redis://:PASS@127.0.0.1:6379/0."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f":{password}@{parts.netloc.rsplit('@', 1)[-1]}"))


def local_port(url: str) -> int | None:
    """The port of a redis:// URL on this machine, else None (a remote host, a socket, TLS)."""
    parts = urlsplit(url)
    if parts.scheme != "redis" or parts.hostname not in LOCAL_HOSTS:
        return None
    return parts.port or 6379


class RedisServer:
    """A private redis-server for `url` (its dump dir a temp dir next to its log, removed at stop), with a random
    password: `self.url` is `url` with it. It binds the URL's host when that is ::1, else 127.0.0.1 (loopback only)."""

    def __init__(self, url: str, *, log_path: Path, echo: TextIO | None, env: Mapping[str, str]) -> None:
        port = local_port(url)
        if port is None:
            raise StackError(f"redis: nothing answers at {masked_url(url)}, and it is not on this machine: start it, "
                             "or set CPPFORGE_REDIS_URL to a Redis that runs (empty: no cache)")  # fmt: skip
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError(
                f"redis: nothing answers at {masked_url(url)} and redis-server is not installed: install it "
                "(apt-get install redis-server), or set CPPFORGE_REDIS_URL= (empty: no cache)"
            )
        password = secrets.token_urlsafe(24)
        self.url = with_password(url, password)
        # Next to its log, not in /tmp: a stack killed outright (no stop) leaves nothing in /tmp.
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="redis-", dir=log_path.parent))
        bind = "::1" if urlsplit(url).hostname == "::1" else "127.0.0.1"
        # The password goes in by stdin (a config file read from "-"), never on the command line (ps shows it).
        argv = [binary, "-", "--port", str(port), "--bind", bind, "--save", "", "--appendonly", "no",
                "--dir", str(self.dir)]  # fmt: skip
        # SIGKILL when the stack dies: nothing in it to save, and the port is free at once.
        self.child = Child("redis", argv, env=env, log_path=log_path, echo=echo, grace_s=5.0,
                           death_sig=signal.SIGKILL, stdin=f"requirepass {password}\n".encode())  # fmt: skip

    def start(self, timeout_s: float = 15.0) -> None:
        self.child.start()
        deadline = time.monotonic() + timeout_s
        while not answers(self.url, timeout_s=0.5):
            if self.child.exit_code() is not None or time.monotonic() > deadline:
                self.stop()  # one that runs but does not answer (e.g. on another address) must not stay
                raise StackError(f"redis-server did not start on {masked_url(self.url)}; its log:\n{self.child.tail()}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.child.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
