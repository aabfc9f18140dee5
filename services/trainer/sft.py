"""Supervised fine-tuning on prompt/completion rows (e.g. best-of-N picks): cross-entropy on completion tokens."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..lm.prompts import encode_prompt
from .batch import Row, collate, completion_log_probs
from .config import TrainConfig
from .lora import Policy


@dataclass(frozen=True)
class SFTExample:
    prompt: str
    completion: str


def load_sft_rows(path: str | Path) -> list[SFTExample]:
    """JSONL rows with string `prompt` and `completion`; ValueError naming the line of a bad one."""
    rows: list[SFTExample] = []
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sft data not found: {path}")
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from None
        if (
            not isinstance(obj, dict)
            or not isinstance(obj.get("prompt"), str)
            or not isinstance(obj.get("completion"), str)
        ):
            raise ValueError(f"{path}:{n}: a row needs string fields prompt and completion")
        rows.append(SFTExample(obj["prompt"], obj["completion"]))
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


class SFTStep:
    def __init__(self, cfg: TrainConfig, policy: Policy, optimizer: torch.optim.Optimizer, rank: int = 0,
                 world: int = 1) -> None:  # fmt: skip
        self.cfg, self.policy, self.optimizer = cfg, policy, optimizer
        self.examples = load_sft_rows(cfg.sft_data)
        self.order = list(range(len(self.examples)))
        random.Random(cfg.seed).shuffle(self.order)
        self.rank, self.world = rank, world
        self.position = 0

    def _next_rows(self) -> list[Row]:
        tok = self.policy.tokenizer
        rows: list[Row] = []
        for _ in range(self.cfg.sft_batch_size):
            ex = self.examples[self.order[(self.position * self.world + self.rank) % len(self.order)]]
            self.position += 1
            prompt_ids = encode_prompt(tok, ex.prompt)
            ids: list[int] = tok(ex.completion, add_special_tokens=False)["input_ids"]
            if tok.eos_token_id is not None:
                ids = [*ids, tok.eos_token_id]  # learn to stop, as the bootstrap corpus does
            ids = ids[: max(1, self.cfg.max_gen_len)]
            rows.append(Row(prompt_ids, ids, [True] * len(ids), 0.0, 0.0))
        return rows

    def run(self, step: int) -> dict[str, Any]:
        from . import distributed

        started = time.perf_counter()
        params = [p for p in self.policy.model.parameters() if p.requires_grad]
        self.optimizer.zero_grad(set_to_none=True)
        losses: list[float] = []
        tokens = 0
        for _ in range(self.cfg.grad_accum):
            batch = collate(self._next_rows(), self.policy.tokenizer.pad_token_id).to(self.policy.device)
            logp = completion_log_probs(self.policy.model, batch)
            count = batch.mask.sum().clamp(min=1.0)
            loss = -(logp * batch.mask).sum() / count
            (loss / self.cfg.grad_accum).backward()
            losses.append(float(loss.detach()))
            tokens += int(batch.mask.sum())
        distributed.average_gradients(params)
        clip = self.cfg.grad_clip if self.cfg.grad_clip > 0 else float("inf")
        norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
        self.optimizer.step()
        return {"step": step + 1, "loss": sum(losses) / len(losses), "tokens": tokens, "grad_norm": norm,
                "step_s": time.perf_counter() - started, "samples": 0, "dropped": 0, "discarded": 0}  # fmt: skip

    @property
    def cursor_position(self) -> int:
        return self.position

    def close(self) -> None:
        return None
