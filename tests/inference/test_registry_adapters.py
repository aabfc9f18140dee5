"""Registry adapters over real HTTP: `/v1/adapters {"registry": NAME}` loads an artifact by its registry name
and serves it under that name; with CPPFORGE_SERVE_REGISTRY_ACTIVE the active adapter for the served base is
the default model. The adapters are real PEFT adapters (random LoRA weights) on the tiny model, and what the
service answers is checked against the library's greedy output with the same adapter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.settings import InferenceSettings
from services.inference.app import create_app
from services.lm import model as model_module
from services.lm.model import load_adapter, load_model
from services.lm.prompts import encode_prompt
from services.lm.sampling import SamplingParams, sample_n
from services.trainer.registry import model_content_hash, promote, record_eval, save_adapter_artifact
from tests.helpers.lora import save_random_lora
from tests.helpers.registry import eval_report, fake_adapter, fake_base_model
from tests.helpers.servers import serve

PROMPT = "#include <vector>\nusing namespace std;\n// return the sum of the elements of v\nint total(vector<int> v) {"
BASE = "cppforge-bootstrap"
TOKENS = 12


@pytest.fixture(scope="module")
def registry(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """job-a (promoted: active for the tiny model), job-b (a draft), other-base (trained on another model)."""
    tmp = tmp_path_factory.mktemp("registry-http")
    root = tmp / "registry"
    for name, seed in (("job-a", 21), ("job-b", 22)):
        adapter = save_random_lora(tiny_model_dir, tmp / name, seed=seed)
        save_adapter_artifact(adapter, name=name, base_model=tiny_model_dir, training_method="gspo", config={},
                              metrics={}, root=root)  # fmt: skip
    other = fake_base_model(tmp / "other-base")
    save_adapter_artifact(fake_adapter(tmp / "o"), name="other-base", base_model=other, training_method="sft",
                          config={}, metrics={}, root=root)  # fmt: skip
    record_eval("job-a", eval_report(0.3), root=root)
    promote("job-a", root=root)
    return root


@pytest.fixture(scope="module")
def reference(tiny_model_dir: Path, registry: Path) -> dict[str, str]:
    """Greedy text of the base and of each registry artifact's adapter, from the library."""
    loaded = load_model(tiny_model_dir)
    ids = encode_prompt(loaded.tokenizer, PROMPT)
    params = SamplingParams(max_tokens=TOKENS, temperature=0.0)
    texts = {BASE: sample_n(loaded.model, loaded.tokenizer, ids, 1, params)[0][0].text}
    for name in ("job-a", "job-b"):
        load_adapter(loaded, registry / "adapters" / name, name)
        texts[name] = sample_n(loaded.model, loaded.tokenizer, ids, 1, params)[0][0].text
    assert len(set(texts.values())) == 3, f"the adapters must change the greedy output: {texts}"
    return texts


def _settings(model: Path, proxy: Path, root: Path, *, serve_active: bool) -> InferenceSettings:
    return InferenceSettings(
        model=str(model), proxy_path=proxy, api_keys=None, open_tier="pro", max_tokens_default=TOKENS,
        registry_dir=root, serve_registry_active=serve_active,
        adapter_dirs=str(root.parent.parent),  # pytest's base temp: every test's adapter dirs
    )  # fmt: skip


def _complete(client: httpx.Client, model: str | None) -> tuple[str, str]:
    body = {"prompt": PROMPT, "max_tokens": TOKENS, "temperature": 0.0, "model": model or BASE}  # BASE: the default
    answer = client.post("/v1/completions", json=body).json()
    return answer["choices"][0]["text"], answer["model"]


