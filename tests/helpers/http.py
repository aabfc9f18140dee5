"""Checks on HTTP answers shared by the service tests."""

from __future__ import annotations

import httpx


def error_message(response: httpx.Response) -> str:
    """The message of an error answer, after checking its shape: a JSON object whose `detail` is
    a string, or for 422 a list of {loc, msg, type} issues plus a one-line `message`; never a
    traceback."""
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    assert "Traceback" not in response.text
    if response.status_code == 422:
        issues = body["detail"]
        assert isinstance(issues, list) and issues, body
        assert all(isinstance(i["msg"], str) and isinstance(i["loc"], list) for i in issues), body
        message = body["message"]
    else:
        message = body["detail"]
    assert isinstance(message, str) and message, body
    return message
