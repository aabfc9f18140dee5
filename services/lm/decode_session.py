"""One batched decode advanced one small step at a time, so a scheduler can interleave and join decodes.

A step is a chunk of the prompts' prefill (at most `prefill_chunk` tokens per row) or one decoding
step of every live row. Prompts of different lengths are left-padded with an attention mask and
explicit position ids; when every prompt has the same length (one request) no mask is passed at all,
so a request alone decodes as it always did. Each row keeps its own params, stop sequences, token
budget and generator (seed of its request + its index).

Continuous batching, where the model's cache allows it (kv_rows.supports_rows): rows that finished
leave the batch (no more forward work for them), and a session whose prefill is done can be absorbed
by another running one on the same model and adapter, so the two share each forward from then on. A
request is reported as soon as its own rows are done (`take_finished`), not when its batch is.

Failures stay with their request: a row whose draw raises, or a request whose step listener raises,
ends that request (its outcome is the error) while the others decode on. A forward that raises is
the session's failure: `step` raises it and the caller decides.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from . import kv_rows
from .sampling import (
    Sample,
    SampleRequest,
    SamplingStats,
    TokenEvent,
    _cache_kwarg,
    _cache_of,
    _cancel_rows,
    _check,
    _draw_step,
    _Row,
    _text_of,
)

Outcome = tuple[list[Sample], SamplingStats] | BaseException
PREFILL_CHUNK = 128  # prompt tokens per row fed in one step: a long prompt never holds the model for long
_EVICT_SHARE = 4  # drop finished rows once they are a quarter of the batch (each drop copies the cache)


class DecodeSession:
    def __init__(
        self, tokenizer: Any, requests: Sequence[SampleRequest], *, prefill_chunk: int | None = PREFILL_CHUNK
    ) -> None:
        if prefill_chunk is not None and prefill_chunk < 1:
            raise ValueError("prefill_chunk must be at least 1")
        for req in requests:
            _check(req)
        self.tokenizer = tokenizer
        self.requests = list(requests)
        self.prefill_chunk = prefill_chunk
        self.rows: list[_Row] = []
        for r, req in enumerate(self.requests):
            base = req.params.seed if req.params.seed is not None else int(torch.randint(0, 2**31 - 1, (1,)).item())
            for i in range(req.n):
                gen = torch.Generator(device="cpu").manual_seed(base + i)
                self.rows.append(_Row(request=r, index=i, params=req.params, seed=base + i, generator=gen))
        self.live = list(self.rows)  # the rows in the batch (the cache's rows, in order)
        self.eos = tokenizer.eos_token_id
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (self.eos or 0)
        lengths = [len(self.requests[row.request].prompt_ids) for row in self.rows]
        self.width = max(lengths)
        self._lengths = lengths
        self.failures: dict[int, BaseException] = {}
        self.units = 0  # steps taken (prefill chunks + decoding steps)
        self.done = False
        self._steps = [0] * len(self.requests)  # decoding steps each request took part in
        self._begun: list[float | None] = [None] * len(self.requests)  # when each request's first step ran
        self._ended: list[float | None] = [None] * len(self.requests)
        self._reported: set[int] = set()
        self._fed = 0  # prompt positions prefilled
        self._past: Any = None
        self._cache_arg: str | None = None
        self._logits: torch.Tensor | None = None  # (B, V): the next draw's logits, once prefilled
        self._mask: torch.Tensor | None = None  # (B, T): None while every row is unpadded
        self._last_pos: torch.Tensor | None = None  # (B, 1): each row's last fed position (with the mask)
        self._prompt_pos: torch.Tensor | None = None

    @property
    def prefilling(self) -> bool:
        return self._fed < self.width

    @property
    def ready(self) -> bool:
        """Prefilled, not done: it can absorb or be absorbed (when its cache allows row surgery)."""
        return not self.done and not self.prefilling and self._past is not None

    def remaining(self) -> int:
        """Steps this session still needs for its most urgent request (the scheduler's shortest-first key):
        the prefill chunks left, plus the fewest decoding steps any unfinished request may still take
        (its max_tokens less what its rows drew: an upper bound, EOS may come sooner)."""
        if self.done:
            return 0
        chunk = self.prefill_chunk or self.width
        prefill = -(-(self.width - self._fed) // chunk)
        left: dict[int, int] = {}
        for row in self.live:
            if row.finish is None:
                need = row.params.max_tokens - len(row.tokens)
                left[row.request] = max(left.get(row.request, 0), need)
        return prefill + min(left.values(), default=0)

    def step(self, model: Any) -> bool:
        """One unit of work with `model` (the same model, adapter selected, at every step); True once done."""
        if self.done:
            return True
        now = time.perf_counter()
        self._begun = [now if b is None else b for b in self._begun]
        self.units += 1
        with torch.inference_mode():
            if self.prefilling:
                self._prefill(model)
            else:
                self._decode(model)
        return self.done

    # -- prefill and decoding ------------------------------------------------------------------------
    def _forward(self, model: Any, input_ids: torch.Tensor, extra: dict[str, Any]) -> None:
        if self._cache_arg is None:
            self._cache_arg = _cache_kwarg(model)
        cache = {self._cache_arg: self._past} if self._past is not None else {}
        out = model(input_ids=input_ids, use_cache=True, **cache, **extra)
        self._past = _cache_of(out)
        self._logits = out.logits[:, -1, :].float().cpu()  # (B, V)

    def _prefill(self, model: Any) -> None:
        device = next(model.parameters()).device
        start = self._fed
        end = self.width if self.prefill_chunk is None else min(self.width, start + self.prefill_chunk)
        padded = [[self.pad] * (self.width - n) + list(self.requests[row.request].prompt_ids) for row, n in
                  zip(self.rows, self._lengths, strict=True)]  # fmt: skip
        extra: dict[str, Any] = {}
        if any(n != self.width for n in self._lengths):
            if self._mask is None:
                self._mask = torch.tensor(
                    [[0] * (self.width - n) + [1] * n for n in self._lengths], dtype=torch.long, device=device
                )  # (B, P)
                self._prompt_pos = (self._mask.cumsum(-1) - 1).clamp(min=0)  # (B, P)
            assert self._prompt_pos is not None
            extra = {"attention_mask": self._mask[:, :end], "position_ids": self._prompt_pos[:, start:end]}
        chunk = torch.tensor([ids[start:end] for ids in padded], dtype=torch.long, device=device)
        self._forward(model, chunk, extra)
        self._fed = end
        if not self.prefilling and self._prompt_pos is not None:
            self._last_pos = self._prompt_pos[:, -1:]
            self._prompt_pos = None

    def _decode(self, model: Any) -> None:
        _cancel_rows(self.live, self.requests)
        if all(row.finish is not None for row in self.live):
            self._end()  # every row was cancelled (or its request failed)
            return
        assert self._logits is not None
        for r in {row.request for row in self.live if row.finish is None}:
            self._steps[r] += 1
        watched = {row.request for row in self.live if self.requests[row.request].on_step is not None}
        events: dict[int, list[TokenEvent]] = {r: [] for r in watched if r not in self.failures}
        next_ids = _draw_step(self.live, self._logits, self.tokenizer, events, self._fail, eos=self.eos, pad=self.pad)
        self._notify(events)
        self._note_ended()
        if all(row.finish is not None for row in self.live):
            self._end()
            return
        next_ids = self._evict(next_ids)
        device = next(model.parameters()).device
        step_ids = torch.tensor(next_ids, dtype=torch.long, device=device)[:, None]  # (B, 1)
        extra: dict[str, Any] = {}
        if self._mask is not None:
            assert self._last_pos is not None
            self._mask = torch.cat([self._mask, torch.ones_like(self._mask[:, :1])], dim=-1)  # (B, T + 1)
            self._last_pos = self._last_pos + 1
            extra = {"attention_mask": self._mask, "position_ids": self._last_pos}
        self._forward(model, step_ids, extra)

    def _end(self) -> None:
        self._note_ended()
        self.done = True
        self._past = self._logits = self._mask = self._last_pos = None  # free the cache at once

    def _notify(self, events: dict[int, list[TokenEvent]]) -> None:
        for r, mine in events.items():
            listener = self.requests[r].on_step
            if listener is None or not mine or r in self.failures:
                continue
            try:
                listener(mine)
            except Exception as exc:  # (a listener's error is its request's, not the batch's)
                self._fail(r, exc)

    def _fail(self, request: int, exc: BaseException) -> None:
        """End request `request`'s rows; its outcome is `exc` (the first error it met)."""
        self.failures.setdefault(request, exc)
        for row in self.rows:
            if row.request == request and row.finish is None:
                row.finish = "length"

    def _note_ended(self) -> None:
        now = time.perf_counter()
        unfinished = {row.request for row in self.live if row.finish is None}
        for r in range(len(self.requests)):
            if self._ended[r] is None and r not in unfinished:
                self._ended[r] = now

    # -- continuous batching ---------------------------------------------------------------------------
    def _evict(self, next_ids: list[int]) -> list[int]:
        """Drop finished rows from the batch once they are a share of it: the ids to feed the rest."""
        finished = [i for i, row in enumerate(self.live) if row.finish is not None]
        if len(finished) * _EVICT_SHARE < len(self.live) or not kv_rows.supports_rows(self._past):
            return next_ids
        keep = [i for i, row in enumerate(self.live) if row.finish is None]
        index = torch.tensor(keep, dtype=torch.long)
        kv_rows.select_rows(self._past, index.to(self._past.layers[0].keys.device))
        if self._mask is not None:
            assert self._last_pos is not None
            self._mask = self._mask.index_select(0, index.to(self._mask.device))
            self._last_pos = self._last_pos.index_select(0, index.to(self._last_pos.device))
        self.live = [self.live[i] for i in keep]
        return [next_ids[i] for i in keep]

    def absorb(self, other: DecodeSession) -> bool:
        """Take `other`'s requests into this batch (both prefilled, their caches joinable): its requests
        then decode in this session's forwards, after this session's in request order. False (nothing
        changed) when they cannot be joined."""
        if not (self.ready and other.ready) or other is self:
            return False
        if not (kv_rows.supports_rows(self._past) and kv_rows.supports_rows(other._past)):
            return False
        assert self._logits is not None and other._logits is not None
        mine, theirs = self._full_mask(), other._full_mask()
        mine_pos, theirs_pos = self._positions(), other._positions()
        length = kv_rows.join(self._past, other._past)
        self._mask = torch.cat([kv_rows.pad_mask_left(mine, length), kv_rows.pad_mask_left(theirs, length)])
        self._last_pos = torch.cat([mine_pos, theirs_pos.to(mine_pos.device)])
        self._logits = torch.cat([self._logits, other._logits])
        offset = len(self.requests)
        for row in other.rows:
            row.request += offset
        self.requests += other.requests
        self.rows += other.rows
        self.live += other.live
        self.failures.update({r + offset: exc for r, exc in other.failures.items()})
        self._reported.update(r + offset for r in other._reported)
        self._steps += other._steps
        self._begun += other._begun
        self._ended += other._ended
        other.done, other._past, other._logits = True, None, None
        other.requests, other.rows, other.live = [], [], []
        return True

    def _full_mask(self) -> torch.Tensor:
        """The attention mask of the live rows over the whole cache (all ones where none is kept)."""
        if self._mask is not None:
            return self._mask
        device = self._past.layers[0].keys.device
        return torch.ones((len(self.live), kv_rows.seq_length(self._past)), dtype=torch.long, device=device)

    def _positions(self) -> torch.Tensor:
        """Each live row's last fed position (B, 1)."""
        if self._last_pos is not None:
            return self._last_pos
        device = self._past.layers[0].keys.device
        last = kv_rows.seq_length(self._past) - 1
        return torch.full((len(self.live), 1), last, dtype=torch.long, device=device)

    # -- results -------------------------------------------------------------------------------------
    def take_finished(self) -> list[tuple[int, Outcome]]:
        """The requests (index, outcome) finished since the last call; every one once the session is done."""
        done = [r for r in range(len(self.requests)) if r not in self._reported and self._finished(r)]
        self._reported.update(done)
        return [(r, self._outcome(r)) for r in done]

    def _finished(self, r: int) -> bool:
        return self.done or r in self.failures or all(row.finish is not None for row in self.rows if row.request == r)

    def _outcome(self, r: int) -> Outcome:
        if r in self.failures:
            return self.failures[r]
        mine = [row for row in self.rows if row.request == r]
        samples = [
            Sample(index=row.index, text=_text_of(row, self.tokenizer), token_ids=row.tokens,
                   finish_reason=row.finish or "length", seed=row.seed, stopped_by=row.stopped_by,
                   token_logprobs=row.token_logprobs, top_logprobs=row.top_logprobs)
            for row in mine
        ]  # fmt: skip
        begun, ended = self._begun[r], self._ended[r]
        seconds = (ended or time.perf_counter()) - (begun or time.perf_counter())
        stats = SamplingStats(
            prompt_tokens=len(self.requests[r].prompt_ids),
            completion_tokens=sum(len(row.tokens) for row in mine),
            steps=self._steps[r],
            seconds=seconds,
        )
        return samples, stats

    def outcomes(self) -> list[Outcome]:
        """Per request, in order: its (samples, stats), or the error that ended it."""
        return [self._outcome(r) for r in range(len(self.requests))]


def run_batch(
    model: Any, tokenizer: Any, requests: Sequence[SampleRequest], *, prefill_chunk: int | None = None
) -> list[tuple[list[Sample], SamplingStats]]:
    """A DecodeSession of `requests` run to its end (prefill in one forward unless `prefill_chunk`);
    raises the first failed request's error, if any."""
    session = DecodeSession(tokenizer, requests, prefill_chunk=prefill_chunk)
    while not session.step(model):
        pass
    results: list[tuple[list[Sample], SamplingStats]] = []
    for outcome in session.outcomes():
        if isinstance(outcome, BaseException):
            raise outcome
        results.append(outcome)
    return results
