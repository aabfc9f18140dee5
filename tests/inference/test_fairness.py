"""Over real HTTP: a short dev-tier request is answered while a free-tier request with a context-filling
prompt is still decoding (it neither waits for it nor fails with it). Order, not timing, is asserted."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.common.settings import InferenceSettings
from services.inference.app import create_app
from services.lm.sampling import SampleRequest, TokenEvent
from tests.helpers.servers import serve

FREE, DEV = "Bearer kf", "Bearer kd"
MODEL = "cppforge-bootstrap"


@pytest.fixture(scope="module")
def served(tiny_model_dir: Path, tiny_proxy_dir: Path) -> Iterator[tuple[str, FastAPI]]:
    settings = InferenceSettings(
        model=str(tiny_model_dir), proxy_path=tiny_proxy_dir, api_keys="kf:free,kd:dev",
        rate_limits="free:6000,dev:6000", prefill_chunk_tokens=64,
    )  # fmt: skip
    app = create_app(settings)
    with serve(app) as url:
        yield url, app


def _slow_streams(app: FastAPI) -> Any:
    """Every streamed request's steps take 20 ms longer (its listener sleeps in the decode thread): a
    slow model, for the streamed request only."""
    batcher = app.state.service.batcher
    real = batcher.open_session

    def slowed(listener: Any) -> Any:
        def on_step(events: list[TokenEvent]) -> None:
            time.sleep(0.02)
            listener(events)

        return on_step

    def open_session(adapter: str | None, requests: Sequence[SampleRequest]) -> Any:
        wrapped = [dataclasses.replace(r, on_step=slowed(r.on_step)) if r.on_step else r for r in requests]
        return real(adapter, wrapped)

    batcher.open_session = open_session
    return real


def test_a_short_request_is_answered_while_a_long_one_decodes(served: tuple[str, FastAPI]) -> None:
    url, app = served
    context = app.state.service.loaded.model.config.max_position_embeddings
    long_prompt = [(7 * i) % 400 + 20 for i in range(context - 160)]  # token ids: the context minus the completion
    long_body = {"model": MODEL, "prompt": long_prompt, "max_tokens": 150, "seed": 2, "stream": True}
    chunks: list[float] = []  # arrival times of the long stream's pieces
    usage: dict[str, Any] = {}

    def read_long() -> None:
        body = long_body | {"stream_options": {"include_usage": True}}
        with httpx.stream(
            "POST", url + "/v1/completions", json=body, headers={"Authorization": FREE}, timeout=120
        ) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    chunk = json.loads(line[6:])
                    chunks.append(time.monotonic())
                    usage.update(chunk.get("usage") or {})

    real = _slow_streams(app)
    try:
        reader = threading.Thread(target=read_long)
        reader.start()
        deadline = time.monotonic() + 60
        while len(chunks) < 3:  # the long one is decoding
            assert time.monotonic() < deadline and reader.is_alive()
            time.sleep(0.01)
        short = {"model": MODEL, "prompt": "int add(int a, int b) {", "max_tokens": 8, "temperature": 0}
        r = httpx.post(url + "/v1/completions", json=short, headers={"Authorization": DEV}, timeout=60)
        answered = time.monotonic()
        assert r.status_code == 200 and r.json()["choices"][0]["text"] is not None
        reader.join(120)
    finally:
        app.state.service.batcher.open_session = real
    assert usage["prompt_tokens"] == context - 160
    assert usage["completion_tokens"] > 20, "the long request ended too early to tell anything"
    later = [t for t in chunks if t > answered]
    assert len(later) >= 5, "the short request waited for the long one to finish"


def test_a_request_failing_while_sampling_fails_alone(served: tuple[str, FastAPI], monkeypatch: Any) -> None:
    """Three tenants' requests decode in one merged batch; the free one's draw fails (a fault injected into
    the sampler for its seed): it alone gets the error, the two dev requests finish with 200."""
    from services.lm import sampling

    url, app = served
    real = sampling._draw_from

    def draw(logits: Any, probs: Any, params: Any, generator: Any) -> int:
        if params.seed == 666:
            raise RuntimeError("probability tensor contains either inf, nan or element < 0")
        return real(logits, probs, params, generator)

    monkeypatch.setattr(sampling, "_draw_from", draw)
    batcher = app.state.service.batcher
    answers: dict[str, httpx.Response] = {}

    def ask(name: str, key: str, seed: int) -> None:
        body = {"model": MODEL, "prompt": "int add(int a, int b) {", "max_tokens": 6, "seed": seed}
        answers[name] = httpx.post(url + "/v1/completions", json=body, headers={"Authorization": key}, timeout=60)

    threads = [threading.Thread(target=ask, args=a) for a in (("bad", FREE, 666), ("dev", DEV, 1), ("dev2", DEV, 2))]
    with batcher.lock:  # nothing decodes until all three are queued: they open one session together
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(batcher._queue) + sum(len(s.batch) for s in batcher._open) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    for t in threads:
        t.join(60)
    assert batcher.merged_requests >= 3
    error = answers["bad"].json()["error"]
    assert answers["bad"].status_code == 500 and "RuntimeError" in error["message"]
    assert error["type"] == "server_error"
    for name in ("dev", "dev2"):
        assert answers[name].status_code == 200 and answers[name].json()["usage"]["completion_tokens"] > 0


def test_a_non_streamed_request_whose_client_hangs_up_stops_decoding(
    served: tuple[str, FastAPI], monkeypatch: Any
) -> None:
    url, app = served
    batcher = app.state.service.batcher
    real = batcher.open_session
    steps: list[int] = []

    def open_session(adapter: str | None, requests: Sequence[SampleRequest]) -> Any:
        session = real(adapter, requests)
        step = session.step

        def slow_step() -> bool:  # a slow model: 20 ms a step
            time.sleep(0.02)
            steps.append(1)
            return bool(step())

        session.step = slow_step
        return session

    monkeypatch.setattr(batcher, "open_session", open_session)
    context = app.state.service.loaded.model.config.max_position_embeddings
    prompt = [(7 * i) % 400 + 20 for i in range(context - 160)]  # with seed 2 it draws all 150 tokens
    body = {"model": MODEL, "prompt": prompt, "max_tokens": 150, "seed": 2}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url + "/v1/completions", json=body, headers={"Authorization": FREE}, timeout=1.0)
    deadline = time.monotonic() + 20
    while batcher.open_sessions or not steps:
        assert time.monotonic() < deadline, "the abandoned request kept decoding"
        time.sleep(0.05)
    assert len(steps) < 120  # 150 decoding steps (+ prefill) had it run to its end
