"""Row surgery on a transformers KV cache: drop rows, and join two caches into one batch.

What continuous batching needs from the cache: a decode that finished some rows drops them (no more
forward work for them), and a session whose prompt is prefilled joins a running one (one forward for
both from then on). Both touch only caches whose every layer is a plain `DynamicLayer` (keys and values
of shape (B, heads, T, head_dim)); anything else (sliding windows, quantised or offloaded caches) is
left alone: `supports_rows` says no and callers keep their sessions apart.

Joining left-pads the shorter cache with zeros up to the longer one's length; the attention mask marks
those positions 0, so no query ever attends to them (their values never enter a softmax with weight).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import DynamicLayer


def supports_rows(cache: Any) -> bool:
    layers = getattr(cache, "layers", None) or []
    return bool(layers) and all(type(layer) is DynamicLayer and layer.is_initialized for layer in layers)


def seq_length(cache: Any) -> int:
    return int(cache.layers[0].keys.shape[-2])


def select_rows(cache: Any, keep: torch.Tensor) -> None:
    """Keep only batch rows `keep` (indices, in order) of every layer, in place."""
    for layer in cache.layers:
        layer.keys = layer.keys.index_select(0, keep)
        layer.values = layer.values.index_select(0, keep)


def _pad_left(t: torch.Tensor, length: int) -> torch.Tensor:
    missing = length - t.shape[-2]
    if missing == 0:
        return t
    pad = t.new_zeros((*t.shape[:-2], missing, t.shape[-1]))
    return torch.cat([pad, t], dim=-2)


def join(into: Any, other: Any) -> int:
    """Append `other`'s rows to `into` (in place), both brought to the longer length: that length."""
    if len(into.layers) != len(other.layers):
        raise ValueError("caches of different models cannot be joined")
    length = max(seq_length(into), seq_length(other))
    for mine, theirs in zip(into.layers, other.layers, strict=True):
        mine.keys = torch.cat([_pad_left(mine.keys, length), _pad_left(theirs.keys, length)], dim=0)
        mine.values = torch.cat([_pad_left(mine.values, length), _pad_left(theirs.values, length)], dim=0)
    return length


def pad_mask_left(mask: torch.Tensor, length: int) -> torch.Tensor:
    """An attention mask (B, T) left-padded with zeros to (B, length)."""
    missing = length - mask.shape[-1]
    return torch.cat([mask.new_zeros((mask.shape[0], missing)), mask], dim=-1) if missing else mask
