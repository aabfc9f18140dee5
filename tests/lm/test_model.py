"""`load_model` / `load_adapter`: local-only loading, clear errors, LoRA adapters that switch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from services.lm.model import LoadedModel, load_adapter, load_model, set_active_adapter, use_adapter
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
