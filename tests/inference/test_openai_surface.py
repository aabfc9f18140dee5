"""The OpenAI API surface over real HTTP, through the official `openai` client where one applies:
error shapes (400/404/405), parameters supported or refused by name, `model` required and resolved,
/v1/models[/{id}], admin-only adapter changes and the adapter dirs, route-template metrics labels."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from services.common.settings import InferenceSettings
from services.inference.app import create_app
from services.inference.errors import AdminKeyRequiredError
from services.inference.tiers import Gatekeeper, parse_api_keys
from tests.helpers.lora import save_random_lora
from tests.helpers.servers import serve

PROMPT = "#include <vector>\nusing namespace std;\n// return the sum of the elements of v\nint total(vector<int> v) {"
BASE = "cppforge-bootstrap"
MESSAGES: list[Any] = [{"role": "user", "content": PROMPT}]


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the adapter dir the service allows, a dir outside it)."""
    return tmp_path_factory.mktemp("allowed"), tmp_path_factory.mktemp("outside")


@pytest.fixture(scope="module")
def lora(tiny_model_dir: Path, dirs: tuple[Path, Path]) -> Path:
    return save_random_lora(tiny_model_dir, dirs[0] / "lora", seed=11)  # changes the greedy output


@pytest.fixture(scope="module")
def url(tiny_model_dir: Path, tiny_proxy_dir: Path, dirs: tuple[Path, Path]) -> Iterator[str]:
    settings = InferenceSettings(
        model=str(tiny_model_dir), proxy_path=tiny_proxy_dir, api_keys="kfree:free,kpro:pro", admin_keys="kadmin",
        adapter_dirs=str(dirs[0]), max_tokens_default=8,
    )  # fmt: skip
    with serve(create_app(settings)) as served:
        yield served


def client(url: str, key: str = "kpro") -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def _error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_model_is_required_and_unknown_models_are_404(url: str) -> None:
    pro = client(url)
    with pytest.raises(openai.BadRequestError) as missing:
        pro.completions.create(model=openai.NOT_GIVEN, prompt=PROMPT, max_tokens=1)  # type: ignore[arg-type]
    assert missing.value.param == "model" and "model" in missing.value.message
    with pytest.raises(openai.BadRequestError) as missing_chat:
        pro.chat.completions.create(model=openai.NOT_GIVEN, messages=MESSAGES, max_tokens=1)  # type: ignore[arg-type]
    assert missing_chat.value.param == "model"
    with pytest.raises(openai.NotFoundError) as unknown:
        pro.completions.create(model="nope", prompt=PROMPT, max_tokens=1)
    assert unknown.value.code == "model_not_found" and unknown.value.param == "model"
    with pytest.raises(openai.NotFoundError):
        pro.chat.completions.create(model="nope", messages=MESSAGES, max_tokens=1)


def test_models_by_id_with_a_stable_created(url: str) -> None:
    pro = client(url)
    first = pro.models.list().data
    card = pro.models.retrieve(BASE)
    assert [m.id for m in first] == [BASE] and card.id == BASE and card.created == first[0].created
    time.sleep(1.1)  # a `created` taken from the clock at each call would have moved
    assert pro.models.list().data[0].created == first[0].created
    with pytest.raises(openai.NotFoundError) as unknown:
        pro.models.retrieve("nope")
    assert unknown.value.code == "model_not_found"


def test_bad_json_and_validation_errors_are_400(url: str) -> None:
    headers = {"Authorization": "Bearer kpro", "Content-Type": "application/json"}
    r = httpx.post(url + "/v1/completions", content=b'{"model": "x", "prompt": }', headers=headers)
    error = _error(r, 400)
    assert error["param"] is None and error["type"] == "invalid_request_error"
    assert "not valid JSON" in error["message"] and "character" in error["message"], error["message"]
    with pytest.raises(openai.BadRequestError) as hot:
        client(url).completions.create(model=BASE, prompt=PROMPT, max_tokens=1, temperature=5)
    assert hot.value.param == "temperature" and "temperature" in hot.value.message
    r = httpx.post(url + "/v1/chat/completions", json={"model": BASE, "messages": [{"role": "x"}]}, headers=headers)
    assert _error(r, 400)["param"] == "messages.0.role"  # a nested field: its dotted name


