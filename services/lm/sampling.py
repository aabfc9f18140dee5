"""Batched N-candidate sampling with one generator per row, so candidate i is reproducible alone.

transformers' `generate` draws every row from one global RNG, so the i-th of N candidates cannot
be re-drawn by itself. Here each row has its own `torch.Generator` seeded `seed + i`: a request
with n=1 and seed `seed + i` draws the same tokens (the logits of a row do not depend on the other
rows up to float rounding, which moves a draw only if it lands within ~1e-6 of a CDF boundary).
One batched forward per decoding step over a KV cache, under `torch.inference_mode`: a decode is a
decode_session.DecodeSession advanced step by step, which this module's row logic (`_draw_step`) drives.

Log-probabilities, when a request asks (`SamplingParams.logprobs`), are vLLM's default "raw" ones:
the log-softmax of the model's logits at temperature 1, before top_p, so they describe the model and
not the sampling settings. Each request may also watch its rows step by step (`SampleRequest.on_step`,
what streaming uses) and stop them early (`SampleRequest.cancel`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from .prompts import find_stop, program_text, trim_at_stop

FinishReason = Literal["stop", "length"]
MAX_LOGPROBS = 20  # top alternatives per token (OpenAI's chat limit)


@dataclass(frozen=True, kw_only=True)
class SamplingParams:
    max_tokens: int = 128
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: int | None = None  # record each token's logprob and its top-k alternatives; None: off

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if any(not s for s in self.stop):
            raise ValueError("stop sequences must be non-empty")
        if self.logprobs is not None and not 0 <= self.logprobs <= MAX_LOGPROBS:
            raise ValueError(f"logprobs must be in [0, {MAX_LOGPROBS}]")


@dataclass
class Sample:
    index: int
    text: str
    token_ids: list[int]
    finish_reason: FinishReason
    seed: int
    stopped_by: str = ""  # the stop sequence that ended it (excluded from text, as in OpenAI's API)
    # With params.logprobs: one entry per token of token_ids (raw log-softmax, temperature 1, before
    # top_p) and its top-`logprobs` alternatives (token id, logprob), most likely first.
    token_logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[list[tuple[int, float]]] = field(default_factory=list)

    def program(self, prompt: str, *, final_newline: bool = False) -> str:
        """The program this completion of `prompt` ends (what verifiers and rankers score)."""
        return program_text(prompt, self.text, self.stopped_by, final_newline=final_newline)


@dataclass
class SamplingStats:
    prompt_tokens: int
    completion_tokens: int
    steps: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def _filter_top_p(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filtering of one row of probabilities (V,): keep the smallest set reaching top_p,
    never less than the most likely token (whatever top_p: the comparison is in float32, where a
    tiny top_p rounds to 0 and `< top_p` would keep nothing, then 0 / 0 = NaN)."""
    if top_p >= 1.0:
        return probs
    sorted_p, order = torch.sort(probs, descending=True)
    cumulative = torch.cumsum(sorted_p, dim=-1)
    keep = cumulative - sorted_p < top_p
    keep[0] = True
    filtered = torch.zeros_like(probs)
    filtered[order[keep]] = sorted_p[keep]
    return filtered / filtered.sum()


