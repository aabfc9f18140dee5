"""The policy being trained and its frozen reference: LoRA (PEFT) on the MLP projections, or full weights.

LoRA targets are found by module name, so any HF causal LM works: the MLP projections of Llama/
Mistral/Qwen (gate/up/down_proj), GPT-2/NeoX/Falcon/Phi-style MLPs, and the Mamba mixer's
projections where a model has them. NF4 4-bit base weights only when bitsandbytes AND CUDA are
there; otherwise one log line and full precision. The reference for the KL is the base with the
adapter disabled (LoRA) or a frozen copy in eval mode (full fine-tuning), never the live policy.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..lm.model import LoadedModel, load_model
from .config import TrainConfig

log = logging.getLogger(__name__)

# Leaf names of MLP projections across common HF architectures.
MLP_TARGETS = ("gate_proj", "up_proj", "down_proj", "fc1", "fc2", "c_fc", "dense_h_to_4h", "dense_4h_to_h",
               "w1", "w2", "w3")  # fmt: skip
MAMBA_TARGETS = ("in_proj", "x_proj", "dt_proj", "out_proj")
ATTENTION_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "qkv_proj", "c_attn", "query_key_value")
TRAIN_ADAPTER = "default"
BEHAVIOUR_ADAPTER = "behaviour"  # the weights the inference service samples with (http rollouts)


def lora_target_modules(model: Any, which: str = "mlp") -> list[str]:
    """Leaf names to adapt, those present in `model` (linear layers only); ValueError when none match."""
    wanted = set(MLP_TARGETS) | set(MAMBA_TARGETS)
    if which == "all":
        wanted |= set(ATTENTION_TARGETS)
    found: set[str] = set()
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        is_linear = isinstance(module, torch.nn.Linear) or type(module).__name__ in ("Conv1D", "Linear4bit")
        # GPT-2 names its MLP output c_proj too, but so is its attention output: only adapt it under .mlp
        if leaf == "c_proj" and ".mlp." in f".{name}." and is_linear:
            found.add("mlp.c_proj")
        if leaf in wanted and is_linear:
            found.add(leaf)
    if not found:
        raise ValueError(f"no LoRA target ({which}) found among the model's linear layers")
    return sorted(found)


def nf4_available(device: torch.device) -> bool:
    if device.type != "cuda":
        return False
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Policy:
    loaded: LoadedModel
    lora: bool
    reference: Any | None  # the frozen copy for full fine-tuning; None with LoRA (adapter disabled instead)
    nf4: bool

    @property
    def model(self) -> Any:
        return self.loaded.model

    @property
    def tokenizer(self) -> Any:
        return self.loaded.tokenizer

    @property
    def device(self) -> torch.device:
        dev: torch.device = self.loaded.device
        return dev

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    @contextlib.contextmanager
    def reference_model(self) -> Iterator[Any]:
        """The frozen reference, in eval mode, for a no-grad forward."""
        if self.reference is not None:
            yield self.reference
            return
        with self.model.disable_adapter():
            yield self.model

    @contextlib.contextmanager
    def adapter(self, name: str) -> Iterator[Any]:
        """The model with adapter `name` active (LoRA only); the training adapter again afterwards."""
        self.model.set_adapter(name)
        try:
            yield self.model
        finally:
            self.model.set_adapter(TRAIN_ADAPTER)
            _mark_trainable(self.model, TRAIN_ADAPTER)

    def save_adapter(self, out_dir: Path) -> Path:
        """The trainable weights as a standard PEFT adapter dir (LoRA) or a full HF model dir."""
        out_dir.mkdir(parents=True, exist_ok=True)
        if self.lora:
            self.model.save_pretrained(str(out_dir), selected_adapters=[TRAIN_ADAPTER])
        else:
            self.model.save_pretrained(str(out_dir))
            self.tokenizer.save_pretrained(str(out_dir))
        return out_dir


def _mark_trainable(model: Any, adapter: str) -> None:
    # set_adapter makes the active adapter trainable; keep every other adapter frozen.
    for name, param in model.named_parameters():
        if "lora_" in name:
            param.requires_grad = f".{adapter}." in name


def _load_nf4(path: str, device: torch.device) -> LoadedModel:
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    base = load_model(path, dtype="bfloat16", device="cpu")  # tokenizer + checks; weights reloaded quantized
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
                               bnb_4bit_use_double_quant=True)  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, quantization_config=quant,
                                                 device_map={"": device.index or 0})  # fmt: skip
    model.config.pad_token_id = base.tokenizer.pad_token_id
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)  # type: ignore[no-untyped-call]
    return LoadedModel(model=model, tokenizer=base.tokenizer, device=device, path=base.path, dtype=torch.bfloat16)


def load_policy(model_path: str, cfg: TrainConfig, *, adapter_dir: Path | None = None) -> Policy:
    """The model to train: base + a fresh (or saved, `adapter_dir`) LoRA adapter, or all weights."""
    from peft import LoraConfig, PeftModel, get_peft_model

    loaded = load_model(model_path, dtype="float32" if cfg.device == "cpu" else "auto", device=cfg.device)
    nf4 = False
    if cfg.lora and cfg.quantize_nf4:
        if nf4_available(loaded.device):
            loaded = _load_nf4(model_path, loaded.device)
            nf4 = True
        else:
            log.info("NF4 needs bitsandbytes and CUDA (device %s): the LoRA base stays in full precision",
                     loaded.device)  # fmt: skip
    model = loaded.model
    if cfg.lora:
        if adapter_dir is not None:
            model = PeftModel.from_pretrained(model, str(adapter_dir), adapter_name=TRAIN_ADAPTER, is_trainable=True)
        else:
            targets = lora_target_modules(model, cfg.lora_targets)
            lora_cfg = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                  target_modules=targets, task_type="CAUSAL_LM")  # fmt: skip
            model = get_peft_model(model, lora_cfg, adapter_name=TRAIN_ADAPTER)
        reference = None
    else:
        # Full fine-tuning: the reference is the base as loaded; the policy a copy (or the checkpoint).
        reference = loaded.model
        if adapter_dir is not None:
            model = load_model(str(adapter_dir), dtype="float32" if cfg.device == "cpu" else "auto",
                               device=cfg.device).model  # fmt: skip
        else:
            model = copy.deepcopy(loaded.model)
        reference.eval()
        for p in reference.parameters():
            p.requires_grad_(False)
        for p in model.parameters():
            p.requires_grad_(True)
    model.to(loaded.device)
    model.train()
    if cfg.lora_dropout == 0:
        model.eval()  # no dropout anywhere: eval mode makes the rollout and training forwards identical
    loaded.model = model
    return Policy(loaded=loaded, lora=cfg.lora, reference=reference, nf4=nf4)


def copy_adapter_weights(model: Any, src: str, dst: str) -> None:
    """Copy adapter `src`'s LoRA weights into adapter `dst` (same config), e.g. to snapshot the sync."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, param in params.items():
            if f".{src}." in name and "lora_" in name:
                params[name.replace(f".{src}.", f".{dst}.")].copy_(param)


def add_behaviour_adapter(policy: Policy) -> None:
    """A second adapter holding the weights last pushed to the inference service (http rollouts)."""
    model = policy.model
    if BEHAVIOUR_ADAPTER not in model.peft_config:
        model.add_adapter(BEHAVIOUR_ADAPTER, copy.deepcopy(model.peft_config[TRAIN_ADAPTER]))
        model.set_adapter(TRAIN_ADAPTER)
        _mark_trainable(model, TRAIN_ADAPTER)
    copy_adapter_weights(model, TRAIN_ADAPTER, BEHAVIOUR_ADAPTER)
