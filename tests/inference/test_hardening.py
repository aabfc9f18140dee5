"""Review findings over real HTTP: context length, body limit, long stops, adapter dir symlinks,
open-mode adapter changes from the network, the "length" scorer, cancelled streams' metrics, and
an adapter unloaded while a request for it waits."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from services.common.settings import InferenceSettings
from services.inference.app import create_app
from services.inference.exposure import warn_if_exposed
from services.lm.model import LoadedModel, unload_adapter
from services.lm.sampling import SampleRequest, SamplingParams
from tests.helpers.lora import save_random_lora
from tests.helpers.servers import serve

BASE = "cppforge-bootstrap"
PROMPT = "#include <vector>\nusing namespace std;\n// return the sum of the elements of v\nint total(vector<int> v) {"
LONG_PROMPT = "int x = 1;\n" * 600  # well over the tiny model's 512 positions
LIMIT = 64 * 1024
REMOTE = {"X-Forwarded-For": "203.0.113.7"}  # uvicorn trusts it from 127.0.0.1: the client is remote


@pytest.fixture(scope="module")
def adapter_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hardening-adapters")


@pytest.fixture(scope="module")
def app_url(tiny_model_dir: Path, adapter_root: Path) -> Iterator[tuple[Any, str]]:
    settings = InferenceSettings(
        model=str(tiny_model_dir), proxy_path=adapter_root / "no-proxy", api_keys=None, open_tier="pro",
        max_tokens_default=16, adapter_dirs=str(adapter_root), max_request_bytes=LIMIT,
    )  # fmt: skip
    app = create_app(settings)
    with serve(app) as url:
        yield app, url


@pytest.fixture(scope="module")
def url(app_url: tuple[Any, str]) -> str:
    return app_url[1]


@pytest.fixture(scope="module")
def lora(tiny_model_dir: Path, adapter_root: Path) -> Path:
    return save_random_lora(tiny_model_dir, adapter_root / "lora", seed=3)


def _error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_prompts_over_the_context_are_refused_before_queueing(url: str) -> None:
    asks: list[tuple[str, dict[str, Any], str]] = [
        ("/v1/completions", {"prompt": LONG_PROMPT, "max_tokens": 4}, "prompt"),
        ("/v1/completions", {"prompt": LONG_PROMPT, "max_tokens": 4, "stream": True}, "prompt"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": LONG_PROMPT}]}, "messages"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": LONG_PROMPT}], "stream": True}, "messages"),
        ("/v1/best_of_n", {"prompt": LONG_PROMPT, "n": 2, "max_tokens": 4}, "prompt"),
    ]
    for path, body, param in asks:
        error = _error(httpx.post(url + path, json={"model": BASE, **body}, timeout=30), 400)
        assert error["code"] == "context_length_exceeded" and error["param"] == param, (path, error)
        assert "maximum context length is 512 tokens" in error["message"]
    # A short prompt whose max_tokens alone overflows the context is refused too, with the numbers.
    error = _error(httpx.post(url + "/v1/completions", json={"model": BASE, "prompt": PROMPT, "max_tokens": 1000}), 400)
    assert error["code"] == "context_length_exceeded" and "1000 for the completion" in error["message"]
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=BASE, prompt=LONG_PROMPT, max_tokens=4)
    assert caught.value.code == "context_length_exceeded"


def test_a_body_over_the_limit_is_413_in_openai_shape(url: str) -> None:
    body = json.dumps({"model": BASE, "prompt": "x" * (LIMIT + 10)})
    r = httpx.post(url + "/v1/completions", content=body, headers={"content-type": "application/json"}, timeout=30)
    error = _error(r, 413)
    assert error["code"] == "request_too_large" and str(LIMIT) in error["message"]
    metrics = httpx.get(url + "/metrics").text  # refused before routing, still counted under its route
    assert 'endpoint="/v1/completions",status="413"' in metrics
    assert InferenceSettings().max_request_bytes == 4 * 1024 * 1024


def test_a_stop_longer_than_16_tokens_is_honoured(url: str, tiny_model: LoadedModel) -> None:
    """The stop is a long piece of the model's own greedy output: it must end the text there."""
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused")
    ask = {"model": BASE, "prompt": PROMPT, "max_tokens": 64, "temperature": 0.0}
    full = client.completions.create(**ask).choices[0].text  # type: ignore[call-overload]
    start = 3
    stop = full[start : len(full) - 2]
    assert full.find(stop) == start
    assert len(tiny_model.tokenizer(stop, add_special_tokens=False)["input_ids"]) > 20, stop
    choice = client.completions.create(**ask, stop=[stop]).choices[0]  # type: ignore[call-overload]
    assert (choice.text, choice.finish_reason) == (full[:start], "stop")
    chunks = list(client.completions.create(**ask, stop=[stop], stream=True))  # type: ignore[call-overload]
    assert "".join(c.choices[0].text for c in chunks if c.choices) == full[:start]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_adapter_dir_with_a_symlink_out_is_refused(
    url: str, lora: Path, adapter_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outside = Path(tempfile.mkdtemp(prefix="cppforge-outside-"))  # not under the pytest basetemp
    try:
        weights = "adapter_model.safetensors"
        shutil.copy(lora / weights, outside / weights)
        linked_out = adapter_root / "linked-out"
        (linked_out / "sub").mkdir(parents=True)
        shutil.copy(lora / "adapter_config.json", linked_out / "adapter_config.json")
        (linked_out / weights).symlink_to(lora / weights)  # inside the adapter dirs: fine
        (linked_out / "sub" / "notes").symlink_to(outside / weights)  # nested, pointing out: refused
        with caplog.at_level(logging.WARNING, logger="services.inference.service"):
            r = httpx.post(url + "/v1/adapters", json={"path": str(linked_out), "name": "out"}, timeout=60)
        error = _error(r, 400)
        assert error["code"] == "adapter_invalid" and error["param"] == "path"
        assert "sub/notes" not in error["message"] and str(outside) not in error["message"]  # said in the log only
        assert any("sub/notes" in rec.getMessage() and str(outside) in rec.getMessage() for rec in caplog.records)
        (linked_out / "sub" / "notes").unlink()
        r = httpx.post(url + "/v1/adapters", json={"path": str(linked_out), "name": "linked-in"}, timeout=60)
        assert r.status_code == 200, r.text
        assert httpx.delete(url + "/v1/adapters/linked-in").status_code == 200
    finally:
        shutil.rmtree(outside)


def test_open_mode_takes_adapter_changes_from_loopback_only(url: str, lora: Path) -> None:
    for r in (
        httpx.post(url + "/v1/adapters", json={"path": str(lora), "name": "remote"}, headers=REMOTE, timeout=60),
        httpx.delete(url + "/v1/adapters/remote", headers=REMOTE),
    ):
        error = _error(r, 403)
        assert error["code"] == "admin_key_required" and "CPPFORGE_ADMIN_KEYS" in error["message"]
    # Generating stays open to remote callers; adapter changes from loopback work.
    r = httpx.post(url + "/v1/completions", json={"model": BASE, "prompt": PROMPT, "max_tokens": 1}, headers=REMOTE)
    assert r.status_code == 200
    assert httpx.post(url + "/v1/adapters", json={"path": str(lora), "name": "local"}, timeout=60).status_code == 200
    assert httpx.delete(url + "/v1/adapters/local").status_code == 200


def test_open_service_on_a_network_host_warns(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.exposure")
    with caplog.at_level(logging.WARNING, logger="test.exposure"):
        warn_if_exposed(log, "127.0.0.1", None, None)
        warn_if_exposed(log, "0.0.0.0", "k:pro", None)
        assert not caplog.records
        warn_if_exposed(log, "0.0.0.0", None, None)
    assert len(caplog.records) == 1 and "0.0.0.0" in caplog.records[0].getMessage()


def test_best_of_without_a_proxy_says_length(url: str) -> None:
    r = httpx.post(url + "/v1/best_of_n", json={"model": BASE, "prompt": PROMPT, "n": 3, "max_tokens": 6}, timeout=60)
    assert r.status_code == 200, r.text
    m = r.json()["metrics"]
    assert m["scorer"] == "length" and m["fallback"] is None and m["rewards"] == [0.0] * 3
    assert 'cppforge_inference_candidates_total{scorer="length"}' in httpx.get(url + "/metrics").text


def _completion_tokens(url: str) -> float:
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith("cppforge_inference_completion_tokens_total "):
            return float(line.split()[1])
    return 0.0


def test_a_cancelled_stream_still_counts_its_tokens(url: str) -> None:
    before = _completion_tokens(url)
    body = {"model": BASE, "prompt": PROMPT, "max_tokens": 200, "stream": True}
    with httpx.stream("POST", url + "/v1/completions", json=body, timeout=30) as r:
        assert r.status_code == 200
        next(line for line in r.iter_lines() if line.startswith("data: "))  # the first piece, then hang up
    deadline = time.monotonic() + 20
    while _completion_tokens(url) == before:
        assert time.monotonic() < deadline, "the cancelled stream's tokens were never counted"
        time.sleep(0.05)


def test_an_adapter_unloaded_while_queued_is_404_for_its_requests(app_url: tuple[Any, str], lora: Path) -> None:
    app, url = app_url
    service = app.state.service
    assert httpx.post(url + "/v1/adapters", json={"path": str(lora), "name": "going"}, timeout=60).status_code == 200
    answers: dict[str, httpx.Response] = {}

    def ask(model: str) -> None:
        body = {"model": model, "prompt": PROMPT, "max_tokens": 2}
        answers[model] = httpx.post(url + "/v1/completions", json=body, timeout=60)

    with service.batcher.lock:  # the decode thread takes `first`, then waits here; the adapter request queues
        first = service.batcher.enqueue(SampleRequest([5, 6, 7], 1, SamplingParams(max_tokens=1)))
        deadline = time.monotonic() + 10
        while service.batcher._queue:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        thread = threading.Thread(target=ask, args=("going",))
        thread.start()
        while not service.batcher._queue:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        unload_adapter(service.loaded, "going")  # what DELETE /v1/adapters/going does under this lock
    assert first.result(timeout=30)
    thread.join(60)
    error = _error(answers["going"], 404)
    assert error["code"] == "model_not_found" and error["param"] == "model"
    ask(BASE)  # the base still serves
    assert answers[BASE].status_code == 200


def test_tokenizing_a_huge_streamed_prompt_leaves_the_event_loop_free(tiny_model_dir: Path, adapter_root: Path) -> None:
    """A ~1 MB prompt takes the tokenizer a second or more: /healthz must answer meanwhile (the encode
    runs in a worker thread), and the prompt is then refused for its length."""
    settings = InferenceSettings(model=str(tiny_model_dir), proxy_path=adapter_root / "no-proxy", api_keys=None)
    huge = "int x = 1; // abc\n" * 60000
    answers: list[httpx.Response] = []

    def ask(url: str) -> None:
        body = {"model": BASE, "prompt": huge, "max_tokens": 4, "stream": True}
        answers.append(httpx.post(url + "/v1/completions", json=body, timeout=120))

    with serve(create_app(settings)) as url:
        thread = threading.Thread(target=ask, args=(url,))
        thread.start()
        waits = []
        while thread.is_alive():
            started = time.monotonic()
            assert httpx.get(url + "/healthz", timeout=10).status_code == 200
            waits.append(time.monotonic() - started)
            time.sleep(0.02)
        thread.join()
    assert _error(answers[0], 400)["code"] == "context_length_exceeded"
    assert len(waits) >= 5 and max(waits) < 0.5, waits
