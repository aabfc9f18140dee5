"""Batched N-candidate sampling with one generator per row, so candidate i is reproducible alone.

transformers' `generate` draws every row from one global RNG, so the i-th of N candidates cannot
be re-drawn by itself. Here each row has its own `torch.Generator` seeded `seed + i`: a request
with n=1 and seed `seed + i` draws the same tokens (the logits of a row do not depend on the other
rows up to float rounding, which moves a draw only if it lands within ~1e-6 of a CDF boundary).
One batched forward per decoding step over a KV cache, under `torch.inference_mode`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 128
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if any(not s for s in self.stop):
            raise ValueError("stop sequences must be non-empty")


@dataclass
class Sample:
    index: int
    text: str
    token_ids: list[int]
    finish_reason: FinishReason
    seed: int
    stopped_by: str = ""  # the stop sequence that ended it (excluded from text, as in OpenAI's API)


@dataclass
class SamplingStats:
    prompt_tokens: int
    completion_tokens: int
    steps: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def _filter_top_p(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filtering of one row of probabilities (V,): keep the smallest set reaching top_p."""
    if top_p >= 1.0:
        return probs
    sorted_p, order = torch.sort(probs, descending=True)
    cumulative = torch.cumsum(sorted_p, dim=-1)
    keep = cumulative - sorted_p < top_p  # always keeps the most likely token
    filtered = torch.zeros_like(probs)
    filtered[order[keep]] = sorted_p[keep]
    return filtered / filtered.sum()


def _draw(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> int:
    """One token from one row of logits (V,)."""
    if params.temperature == 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / params.temperature, dim=-1)
    probs = _filter_top_p(probs, params.top_p)
    return int(torch.multinomial(probs, 1, generator=generator))


def _stop_at(text: str, stops: Sequence[str]) -> tuple[int, str] | None:
    """The earliest stop sequence in `text`: (its index, the sequence)."""
    found = [(text.find(s), s) for s in stops if s in text]
    return min(found) if found else None


def _cache_kwarg(model: Any) -> str:
    """transformers 5 renames `past_key_values` to `cache` (the old name warns, then goes away)."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT wraps with **kwargs
    params = inspect.signature(base.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _cache_of(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else getattr(out, "past_key_values", None)


def sample_n(
    model: Any,
    tokenizer: Any,
    prompt_ids: Sequence[int],
    n: int,
    params: SamplingParams,
) -> tuple[list[Sample], SamplingStats]:
    """`n` candidates continuing `prompt_ids`, candidate i drawn with seed `params.seed + i`."""
    if n < 1:
        raise ValueError("n must be at least 1")
    if not prompt_ids:
        raise ValueError("the prompt is empty")
    device = next(model.parameters()).device
    base_seed = params.seed if params.seed is not None else int(torch.randint(0, 2**31 - 1, (1,)).item())
    generators = [torch.Generator(device="cpu").manual_seed(base_seed + i) for i in range(n)]
    eos = tokenizer.eos_token_id
    started = time.perf_counter()
    tokens: list[list[int]] = [[] for _ in range(n)]
    finish: list[FinishReason | None] = [None] * n
    texts = [""] * n
    stopped_by = [""] * n
    steps = 0
    cache_arg = _cache_kwarg(model)
    with torch.inference_mode():
        input_ids = torch.tensor([list(prompt_ids)] * n, dtype=torch.long, device=device)  # (n, P)
        out = model(input_ids=input_ids, use_cache=True)
        past = _cache_of(out)
        logits = out.logits[:, -1, :].float().cpu()  # (n, V)
        for _ in range(params.max_tokens):
            steps += 1
            next_ids = []
            for i in range(n):
                if finish[i] is not None:
                    next_ids.append(eos if eos is not None else 0)
                    continue
                tok = _draw(logits[i], params, generators[i])
                next_ids.append(tok)
                if eos is not None and tok == eos:
                    finish[i] = "stop"
                    continue
                tokens[i].append(tok)
                if params.stop:
                    texts[i] = tokenizer.decode(tokens[i], skip_special_tokens=True)
                    cut = _stop_at(texts[i], params.stop)
                    if cut is not None:
                        texts[i], stopped_by[i] = texts[i][: cut[0]], cut[1]
                        finish[i] = "stop"
            if all(f is not None for f in finish):
                break
            step_ids = torch.tensor(next_ids, dtype=torch.long, device=device)[:, None]  # (n, 1)
            out = model(input_ids=step_ids, use_cache=True, **{cache_arg: past})
            past = _cache_of(out)
            logits = out.logits[:, -1, :].float().cpu()
    samples = []
    for i in range(n):
        # With stop sequences the text was kept decoded (and cut) step by step.
        text = texts[i] if params.stop else tokenizer.decode(tokens[i], skip_special_tokens=True)
        samples.append(Sample(i, text, tokens[i], finish[i] or "length", base_seed + i, stopped_by[i]))
    stats = SamplingStats(
        prompt_tokens=len(prompt_ids),
        completion_tokens=sum(len(t) for t in tokens),
        steps=steps,
        seconds=time.perf_counter() - started,
    )
    return samples, stats
