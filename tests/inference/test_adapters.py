"""LoRA adapters served by name over real HTTP: what the trainer's weight sync relies on.

Each adapter is saved from a real peft LoraConfig on the tiny model with random (non-zero) LoRA
weights, so its greedy output differs from the base; the service must answer exactly what the
library gives with that adapter active.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from safetensors.torch import save_file

from services.common.settings import InferenceSettings
from services.inference.app import create_app
from services.inference.client import AsyncInferenceClient, InferenceClient, Sampling
from services.inference.errors import InferenceRequestError
from services.lm.model import load_adapter, load_model
from services.lm.prompts import encode_prompt
from services.lm.sampling import SamplingParams, sample_n
from tests.helpers.lora import save_random_lora
from tests.helpers.servers import serve

PROMPT = "#include <vector>\nusing namespace std;\n// return the sum of the elements of v\nint total(vector<int> v) {"
BASE = "cppforge-bootstrap"
TOKENS = 16
GREEDY = Sampling(max_tokens=TOKENS, temperature=0.0)


@pytest.fixture(scope="module")
def adapters(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("adapters")
    return save_random_lora(tiny_model_dir, out / "first", seed=11), save_random_lora(
        tiny_model_dir, out / "second", seed=12
    )


@pytest.fixture(scope="module")
def reference(tiny_model_dir: Path, adapters: tuple[Path, Path]) -> dict[str, str]:
    """Greedy text of the base and of each adapter, from the library (no service involved)."""
    loaded = load_model(tiny_model_dir)
    ids = encode_prompt(loaded.tokenizer, PROMPT)
    params = SamplingParams(max_tokens=TOKENS, temperature=0.0)
    texts = {"base": sample_n(loaded.model, loaded.tokenizer, ids, 1, params)[0][0].text}
    for key, path in zip(("first", "second"), adapters, strict=True):
        load_adapter(loaded, path, key)  # activate: a plain forward now runs this adapter
        texts[key] = sample_n(loaded.model, loaded.tokenizer, ids, 1, params)[0][0].text
    assert len(set(texts.values())) == 3, f"the adapters must change the greedy output: {texts}"
    return texts


@pytest.fixture(scope="module")
def url(tiny_model_dir: Path, tiny_proxy_dir: Path, adapters: tuple[Path, Path]) -> Iterator[str]:
    settings = InferenceSettings(
        model=str(tiny_model_dir), proxy_path=tiny_proxy_dir, api_keys=None, open_tier="pro", max_tokens_default=16,
        adapter_dirs=str(adapters[0].parent),
    )  # fmt: skip
    with serve(create_app(settings)) as served:
        yield served


def _text(client: InferenceClient, model: str | None) -> tuple[str, str]:
    answer = client.completions(PROMPT, GREEDY, model=model)
    return answer.choices[0].text, answer.model


# The tests below share one server and run in file order: failed first loads, load, replace, then activate.


def test_a_failed_first_load_leaves_the_base_serving(
    url: str, adapters: tuple[Path, Path], reference: dict[str, str]
) -> None:
    """Before any adapter: PEFT injects into the base in place, so a first load that fails half-way
    must be undone, or every tenant's base requests fail."""
    first, _ = adapters
    config_only = first.parent / "config-only"
    config_only.mkdir(exist_ok=True)
    shutil.copy(first / "adapter_config.json", config_only / "adapter_config.json")
    other_rank = first.parent / "other-rank"  # r=4 weights under a config of r=8: a shape mismatch
    shutil.copytree(first, other_rank, dirs_exist_ok=True)
    config = json.loads((other_rank / "adapter_config.json").read_text())
    (other_rank / "adapter_config.json").write_text(json.dumps({**config, "r": 8}))
    broken = {**_broken_copies(first), "config only": config_only, "other rank": other_rank}
    with InferenceClient(url, max_retries=0) as client:
        assert _text(client, BASE) == (reference["base"], BASE)
        for reason, path in broken.items():
            r = httpx.post(url + "/v1/adapters", json={"path": str(path), "name": "s1", "activate": False}, timeout=60)
            assert r.status_code == 400 and r.json()["error"]["code"] == "adapter_invalid", (reason, r.text)
            assert _text(client, BASE) == (reference["base"], BASE), reason  # a 500 before the fix
            assert _text(client, None) == (reference["base"], BASE), reason
            health = httpx.get(url + "/healthz").json()
            assert health["adapters"] == [] and health["active_adapter"] is None, (reason, health)
        assert [c.id for c in client.models().data] == [BASE]