@pytest.mark.parametrize(
    ("chat", "fields", "param"),
    [
        (False, {"made_up": 1}, "made_up"),
        (True, {"made_up": 1}, "made_up"),
        (False, {"presence_penalty": 0.5}, "presence_penalty"),
        (False, {"logit_bias": {"1": 5}}, "logit_bias"),
        (False, {"suffix": "x"}, "suffix"),
        (True, {"frequency_penalty": -1}, "frequency_penalty"),
        (True, {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
        (True, {"response_format": {"type": "json_object"}}, "response_format"),
        (True, {"tool_choice": "auto"}, "tool_choice"),
        (True, {"store": True}, "store"),
        (True, {"service_tier": "flex"}, "service_tier"),
    ],
)
def test_unsupported_parameters_are_400_naming_them(url: str, chat: bool, fields: dict[str, Any], param: str) -> None:
    pro = client(url)
    with pytest.raises(openai.BadRequestError) as refused:
        if chat:
            pro.chat.completions.create(model=BASE, messages=MESSAGES, max_tokens=1, extra_body=fields)
        else:
            pro.completions.create(model=BASE, prompt=PROMPT, max_tokens=1, extra_body=fields)
    assert refused.value.param == param and param in refused.value.message
    expected = "unsupported_parameter" if param == "made_up" else "unsupported_value"
    assert refused.value.code == expected
    if param == "made_up":
        assert "unsupported parameter: made_up" in refused.value.message


def test_neutral_values_of_unimplemented_fields_pass(url: str) -> None:
    pro = client(url)
    r = pro.completions.create(
        model=BASE, prompt=PROMPT, max_tokens=1, presence_penalty=0, frequency_penalty=0, logit_bias={}, suffix="",
        user="u1",
    )  # fmt: skip
    assert len(r.choices) == 1
    neutral: dict[str, Any] = {
        "tools": [], "tool_choice": "none", "response_format": {"type": "text"}, "store": False,
        "metadata": {"run": "r1"}, "service_tier": "auto", "modalities": ["text"], "parallel_tool_calls": False,
    }  # fmt: skip
    chat = pro.chat.completions.create(model=BASE, messages=MESSAGES, max_tokens=1, user="u1", extra_body=neutral)
    assert len(chat.choices) == 1


def test_routes_methods_and_best_of_below_n(url: str) -> None:
    headers = {"Authorization": "Bearer kpro"}
    error = _error(httpx.get(url + "/v1/nope", headers=headers), 404)
    assert error["code"] == "not_found" and error["type"] == "invalid_request_error" and "/v1/nope" in error["message"]
    wrong = httpx.delete(url + "/v1/completions", headers=headers)
    error = _error(wrong, 405)
    assert error["code"] == "method_not_allowed" and "POST" in wrong.headers["Allow"]
    with pytest.raises(openai.BadRequestError) as below:
        client(url).completions.create(model=BASE, prompt=PROMPT, max_tokens=1, n=3, best_of=2)
    assert below.value.param == "best_of"


def test_adapters_need_an_admin_key_and_an_allowed_dir(url: str, lora: Path, dirs: tuple[Path, Path]) -> None:
    allowed, outside = dirs

    def post(key: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(url + "/v1/adapters", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    error = _error(post("kfree", {"path": str(lora), "name": "mine"}), 403)
    assert error["code"] == "admin_key_required" and "CPPFORGE_ADMIN_KEYS" in error["message"]
    error = _error(post("kadmin", {"path": str(outside), "name": "mine"}), 400)
    assert error["code"] == "adapter_invalid" and error["param"] == "path" and str(allowed) in error["message"]
    (allowed / "escape").symlink_to(outside, target_is_directory=True)  # inside by name, outside in fact
    error = _error(post("kadmin", {"path": str(allowed / "escape"), "name": "mine"}), 400)
    assert error["code"] == "adapter_invalid" and str(outside) not in error["message"]
    dotdot = os.path.join(str(allowed), "..", outside.name)
    assert _error(post("kadmin", {"path": dotdot, "name": "mine"}), 400)["code"] == "adapter_invalid"
    r = post("kadmin", {"path": str(lora), "name": "mine", "activate": False})
    assert r.status_code == 200 and r.json()["loaded"] == ["mine"], r.text
    listed = httpx.get(url + "/v1/adapters", headers={"Authorization": "Bearer kfree"})
    assert listed.json() == {"loaded": ["mine"], "active": None}


def test_adapter_served_by_model_name_then_unloaded(url: str, lora: Path) -> None:
    pro = client(url)
    if "mine" not in [m.id for m in pro.models.list().data]:  # (run alone: load it here)
        httpx.post(url + "/v1/adapters", json={"path": str(lora), "name": "mine", "activate": False},
                   headers={"Authorization": "Bearer kadmin"}, timeout=60).raise_for_status()  # fmt: skip
    card = pro.models.retrieve("mine")
    assert card.id == "mine" and card.model_extra is not None and card.model_extra["parent"] == BASE
    assert pro.models.retrieve("mine").created == card.created
    greedy: dict[str, Any] = {"prompt": PROMPT, "max_tokens": 8, "temperature": 0.0}
    adapted = pro.completions.create(model="mine", **greedy)
    base = pro.completions.create(model=BASE, **greedy)
    assert adapted.model == "mine" and base.model == BASE
    assert adapted.choices[0].text != base.choices[0].text  # the adapter's weights decoded
    chat = pro.chat.completions.create(model="mine", messages=MESSAGES, max_tokens=2)
    assert chat.model == "mine"

    def delete(key: str, name: str) -> httpx.Response:
        return httpx.delete(f"{url}/v1/adapters/{name}", headers={"Authorization": f"Bearer {key}"}, timeout=60)

    assert _error(delete("kpro", "mine"), 403)["code"] == "admin_key_required"
    gone = delete("kadmin", "mine")
    assert gone.status_code == 200 and gone.json() == {"loaded": [], "active": None}, gone.text
    error = _error(delete("kadmin", "mine"), 404)
    assert error["code"] == "adapter_not_found" and error["param"] == "name"
    with pytest.raises(openai.NotFoundError):
        pro.completions.create(model="mine", prompt=PROMPT, max_tokens=1)
    assert [m.id for m in pro.models.list().data] == [BASE]
    assert pro.completions.create(model=BASE, **greedy).choices[0].text == base.choices[0].text


def test_admin_key_generates_with_the_train_tier(url: str) -> None:
    r = client(url, "kadmin").completions.create(model=BASE, prompt=PROMPT, max_tokens=1, n=8)
    assert len(r.choices) == 8  # pro allows 4; an admin key only in CPPFORGE_ADMIN_KEYS is `train`
    with pytest.raises(openai.PermissionDeniedError):
        client(url, "kpro").completions.create(model=BASE, prompt=PROMPT, max_tokens=1, n=8)


def test_metrics_label_routes_not_raw_paths(url: str) -> None:
    for path in ("/v1/made-up-1", "/v1/made-up-2/x", "/v1/models/" + BASE):
        httpx.get(url + path, headers={"Authorization": "Bearer kpro"})
    scrape = httpx.get(url + "/metrics").text
    endpoints = {line.split('endpoint="')[1].split('"')[0] for line in scrape.splitlines() if 'endpoint="' in line}
    assert "unmatched" in endpoints and not any("made-up" in e for e in endpoints), endpoints
    assert "/v1/models/{model_id:path}" in endpoints and f"/v1/models/{BASE}" not in endpoints


def test_admin_rules_of_the_gate() -> None:
    open_gate = Gatekeeper({})
    open_gate.require_admin("open")  # no keys at all: local use, anything goes
    no_admins = Gatekeeper(parse_api_keys("k:dev"))
    with pytest.raises(AdminKeyRequiredError, match="none configured"):
        no_admins.require_admin("k")
    admins = Gatekeeper(parse_api_keys("k:dev"), admin_keys=frozenset({"a"}))
    admins.require_admin("a")
    with pytest.raises(AdminKeyRequiredError, match="CPPFORGE_ADMIN_KEYS"):
        admins.require_admin("k")
    assert admins.authenticate("Bearer a")[1].name == "train" and not admins.open
    assert not Gatekeeper({}, admin_keys=frozenset({"a"})).open  # admin keys alone: keyed, not open
