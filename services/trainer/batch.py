"""From judged groups to padded tensors, and per-token log-probs from one batched forward.

A row is prompt ids + completion ids, right-padded; the log-prob of completion token j of row b
comes from the logits at absolute position P_b + j - 1. Completion tensors are (B, T) with T the
longest completion, and `mask` is 1 on tokens that count (FGO may zero a tail).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .losses import selective_log_probs


@dataclass
class Row:
    prompt_ids: list[int]
    completion_ids: list[int]
    keep: list[bool]  # per completion token: counts in the loss (FGO)
    reward: float
    advantage: float


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, L) prompt + completion, right-padded
    attention_mask: torch.Tensor  # (B, L)
    positions: torch.Tensor  # (B, T) index of the logit predicting completion token j
    completion_ids: torch.Tensor  # (B, T)
    mask: torch.Tensor  # (B, T) float, 1 on completion tokens that count
    advantages: torch.Tensor  # (B,)
    rewards: torch.Tensor  # (B,)

    def to(self, device: torch.device) -> Batch:
        return Batch(**{name: getattr(self, name).to(device) for name in self.__dataclass_fields__})

    @property
    def size(self) -> int:
        return int(self.input_ids.shape[0])


def collate(rows: Sequence[Row], pad_id: int) -> Batch:
    if not rows:
        raise ValueError("an empty batch")
    width = max(len(r.prompt_ids) + len(r.completion_ids) for r in rows)
    t_max = max(1, max(len(r.completion_ids) for r in rows))
    b = len(rows)
    input_ids = torch.full((b, width), pad_id, dtype=torch.long)
    attention = torch.zeros((b, width), dtype=torch.long)
    positions = torch.zeros((b, t_max), dtype=torch.long)
    completion = torch.full((b, t_max), pad_id, dtype=torch.long)
    mask = torch.zeros((b, t_max), dtype=torch.float32)
    for i, row in enumerate(rows):
        p, c = len(row.prompt_ids), len(row.completion_ids)
        input_ids[i, : p + c] = torch.tensor(row.prompt_ids + row.completion_ids, dtype=torch.long)
        attention[i, : p + c] = 1
        positions[i, :c] = torch.arange(p - 1, p + c - 1)
        if c:
            completion[i, :c] = torch.tensor(row.completion_ids, dtype=torch.long)
            mask[i, :c] = torch.tensor([1.0 if k else 0.0 for k in row.keep], dtype=torch.float32)
    advantages = torch.tensor([r.advantage for r in rows], dtype=torch.float32)
    rewards = torch.tensor([r.reward for r in rows], dtype=torch.float32)
    return Batch(input_ids, attention, positions, completion, mask, advantages, rewards)


def completion_log_probs(model: Any, batch: Batch, temperature: float = 1.0) -> torch.Tensor:
    """(B, T) float32 log-probs of the completion tokens under `model` (grad flows if enabled)."""
    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)
    logits = out.logits  # (B, L, V)
    index = batch.positions.unsqueeze(-1).expand(-1, -1, logits.shape[-1])  # (B, T, V)
    picked = torch.gather(logits, 1, index)  # (B, T, V): the logits that predict each completion token
    return selective_log_probs(picked, batch.completion_ids, temperature)


def token_char_starts(tokenizer: Any, ids: Sequence[int]) -> list[int]:
    """Where each token begins in the decoded completion (FGO maps an error line to tokens with it)."""
    starts: list[int] = []
    offset = 0
    for tok in ids:
        starts.append(offset)
        offset += len(tokenizer.decode([tok], skip_special_tokens=True))
    return starts
