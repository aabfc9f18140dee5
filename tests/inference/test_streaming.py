"""stream=true over real HTTP, read with the official `openai` package (and raw with httpx once):
streamed pieces reassemble to the non-streamed answer of the same seed, stops included."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI

from services.common.settings import InferenceSettings
from services.inference.app import create_app
from services.inference.service import InferenceService
from services.lm.sampling import SampleRequest, TokenEvent
from tests.helpers.servers import serve

PROMPT = "#include <vector>\nusing namespace std;\n// return the sum of the elements of v\nint total(vector<int> v) {"
MODEL = "cppforge-bootstrap"


@pytest.fixture(scope="module")
def served(tiny_model_dir: Path, tiny_proxy_dir: Path) -> Iterator[tuple[str, FastAPI]]:
    settings = InferenceSettings(
        model=str(tiny_model_dir), proxy_path=tiny_proxy_dir, api_keys=None, open_tier="pro", max_tokens_default=16
    )
    app = create_app(settings)
    with serve(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def client(served: tuple[str, FastAPI]) -> openai.OpenAI:
    return openai.OpenAI(base_url=served[0] + "/v1", api_key="unused", max_retries=0)


def _reassemble(chunks: Sequence[Any], piece: str) -> tuple[dict[int, str], dict[int, str | None]]:
    """Per choice index: the concatenated text (`piece`: "text" or "delta") and the finish_reason."""
    texts: dict[int, str] = {}
    finish: dict[int, str | None] = {}
    for chunk in chunks:
        for c in chunk.choices:
            text = c.text if piece == "text" else (c.delta.content or "")
            texts[c.index] = texts.get(c.index, "") + text
            finish[c.index] = finish.get(c.index) or c.finish_reason
    return texts, finish


@pytest.mark.parametrize("n", [1, 2])
def test_streamed_completions_equal_the_non_streamed(client: openai.OpenAI, n: int) -> None:
    kwargs: dict[str, Any] = {"model": MODEL, "prompt": PROMPT, "n": n, "max_tokens": 16, "seed": 21}
    whole = client.completions.create(**kwargs)
    chunks = list(client.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}))
    texts, finish = _reassemble(chunks[:-1], "text")
    assert texts == {c.index: c.text for c in whole.choices}
    assert finish == {c.index: c.finish_reason for c in whole.choices}
    assert len(chunks) > n + 1  # pieces as they were decoded, not one chunk per choice
    usage = chunks[-1]
    assert usage.choices == [] and usage.usage == whole.usage
    assert all(c.usage is None and c.object == "text_completion" and c.model == MODEL for c in chunks[:-1])


@pytest.mark.parametrize("n", [1, 2])
def test_streamed_chat_equals_the_non_streamed(client: openai.OpenAI, n: int) -> None:
    kwargs: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "n": n,
                              "max_tokens": 16, "seed": 4}  # fmt: skip
    whole = client.chat.completions.create(**kwargs)
    chunks = list(client.chat.completions.create(**kwargs, stream=True))
    texts, finish = _reassemble(chunks, "delta")
    assert texts == {c.index: c.message.content for c in whole.choices}
    assert finish == {c.index: c.finish_reason for c in whole.choices}
    assert all(c.object == "chat.completion.chunk" and c.usage is None for c in chunks)
    for i in range(n):
        mine = [c.choices[0] for c in chunks if c.choices[0].index == i]
        assert mine[0].delta.role == "assistant" and all(c.delta.role is None for c in mine[1:])
        assert mine[-1].finish_reason is not None and all(c.finish_reason is None for c in mine[:-1])


def test_streaming_with_stop_sequences_equals_the_non_streamed(client: openai.OpenAI) -> None:
    """Pieces held back at a possible stop are never retracted: "\\n" and ";" end most choices here."""
    finishes = []
    for seed, stop in [(3, ["\n"]), (8, [";", "\n}"]), (5, [") {\n", ";\n"])]:
        kwargs: dict[str, Any] = {"model": MODEL, "prompt": PROMPT, "n": 3, "max_tokens": 24, "seed": seed,
                                  "stop": stop, "logprobs": 2}  # fmt: skip
        whole = client.completions.create(**kwargs)
        chunks = list(client.completions.create(**kwargs, stream=True))
        texts, finish = _reassemble(chunks, "text")
        assert texts == {c.index: c.text for c in whole.choices}
        assert finish == {c.index: c.finish_reason for c in whole.choices}
        for c in whole.choices:  # logprobs too: the streamed tokens are the non-streamed ones
            pieces = [x.choices[0].logprobs for x in chunks if x.choices[0].index == c.index]
            assert c.logprobs is not None and all(p is not None for p in pieces)
            assert [t for p in pieces for t in p.tokens] == c.logprobs.tokens  # type: ignore[union-attr]
            assert [o for p in pieces for o in p.text_offset] == c.logprobs.text_offset  # type: ignore[union-attr]
        finishes += [c.finish_reason for c in whole.choices]
    assert finishes.count("stop") >= 3


def test_raw_events_end_with_done(served: tuple[str, FastAPI]) -> None:
    body = {"model": MODEL, "prompt": PROMPT, "max_tokens": 6, "seed": 1, "stream": True}
    with httpx.stream("POST", served[0] + "/v1/completions", json=body, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        raw = r.read().decode()
    events = raw.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    assert all(e.startswith("data: {") for e in events[:-2])
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert set(chunks[0]) == {"id", "object", "created", "model", "choices"}  # no usage unless asked
    assert set(chunks[0]["choices"][0]) >= {"index", "text", "logprobs", "finish_reason"}


def test_best_of_above_n_cannot_stream(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=MODEL, prompt=PROMPT, n=1, best_of=3, max_tokens=4, stream=True)
    assert caught.value.body["param"] == "best_of"  # type: ignore[index]
    assert "best-of ranking needs every candidate" in caught.value.body["message"]  # type: ignore[index]
    streamed = list(client.completions.create(model=MODEL, prompt=PROMPT, n=2, best_of=2, max_tokens=4, stream=True))
    assert {c.choices[0].index for c in streamed} == {0, 1}  # best_of == n: nothing to rank, it streams
    with pytest.raises(openai.NotFoundError):  # errors before the first byte stay JSON answers
        client.completions.create(model="nope", prompt=PROMPT, max_tokens=4, stream=True)


def test_choices_come_in_sample_order_unless_ranked(client: openai.OpenAI) -> None:
    two = client.completions.create(model=MODEL, prompt=PROMPT, n=2, max_tokens=10, seed=30)
    alone = [client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=10, seed=30 + i) for i in range(2)]
    assert [c.text for c in two.choices] == [a.choices[0].text for a in alone]  # choice i: seed + i
    assert getattr(two, "cppforge", None) is None  # nothing ranked, no ranking report
    ranked = client.completions.create(model=MODEL, prompt=PROMPT, n=1, best_of=2, max_tokens=10, seed=30)
    assert ranked.cppforge["n"] == 2  # type: ignore[attr-defined]


def _inject(service: InferenceService, on_step: Any) -> Any:
    """Fault injection: wrap each decoded request's step listener (the real decode still runs)."""
    batcher = service.batcher
    assert batcher is not None
    real = batcher.open_session

    def open_session(adapter: str | None, requests: Sequence[SampleRequest]) -> Any:
        wrapped = [dataclasses.replace(r, on_step=on_step(r.on_step)) if r.on_step is not None else r for r in requests]
        return real(adapter, wrapped)

    batcher.open_session = open_session
    return real


