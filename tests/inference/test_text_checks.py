"""Lone UTF-16 surrogates in request text: a 400 naming the field, never a 500 (over real HTTP).

JSON can carry `"\\ud800"` alone; no tokenizer can encode it. The bodies go out as raw JSON text
(json.dumps escapes a lone surrogate as `\\ud800`), as a client that does not check its strings sends them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.settings import InferenceSettings
from services.inference.app import create_app
from tests.helpers.servers import serve

BASE = "cppforge-bootstrap"
LONE = "\ud800"
COMPLETION = {"model": BASE, "max_tokens": 2, "prompt": "int f() {"}
CHAT = {"model": BASE, "max_tokens": 2}
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/completions", {**COMPLETION, "prompt": LONE}, "prompt"),
    ("/v1/completions", {**COMPLETION, "prompt": ["int " + LONE]}, "prompt"),
    ("/v1/completions", {**COMPLETION, "prompt": LONE, "stream": True}, "prompt"),
    ("/v1/completions", {**COMPLETION, "stop": [LONE]}, "stop"),
    ("/v1/completions", {**COMPLETION, "model": LONE}, "model"),
    ("/v1/chat/completions", {**CHAT, "messages": [{"role": "user", "content": "\udc00"}]}, "messages.0.content"),
    (
        "/v1/chat/completions",
        {**CHAT, "stream": True, "messages": [{"role": "user", "content": "a\udc00b"}]},
        "messages.0.content",
    ),
    (
        "/v1/chat/completions",
        {
            **CHAT,
            "messages": [
                {"role": "system", "content": "ok"},
                {"role": "user", "content": [{"type": "text", "text": LONE}]},
            ],
        },
        "messages.1.content",
    ),
    ("/v1/best_of_n", {"n": 1, "max_tokens": 2, "prompt": "int f() {" + LONE}, "prompt"),
    ("/v1/best_of_n", {"n": 1, "max_tokens": 2, "prompt": "x", "stop": [LONE]}, "stop.0"),
]


@pytest.fixture(scope="module")
def url(tiny_model_dir: Path, tiny_proxy_dir: Path) -> Iterator[str]:
    settings = InferenceSettings(model=str(tiny_model_dir), proxy_path=tiny_proxy_dir, api_keys=None, open_tier="pro")
    with serve(create_app(settings)) as served:
        yield served


def _raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode("ascii")  # ensure_ascii: a lone surrogate goes out as its \u escape


def test_lone_surrogates_are_a_400_naming_the_field(url: str) -> None:
    with httpx.Client(base_url=url, timeout=60, headers={"content-type": "application/json"}) as client:
        for path, body, param in CASES:
            r = client.post(path, content=_raw(body))
            assert r.status_code == 400, (path, body, r.text)
            error = r.json()["error"]
            assert error["param"] == param and error["type"] == "invalid_request_error", (body, error)
            assert "unpaired UTF-16 surrogate (U+D" in error["message"], error
        # the refusals leave the connection usable: the same client is served next
        assert client.post("/v1/completions", content=_raw(COMPLETION)).status_code == 200


def test_a_surrogate_pair_is_one_valid_character(url: str) -> None:
    body = _raw({**COMPLETION, "prompt": "// \U0001f600\nint f() {"})
    assert b"\\ud83d\\ude00" in body  # sent as a pair of escapes
    r = httpx.post(url + "/v1/completions", content=body, headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 200, r.text