def test_adapter_by_name_and_base_by_id(url: str, adapters: tuple[Path, Path], reference: dict[str, str]) -> None:
    first, _ = adapters
    with InferenceClient(url) as client:
        loaded = client.load_adapter(str(first), "policy", activate=False)
        assert loaded.loaded == ["policy"] and loaded.active is None and not loaded.replaced
        assert _text(client, "policy") == (reference["first"], "policy")
        assert _text(client, BASE) == (reference["base"], BASE)
        assert _text(client, None) == (reference["base"], BASE)  # no model: the client sends the base id
        chat = client.chat_completions([{"role": "user", "content": PROMPT}], GREEDY, model="policy")
        assert chat.model == "policy" and chat.choices[0].message.content == reference["first"]
        best = client.best_of_n(PROMPT, n=1, sampling=GREEDY, model="policy")
        assert best.model == "policy" and best.best == reference["first"]


def test_models_lists_base_and_adapters(url: str, adapters: tuple[Path, Path]) -> None:
    with InferenceClient(url) as client:
        cards = client.models().data
    assert [(c.id, c.parent, c.root) for c in cards] == [(BASE, None, BASE), ("policy", BASE, str(adapters[0]))]
    listed = openai.OpenAI(base_url=url + "/v1", api_key="unused").models.list().data
    assert [m.id for m in listed] == [BASE, "policy"]


def test_unknown_model_is_404_model_not_found(url: str) -> None:
    for path, body in [
        ("/v1/completions", {"prompt": PROMPT, "model": "nope", "max_tokens": 2}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "model": "nope"}),
        ("/v1/best_of_n", {"prompt": PROMPT, "model": "nope"}),
    ]:
        r = httpx.post(url + path, json=body, timeout=60)
        assert r.status_code == 404, (path, r.text)
        error = r.json()["error"]
        assert error["code"] == "model_not_found" and error["param"] == "model"
        assert error["type"] == "invalid_request_error" and "nope" in error["message"]
    with pytest.raises(openai.NotFoundError):
        openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0).completions.create(
            model="nope", prompt=PROMPT, max_tokens=2
        )
    with InferenceClient(url, max_retries=0) as client, pytest.raises(InferenceRequestError) as refused:
        client.completions(PROMPT, GREEDY, model="nope")
    assert refused.value.status == 404


def test_adapter_names_that_cannot_be_loaded(url: str, adapters: tuple[Path, Path]) -> None:
    first, _ = adapters
    clash = httpx.post(url + "/v1/adapters", json={"path": str(first), "name": BASE}, timeout=60)
    assert clash.status_code == 400 and clash.json()["error"]["param"] == "name"
    kept = httpx.post(url + "/v1/adapters", json={"path": str(first), "name": "policy", "replace": False}, timeout=60)
    assert kept.status_code == 400 and kept.json()["error"]["param"] == "name"
    assert "already loaded" in kept.json()["error"]["message"]


def test_concurrent_base_and_adapter_requests_are_not_mixed(url: str, reference: dict[str, str]) -> None:
    async def burst() -> list[tuple[str | None, str, str]]:
        async with AsyncInferenceClient(url) as client:
            models = [BASE, "policy"] * 4
            answers = await asyncio.gather(*(client.completions(PROMPT, GREEDY, model=m) for m in models))
        return [(m, a.model, a.choices[0].text) for m, a in zip(models, answers, strict=True)]

    before = httpx.get(url + "/healthz").json()
    results = asyncio.run(burst())
    after = httpx.get(url + "/healthz").json()
    expected = {BASE: reference["base"], "policy": reference["first"]}
    assert [(asked, got) for asked, got, _ in results] == [(m, m) for m, _, _ in results]
    assert [text for _, _, text in results] == [expected[m] for m, _, _ in results]
    assert after["merged_requests"] - before["merged_requests"] == 8
    assert after["batches"] - before["batches"] >= 2  # at least one decode per model