def _draw_from(logits: torch.Tensor, probs: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> int:
    """One token for one row: `logits` (V,) and `probs` = softmax(logits / temperature) (V,).

    A row whose probabilities are not finite (a temperature so small that logits / t overflowed in
    float32) draws its most likely token, which is what such a temperature means."""
    if params.temperature == 0 or not bool(torch.isfinite(probs).all()):
        return int(torch.argmax(logits))
    return int(torch.multinomial(_filter_top_p(probs, params.top_p), 1, generator=generator))


def _cache_kwarg(model: Any) -> str:
    """transformers 5 renames `past_key_values` to `cache` (the old name warns, then goes away)."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT wraps with **kwargs
    params = inspect.signature(base.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _cache_of(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else getattr(out, "past_key_values", None)


@dataclass(frozen=True)
class TokenEvent:
    """What one row of a request did in one decoding step (for `SampleRequest.on_step`)."""

    index: int  # the candidate (row) index within its request
    token: int | None  # the token appended to the row; None when it drew EOS (which is not kept)
    logprob: float | None = None  # with params.logprobs: as in Sample.token_logprobs
    top: list[tuple[int, float]] = field(default_factory=list)
    finish: FinishReason | None = None  # set on the step that finishes the row
    text: str | None = None  # when finished: the row's final text (as Sample.text)
    stopped_by: str = ""


StepListener = Callable[[list[TokenEvent]], None]


@dataclass(frozen=True)
class SampleRequest:
    """One caller's ask: `n` candidates continuing `prompt_ids` with `params`.

    `on_step`, if given, is called from the decoding thread after every step with the events of this
    request's rows that drew a token (it must be quick and must not raise: an exception fails the
    whole batch). Once `cancel` is set, the request's unfinished rows end at the next step ("length")
    and a decode whose rows have all ended stops.
    """

    prompt_ids: Sequence[int]
    n: int
    params: SamplingParams
    on_step: StepListener | None = field(default=None, compare=False)
    cancel: threading.Event | None = field(default=None, compare=False)


@dataclass
class _Row:
    request: int
    index: int
    params: SamplingParams
    seed: int
    generator: torch.Generator
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    stopped_by: str = ""
    finish: FinishReason | None = None
    token_logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[list[tuple[int, float]]] = field(default_factory=list)


def _check(req: SampleRequest) -> None:
    if req.n < 1:
        raise ValueError("n must be at least 1")
    if not req.prompt_ids:
        raise ValueError("the prompt is empty")


_STOP_WINDOW = 16  # tokens: the least tail decoded per step when a row has stop sequences


def stop_window(stops: Sequence[str]) -> int:
    """Tokens of a row's tail to decode each step so its longest stop sequence fits in it: every token
    decodes to at least one character here, so len(longest) tokens hold it, +1 for a token whose text
    only partly belongs to it; never under _STOP_WINDOW."""
    return max(_STOP_WINDOW, max((len(s) for s in stops), default=0) + 1)


def _text_of(row: _Row, tokenizer: Any) -> str:
    return row.text if row.stopped_by else tokenizer.decode(row.tokens, skip_special_tokens=True)


class _StepLogprobs:
    """The raw logprobs of one step (B, V) and their top-k, computed only when some row asks;
    k is the largest count asked among the unfinished rows."""

    def __init__(self, logits: torch.Tensor, rows: Sequence[_Row]) -> None:
        asked = [r.params.logprobs for r in rows if r.finish is None and r.params.logprobs is not None]
        self.logp = torch.log_softmax(logits, dim=-1) if asked else None  # (B, V): temperature 1, before top_p
        k = max(asked, default=0)
        self.top: list[list[tuple[int, float]]] = []
        if self.logp is not None and k > 0:
            values, ids = torch.topk(self.logp, k, dim=-1)  # (B, k), most likely first
            self.top = [list(zip(i, v, strict=True)) for i, v in zip(ids.tolist(), values.tolist(), strict=True)]

    def of(self, b: int, row: _Row, tok: int) -> tuple[float | None, list[tuple[int, float]]]:
        """(the logprob of `tok`, the top alternatives) for row `b`; (None, []) when it did not ask."""
        if self.logp is None or row.params.logprobs is None:
            return None, []
        top = self.top[b][: row.params.logprobs] if self.top else []
        return float(self.logp[b, tok]), top


def _cancel_rows(rows: Sequence[_Row], requests: Sequence[SampleRequest]) -> None:
    for row in rows:
        cancel = requests[row.request].cancel
        if row.finish is None and cancel is not None and cancel.is_set():
            row.finish = "length"


def _advance(row: _Row, tok: int, eos: int | None, tokenizer: Any) -> None:
    """Record one drawn token for `row` and decide whether the row is finished."""
    if eos is not None and tok == eos:
        row.finish = "stop"
        return
    row.tokens.append(tok)
    if row.params.stop:
        # Decode only a tail window each step (decoding everything each step is quadratic); a stop
        # sequence that just completed lies inside it. Only then decode all and cut exactly.
        tail = tokenizer.decode(row.tokens[-stop_window(row.params.stop) :], skip_special_tokens=True)
        if find_stop(tail, row.params.stop) is not None:
            text, stopped_by = trim_at_stop(tokenizer.decode(row.tokens, skip_special_tokens=True), row.params.stop)
            if stopped_by:
                row.text, row.stopped_by = text, stopped_by
                row.finish = "stop"
                return
    if len(row.tokens) >= row.params.max_tokens:
        row.finish = "length"


def _draw_step(
    rows: Sequence[_Row],
    logits: torch.Tensor,
    tokenizer: Any,
    events: dict[int, list[TokenEvent]],
    fail: Callable[[int, BaseException], None],
    *,
    eos: int | None,
    pad: int,
) -> list[int]:
    """One token for every row from `logits` (B, V): the ids to feed next (finished rows get padding).
    Records logprobs where asked, and an event per row for the requests in `events`. A row whose draw
    raises ends its request through `fail(request, error)`; the other rows draw on."""
    # One softmax over all rows (each row at its own temperature); the draw stays per row,
    # from the row's own generator.
    temps = torch.tensor([row.params.temperature or 1.0 for row in rows]).unsqueeze(-1)  # (B, 1)
    probs = torch.softmax(logits / temps, dim=-1)  # (B, V)
    step_logprobs = _StepLogprobs(logits, rows)
    next_ids = []
    for b, row in enumerate(rows):
        if row.finish is not None:
            next_ids.append(eos if eos is not None else pad)
            continue
        try:
            tok = _draw_from(logits[b], probs[b], row.params, row.generator)
            kept = eos is None or tok != eos  # EOS ends the row and is not part of it
            logprob, top = step_logprobs.of(b, row, tok)
            if logprob is not None and kept:
                row.token_logprobs.append(logprob)
                row.top_logprobs.append(top)
            _advance(row, tok, eos, tokenizer)
            done = row.finish is not None
            event = TokenEvent(
                index=row.index, token=tok if kept else None, logprob=logprob if kept else None,
                top=top if kept else [], finish=row.finish,
                text=_text_of(row, tokenizer) if done else None, stopped_by=row.stopped_by,
            )  # fmt: skip
        except Exception as exc:  # (one tenant's row: its request fails, the batch goes on)
            fail(row.request, exc)
            next_ids.append(eos if eos is not None else pad)
            continue
        next_ids.append(tok)
        if row.request in events:
            events[row.request].append(event)
    return next_ids


def sample_batch(
    model: Any, tokenizer: Any, requests: Sequence[SampleRequest], *, prefill_chunk: int | None = None
) -> list[tuple[list[Sample], SamplingStats]]:
    """Candidates for several requests in ONE batched decode (decode_session.DecodeSession run to its
    end); raises the first failed request's error, if any."""
    from .decode_session import run_batch  # (decode_session builds on this module)

    return run_batch(model, tokenizer, requests, prefill_chunk=prefill_chunk)


def sample_n(
    model: Any,
    tokenizer: Any,
    prompt_ids: Sequence[int],
    n: int,
    params: SamplingParams,
) -> tuple[list[Sample], SamplingStats]:
    """`n` candidates continuing `prompt_ids`, candidate i drawn with seed `params.seed + i`."""
    return sample_batch(model, tokenizer, [SampleRequest(prompt_ids, n, params)])[0]