def test_adapters_load_by_registry_name(
    tiny_model_dir: Path, tiny_proxy_dir: Path, registry: Path, reference: dict[str, str]
) -> None:
    app = create_app(_settings(tiny_model_dir, tiny_proxy_dir, registry, serve_active=False))
    with serve(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        health = client.get("/healthz").json()
        assert health["registry"]["serve_active"] is False and health["active_adapter"] is None
        loaded = client.post("/v1/adapters", json={"registry": "job-b", "activate": False})
        assert loaded.status_code == 200, loaded.text
        assert loaded.json() == {"loaded": ["job-b"], "active": None, "replaced": False}
        assert _complete(client, "job-b") == (reference["job-b"], "job-b")
        assert _complete(client, None) == (reference[BASE], BASE)
        cards = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
        assert cards["job-b"]["root"] == str(registry / "adapters" / "job-b") and cards["job-b"]["parent"] == BASE

        missing = client.post("/v1/adapters", json={"registry": "job-zzz"})
        assert missing.status_code == 404
        error = missing.json()["error"]
        assert error["code"] == "adapter_not_found" and error["message"].startswith("no adapter named 'job-zzz'")

        mismatch = client.post("/v1/adapters", json={"registry": "other-base"}).json()["error"]
        served, theirs = model_content_hash(tiny_model_dir)[:12], model_content_hash(registry.parent / "other-base")
        assert mismatch["code"] == "base_model_mismatch" and mismatch["param"] == "registry"
        assert f"(sha256 {theirs[:12]}), but this service serves" in mismatch["message"]
        assert mismatch["message"].endswith(f"(sha256 {served})")

        for body in ({"registry": "job-a", "path": "/tmp"}, {}, {"registry": "job-a", "name": "other"}):
            refused = client.post("/v1/adapters", json=body)
            assert refused.status_code == 400, body
        for name in ("..", ".", "-rf", "../job-a", "job-a/"):  # path tricks: a clear 400, never a 500
            refused = client.post("/v1/adapters", json={"registry": name})
            assert refused.status_code == 400, (name, refused.text)
            assert "error" in refused.json()
        assert client.get("/healthz").json()["adapters"] == ["job-b"]  # nothing else half-loaded


def test_a_corrupt_registry_adapter_is_refused(tiny_model_dir: Path, tiny_proxy_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "registry"
    adapter = save_random_lora(tiny_model_dir, tmp_path / "c", seed=5)
    art = save_adapter_artifact(adapter, name="job-c", base_model=tiny_model_dir, training_method="sft", config={},
                                metrics={}, root=root)  # fmt: skip
    weights = art.path / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-2] ^= 0x10
    weights.write_bytes(bytes(data))
    app = create_app(_settings(tiny_model_dir, tiny_proxy_dir, root, serve_active=False))
    with serve(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        error = client.post("/v1/adapters", json={"registry": "job-c"})
        assert error.status_code == 409 and error.json()["error"]["code"] == "adapter_corrupt"
        assert "'job-c' is corrupt or was tampered with" in error.json()["error"]["message"]


def test_the_active_adapter_is_the_default_when_asked(
    tiny_model_dir: Path, tiny_proxy_dir: Path, registry: Path, reference: dict[str, str], tmp_path: Path
) -> None:
    app = create_app(_settings(tiny_model_dir, tiny_proxy_dir, registry, serve_active=True))
    with serve(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        health = client.get("/healthz").json()
        assert health["registry"] == {
            "serve_active": True, "active": "job-a", "base_model_sha256": model_content_hash(tiny_model_dir),
        }  # fmt: skip
        assert health["active_adapter"] == "job-a" and health["adapters"] == ["job-a"]
        assert _complete(client, None) == (reference["job-a"], "job-a")
        assert _complete(client, BASE) == (reference["job-a"], "job-a")  # the base id runs the default too
        assert _complete(client, "job-a") == (reference["job-a"], "job-a")
        # Another adapter made the default: /healthz no longer says the registry's one is served by default.
        loaded = client.post("/v1/adapters", json={"path": str(registry / "adapters" / "job-b"), "name": "mine"})
        assert loaded.status_code == 200, loaded.text
        health = client.get("/healthz").json()
        assert health["active_adapter"] == "mine" and health["registry"]["active"] is None
    # No adapter active for this base: the service starts and serves the base.
    empty = tmp_path / "empty-registry"
    app = create_app(_settings(tiny_model_dir, tiny_proxy_dir, empty, serve_active=True))
    with serve(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        health = client.get("/healthz").json()
        assert health["registry"]["active"] is None and health["active_adapter"] is None
        assert _complete(client, None) == (reference[BASE], BASE)


def _copy_artifact(registry: Path, name: str, base: Path, root: Path) -> None:
    """`name`'s adapter registered again in another registry (`root`), which a test may then damage."""
    save_adapter_artifact(registry / "adapters" / name, name=name, base_model=base, training_method="gspo",
                          config={}, metrics={}, root=root)  # fmt: skip


def test_a_directory_never_loads_under_a_registry_name(
    tiny_model_dir: Path, tiny_proxy_dir: Path, registry: Path, reference: dict[str, str]
) -> None:
    app = create_app(_settings(tiny_model_dir, tiny_proxy_dir, registry, serve_active=False))
    other = str(registry / "adapters" / "job-a")  # any adapter dir: here job-a's files
    with serve(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        for when in ("before", "after"):  # job-b in the registry, then also loaded from it
            refused = client.post("/v1/adapters", json={"path": other, "name": "job-b"})
            assert refused.status_code == 409, (when, refused.text)
            error = refused.json()["error"]
            assert (error["code"], error["param"]) == ("registry_name_taken", "name")
            assert error["message"].startswith("'job-b' is an adapter registry name: load it by {\"registry\"")
            if when == "before":
                assert client.post("/v1/adapters", json={"registry": "job-b"}).status_code == 200
        assert _complete(client, "job-b") == (reference["job-b"], "job-b")  # still the evaluated weights
        assert _complete(client, None) == (reference["job-b"], "job-b")
        assert client.post("/v1/adapters", json={"path": other, "name": "mine"}).status_code == 200


def test_weights_swapped_while_loading_are_not_served(
    tiny_model_dir: Path, tiny_proxy_dir: Path, registry: Path, reference: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Hash, then load from the registry dir, would serve what was written in between: the service loads a
    copy it hashed, so job-b's evaluated weights serve even when job-a's are written over them mid-load."""
    root = tmp_path / "registry"
    _copy_artifact(registry, "job-b", tiny_model_dir, root)
    weights = root / "adapters" / "job-b" / "adapter_model.safetensors"
    real_attach = model_module._attach

    def swap_then_attach(loaded: Any, path: Path, name: str) -> None:
        weights.write_bytes((registry / "adapters" / "job-a" / "adapter_model.safetensors").read_bytes())
        real_attach(loaded, path, name)

    monkeypatch.setattr(model_module, "_attach", swap_then_attach)
    app = create_app(_settings(tiny_model_dir, tiny_proxy_dir, root, serve_active=False))
    with serve(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        assert client.post("/v1/adapters", json={"registry": "job-b"}).status_code == 200
        assert _complete(client, "job-b") == (reference["job-b"], "job-b")
        cards = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
        assert cards["job-b"]["root"] == str(root / "adapters" / "job-b")  # the registry's dir, not the copy
        again = client.post("/v1/adapters", json={"registry": "job-b"})  # the swap is seen now
        assert again.status_code == 409 and again.json()["error"]["code"] == "adapter_corrupt"


def test_a_base_changed_on_disk_after_loading_serves_no_registry_adapter(
    tiny_model_dir: Path, tiny_proxy_dir: Path, registry: Path, tmp_path: Path
) -> None:
    """The service loaded base B'; then B (job-b's base) is copied over B' on disk. Hashing the disk now
    says B: the adapter would be attached to weights it was not trained on. The files' stamps tell."""
    served = tmp_path / "base"
    shutil.copytree(tiny_model_dir, served)
    config = json.loads((served / "config.json").read_text())
    (served / "config.json").write_text(json.dumps({**config, "cppforge_variant": 1}))  # another base's hash
    app = create_app(_settings(served, tiny_proxy_dir, registry, serve_active=False))
    with serve(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        shutil.copy(tiny_model_dir / "config.json", served / "config.json")  # now hashes as job-b's base
        refused = client.post("/v1/adapters", json={"registry": "job-b"})
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "base_model_changed" and "changed after this service loaded them" in error["message"]
