"""Request fields over real HTTP (and the `openai` client): seed bounds, null as the default, strict
types, one token budget, nested objects that refuse unknown keys, chat content parts, token-id
prompts, dot-free adapter names, and the small wording fixes (tiers, body, /v1/models/, stopped_by)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from services.common.settings import InferenceSettings
from services.inference.app import create_app
from services.inference.protocol import SEED_MAX, SEED_MIN
from services.lm.prompts import encode_prompt
from services.trainer.registry.errors import InvalidArtifactError
from services.trainer.registry.index import check_name, check_new_name
from tests.helpers.servers import serve

PROMPT = "#include <vector>\nusing namespace std;\n// return the sum of the elements of v\nint total(vector<int> v) {"
BASE = "cppforge-bootstrap"
PRO = {"Authorization": "Bearer kpro"}
COMPLETION: dict[str, Any] = {"model": BASE, "prompt": PROMPT, "max_tokens": 2}
CHAT: dict[str, Any] = {"model": BASE, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 2}
BEST_OF_N: dict[str, Any] = {"prompt": PROMPT, "n": 2, "max_tokens": 2}


@pytest.fixture(scope="module")
def url(tiny_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("home")
    settings = InferenceSettings(home=home, api_keys="kfree:free,kpro:pro", admin_keys="kadmin")
    with serve(create_app(settings, loaded=tiny_model)) as served:
        yield served


def _post(url: str, path: str, body: Any, key: str = "kpro") -> httpx.Response:
    return httpx.post(url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def _error(r: httpx.Response, param: str | None) -> str:
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param, r.text
    message: str = r.json()["error"]["message"]
    return message


@pytest.mark.parametrize(("path", "body"), [("/v1/completions", COMPLETION), ("/v1/chat/completions", CHAT),
                                            ("/v1/best_of_n", BEST_OF_N)])  # fmt: skip
def test_seed_is_bounded_with_headroom_for_seed_plus_i(url: str, path: str, body: dict[str, Any]) -> None:
    for seed in (2**64, SEED_MAX + 1, SEED_MIN - 1, True):
        assert "seed" in _error(_post(url, path, body | {"seed": seed}), "seed")
    for seed in (SEED_MAX, SEED_MIN, -5):
        r = _post(url, path, body | {"seed": seed, "n": 2})
        assert r.status_code == 200, r.text


def test_null_means_the_default_and_ranges_stay(url: str) -> None:
    nulls = {"temperature": None, "top_p": None, "n": None, "stream": None, "seed": None, "stop": None}
    r = _post(url, "/v1/completions", COMPLETION | nulls | {"echo": None, "logprobs": None, "best_of": None})
    assert r.status_code == 200 and len(r.json()["choices"]) == 1, r.text
    r = _post(url, "/v1/chat/completions", CHAT | nulls | {"logprobs": None, "top_logprobs": None})
    assert r.status_code == 200 and r.json()["choices"][0]["logprobs"] is None, r.text
    assert _post(url, "/v1/best_of_n", BEST_OF_N | {"n": None, "temperature": None}).status_code == 200
    _error(_post(url, "/v1/completions", COMPLETION | {"temperature": 2.5}), "temperature")


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/v1/completions", "stream", "false"),
        ("/v1/completions", "echo", 1),
        ("/v1/completions", "logprobs", True),
        ("/v1/completions", "n", 1.0),
        ("/v1/completions", "max_tokens", "2"),
        ("/v1/completions", "temperature", "0"),
        ("/v1/chat/completions", "logprobs", "true"),
        ("/v1/chat/completions", "top_logprobs", 1.0),
        ("/v1/best_of_n", "n", "2"),
        ("/v1/best_of_n", "top_p", "1"),
    ],
)
def test_coercing_types_are_refused(url: str, path: str, field: str, value: Any) -> None:
    body = {"/v1/completions": COMPLETION, "/v1/chat/completions": CHAT, "/v1/best_of_n": BEST_OF_N}[path]
    _error(_post(url, path, body | {field: value}), field)
    assert _post(url, "/v1/completions", COMPLETION | {"temperature": 0}).status_code == 200  # an int number is fine


def test_one_token_budget_on_chat(url: str) -> None:
    r = _post(url, "/v1/chat/completions", CHAT | {"max_completion_tokens": 3})
    assert "both" in _error(r, "max_completion_tokens")
    r = _post(url, "/v1/chat/completions", {k: v for k, v in CHAT.items() if k != "max_tokens"}
              | {"max_completion_tokens": 1})  # fmt: skip
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 1


def test_nested_unknown_keys_are_refused(url: str) -> None:
    r = _post(url, "/v1/chat/completions", CHAT | {"messages": [{"role": "user", "content": "x", "foo": 1}]})
    assert _error(r, "messages.0.foo") == "unsupported parameter: messages.0.foo"
    r = _post(url, "/v1/completions", COMPLETION | {"stream": True, "stream_options": {"include_obfuscation": False}})
    assert _error(r, "stream_options.include_obfuscation").startswith("unsupported parameter")
    _error(_post(url, "/v1/completions", COMPLETION | {"stream": True, "stream_options": {"include_usage": "yes"}}),
           "stream_options.include_usage")  # fmt: skip


def test_chat_message_fields_and_text_parts(url: str) -> None:
    client = openai.OpenAI(base_url=url + "/v1", api_key="kpro", max_retries=0)
    plain = client.chat.completions.create(model=BASE, messages=CHAT["messages"], max_tokens=3, temperature=0)
    parts = client.chat.completions.create(
        model=BASE, max_tokens=3, temperature=0,
        messages=[{"role": "user", "name": "ann", "content": [{"type": "text", "text": PROMPT}]}],
    )  # fmt: skip
    assert parts.choices[0].message.content == plain.choices[0].message.content  # name: not in the prompt
    neutral: dict[str, Any] = {
        "role": "assistant",
        "content": "x",
        "tool_calls": [],
        "function_call": None,
        "refusal": None,
    }
    assert _post(url, "/v1/chat/completions", CHAT | {"messages": [neutral, *CHAT["messages"]]}).status_code == 200
    image = {"type": "image_url", "image_url": {"url": "http://x/y.png"}}
    r = _post(url, "/v1/chat/completions", CHAT | {"messages": [{"role": "user", "content": [{"type": "text",
              "text": "a"}, image]}]})  # fmt: skip
    assert "part 1 has type 'image_url'" in _error(r, "messages.0.content")
    r = _post(url, "/v1/chat/completions", CHAT | {"messages": [{"role": "assistant", "tool_calls": [{"id": "c"}]}]})
    assert "tool_calls" in _error(r, "messages.0.tool_calls")
    r = _post(url, "/v1/chat/completions", CHAT | {"messages": [{"role": "tool", "content": "1", "tool_call_id": "c"}]})
    assert "no tools are offered" in _error(r, "messages.0.role")


def test_a_token_id_prompt_is_used_as_given(url: str, tiny_model: Any) -> None:
    client = openai.OpenAI(base_url=url + "/v1", api_key="kpro", max_retries=0)
    ids = encode_prompt(tiny_model.tokenizer, PROMPT)
    by_text = client.completions.create(model=BASE, prompt=PROMPT, max_tokens=3, temperature=0)
    by_ids = client.completions.create(model=BASE, prompt=ids, max_tokens=3, temperature=0)
    assert by_ids.choices[0].text == by_text.choices[0].text
    assert by_ids.usage is not None and by_ids.usage.prompt_tokens == len(ids)
    with pytest.raises(openai.BadRequestError) as bad:
        client.completions.create(model=BASE, prompt=[*ids, len(tiny_model.tokenizer)], max_tokens=1)
    assert bad.value.body["param"] == "prompt" and "vocabulary" in bad.value.body["message"]  # type: ignore[index]
    r = _post(url, "/v1/completions", COMPLETION | {"prompt": [PROMPT, PROMPT]})
    assert "a batch of several prompts is not supported" in _error(r, "prompt")
    for prompt in ([[1, 2], [3]], 5, [], [1, True]):
        message = _error(_post(url, "/v1/completions", COMPLETION | {"prompt": prompt}), "prompt")
        assert any(s in message for s in ("several prompts", "token ids", "empty")), message
    assert _post(url, "/v1/completions", COMPLETION | {"prompt": [PROMPT]}).status_code == 200


def test_adapter_names_with_a_dot_are_refused(url: str, tmp_path: Path) -> None:
    r = _post(url, "/v1/adapters", {"registry": "a.b"}, key="kadmin")
    assert "may not contain '.'" in _error(r, "registry")
    r = _post(url, "/v1/adapters", {"path": str(tmp_path), "name": "x.y"}, key="kadmin")
    assert "may not contain '.'" in _error(r, "name")
    assert check_name("old.name") == "old.name"  # an artifact registered before stays readable
    with pytest.raises(InvalidArtifactError, match=r"no '\.'"):
        check_new_name("job.1")


def test_small_wording(url: str) -> None:
    r = _post(url, "/v1/completions", COMPLETION | {"n": 2}, key="kfree")
    assert r.status_code == 403 and "at most 1 candidate per request" in r.json()["error"]["message"]
    for content, kind in ((b"[1]", "application/json"), (b"prompt=x", "application/x-www-form-urlencoded"), (b"", "")):
        r = httpx.post(url + "/v1/completions", content=content, headers=PRO | {"Content-Type": kind})
        assert _error(r, None) == "the request body must be a JSON object (Content-Type: application/json)"
    r = httpx.get(url + "/v1/models/", headers=PRO)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    metrics = _post(url, "/v1/best_of_n", BEST_OF_N).json()["metrics"]
    assert metrics["stopped_by"] and all(s is None or s for s in metrics["stopped_by"]), metrics


def test_start_up_log_counts_admin_keys_as_admin(tiny_model: Any, tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="services.inference")
    with serve(create_app(InferenceSettings(home=tmp_path, admin_keys="kadmin"), loaded=tiny_model)) as served:
        assert httpx.get(served + "/readyz").status_code == 200
    assert "inference: tiers: 0 API key(s); 1 admin key(s)" in caplog.text


def test_prompt_and_content_shapes_say_what_is_wrong(url: str) -> None:
    assert "several prompts" in _error(_post(url, "/v1/completions", COMPLETION | {"prompt": ["a", "b"]}), "prompt")
    assert "empty" in _error(_post(url, "/v1/completions", COMPLETION | {"prompt": []}), "prompt")
    for bad in ([True, 5], [5.0, 6], [[5, 6]]):
        assert "token ids" in _error(_post(url, "/v1/completions", COMPLETION | {"prompt": bad}), "prompt")
    for content in ({"type": "text", "text": "x"}, 5):
        r = _post(url, "/v1/chat/completions", CHAT | {"messages": [{"role": "user", "content": content}]})
        assert "string or a list of text parts" in _error(r, "messages.0.content")  # not `content.str`
    r = _post(url, "/v1/chat/completions", CHAT | {"messages": [{"role": "user", "content": None}]})
    assert "needs content" in _error(r, "messages.0")
    ok = CHAT | {"messages": [{"role": "assistant", "content": None}, *CHAT["messages"]]}
    assert _post(url, "/v1/chat/completions", ok).status_code == 200  # an assistant's content may be null
    nan = f'{{"model": "{BASE}", "prompt": "x", "max_tokens": 1, "temperature": NaN}}'
    r = httpx.post(url + "/v1/completions", content=nan, headers=PRO | {"content-type": "application/json"})
    assert "finite" in _error(r, "temperature")
