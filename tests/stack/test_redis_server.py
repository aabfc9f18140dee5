"""The stack's Redis: a private redis-server on a local port (no persistence, its dir removed at stop);
a remote URL that does not answer is an error, never a server started here."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from services.common.store import masked_url
from services.stack.errors import StackError
from services.stack.redis_server import RedisServer, answers, local_port, with_password
from tests.helpers.servers import free_port


def test_local_port() -> None:
    assert local_port("redis://127.0.0.1:6390/0") == 6390
    assert local_port("redis://localhost/1") == 6379
    assert local_port("redis://cache.example:6379/0") is None
    assert local_port("rediss://127.0.0.1:6390/0") is None  # TLS: not a server we can start


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
def test_private_server_starts_and_stops(tmp_path: Path, host: str) -> None:
    url = f"redis://{host}:{free_port()}/0"
    assert not answers(url)
    server = RedisServer(url, log_path=tmp_path / "redis.log", echo=None, env=dict(os.environ))
    server.start()
    try:
        assert answers(url) and server.dir.is_dir()
        # A password of its own: any local user could otherwise write the verifier's cache (fake rewards).
        password = urlsplit(server.url).password
        assert password and len(password) >= 24 and server.url == url.replace("//", f"//:{password}@")
        with pytest.raises(redis.AuthenticationError), redis.Redis.from_url(url) as anonymous:
            anonymous.ping()
        with redis.Redis.from_url(server.url) as client:
            assert client.set("k", "v") and client.get("k") == b"v"
        assert password not in " ".join(_cmdline(server.child.pid or 0))  # `ps` would show it
    finally:
        server.stop()
    assert not answers(url) and not server.dir.exists()
    assert server.child.exit_code() == 0  # SIGTERM: Redis shuts down cleanly


def test_remote_url_that_does_not_answer_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="not on this machine"):
        RedisServer("redis://cache.invalid:6379/0", log_path=tmp_path / "r.log", echo=None, env={})


def _cmdline(pid: int) -> list[str]:
    return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode().split("\0")


def test_password_urls() -> None:
    assert with_password("redis://127.0.0.1:6390/0", "p") == "redis://:p@127.0.0.1:6390/0"
    assert with_password("redis://[::1]:6390/1", "p") == "redis://:p@[::1]:6390/1"
    assert masked_url("redis://:s3cret@[::1]:6390/0") == "redis://:***@[::1]:6390/0"
    assert masked_url("redis://user:s3cret@h/0") == "redis://user:***@h/0"
    assert masked_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