def test_replacing_an_adapter_changes_its_output(
    url: str, adapters: tuple[Path, Path], reference: dict[str, str]
) -> None:
    first, second = adapters
    with InferenceClient(url) as client:
        for path, key in [(second, "second"), (first, "first"), (second, "second")]:
            done = client.load_adapter(str(path), "policy", activate=False)
            assert done.loaded == ["policy"] and done.replaced and done.active is None
            assert _text(client, "policy") == (reference[key], "policy")
            assert _text(client, BASE) == (reference["base"], BASE)
        cards = client.models().data
    assert [c.id for c in cards] == [BASE, "policy"] and cards[1].root == str(second)


def test_activated_adapter_becomes_the_default(
    url: str, adapters: tuple[Path, Path], reference: dict[str, str]
) -> None:
    first, _ = adapters
    with InferenceClient(url) as client:
        done = client.load_adapter(str(first), "policy")  # activate=True, replace=True by default
        assert done.active == "policy" and done.replaced
        # the base id and no model now run the active adapter, and say so
        assert _text(client, BASE) == (reference["first"], "policy")
        assert _text(client, None) == (reference["first"], "policy")
        assert _text(client, "policy") == (reference["first"], "policy")
    health = httpx.get(url + "/healthz").json()
    assert health["adapters"] == ["policy"] and health["active_adapter"] == "policy"


def _broken_copies(good: Path) -> dict[str, Path]:
    """Copies of `good` as a trainer's half-written push leaves them (inside the adapter dirs)."""
    truncated = good.parent / "truncated"
    shutil.copytree(good, truncated, dirs_exist_ok=True)
    weights = truncated / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    garbage = good.parent / "garbage-config"
    shutil.copytree(good, garbage, dirs_exist_ok=True)
    config = json.loads((garbage / "adapter_config.json").read_text())
    (garbage / "adapter_config.json").write_text(json.dumps({**config, "r": "x"}))
    empty = good.parent / "empty-weights"  # a valid file with no tensors: PEFT would fill in zeros silently
    shutil.copytree(good, empty, dirs_exist_ok=True)
    save_file({}, empty / "adapter_model.safetensors")
    return {"SafetensorError": truncated, "TypeError": garbage, "IncompleteAdapterError": empty}


def test_a_failed_replacement_keeps_the_old_adapter_serving(
    url: str, adapters: tuple[Path, Path], reference: dict[str, str]
) -> None:
    first, _ = adapters
    with InferenceClient(url) as client:
        assert client.load_adapter(str(first), "policy").active == "policy"
        for reason, broken in _broken_copies(first).items():
            for name in ("policy", "fresh"):  # a replacement, and a first load of a new name
                r = httpx.post(url + "/v1/adapters", json={"path": str(broken), "name": name}, timeout=60)
                assert r.status_code == 400, (reason, name, r.text)
                error = r.json()["error"]
                assert error["param"] == "path" and error["code"] == "adapter_invalid", error
                assert reason not in error["message"] and str(broken) in error["message"]  # the reason: logged
                assert error["message"].startswith(f"no loadable LoRA adapter at {broken}: "), error
                kept = "; adapter 'policy' keeps its previous weights"
                assert error["message"].endswith(kept) == (name == "policy"), error
                health = httpx.get(url + "/healthz").json()
                assert health["adapters"] == ["policy"] and health["active_adapter"] == "policy", (reason, name)
                assert _text(client, "policy") == (reference["first"], "policy")  # the old weights
                assert _text(client, BASE) == (reference["first"], "policy")  # still the default
        assert [c.id for c in client.models().data] == [BASE, "policy"]
        # and the name still takes good weights afterwards
        assert client.load_adapter(str(adapters[1]), "policy").replaced
        assert _text(client, "policy") == (reference["second"], "policy")
