"""Load any local Hugging Face causal LM (and its tokenizer), optionally with LoRA adapters.

Never touches the hub: everything is `local_files_only=True`, and a path that is not there is a
`FileNotFoundError` naming it. The tokenizer pads on the left (for batched generation) and gets
its EOS as pad token when it has none; the model is put in eval mode on the chosen device.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..common.setting_checks import DTYPES as _DTYPES  # the settings check the same table


@dataclass
class LoadedModel:
    model: Any  # a transformers PreTrainedModel, or a peft PeftModel once an adapter is attached
    tokenizer: Any
    device: Any  # torch.device
    path: Path
    dtype: Any  # torch.dtype
    adapters: list[str] = field(default_factory=list)  # load order
    active_adapter: str | None = None  # what a plain forward runs; None: the base (adapter layers off)
    adapter_paths: dict[str, Path] = field(default_factory=dict)  # name -> where it was loaded from
    # name -> its adapter's name inside PEFT, where they differ: a replacement loads under a fresh
    # PEFT name (PEFT cannot rename), so the old weights serve until the new ones are known good.
    peft_names: dict[str, str] = field(default_factory=dict)


def resolve_device(device: str = "auto") -> Any:
    """ "auto" -> cuda when available, else cpu; anything else as torch.device (ValueError if bad)."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unsupported device {device!r}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available")
    return resolved


