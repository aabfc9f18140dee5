"""A small key-value store over Redis that degrades instead of failing.

Callers treat it as an optional speed-up: when Redis is down or absent, `get` misses, `set` is
skipped and `healthy` turns False (the services' /readyz reports "degraded"); reconnection is
retried at most every `retry_interval_s`, so a dead Redis costs no latency per request.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)


class RedisStore:
    def __init__(self, url: str | None, retry_interval_s: float = 5.0, socket_timeout_s: float = 0.5) -> None:
        self.url = url
        self.retry_interval_s = retry_interval_s
        self.socket_timeout_s = socket_timeout_s
        self._client: Any = None
        self._down_since: float | None = None
        self._last_attempt = 0.0
        self._lock = threading.Lock()
        self.errors = 0

    @property
    def healthy(self) -> bool:
        return self.url is not None and self._down_since is None and self._client is not None

    def _connect(self) -> Any:
        if self.url is None:
            return None
        with self._lock:
            if self._client is not None:
                return self._client
            now = time.monotonic()
            if self._down_since is not None and now - self._last_attempt < self.retry_interval_s:
                return None
            self._last_attempt = now
            try:
                import redis

                client = redis.Redis.from_url(
                    self.url, socket_timeout=self.socket_timeout_s, socket_connect_timeout=self.socket_timeout_s
                )
                client.ping()
            except Exception as exc:  # any connection failure means "run uncached"
                self._mark_down(exc)
                return None
            self._client = client
            self._down_since = None
            return client

    def _mark_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            log.warning("Redis at %s unavailable, running uncached: %s", masked_url(self.url or ""), exc)
            self._down_since = time.monotonic()
        self._client = None
        self.errors += 1

    def ping(self) -> bool:
        client = self._connect()
        if client is None:
            return False
        try:
            return bool(client.ping())
        except Exception as exc:
            with self._lock:
                self._mark_down(exc)
            return False

    def get(self, key: str) -> bytes | None:
        client = self._connect()
        if client is None:
            return None
        try:
            value = client.get(key)
        except Exception as exc:
            with self._lock:
                self._mark_down(exc)
            return None
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl_s: int) -> bool:
        client = self._connect()
        if client is None:
            return False
        try:
            client.set(key, value, ex=ttl_s if ttl_s > 0 else None)
        except Exception as exc:
            with self._lock:
                self._mark_down(exc)
            return False
        return True


def masked_url(url: str) -> str:
    """`url` fit to log or print: a password in it shown as ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{parts.netloc.rsplit('@', 1)[1]}"))
