"""The stack's Redis: a private redis-server on a local port (no persistence, its dir removed at stop);
a remote URL that does not answer is an error, never a server started here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.stack.errors import StackError
from services.stack.redis_server import RedisServer, answers, local_port
from tests.helpers.servers import free_port


def test_local_port() -> None:
    assert local_port("redis://127.0.0.1:6390/0") == 6390
    assert local_port("redis://localhost/1") == 6379
    assert local_port("redis://cache.example:6379/0") is None
    assert local_port("rediss://127.0.0.1:6390/0") is None  # TLS: not a server we can start


def test_private_server_starts_and_stops(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert not answers(url)
    server = RedisServer(url, log_path=tmp_path / "redis.log", echo=None, env=dict(os.environ))
    server.start()
    try:
        assert answers(url) and server.dir.is_dir()
    finally:
        server.stop()
    assert not answers(url) and not server.dir.exists()
    assert server.child.exit_code() == 0  # SIGTERM: Redis shuts down cleanly


def test_remote_url_that_does_not_answer_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="not on this machine"):
        RedisServer("redis://cache.invalid:6379/0", log_path=tmp_path / "r.log", echo=None, env={})
