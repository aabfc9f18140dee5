"""A LoRA adapter with random (non-zero) weights saved from a real PEFT config: outputs differ from the base."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM


def save_random_lora(base_dir: Path, out: Path, seed: int) -> Path:
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(str(base_dir), local_files_only=True)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "gate_proj"], init_lora_weights=False)
    get_peft_model(base, config).save_pretrained(str(out))
    return out
