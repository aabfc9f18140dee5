"""Property tests over real HTTP (issue 13): whatever body a client sends to /v1/completions,
/v1/chat/completions, /v1/best_of_n or POST /v1/adapters, the service never answers a 5xx, every
non-2xx answer has OpenAI's error shape, and every 2xx body parses as the endpoint's response model
(a stream: every event is a chunk or an error in that shape, never a server error).

Bodies mix valid fields with wrong types, extreme numbers (huge integers, 1e308, -0.0, 5e-324; NaN is
not JSON), Unicode (lone surrogates escaped in the JSON), nested junk and unknown keys, and are sent as
raw JSON bytes with a free, pro, dev, admin (train tier), unknown or no key, so the tier caps and the
adapter checks are exercised. Generation stays cheap: max_tokens is drawn from 1..4 where valid, n <= 2.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from services.common.settings import InferenceSettings
from services.inference.app import create_app
from services.inference.protocol import (
    SEED_MAX,
    SEED_MIN,
    AdapterResponse,
    BestOfNResponse,
    ChatCompletionResponse,
    CompletionResponse,
)
from tests.helpers.lora import save_random_lora
from tests.helpers.servers import serve

BASE = "cppforge-bootstrap"
PROMPT = "#include <vector>\nusing namespace std;\n// return the sum of the elements of v\nint total(vector<int> v) {"
# Per endpoint: ~25 s for the four on a laptop CPU; CPPFORGE_PROPERTY_EXAMPLES=500 searches harder.
EXAMPLES = int(os.environ.get("CPPFORGE_PROPERTY_EXAMPLES", "40"))
PROPERTY = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

# -- values ------------------------------------------------------------------------------------
ODD_TEXT = ["", "\ud800", "a\udfffb", "\x00", "\u202e", "🙂", "}\n", "x" * 300, "null", "\\u0000"]
text = st.one_of(st.text(max_size=20), st.sampled_from(ODD_TEXT))
clean_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)  # what a valid field holds
huge_ints = st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30, -(10**30), 2**1000])
odd_floats = st.sampled_from([1e308, -1e308, -0.0, 5e-324, 1e-300, 1e30, 0.5, 2.0000001])
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), huge_ints, st.floats(allow_nan=False, allow_infinity=False),
    odd_floats, text,
)  # fmt: skip
junk = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=6
)
VOCAB = 512  # the tiny bootstrap model's

# Valid values (edges included: -0.0, the minima, the extreme seeds) ...
SAMPLING: dict[str, st.SearchStrategy[Any]] = {
    "max_tokens": st.integers(1, 4),
    "temperature": st.one_of(st.floats(0, 2), st.sampled_from([0, -0.0, 1e-4, 2])),
    "top_p": st.one_of(st.floats(1e-6, 1), st.sampled_from([1e-6, 1])),
    "seed": st.one_of(st.integers(-(2**70), 2**70).filter(lambda v: SEED_MIN <= v <= SEED_MAX),
                      st.sampled_from([SEED_MIN, SEED_MAX, 0])),
    "stop": st.one_of(st.none(), clean_text.filter(bool), st.lists(clean_text.filter(bool), max_size=4)),
}  # fmt: skip
OPENAI: dict[str, st.SearchStrategy[Any]] = {
    **SAMPLING,
    "n": st.integers(1, 2),
    "best_of": st.integers(1, 3),
    "stream": st.booleans(),
    "stream_options": st.one_of(st.none(), st.fixed_dictionaries({"include_usage": st.booleans()})),
    "user": clean_text,
    "presence_penalty": st.sampled_from([0, 0.0, None]),
    "logit_bias": st.sampled_from([None, {}]),
}
COMPLETIONS = {**OPENAI, "echo": st.booleans(), "logprobs": st.integers(0, 5), "suffix": st.sampled_from([None, ""])}
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant", "developer"]), "content": clean_text},
    optional={"name": clean_text},
)
CHAT = {
    **OPENAI,
    "max_completion_tokens": st.integers(1, 4),
    "logprobs": st.booleans(),
    "top_logprobs": st.integers(0, 20),
    "tools": st.sampled_from([None, []]),
    "response_format": st.sampled_from([None, {"type": "text"}]),
}
BEST_OF_N = {**SAMPLING, "n": st.integers(1, 2), "stop": st.lists(clean_text.filter(bool), max_size=4)}
MODEL = st.sampled_from([BASE] * 8 + ["probe", "default"])  # an adapter name: loaded (200) or not (404)
PROMPT_TEXT = st.one_of(st.just(PROMPT), clean_text)

# ... and, per field, values just past its bounds, or of the wrong kind.
EDGES: dict[str, st.SearchStrategy[Any]] = {
    "model": st.sampled_from(["nope", "", "\ud800", BASE + " ", None, 1]),
    "prompt": st.sampled_from(
        ["", [], [[1, 2]], ["a", "b"], [-1], [VOCAB], [10**9], [True], [1.0], "\ud800", ["\udfff"], "int x;" * 20000]
    ),
    "messages": st.sampled_from(
        [
            [],
            [{"role": "tool", "content": "x"}],
            [{"role": "user", "content": None}],
            [{"role": "user"}],
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
            [{"role": "user", "content": [{"type": "text", "text": "int f() {"}]}],
            [{"role": "assistant", "content": None}],
            [{"role": "user", "content": "x", "tool_calls": [{}]}],
            [{"role": "user", "content": "int x;" * 20000}],
        ]
    ),
    "max_tokens": st.sampled_from([0, -1, 257, 1025, 2048, 2049, 1.0, "4", True]),
    "max_completion_tokens": st.sampled_from([0, 257, 1025, 2049, 4.0]),
    "temperature": st.sampled_from([9e-5, 1e-300, -1e-300, 2.0000001, -1, "1", True, 1e308, 5e-324]),
    "top_p": st.sampled_from([0, -0.0, 9e-7, 1e-300, 1.5, 5e-324, "1"]),
    "seed": st.sampled_from([SEED_MIN - 1, SEED_MAX + 1, 2**64, -(10**30), 1e30, "5", True, 1.0]),
    "n": st.sampled_from([0, 3, 5, 16, 17, 2.0, -1]),
    "best_of": st.sampled_from([0, 4, 5, 16, 17]),
    "stop": st.sampled_from(["", [""], ["a"] * 5, [1], "\ud800", ["\ud800"], {"a": 1}]),
    "stream": st.sampled_from(["true", 1, None]),
    "stream_options": st.sampled_from([{"include_usage": "yes"}, {"x": 1}, []]),
    "echo": st.sampled_from(["false", 0]),
    "logprobs": st.sampled_from([6, -1, 21, True, 1.0]),
    "top_logprobs": st.sampled_from([21, -1]),
    "presence_penalty": st.sampled_from([0.5, 1e308]),
    "logit_bias": st.sampled_from([{"1": 5}, {"x": "y"}]),
    "tools": st.sampled_from([[{"type": "function"}], {}]),
    "response_format": st.sampled_from([{"type": "json_object"}]),
    "user": st.sampled_from(["\ud800", 5]),
}
MUTATIONS = st.sampled_from([0, 0, 0, 1, 1, 2])  # most bodies valid, the rest off in one or two places


def bodies(valid: st.SearchStrategy[dict[str, Any]], fields: Iterable[str]) -> st.SearchStrategy[Any]:
    """A `valid` body with a few mutations (a field among `fields` set to an edge value or junk, an
    unknown key, a key dropped); now and then not a JSON object at all."""
    names = sorted(fields)

    @st.composite
    def mutated(draw: st.DrawFn) -> dict[str, Any]:
        body = dict(draw(valid))
        for _ in range(draw(MUTATIONS)):
            kind = draw(st.sampled_from(["edge", "edge", "junk", "unknown", "drop"]))
            name = draw(st.sampled_from(names))
            if kind == "edge":
                body[name] = draw(EDGES.get(name, junk))
            elif kind == "junk":
                body[name] = draw(junk)
            elif kind == "unknown":
                body[draw(text)] = draw(junk)
            else:
                body.pop(name, None)
        return body

    return st.one_of(*[mutated()] * 12, junk)


def coherent(body: dict[str, Any]) -> dict[str, Any]:
    """Drop what the valid fields drawn one by one ask for together that no request may (those
    combinations come back as mutations): each is a 400 that would stop the body before generation."""
    body = dict(body)
    if "max_tokens" in body and "max_completion_tokens" in body:
        del body["max_completion_tokens"]
    if not body.get("stream"):
        body.pop("stream_options", None)
    if body.get("best_of", 99) < body.get("n", 1) or (body.get("stream") and body.get("best_of", 0) > body.get("n", 1)):
        del body["best_of"]
    if body.get("echo") or (body.get("logprobs") is False):
        body.pop("logprobs", None)
        body.pop("top_logprobs", None)
    return body


def openai_bodies(required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]]) -> Any:
    optional = {k: v for k, v in optional.items() if k not in required}
    valid = st.fixed_dictionaries(required, optional=optional).map(coherent)
    return bodies(valid, {*required, *optional})


keys = st.sampled_from(["kfree", "kpro", "kpro", "kdev", "kadmin", "kadmin", "nope"])
admin_keys = st.sampled_from(["kadmin"] * 5 + ["kpro", "nope"])  # adapter changes: mostly by an admin


# -- the service -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp("properties-home")
    adapters = home / "adapters"
    (adapters / "empty").mkdir(parents=True)
    (adapters / "file").write_text("x")
    save_random_lora(tiny_model_dir, adapters / "lora", seed=5)
    settings_ = InferenceSettings(
        model=str(tiny_model_dir), home=home, proxy_path=home / "no-proxy", adapter_dirs=str(adapters),
        api_keys="kfree:free,kpro:pro,kdev:dev", admin_keys="kadmin", max_tokens_default=4,
        rate_limits="free:100000,pro:100000,dev:100000,train:100000", verifier_url="http://127.0.0.1:9",
    )  # fmt: skip
    with serve(create_app(settings_)) as url:
        yield url, adapters


def send(url: str, path: str, body: Any, key: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    raw = json.dumps(body).encode()  # ASCII: a lone surrogate goes as its \\ud800 escape
    return httpx.post(url + path, content=raw, headers=headers, timeout=120)


def assert_error_shape(body: Any) -> None:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str), error
    assert error["param"] is None or isinstance(error["param"], str), error
    assert error["code"] is None or isinstance(error["code"], str), error


def check(r: httpx.Response, model: type[BaseModel], sent: Any) -> None:
    assert r.status_code < 500, (sent, r.text)
    if r.status_code >= 300:
        assert_error_shape(r.json())
        return
    if r.headers.get("content-type", "").startswith("text/event-stream"):
        events = [line[len("data: ") :] for line in r.text.split("\n") if line.startswith("data: ")]
        assert events, (sent, r.text)
        for data in events[:-1]:
            assert "error" not in json.loads(data), (sent, data)
        last = events[-1]
        if last != "[DONE]":  # a failure after the first byte: an error event in OpenAI's shape, never ours
            assert_error_shape(json.loads(last))
            assert json.loads(last)["error"]["type"] != "server_error", (sent, last)
        return
    model.model_validate(r.json())


# -- the properties ----------------------------------------------------------------------------
token_ids = st.lists(st.integers(0, VOCAB - 1), min_size=1, max_size=6)


@PROPERTY
@given(body=openai_bodies({"model": MODEL, "prompt": st.one_of(PROMPT_TEXT, token_ids)}, COMPLETIONS), key=keys)
def test_completions_never_5xx(served: tuple[str, Path], body: Any, key: str | None) -> None:
    check(send(served[0], "/v1/completions", body, key), CompletionResponse, body)


@PROPERTY
@given(body=openai_bodies({"model": MODEL, "messages": st.lists(message, min_size=1, max_size=3)}, CHAT), key=keys)
def test_chat_completions_never_5xx(served: tuple[str, Path], body: Any, key: str | None) -> None:
    check(send(served[0], "/v1/chat/completions", body, key), ChatCompletionResponse, body)


@PROPERTY
@given(body=openai_bodies({"prompt": PROMPT_TEXT, "max_tokens": st.integers(1, 4)}, {**BEST_OF_N, "model": MODEL}),
       key=keys)  # fmt: skip
def test_best_of_n_never_5xx(served: tuple[str, Path], body: Any, key: str | None) -> None:
    check(send(served[0], "/v1/best_of_n", body, key), BestOfNResponse, body)


ADAPTER_PATHS = ["lora", "empty", "file", "missing", "../", "lora/../lora", "/etc", "/etc/passwd", "a\x00b", ""]
ADAPTER_NAMES = st.sampled_from(["probe", "default", BASE, "nope", "cppforge-x"])
EDGES.update(
    path=st.one_of(text, st.sampled_from(["~/x", "~root", "/" * 5000, "a/" * 3000])),
    registry=st.sampled_from(["a.b", "..", "-x", "x" * 65, "", "\ud800"]),
    name=st.sampled_from(["a.b", "x" * 65, "", "\ud800", "a/b"]),
    activate=st.sampled_from(["yes", 1, None]),
    replace=st.sampled_from(["no", 0, None]),
)


@st.composite
def adapter_body(draw: st.DrawFn, root: Path) -> dict[str, Any]:
    """`path` (some loadable: `lora`) or `registry` (none there: 404), and any of the other fields."""
    paths = st.sampled_from([str(root / p) for p in ADAPTER_PATHS] + ADAPTER_PATHS)
    source = draw(st.one_of(st.fixed_dictionaries({"path": paths}), st.fixed_dictionaries({"registry": ADAPTER_NAMES})))
    rest = {"name": ADAPTER_NAMES, "activate": st.booleans(), "replace": st.booleans()}
    return {**source, **draw(st.fixed_dictionaries({}, optional=rest))}


@PROPERTY
@given(data=st.data(), key=admin_keys)
def test_adapter_loads_never_5xx(served: tuple[str, Path], data: st.DataObject, key: str | None) -> None:
    url, adapters = served
    body = data.draw(bodies(adapter_body(adapters), ["path", "registry", "name", "activate", "replace"]))
    check(send(url, "/v1/adapters", body, key), AdapterResponse, body)
