"""The shared ASGI middleware, driven directly with ASGI messages (no server needed)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest

from services.common.asgi import CountRequests, LimitBody, Message

LIMIT = 1000


class EchoApp:
    """Reads the whole body and answers its length; records that it ran."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


def run(app: Any, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[list[Message], int]:
    """Call `app` with a body in `chunks`; the answer's messages and how many chunks were read."""
    read = 0

    async def receive() -> Message:
        nonlocal read
        if read >= len(chunks):
            return {"type": "http.disconnect"}
        read += 1
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/x", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent, read


def status_and_body(sent: list[Message]) -> tuple[int, bytes]:
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    app = EchoApp()
    sent, read = run(LimitBody(app, LIMIT), [(b"content-length", b"5000")], [b"x" * 5000])
    status, body = status_and_body(sent)
    assert status == 413 and app.calls == 0 and read == 0
    assert "5000" in json.loads(body)["detail"]
    assert (b"content-type", b"application/json") in sent[0]["headers"]


def test_chunked_body_over_the_limit_stops_reading_at_the_limit() -> None:
    app = EchoApp()
    chunks = [b"x" * 300] * 100  # 30 KB streamed, no Content-Length
    sent, read = run(LimitBody(app, LIMIT), [(b"transfer-encoding", b"chunked")], chunks)
    status, body = status_and_body(sent)
    assert status == 413 and app.calls == 0
    assert read == 4  # 1200 bytes: the first chunk past the limit, not one more
    assert json.loads(body) == {"detail": f"request body is over the limit of {LIMIT} bytes"}
    assert (b"connection", b"close") in sent[0]["headers"]


@pytest.mark.parametrize("chunks", [[b"x" * 400, b"y" * 600], [b""], [b"a"] * 10])
def test_bodies_within_the_limit_reach_the_app_whole(chunks: list[bytes]) -> None:
    for headers in ([], [(b"content-length", str(sum(map(len, chunks))).encode())]):
        app = EchoApp()
        sent, _ = run(LimitBody(app, LIMIT), headers, chunks)
        assert status_and_body(sent) == (200, str(sum(map(len, chunks))).encode())
        assert app.calls == 1


def test_exactly_the_limit_passes() -> None:
    sent, _ = run(LimitBody(EchoApp(), LIMIT), [], [b"x" * 500, b"x" * 500])
    assert status_and_body(sent) == (200, b"1000")
    sent, _ = run(LimitBody(EchoApp(), LIMIT), [], [b"x" * 500, b"x" * 501])
    assert status_and_body(sent)[0] == 413


def test_error_body_is_the_services_shape() -> None:
    """The inference service answers errors in OpenAI's shape."""

    def openai(message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}

    sent, _ = run(LimitBody(EchoApp(), LIMIT, error_body=openai), [], [b"x" * 2000])
    status, body = status_and_body(sent)
    assert status == 413 and json.loads(body)["error"]["type"] == "invalid_request_error"


def test_client_gone_before_the_end_calls_nothing() -> None:
    app = EchoApp()
    read = 0

    async def receive() -> Message:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"x", "more_body": True} if read == 1 else {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(LimitBody(app, LIMIT)({"type": "http", "headers": []}, receive, send))
    assert app.calls == 0 and sent == []


def test_count_requests_counts_an_escaping_exception_as_500() -> None:
    seen: list[tuple[str, int]] = []

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = SimpleNamespace(path="/x/{item}")  # what a router sets once a route matched
        raise RuntimeError("bug")

    counted = CountRequests(broken, record=lambda scope, path, status: seen.append((path, status)))
    with pytest.raises(RuntimeError):
        run(counted, [], [b""])
    assert seen == [("/x/{item}", 500)]  # the route's template, never the raw path
    seen.clear()
    run(CountRequests(EchoApp(), record=lambda scope, path, status: seen.append((path, status))), [], [b"ab"])
    assert seen == [("unmatched", 200)]  # no route matched: one label for every such path
