"""Pure ASGI middleware (cheaper per request than Starlette's BaseHTTPMiddleware on hot paths)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
ErrorBody = Callable[[str], dict[str, Any]]


def route_label(scope: Scope, routes: Sequence[Any] = ()) -> str:
    """The matched route's template (`/v1/models/{model_id}`), or "unmatched": a metrics label that
    never takes a raw path, so a scan of made-up URLs adds no new series. Read after the app ran
    (the router sets scope["route"], also for a wrong method on a known path); a request refused
    before routing (a 413 from LimitBody) is matched against `routes` (the app's routers' routes)."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    for route in routes:
        template = getattr(route, "path", None)
        try:
            match = route.matches(scope)[0]
        except Exception:  # a label must never break the answer it counts
            continue
        if isinstance(template, str) and getattr(match, "value", 0) != 0:  # Starlette's Match.NONE is 0
            return template
    return "unmatched"


class CountRequests:
    """Calls `record(scope, route, status)` once per HTTP response, `route` being `route_label`;
    an exception that escapes the app before any response counts as a 500 (the server's error
    handler answers it)."""

    def __init__(self, app: ASGIApp, record: Callable[[Scope, str, int], None], routes: Sequence[Any] = ()) -> None:
        self.app = app
        self.record = record
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def counting_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                self.record(scope, route_label(scope, self.routes), int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except Exception:
            if not started:
                self.record(scope, route_label(scope, self.routes), 500)
            raise


def _detail_body(message: str) -> dict[str, Any]:
    return {"detail": message}


class LimitBody:
    """413 for a request body over `limit` bytes, without reading past the limit.

    A declared Content-Length over the limit is refused before anything is read (the server
    holds the body to that length). A body without one (chunked) is read here up to the limit:
    once the running total passes it, the 413 goes out, the connection is closed and the rest is
    never read; a body within the limit is handed to the app as one message. `error_body` shapes
    the JSON answer (the inference service answers in OpenAI's error shape).
    """

    def __init__(self, app: ASGIApp, limit: int, error_body: ErrorBody = _detail_body) -> None:
        self.app = app
        self.limit = limit
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                declared = value
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                await self._refuse(send, f"request body is {int(declared)} bytes; the limit is {self.limit} bytes")
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect: nobody to answer
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.limit:
                await self._refuse(send, f"request body is over the limit of {self.limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, send: Send, message: str) -> None:
        body = json.dumps(self.error_body(message)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            # The unread rest of the body makes the connection unusable: say so, and the server closes it.
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """The buffered body as one message, then the server's own messages (http.disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
