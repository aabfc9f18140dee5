"""InferenceClient / AsyncInferenceClient against the real inference app over real HTTP."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from services.common.errors import ServiceError
from services.common.settings import InferenceSettings
from services.inference.app import create_app
from services.inference.client import AsyncInferenceClient, InferenceClient, Sampling
from services.inference.errors import InferenceRequestError, InferenceUnavailableError
from services.inference.protocol import BestOfNResponse, ChatCompletionResponse, CompletionResponse
from services.inference.service import InferenceService
from services.inference.tiers import TokenBucket
from tests.helpers.servers import serve

PROMPT = "#include <vector>\nusing namespace std;\n// return the sum of the elements of v\nint total(vector<int> v) {"


@pytest.fixture(scope="module")
def open_url(tiny_model_dir: Path, tiny_proxy_dir: Path) -> Iterator[str]:
    settings = InferenceSettings(
        model=str(tiny_model_dir), proxy_path=tiny_proxy_dir, api_keys=None, open_tier="pro", max_tokens_default=16
    )
    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def keyed_app(tiny_model_dir: Path, tiny_proxy_dir: Path) -> Iterator[tuple[str, FastAPI]]:
    """Keys on a free tier (one candidate, 60 requests/minute: Retry-After 1 s once drained) and a pro tier."""
    settings = InferenceSettings(
        model=str(tiny_model_dir), proxy_path=tiny_proxy_dir, api_keys="kfree:free,kpro:pro",
        rate_limits="free:60", max_tokens_default=8,
    )  # fmt: skip
    app = create_app(settings)
    with serve(app) as url:
        yield url, app


def drain(app: FastAPI, key: str) -> None:
    """Empty the key's token bucket (60/minute): the next request is a 429 with Retry-After 1."""
    service: InferenceService = app.state.service
    bucket = service.gate._buckets.setdefault(key, TokenBucket(60))
    bucket.tokens, bucket.updated = 0.0, time.monotonic()


def test_completions_are_typed_and_reproducible(open_url: str) -> None:
    with InferenceClient(open_url) as client:
        sampling = Sampling(max_tokens=12, n=2, seed=7, stop=("\n}",))
        first = client.completions(PROMPT, sampling)
        again = client.completions(PROMPT, sampling)
    assert isinstance(first, CompletionResponse)
    assert first.object == "text_completion" and [c.index for c in first.choices] == [0, 1]
    assert all(c.finish_reason in ("stop", "length") for c in first.choices)
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens > 0
    assert [c.text for c in first.choices] == [c.text for c in again.choices]


def test_best_of_reports_the_ranking(open_url: str) -> None:
    with InferenceClient(open_url) as client:
        r = client.completions(PROMPT, Sampling(max_tokens=8, n=1, best_of=3, seed=1))
        best = client.best_of_n(PROMPT, n=3, sampling=Sampling(max_tokens=8, seed=1))
    assert r.cppforge is not None and r.cppforge["n"] == 3
    assert isinstance(best, BestOfNResponse)
    assert best.metrics["n"] == 3 and 0 <= best.best_index < 3
    assert best.best == best.metrics["candidates"][best.best_index]


def test_best_of_n_takes_its_count_as_n(open_url: str) -> None:
    with InferenceClient(open_url) as client, pytest.raises(ValueError, match="best_of_n"):
        client.best_of_n(PROMPT, n=2, sampling=Sampling(n=2))


def test_chat_and_models(open_url: str) -> None:
    with InferenceClient(open_url) as client:
        chat = client.chat_completions([{"role": "user", "content": PROMPT}], Sampling(max_tokens=6, n=2, seed=3))
        models = client.models()
    assert isinstance(chat, ChatCompletionResponse)
    assert len(chat.choices) == 2 and all(c.message.role == "assistant" for c in chat.choices)
    assert [m.id for m in models.data] == ["cppforge-bootstrap"]


def test_async_client_runs_requests_concurrently(open_url: str) -> None:
    async def burst() -> list[CompletionResponse]:
        async with AsyncInferenceClient(open_url) as client:
            calls = [client.completions(PROMPT, Sampling(max_tokens=6, seed=i)) for i in range(4)]
            return list(await asyncio.gather(*calls))

    answers = asyncio.run(burst())
    assert len(answers) == 4 and all(len(a.choices) == 1 for a in answers)
    with InferenceClient(open_url) as sync:
        alone = sync.completions(PROMPT, Sampling(max_tokens=6, seed=2))
    assert alone.choices[0].text == answers[2].choices[0].text  # per-request seed, whatever the batching


def test_refused_requests_raise_at_once_with_their_status(keyed_app: tuple[str, FastAPI]) -> None:
    url, _ = keyed_app
    with InferenceClient(url, api_key="wrong", max_retries=3) as client, pytest.raises(InferenceRequestError) as bad:
        client.completions(PROMPT)
    assert bad.value.status == 401 and "invalid_api_key" in str(bad.value)
    with InferenceClient(url, api_key="kfree") as client, pytest.raises(InferenceRequestError) as over:
        client.completions(PROMPT, Sampling(n=2))
    assert over.value.status == 403 and isinstance(over.value, ValueError)


def test_rate_limited_call_waits_for_retry_after(keyed_app: tuple[str, FastAPI]) -> None:
    url, app = keyed_app
    with InferenceClient(url, api_key="kfree", max_retries=3, max_retry_delay_s=5) as client:
        drain(app, "kfree")
        started = time.monotonic()
        answer = client.completions(PROMPT, Sampling(max_tokens=2))
        waited = time.monotonic() - started
    assert len(answer.choices) == 1
    assert waited >= 0.9, waited  # Retry-After: 1, not the 0.25 s first backoff


def test_rate_limit_past_the_retries_is_unavailable_with_retry_after(keyed_app: tuple[str, FastAPI]) -> None:
    url, app = keyed_app
    with InferenceClient(url, api_key="kfree", max_retries=1, max_retry_delay_s=0.05) as client:
        drain(app, "kfree")
        with pytest.raises(InferenceUnavailableError) as info:
            client.completions(PROMPT, Sampling(max_tokens=2))
    assert info.value.status == 429 and info.value.retry_after_s == 1


def test_unreachable_service_is_a_clear_error() -> None:
    with (
        InferenceClient("http://127.0.0.1:1", max_retries=1, max_retry_delay_s=0.05) as client,
        pytest.raises(InferenceUnavailableError, match=re.escape("at http://127.0.0.1:1 unreachable")) as info,
    ):
        client.completions(PROMPT)
    assert isinstance(info.value, ServiceError) and info.value.status == 503
