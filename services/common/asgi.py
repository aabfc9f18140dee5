"""Pure ASGI middleware (cheaper per request than Starlette's BaseHTTPMiddleware on hot paths)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class CountRequests:
    """Calls `record(path, status)` once per HTTP response."""

    def __init__(self, app: ASGIApp, record: Callable[[Scope, str, int], None]) -> None:
        self.app = app
        self.record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.record(scope, scope.get("path", ""), int(message["status"]))
            await send(message)

        await self.app(scope, receive, counting_send)


class LimitBody:
    """413 for a declared Content-Length over `limit` bytes, before the body is read."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope.get("headers", []):
                if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                    body = json.dumps(
                        {"detail": f"request body is {int(value)} bytes; the limit is {self.limit} bytes"}
                    )
                    await send({"type": "http.response.start", "status": 413,
                                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
                    await send({"type": "http.response.body", "body": body.encode()})
                    return
        await self.app(scope, receive, send)
