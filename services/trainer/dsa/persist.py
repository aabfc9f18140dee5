"""Save and load a DSA model: the usual `save_pretrained` directory (the indexers are submodules, so their
weights are in its safetensors) plus `dsa.json` with the indexer shape, top-k and the stage-1 step count.

A plain `from_pretrained` of that directory gives the dense base model (it reports the indexer weights as
unexpected and drops them); `load_dsa_model` rebuilds the DSA model with every weight, strictly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .attention import DSAConfig, dsa_handle, enable_dsa

DSA_FILE = "dsa.json"
FORMAT = 1


def save_dsa_model(model: nn.Module, out_dir: str | Path, *, tokenizer: Any = None) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    handle = dsa_handle(model)
    model.save_pretrained(str(out))  # type: ignore[operator]
    if tokenizer is not None:
        tokenizer.save_pretrained(str(out))
    meta = {"format": FORMAT, **handle.config.to_dict(), "warmup_steps": handle.warmup_steps}
    (out / DSA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return out


def read_dsa_config(path: str | Path) -> tuple[DSAConfig, int]:
    """The DSAConfig and stage-1 step count saved in `path`/dsa.json (ValueError when absent or bad)."""
    file = Path(path) / DSA_FILE
    try:
        meta = json.loads(file.read_text())
        config = DSAConfig(
            topk=int(meta["topk"]),
            index_heads=int(meta["index_heads"]),
            index_dim=int(meta["index_dim"]),
            rope_dim=int(meta["rope_dim"]),
        )
        return config, int(meta.get("warmup_steps", 0))
    except FileNotFoundError:
        raise ValueError(f"{path} is not a DSA model directory (no {DSA_FILE})") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{file} is malformed: {exc}") from None


def load_dsa_model(path: str | Path, *, dtype: torch.dtype = torch.float32) -> nn.Module:
    """The DSA model saved by `save_dsa_model`, every weight loaded (tied ones through their twin)."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM

    path = Path(path)
    config, warmup_steps = read_dsa_config(path)
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise ValueError(f"no safetensors weights in {path}")
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(str(path), local_files_only=True), dtype=dtype)
    enable_dsa(
        model, topk=config.topk, index_heads=config.index_heads, index_dim=config.index_dim, rope_dim=config.rope_dim
    )
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state.update(load_file(str(file)))
    missing, unexpected = model.load_state_dict(state, strict=False)
    own = model.state_dict()
    loaded_storage = {own[name].data_ptr() for name in state if name in own}
    untied = [name for name in missing if own[name].data_ptr() not in loaded_storage]
    if untied or unexpected:
        raise ValueError(f"{path}: weights do not match the DSA model (missing {untied}, unexpected {unexpected})")
    dsa_handle(model).warmup_steps = warmup_steps
    model.eval()
    return model