def resolve_dtype(dtype: str, device: Any) -> Any:
    """ "auto" -> bfloat16 on CUDA, float32 otherwise; else one of float32/bfloat16/float16 (aliases ok)."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    name = _DTYPES.get(str(dtype).lower())
    if name is None:
        raise ValueError(f"unsupported dtype {dtype!r}; use auto, {', '.join(sorted(set(_DTYPES.values())))}")
    return getattr(torch, name)


def _check_model_dir(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"model path does not exist: {path}")
    if not path.is_dir():
        raise FileNotFoundError(f"model path is not a directory: {path}")
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"no config.json in {path}: not a saved Hugging Face model directory")


def load_model(
    path: str | Path,
    dtype: str = "auto",
    device: str = "auto",
    adapter: str | Path | None = None,
) -> LoadedModel:
    """A local causal LM and its tokenizer, ready for batched generation (eval mode, left padding)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path).expanduser()
    _check_model_dir(path)
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(f"the tokenizer in {path} has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype=torch_dtype)
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    gen_config = getattr(model, "generation_config", None)
    if gen_config is not None and gen_config.pad_token_id is None:
        gen_config.pad_token_id = tokenizer.pad_token_id
    model.to(dev)
    model.eval()
    loaded = LoadedModel(model=model, tokenizer=tokenizer, device=dev, path=path, dtype=torch_dtype)
    if adapter is not None:
        load_adapter(loaded, adapter, "default")
    return loaded


def load_adapter(
    loaded: LoadedModel, adapter_path: str | Path, name: str, activate: bool = True, *, replace: bool = False
) -> LoadedModel:
    """Attach the PEFT (LoRA) adapter saved at `adapter_path` under `name`; activate it unless told not to.

    The first adapter wraps the model in a `peft.PeftModel`; later ones are added to it. A name that
    is already loaded is refused unless `replace`: then the new weights load beside the old ones
    (under a fresh PEFT name) and only once they loaded is the old adapter deleted, so repeated
    reloads (a trainer's weight sync) never accumulate adapters, and a replacement that fails to
    load (a half-written push) leaves the old weights serving, unchanged and as active as before.
    A failed first load of a name leaves no trace of it (never half-loaded weights); with no other
    adapter loaded, the model is the bare base again, module for module. Not thread-safe: callers
    that decode concurrently hold their own lock around it.
    """
    path = _check_adapter_dir(adapter_path)
    if not name:
        raise ValueError("an adapter needs a non-empty name")
    if name in loaded.adapters and not replace:
        raise ValueError(f"an adapter named {name!r} is already loaded")
    if name in loaded.adapters:
        # The name stays listed (and in its place) while its weights change: a concurrent reader
        # that resolves names without the caller's lock never sees it vanish for a moment.
        staged = _fresh_peft_name(loaded, name)
        try:
            _attach(loaded, path, staged)
        except BaseException:
            _drop_peft(loaded, staged)  # the half-loaded new weights go; the old ones stay
            _sync(loaded)
            raise
        loaded.model.delete_adapter(_peft_name(loaded, name))
        loaded.peft_names[name] = staged
    else:
        try:
            _attach(loaded, path, name)
        except BaseException:
            _forget(loaded, name)  # a half-loaded adapter must never serve
            raise
        loaded.adapters.append(name)
    loaded.adapter_paths[name] = path
    if activate:
        loaded.active_adapter = name
    elif loaded.active_adapter not in loaded.adapters:
        loaded.active_adapter = None
    _sync(loaded)
    return loaded


_WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
# LoRA inits that only set the LoRA weights (the saved file then overwrites them). The others (PiSSA,
# OLoRA, CorDA, LoftQ, MiCA, LoRA-GA) rewrite the base layer's own weights as the adapter loads: every
# tenant's base answers would change.
_SAFE_INITS: tuple[bool | str, ...] = (True, False, "gaussian", "eva", "orthogonal")


def _check_adapter_dir(adapter_path: str | Path) -> Path:
    """The adapter's directory, checked before PEFT touches the model: a config that is a JSON object
    and changes nothing in the base, and a weights file beside it."""
    path = Path(adapter_path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"adapter path does not exist or is not a directory: {path}")
    if not (path / "adapter_config.json").is_file():
        raise FileNotFoundError(f"no adapter_config.json in {path}: not a saved PEFT adapter")
    if not any((path / weights).is_file() for weights in _WEIGHT_FILES):
        raise FileNotFoundError(f"no {' or '.join(_WEIGHT_FILES)} in {path}: an adapter config without its weights")
    _check_adapter_config(path / "adapter_config.json")
    return path


def _check_adapter_config(config_file: Path) -> None:
    """ValueError for a config that is not a JSON object, or whose load would change the base model
    itself: a base-rewriting init, or `layer_replication` (it rebuilds the base's layer list)."""
    config = json.loads(config_file.read_text())
    if not isinstance(config, dict):
        raise ValueError(f"{config_file} is not a JSON object")
    init = config.get("init_lora_weights", True)
    if not any(init is safe or (isinstance(init, str) and init == safe) for safe in _SAFE_INITS):
        raise ValueError(f"{config_file}: init_lora_weights={init!r} would rewrite the base model's weights")
    if config.get("layer_replication"):
        raise ValueError(f"{config_file}: layer_replication would rebuild the base model's layers")


def _attach(loaded: LoadedModel, path: Path, name: str) -> None:
    from peft import PeftModel

    if isinstance(loaded.model, PeftModel):
        loaded.model.load_adapter(str(path), adapter_name=name, is_trainable=False)
    else:  # (PEFT injects into the model it is given, in place: a failure leaves that half-wrapped; see _forget)
        loaded.model = PeftModel.from_pretrained(loaded.model, str(path), adapter_name=name, is_trainable=False)
    loaded.model.to(loaded.device)
    loaded.model.eval()
    _check_complete(loaded, path, name)


class IncompleteAdapterError(ValueError):
    """A saved adapter whose weights file lacks some of the LoRA weights its config asks for."""


def _check_complete(loaded: LoadedModel, path: Path, name: str) -> None:
    """PEFT fills LoRA weights missing from the file with fresh initial values (zeros, or random ones)
    without a word: a partial or empty save would then serve as if it were the trained adapter."""
    from peft import get_peft_model_state_dict

    expected = set(get_peft_model_state_dict(loaded.model, adapter_name=name))
    missing = sorted(expected - _saved_keys(path))
    if missing:
        raise IncompleteAdapterError(
            f"the adapter at {path} lacks {len(missing)} of its {len(expected)} LoRA weights (e.g. {missing[0]}): "
            "an incomplete save"
        )


def _saved_keys(path: Path) -> set[str]:
    if (path / "adapter_model.safetensors").is_file():
        from safetensors import safe_open

        with safe_open(str(path / "adapter_model.safetensors"), framework="pt") as f:
            return set(f.keys())
    import torch

    state = torch.load(path / "adapter_model.bin", map_location="cpu", weights_only=True)
    return set(state)


def _peft_name(loaded: LoadedModel, name: str) -> str:
    return loaded.peft_names.get(name, name)


def _fresh_peft_name(loaded: LoadedModel, name: str) -> str:
    """A PEFT adapter name for `name`'s replacement weights: `name~k`, unused (`~` is in no served name)."""
    taken = set(getattr(loaded.model, "peft_config", {})) | set(loaded.adapters)
    k = 1
    while f"{name}~{k}" in taken:
        k += 1
    return f"{name}~{k}"


def _drop_peft(loaded: LoadedModel, peft_name: str) -> None:
    """Delete PEFT's adapter `peft_name` if a (failed) load got as far as injecting it. Only ever
    PeftModel.delete_adapter: on a bare model transformers' own delete_adapter would run instead."""
    from peft import PeftModel
    from peft.tuners.tuners_utils import BaseTunerLayer

    if not isinstance(loaded.model, PeftModel):
        return
    if peft_name in loaded.model.peft_config:
        loaded.model.delete_adapter(peft_name)
        return
    # An injection that failed half-way: PEFT rolled its config back, not the layers it had done.
    for module in loaded.model.modules():
        if isinstance(module, BaseTunerLayer):
            module.delete_adapter(peft_name)


def _forget(loaded: LoadedModel, name: str) -> None:
    """Drop every trace of adapter `name` (after a failed first load PEFT may have injected it already).
    With no adapter left, the model is the bare base again, as load_model gave it."""
    peft_name = _peft_name(loaded, name)
    loaded.peft_names.pop(name, None)
    if name in loaded.adapters:
        loaded.adapters.remove(name)
    loaded.adapter_paths.pop(name, None)
    if loaded.active_adapter == name:
        loaded.active_adapter = None
    if loaded.adapters:
        _drop_peft(loaded, peft_name)
    else:
        loaded.model = _bare(loaded.model)
    _sync(loaded)


def _bare(model: Any) -> Any:
    """`model` (a PeftModel, or a base model a failed PeftModel.from_pretrained injected into) as the
    bare base model: every tuner layer and auxiliary wrapper set back to the module it wraps, and the
    `peft_config` attribute PEFT put on the base gone. PEFT has no such undo: a PeftModel with no
    adapter left cannot forward, and a half-wrapped base fails in transformers' own adapter code."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        model = model.base_model.model
    restored: list[str] = []
    for name, module in list(model.named_modules()):
        if any(name.startswith(prefix + ".") for prefix in restored):
            continue  # inside a wrapper already swapped out
        original = _unwrapped(module)
        if original is not module:
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent), attr, original)
            restored.append(name)
    model.__dict__.pop("peft_config", None)
    return model


def _unwrapped(module: Any) -> Any:
    """The module a PEFT wrapper wraps (innermost), or `module` itself when it is no wrapper."""
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import AuxiliaryTrainingWrapper

    while True:
        if isinstance(module, BaseTunerLayer):
            module = module.get_base_layer()
        elif isinstance(module, AuxiliaryTrainingWrapper):
            module = module.original_module
        else:
            return module


def unload_adapter(loaded: LoadedModel, name: str) -> None:
    """Delete adapter `name` (PEFT delete_adapter, its memory freed); if it was the active one, the base
    becomes the default. ValueError for a name not loaded. Not thread-safe: callers that decode
    concurrently hold their own lock around it."""
    if name not in loaded.adapters:
        known = ", ".join(loaded.adapters) or "none"
        raise ValueError(f"unknown adapter {name!r} (loaded: {known})")
    _forget(loaded, name)


def set_active_adapter(loaded: LoadedModel, name: str | None) -> None:
    """Make the adapter `name` (one already loaded) the one generation uses; None: the bare base model."""
    if name is not None and name not in loaded.adapters:
        known = ", ".join(loaded.adapters) or "none"
        raise ValueError(f"unknown adapter {name!r} (loaded: {known})")
    loaded.active_adapter = name
    _sync(loaded)


def _select(loaded: LoadedModel, name: str | None) -> None:
    """Point the PEFT model's LoRA layers at adapter `name`, or switch them all off for None."""
    model = loaded.model
    if name is None:
        # PEFT's forward still reads its active adapter's config, even with the layers off: keep it
        # pointing at one that exists (a deleted one is a KeyError for every base request).
        model.set_adapter(_peft_name(loaded, loaded.adapters[0]), inference_mode=True)
        model.base_model.disable_adapter_layers()
    else:
        model.base_model.enable_adapter_layers()  # (this marks the active adapter trainable again...)
        model.set_adapter(_peft_name(loaded, name), inference_mode=True)  # (...and inference_mode freezes it)


def _sync(loaded: LoadedModel) -> None:
    """Make a plain forward of `loaded.model` match `loaded.active_adapter` (the invariant callers rely on)."""
    if loaded.adapters:
        _select(loaded, loaded.active_adapter)


@contextmanager
def use_adapter(loaded: LoadedModel, name: str | None) -> Iterator[Any]:
    """The model to run with adapter `name` selected (None: the base, adapters off), for one decode.

    Selection is temporary: on exit the active adapter is selected again. PEFT runs one adapter per
    forward, so callers that decode from several threads serialise around this.
    """
    if name is not None and name not in loaded.adapters:
        known = ", ".join(loaded.adapters) or "none"
        raise ValueError(f"unknown adapter {name!r} (loaded: {known})")
    if name == loaded.active_adapter or not loaded.adapters:
        yield loaded.model  # (with no adapter loaded, the bare base: _forget unwraps it)
        return
    _select(loaded, name)
    try:
        yield loaded.model
    finally:
        _sync(loaded)
