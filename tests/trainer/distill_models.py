"""Tiny random Llama models for the distillation tests: teachers that take a second to make and save."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def tiny_llama(*, vocab: int, hidden: int = 16, layers: int = 2, seed: int = 0) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True)  # fmt: skip
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval()


def save_tiny_model(out: Path, tokenizer: Any, *, hidden: int = 128, layers: int = 2, seed: int = 0) -> Path:
    """A random tiny Llama over `tokenizer`'s vocabulary, saved with it as an HF model dir."""
    model = tiny_llama(vocab=len(tokenizer), hidden=hidden, layers=layers, seed=seed)
    model.config.bos_token_id = tokenizer.bos_token_id
    model.config.eos_token_id = tokenizer.eos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
