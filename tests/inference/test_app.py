"""The inference service over real HTTP, driven by the official `openai` package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from services.common.settings import InferenceSettings
from services.inference.app import create_app
from services.lm.model import LoadedModel, load_model
from tests.helpers.servers import serve

BASE = "cppforge-bootstrap"
PROMPT = "#include <vector>\nusing namespace std;\n// return the sum of the elements of v\nint total(vector<int> v) {"


@pytest.fixture(scope="module")
def open_url(tiny_model_dir: Path, tiny_proxy_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = InferenceSettings(
        model=str(tiny_model_dir), proxy_path=tiny_proxy_dir, api_keys=None, open_tier="pro", max_tokens_default=32,
        adapter_dirs=str(tmp_path_factory.getbasetemp()),  # the tests' tmp_path adapters
    )  # fmt: skip
    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def keyed_url(tiny_model_dir: Path, tiny_proxy_dir: Path) -> Iterator[str]:
    settings = InferenceSettings(
        model=str(tiny_model_dir), proxy_path=tiny_proxy_dir, api_keys="kfree:free,kpro:pro,kdev:dev",
        rate_limits="free:3", max_tokens_default=16, verifier_url="http://127.0.0.1:1",
    )  # fmt: skip
    with serve(create_app(settings)) as url:
        yield url


def test_openai_completions_with_n_2(open_url: str) -> None:
    client = openai.OpenAI(base_url=open_url + "/v1", api_key="unused-in-open-mode")
    r = client.completions.create(model="cppforge-bootstrap", prompt=PROMPT, n=2, max_tokens=24, seed=3, stop=["\n}"])
    assert r.object == "text_completion" and len(r.choices) == 2
    assert [c.index for c in r.choices] == [0, 1]
    assert all(isinstance(c.text, str) and c.finish_reason in ("stop", "length") for c in r.choices)
    assert r.usage is not None and r.usage.prompt_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_openai_chat_completions_with_n_2(open_url: str) -> None:
    client = openai.OpenAI(base_url=open_url + "/v1", api_key="unused")
    r = client.chat.completions.create(
        model="cppforge-bootstrap", messages=[{"role": "user", "content": PROMPT}], n=2, max_tokens=16, seed=1
    )
    assert r.object == "chat.completion" and len(r.choices) == 2
    assert all(c.message.role == "assistant" and isinstance(c.message.content, str) for c in r.choices)


def test_chat_system_message_reaches_the_prompt_as_comments(open_url: str, tiny_model: LoadedModel) -> None:
    """The tiny model has no chat template: the system message becomes `//` lines before the code."""
    assert not getattr(tiny_model.tokenizer, "chat_template", None)
    client = openai.OpenAI(base_url=open_url + "/v1", api_key="unused")
    system = "Use a range-based for loop."
    plain = [{"role": "user", "content": PROMPT}]
    instructed = [{"role": "system", "content": system}, *plain]
    a = client.chat.completions.create(model="cppforge-bootstrap", messages=plain, max_tokens=1)  # type: ignore[arg-type]
    b = client.chat.completions.create(model="cppforge-bootstrap", messages=instructed, max_tokens=1)  # type: ignore[arg-type]
    assert a.usage is not None and b.usage is not None
    expected = len(tiny_model.tokenizer(f"// {system}\n{PROMPT}", add_special_tokens=False)["input_ids"]) + 1
    assert b.usage.prompt_tokens == expected > a.usage.prompt_tokens


def test_openai_models_and_seed_reproducibility(open_url: str) -> None:
    client = openai.OpenAI(base_url=open_url + "/v1", api_key="unused")
    assert [m.id for m in client.models.list().data] == ["cppforge-bootstrap"]
    a = client.completions.create(model="cppforge-bootstrap", prompt=PROMPT, n=1, max_tokens=16, seed=42)
    b = client.completions.create(model="cppforge-bootstrap", prompt=PROMPT, n=1, max_tokens=16, seed=42)
    assert a.choices[0].text == b.choices[0].text and a.model == "cppforge-bootstrap"


def test_best_of_ranks_and_reports(open_url: str) -> None:
    body = {"prompt": PROMPT, "n": 4, "max_tokens": 24, "seed": 9, "stop": ["\n}"]}
    r = httpx.post(open_url + "/v1/best_of_n", json=body, timeout=60)
    assert r.status_code == 200
    doc = r.json()
    m = doc["metrics"]
    assert m["n"] == 4 and len(m["rewards"]) == 4 and m["scorer"] == "proxy"
    assert doc["best"] == m["candidates"][doc["best_index"]]
    assert m["rewards"][doc["best_index"]] == max(m["rewards"])
    # completions with best_of return the ranking under the `cppforge` extension field
    body = {"prompt": PROMPT, "best_of": 3, "max_tokens": 8, "model": BASE}
    c = httpx.post(open_url + "/v1/completions", json=body, timeout=60)
    assert c.status_code == 200 and c.json()["cppforge"]["n"] == 3 and len(c.json()["choices"]) == 1


def test_errors_have_openai_shape(keyed_url: str) -> None:
    def post(key: str | None, body: dict[str, object]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.post(keyed_url + "/v1/completions", json=body, headers=headers, timeout=60)

    r = post(None, {"prompt": PROMPT, "model": BASE})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    r = post("wrong", {"prompt": PROMPT, "model": BASE})
    assert r.status_code == 401 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    r = post("kfree", {"prompt": PROMPT, "model": BASE, "best_of": 2})
    assert r.status_code == 403 and r.json()["error"]["param"] == "best_of" and "free" in r.json()["error"]["message"]
    r = post("kpro", {"prompt": PROMPT, "model": BASE, "n": 5})
    assert r.status_code == 403 and r.json()["error"]["param"] == "n"
    r = post("kpro", {"prompt": PROMPT, "model": BASE, "stream": True, "best_of": 2, "max_tokens": 2})
    assert r.status_code == 400 and r.json()["error"]["param"] == "best_of"
    r = post("kpro", {"prompt": PROMPT, "model": BASE, "temperature": 9})
    assert r.status_code == 400 and r.json()["error"]["param"] == "temperature"
    statuses = [post("kfree", {"prompt": PROMPT, "model": BASE, "max_tokens": 1}).status_code for _ in range(4)]
    assert statuses[:3] == [200, 200, 200] and statuses[3] == 429
    limited = post("kfree", {"prompt": PROMPT, "model": BASE, "max_tokens": 1})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["type"] == "rate_limit_exceeded"


def test_openai_client_sees_rate_limit_and_auth_errors(keyed_url: str) -> None:
    bad = openai.OpenAI(base_url=keyed_url + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):  # the key is checked before the model
        bad.completions.create(model="m", prompt=PROMPT, max_tokens=1)
    pro = openai.OpenAI(base_url=keyed_url + "/v1", api_key="kpro", max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        pro.completions.create(model="cppforge-bootstrap", prompt=PROMPT, max_tokens=1, n=8)


def test_dev_tier_without_verifier_still_answers_ranked_by_proxy(keyed_url: str) -> None:
    r = httpx.post(
        keyed_url + "/v1/best_of_n", json={"prompt": PROMPT, "n": 4, "max_tokens": 16, "seed": 2},
        headers={"Authorization": "Bearer kdev"}, timeout=60,
    )  # fmt: skip
    assert r.status_code == 200
    m = r.json()["metrics"]
    # Not one candidate compiled: the ranking is the proxy's, and the metrics say so and why.
    assert m["scorer"] == "proxy" and m["fallback"] == "verifier_unreachable"
    assert m["verified"] == [False] * 4 and m["timings"]["total_s"] < 6
    ready = httpx.get(keyed_url + "/readyz")  # ready, but degraded: the dev tier cannot compile
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert ready.json()["verifier"]["url"] == "http://127.0.0.1:1" and ready.json()["verifier"]["reachable"] is False


def test_no_tier_in_use_compiles_so_the_verifier_is_not_watched(open_url: str) -> None:
    assert httpx.get(open_url + "/readyz").json() == {"status": "ready", "phase": "ready"}  # the pro tier only
    health = httpx.get(open_url + "/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["phase"] == "ready"


def test_adapter_loading(open_url: str, tiny_model_dir: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model

    base = load_model(tiny_model_dir)
    peft_model = get_peft_model(base.model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    adapter_dir = tmp_path / "adapter"
    peft_model.save_pretrained(adapter_dir)
    r = httpx.post(open_url + "/v1/adapters", json={"path": str(adapter_dir), "name": "a1"}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json() == {"loaded": ["a1"], "active": "a1", "replaced": False}
    assert httpx.get(open_url + "/healthz").json()["adapters"] == ["a1"]
    gen = httpx.post(open_url + "/v1/completions", json={"prompt": PROMPT, "max_tokens": 4, "model": "a1"}, timeout=60)
    assert gen.status_code == 200
    missing = httpx.post(open_url + "/v1/adapters", json={"path": str(tmp_path / "none"), "name": "x"}, timeout=60)
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "path"


def test_loaded_model_type(tiny_model: LoadedModel) -> None:
    assert tiny_model.tokenizer.padding_side == "left"


def test_concurrent_callers_share_decode_batches(open_url: str) -> None:
    import asyncio

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=open_url, timeout=120) as http:
            calls = [
                http.post(
                    "/v1/completions", json={"prompt": PROMPT[: 40 + 7 * i], "max_tokens": 48, "seed": i, "model": BASE}
                )
                for i in range(6)
            ]
            return list(await asyncio.gather(*calls))

    before = httpx.get(open_url + "/healthz").json()
    responses = asyncio.run(burst())
    after = httpx.get(open_url + "/healthz").json()
    assert all(r.status_code == 200 for r in responses)
    requests = after["merged_requests"] - before["merged_requests"]
    batches = after["batches"] - before["batches"]
    assert requests == 6
    assert batches < 6, "concurrent requests should have been merged into shared decode batches"
