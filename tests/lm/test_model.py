"""`load_model` / `load_adapter`: local-only loading, clear errors, LoRA adapters that switch."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from peft.tuners.tuners_utils import BaseTunerLayer
from safetensors.torch import save_file
from transformers import AutoTokenizer

from services.lm import model as model_module
from services.lm.model import (
    LoadedModel,
    load_adapter,
    load_model,
    set_active_adapter,
    unload_adapter,
    use_adapter,
)
from tests.helpers.lora import save_random_lora


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        load_model(missing)
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        load_model(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_model(tmp_path / "file")


def test_hub_names_are_never_fetched() -> None:
    with pytest.raises(FileNotFoundError):
        load_model("gpt2")  # a hub id is just a (missing) local path here


def test_bad_dtype_and_device(tiny_model_dir: Path) -> None:
    with pytest.raises(ValueError, match="dtype"):
        load_model(tiny_model_dir, dtype="int3")
    with pytest.raises(ValueError, match="device"):
        load_model(tiny_model_dir, device="tpu:7")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            load_model(tiny_model_dir, device="cuda")


def test_defaults(tiny_model_dir: Path) -> None:
    loaded = load_model(tiny_model_dir)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert loaded.device.type == expected
    assert loaded.dtype == (torch.bfloat16 if expected == "cuda" else torch.float32)
    assert next(loaded.model.parameters()).dtype == loaded.dtype
    assert loaded.path == tiny_model_dir and not loaded.model.training
    assert loaded.tokenizer.padding_side == "left" and loaded.tokenizer.pad_token is not None
    assert loaded.adapters == [] and loaded.active_adapter is None


def test_explicit_dtype(tiny_model_dir: Path) -> None:
    loaded = load_model(tiny_model_dir, dtype="bf16", device="cpu")
    assert loaded.dtype == torch.bfloat16 and next(loaded.model.parameters()).dtype == torch.bfloat16


def test_pad_token_falls_back_to_eos(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "nopad"
    shutil.copytree(tiny_model_dir, copy)
    tok = AutoTokenizer.from_pretrained(str(copy), local_files_only=True)
    tok.pad_token = None
    tok.save_pretrained(str(copy))
    assert AutoTokenizer.from_pretrained(str(copy), local_files_only=True).pad_token is None
    loaded = load_model(copy)
    assert loaded.tokenizer.pad_token == loaded.tokenizer.eos_token


def _logits(loaded: LoadedModel, ids: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return loaded.model(input_ids=ids).logits.float()


def test_lora_adapters(tiny_model_dir: Path, tmp_path: Path) -> None:
    first = save_random_lora(tiny_model_dir, tmp_path / "a1", seed=1)
    second = save_random_lora(tiny_model_dir, tmp_path / "a2", seed=2)
    loaded = load_model(tiny_model_dir)
    ids = loaded.tokenizer(["int f(int a) {"], return_tensors="pt")["input_ids"].to(loaded.device)
    base = _logits(loaded, ids)

    load_adapter(loaded, first, "a1")
    assert loaded.adapters == ["a1"] and loaded.active_adapter == "a1"
    with_a1 = _logits(loaded, ids)
    assert not torch.allclose(base, with_a1)
    assert not loaded.model.training

    load_adapter(loaded, second, "a2", activate=False)
    assert loaded.adapters == ["a1", "a2"] and loaded.active_adapter == "a1"
    assert torch.allclose(_logits(loaded, ids), with_a1)
    set_active_adapter(loaded, "a2")
    with_a2 = _logits(loaded, ids)
    assert loaded.active_adapter == "a2" and not torch.allclose(with_a1, with_a2)
    set_active_adapter(loaded, "a1")
    assert torch.allclose(_logits(loaded, ids), with_a1)

    with pytest.raises(ValueError, match="unknown adapter"):
        set_active_adapter(loaded, "nope")
    with pytest.raises(ValueError, match="already loaded"):
        load_adapter(loaded, first, "a1")
    with pytest.raises(FileNotFoundError):
        load_adapter(loaded, tmp_path / "missing", "a3")
    with pytest.raises(FileNotFoundError, match=r"adapter_config\.json"):
        load_adapter(loaded, tiny_model_dir, "a3")


def test_adapter_at_load_time(tiny_model_dir: Path, tmp_path: Path) -> None:
    adapter = save_random_lora(tiny_model_dir, tmp_path / "a", seed=3)
    loaded = load_model(tiny_model_dir, adapter=adapter)
    assert loaded.adapters == ["default"] and loaded.active_adapter == "default"
    enc = loaded.tokenizer(["bool f(int x) {", "int g() {"], return_tensors="pt", padding=True).to(loaded.device)
    with torch.inference_mode():
        out = loaded.model.generate(**enc, do_sample=False, max_new_tokens=5)
    assert out.shape[0] == 2


def _lora_entries(model: torch.nn.Module) -> int:
    """How many (layer, adapter) LoRA weight pairs the model holds: what grows if reloads leak."""
    return sum(len(m.lora_A) for m in model.modules() if hasattr(m, "lora_A"))


def test_first_adapter_loaded_inactive_leaves_the_base(tiny_model_dir: Path, tmp_path: Path) -> None:
    adapter = save_random_lora(tiny_model_dir, tmp_path / "a", seed=4)
    loaded = load_model(tiny_model_dir)
    ids = loaded.tokenizer(["int f(int a) {"], return_tensors="pt")["input_ids"].to(loaded.device)
    base = _logits(loaded, ids)
    load_adapter(loaded, adapter, "a", activate=False)
    assert loaded.active_adapter is None and loaded.adapter_paths == {"a": adapter}
    assert torch.allclose(_logits(loaded, ids), base)
    with use_adapter(loaded, "a") as model, torch.inference_mode():
        with_a = model(input_ids=ids).logits.float()
    assert not torch.allclose(with_a, base)
    assert torch.allclose(_logits(loaded, ids), base), "use_adapter must restore the default on exit"
    set_active_adapter(loaded, "a")
    assert torch.allclose(_logits(loaded, ids), with_a)
    with use_adapter(loaded, None) as model, torch.inference_mode():
        assert torch.allclose(model(input_ids=ids).logits.float(), base)
    assert torch.allclose(_logits(loaded, ids), with_a)
    set_active_adapter(loaded, None)
    assert torch.allclose(_logits(loaded, ids), base)
    with pytest.raises(ValueError, match="unknown adapter"), use_adapter(loaded, "nope"):
        pass


def test_replace_swaps_weights_without_growing(tiny_model_dir: Path, tmp_path: Path) -> None:
    first = save_random_lora(tiny_model_dir, tmp_path / "a1", seed=5)
    second = save_random_lora(tiny_model_dir, tmp_path / "a2", seed=6)
    other = save_random_lora(tiny_model_dir, tmp_path / "o", seed=7)
    loaded = load_model(tiny_model_dir)
    ids = loaded.tokenizer(["int f(int a) {"], return_tensors="pt")["input_ids"].to(loaded.device)
    load_adapter(loaded, other, "other")
    load_adapter(loaded, first, "policy", activate=False)
    with use_adapter(loaded, "policy") as model, torch.inference_mode():
        with_first = model(input_ids=ids).logits.float()
    with_other = _logits(loaded, ids)
    with pytest.raises(ValueError, match="already loaded"):
        load_adapter(loaded, second, "policy")
    entries = _lora_entries(loaded.model)
    params = sum(p.numel() for p in loaded.model.parameters())
    for i in range(20):
        load_adapter(loaded, second if i % 2 == 0 else first, "policy", activate=False, replace=True)
        assert len(loaded.model.peft_config) == 2 and "other" in loaded.model.peft_config
        assert _lora_entries(loaded.model) == entries
        assert sum(p.numel() for p in loaded.model.parameters()) == params
    assert loaded.adapters == ["other", "policy"] and loaded.active_adapter == "other"
    assert loaded.adapter_paths["policy"] == first  # the last reload (i = 19) was `first`
    with use_adapter(loaded, "policy") as model, torch.inference_mode():
        assert torch.allclose(model(input_ids=ids).logits.float(), with_first)
    load_adapter(loaded, second, "policy", replace=True)  # activate=True makes it the default
    with_second = _logits(loaded, ids)
    assert loaded.active_adapter == "policy" and not torch.allclose(with_second, with_first)
    assert not torch.allclose(with_second, with_other)
    assert not any(p.requires_grad for p in loaded.model.parameters()), "served adapters stay frozen"


def test_failed_replace_keeps_the_old_weights(tiny_model_dir: Path, tmp_path: Path) -> None:
    good = save_random_lora(tiny_model_dir, tmp_path / "good", seed=8)
    broken = tmp_path / "broken"
    shutil.copytree(good, broken)
    (broken / "adapter_model.safetensors").write_bytes(b"not safetensors")
    loaded = load_model(tiny_model_dir)
    ids = loaded.tokenizer(["int f(int a) {"], return_tensors="pt")["input_ids"].to(loaded.device)
    base = _logits(loaded, ids)
    load_adapter(loaded, good, "policy")
    with_good = _logits(loaded, ids)
    entries = _lora_entries(loaded.model)
    with pytest.raises(Exception):  # noqa: B017 - whatever safetensors raises for a corrupt file
        load_adapter(loaded, broken, "policy", replace=True)
    assert loaded.adapters == ["policy"] and loaded.active_adapter == "policy"
    assert loaded.adapter_paths == {"policy": good} and _lora_entries(loaded.model) == entries
    assert torch.allclose(_logits(loaded, ids), with_good) and not torch.allclose(with_good, base)
    with pytest.raises(Exception):  # noqa: B017 - a first load that fails leaves nothing behind
        load_adapter(loaded, broken, "other")
    assert loaded.adapters == ["policy"] and sorted(loaded.model.peft_config) == ["policy"]
    load_adapter(loaded, good, "policy", replace=True)  # a good replacement after the failed one
    assert loaded.adapters == ["policy"] and _lora_entries(loaded.model) == entries
    assert torch.allclose(_logits(loaded, ids), with_good)


# -- a failed first load, and load/unload churn, leave the bare base (module for module) --------------


def _structure(model: torch.nn.Module) -> dict[str, tuple[Any, ...]]:
    """Every module by name: which object, its attributes, children, parameters, buffers and hooks."""
    return {
        name: (
            id(m),
            type(m),
            sorted(vars(m)),
            list(m._modules),
            list(m._parameters),
            list(m._buffers),
            len(m._forward_hooks),
            len(m._forward_pre_hooks),
        )
        for name, m in model.named_modules()
    }


def _edit_config(adapter: Path, **fields: Any) -> None:
    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, **fields}))


def _config_only(good: Path, out: Path) -> Path:
    out.mkdir()
    shutil.copy(good / "adapter_config.json", out)
    return out


def _corrupt(good: Path, out: Path) -> Path:
    shutil.copytree(good, out)
    (out / "adapter_model.safetensors").write_bytes(b"not safetensors")
    return out


def _truncated(good: Path, out: Path) -> Path:
    shutil.copytree(good, out)
    weights = out / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    return out


def _other_rank(good: Path, out: Path) -> Path:  # r=4 weights under a config of r=8: a shape mismatch
    shutil.copytree(good, out)
    _edit_config(out, r=8, lora_alpha=16)
    return out


def _no_such_modules(good: Path, out: Path) -> Path:
    shutil.copytree(good, out)
    _edit_config(out, target_modules=["no_such_proj"])
    return out


def _unsupported_module(good: Path, out: Path) -> Path:  # q_proj is injected, then the norm fails
    shutil.copytree(good, out)
    _edit_config(out, target_modules=["q_proj", "input_layernorm"])
    return out


def _empty_weights(good: Path, out: Path) -> Path:  # PEFT wraps fully, then the completeness check fails
    shutil.copytree(good, out)
    save_file({}, out / "adapter_model.safetensors")
    return out


BROKEN: dict[str, Callable[[Path, Path], Path]] = {
    "config only": _config_only, "corrupt weights": _corrupt, "truncated weights": _truncated,
    "other rank": _other_rank, "no such modules": _no_such_modules, "unsupported module": _unsupported_module,
    "empty weights": _empty_weights,
}  # fmt: skip


@pytest.fixture(scope="module")
def good_lora(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_lora(tiny_model_dir, tmp_path_factory.mktemp("lora") / "good", seed=21)


def _assert_bare(loaded: LoadedModel, bare: torch.nn.Module, shape: dict[str, Any], base: torch.Tensor) -> None:
    ids = loaded.tokenizer(["int f(int a) {"], return_tensors="pt")["input_ids"].to(loaded.device)
    assert loaded.model is bare and loaded.adapters == [] and loaded.active_adapter is None
    assert _structure(bare) == shape and not hasattr(bare, "peft_config")
    assert not any(isinstance(m, BaseTunerLayer) for m in bare.modules())
    assert torch.equal(_logits(loaded, ids), base)
    with use_adapter(loaded, None) as model, torch.inference_mode():
        assert torch.equal(model(input_ids=ids).logits.float(), base)


@pytest.mark.parametrize("pre_check", [True, False], ids=["checked", "straight-to-peft"])
@pytest.mark.parametrize("case", list(BROKEN))
def test_a_failed_first_load_leaves_the_bare_base(
    case: str, pre_check: bool, good_lora: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = BROKEN[case](good_lora, tmp_path / "broken")
    loaded = load_model(tiny_model_dir)
    ids = loaded.tokenizer(["int f(int a) {"], return_tensors="pt")["input_ids"].to(loaded.device)
    base, bare, shape = _logits(loaded, ids), loaded.model, _structure(loaded.model)
    config = bare.config.to_dict()
    if not pre_check:  # what the directory check misses must still be undone: PEFT's own failures
        monkeypatch.setattr(model_module, "_check_adapter_dir", Path)
    with pytest.raises(Exception):  # noqa: B017 - each case fails its own way (safetensors, PEFT, torch, ours)
        load_adapter(loaded, broken, "s1", activate=False)
    monkeypatch.undo()
    _assert_bare(loaded, bare, shape, base)
    assert bare.config.to_dict() == config and loaded.adapter_paths == {} and loaded.peft_names == {}
    load_adapter(loaded, good_lora, "good")  # a valid adapter then loads and serves...
    with_good = _logits(loaded, ids)
    assert not torch.allclose(with_good, base)
    with use_adapter(loaded, None) as model, torch.inference_mode():
        assert torch.equal(model(input_ids=ids).logits.float(), base)
    unload_adapter(loaded, "good")  # ...and unloads back to the bare base
    _assert_bare(loaded, bare, shape, base)


@pytest.mark.parametrize(
    "fields",
    [{"init_lora_weights": "pissa"}, {"init_lora_weights": "olora"}, {"init_lora_weights": "loftq"},
     {"layer_replication": [[0, 2], [1, 4]]}],
    ids=repr,
)  # fmt: skip
def test_configs_that_would_rewrite_the_base_are_refused(
    fields: dict[str, Any], good_lora: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    loaded = load_model(tiny_model_dir)
    ids = loaded.tokenizer(["int f(int a) {"], return_tensors="pt")["input_ids"].to(loaded.device)
    base, bare, shape = _logits(loaded, ids), loaded.model, _structure(loaded.model)
    adapter = tmp_path / "a"
    shutil.copytree(good_lora, adapter)
    _edit_config(adapter, **fields)
    with pytest.raises(ValueError, match="would re"):
        load_adapter(loaded, adapter, "a")
    _assert_bare(loaded, bare, shape, base)
    (adapter / "adapter_config.json").write_text("[]")
    with pytest.raises(ValueError, match="not a JSON object"):
        load_adapter(loaded, adapter, "a")
    with pytest.raises(FileNotFoundError, match="without its weights"):
        load_adapter(loaded, _config_only(good_lora, tmp_path / "c"), "c")
    _assert_bare(loaded, bare, shape, base)


def _peft_active_exists(loaded: LoadedModel) -> bool:
    """PEFT's forward reads its active adapter's config: it must name one that is loaded."""
    return not loaded.adapters or loaded.model.active_adapter in loaded.model.peft_config


def test_churn_leaves_the_base_and_a_working_adapter(tiny_model_dir: Path, tmp_path: Path) -> None:
    a1, a2, b, c = (save_random_lora(tiny_model_dir, tmp_path / n, seed=30 + i) for i, n in enumerate("wxyz"))
    loaded = load_model(tiny_model_dir)
    ids = loaded.tokenizer(["int f(int a) {"], return_tensors="pt")["input_ids"].to(loaded.device)
    base, bare, shape = _logits(loaded, ids), loaded.model, _structure(loaded.model)
    reference = load_model(tiny_model_dir)
    load_adapter(reference, c, "c")
    with_c = _logits(reference, ids)
    steps: list[Callable[[], object]] = [
        lambda: load_adapter(loaded, a1, "a"),
        lambda: load_adapter(loaded, a2, "a", replace=True),
        lambda: load_adapter(loaded, a1, "a", replace=True),
        lambda: load_adapter(loaded, b, "b", activate=False),
        lambda: unload_adapter(loaded, "a"),
        lambda: unload_adapter(loaded, "b"),
        lambda: load_adapter(loaded, c, "c", activate=False),
    ]
    for i, step in enumerate(steps):
        step()
        assert _peft_active_exists(loaded), (i, loaded.model.active_adapter, list(loaded.model.peft_config))
        if loaded.active_adapter is None:
            assert torch.equal(_logits(loaded, ids), base), i
        with use_adapter(loaded, None) as model, torch.inference_mode():
            assert torch.equal(model(input_ids=ids).logits.float(), base), i
    assert loaded.adapters == ["c"] and loaded.active_adapter is None
    with use_adapter(loaded, "c") as model, torch.inference_mode():
        assert torch.allclose(model(input_ids=ids).logits.float(), with_c)
    assert torch.equal(_logits(loaded, ids), base)
    unload_adapter(loaded, "c")
    _assert_bare(loaded, bare, shape, base)


@pytest.mark.parametrize("case", ["unsupported module", "other rank", "corrupt weights"])
def test_a_failed_load_beside_an_adapter_leaves_no_layers_behind(
    case: str, good_lora: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    loaded = load_model(tiny_model_dir)
    ids = loaded.tokenizer(["int f(int a) {"], return_tensors="pt")["input_ids"].to(loaded.device)
    base = _logits(loaded, ids)
    load_adapter(loaded, good_lora, "policy")
    with_policy, entries = _logits(loaded, ids), _lora_entries(loaded.model)
    with pytest.raises(Exception):  # noqa: B017 - PEFT's or torch's own error
        load_adapter(loaded, BROKEN[case](good_lora, tmp_path / "broken"), "other")
    assert loaded.adapters == ["policy"] and sorted(loaded.model.peft_config) == ["policy"]
    assert _lora_entries(loaded.model) == entries, "half-injected layers of the failed load stayed"
    assert torch.equal(_logits(loaded, ids), with_policy)
    with use_adapter(loaded, None) as model, torch.inference_mode():
        assert torch.equal(model(input_ids=ids).logits.float(), base)