def test_a_failure_mid_stream_ends_it_with_an_error_event(served: tuple[str, FastAPI], client: openai.OpenAI) -> None:
    service: InferenceService = served[1].state.service

    def failing(listener: Any) -> Any:  # the decode fails at its third step
        steps: list[int] = []

        def on_step(events: list[TokenEvent]) -> None:
            steps.append(1)
            if len(steps) == 3:
                raise RuntimeError("injected decode failure")
            listener(events)

        return on_step

    real = _inject(service, failing)
    try:
        got = []
        with pytest.raises(openai.APIError) as caught:
            for chunk in client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=8, seed=2, stream=True):
                got.append(chunk)
        assert caught.value.body["type"] == "server_error"  # type: ignore[index]
        assert "RuntimeError" in caught.value.message
    finally:
        service.batcher.open_session = real  # type: ignore[union-attr]
    assert client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=2).choices  # the service lives on


def test_a_client_gone_mid_stream_stops_the_decode(served: tuple[str, FastAPI], client: openai.OpenAI) -> None:
    service: InferenceService = served[1].state.service
    whole = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=200, seed=2)
    assert whole.usage is not None and whole.usage.completion_tokens > 150  # left alone, a long decode
    tokens: list[int] = []

    def slow(listener: Any) -> Any:  # a slow model: 20 ms a step
        def on_step(events: list[TokenEvent]) -> None:
            tokens.append(len(events))
            time.sleep(0.02)
            listener(events)

        return on_step

    real = _inject(service, slow)
    try:
        body = {"model": MODEL, "prompt": PROMPT, "max_tokens": 200, "seed": 2, "stream": True}
        with httpx.stream("POST", served[0] + "/v1/completions", json=body, timeout=60) as r:
            next(r.iter_lines())  # the first piece, then hang up
        deadline = time.monotonic() + 10
        while service.batcher.lock.locked() and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.01)
        assert not service.batcher.lock.locked()  # type: ignore[union-attr]
    finally:
        service.batcher.open_session = real  # type: ignore[union-attr]
    assert 0 < len(tokens) < 50  # it stopped soon after the hang-up
