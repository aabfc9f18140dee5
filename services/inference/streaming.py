"""Streamed generation: tokens go out as they are decoded, one text delta per choice and step.

The sampler calls the request's `on_step` from the batcher's thread after every decoding step; the
listener hands the step's events to an asyncio queue (`loop.call_soon_threadsafe`), and the event
loop turns them into per-choice deltas. Each choice streams only what can never be retracted (its
IncrementalDetokenizer's text, less a tail that may still start a stop sequence, services/lm/
stream_text.py); when the sampler finishes it, the rest of its final text (the very text a
non-streamed request returns) goes out, so the pieces always concatenate to the non-streamed text.
Logprobs follow the text: a piece carries the tokens whose text it completes, the last one the rest
of the tokens the non-streamed answer reports (logprobs.py).

The caller going away sets the request's `cancel`: a request still queued is dropped, a decoding
one ends its rows at the next step (and the decode stops once no row is left). `on_done` (the
admission ticket's release, app.py) runs at the first of the decode's end and the caller going away.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..lm.sampling import SampleRequest, SamplingParams, TokenEvent
from ..lm.stream_text import IncrementalDetokenizer, releasable
from .batcher import Result
from .logprobs import TokenLogprob, TokenTexts, entry, reported_tokens

if TYPE_CHECKING:
    from .service import InferenceService, ModelChoice

log = logging.getLogger(__name__)


@dataclass
class ChoiceDelta:
    index: int
    text: str
    logprobs: list[TokenLogprob] | None  # with logprobs asked: the tokens this piece completes
    finish_reason: str | None = None
    stop_reason: str | None = None  # the stop sequence that ended the choice (vLLM's extension)


class ChoiceStream:
    """One choice's text as it is decoded; `push` each of its TokenEvents, in order."""

    def __init__(self, index: int, tokenizer: Any, texts: TokenTexts, stops: Sequence[str], *, logprobs: bool) -> None:
        self.index = index
        self.stops = stops
        self.texts = texts
        self.logprobs = logprobs
        self.detok = IncrementalDetokenizer(tokenizer)
        self.entries: list[TokenLogprob] = []
        self.sent = ""  # the text streamed so far
        self.sent_tokens = 0  # entries streamed so far
        self.finished = False

    def push(self, event: TokenEvent) -> ChoiceDelta | None:
        """The piece this event releases, or None when it releases nothing."""
        if event.token is not None:
            self.detok.push(event.token)
            if self.logprobs:
                assert event.logprob is not None
                self.entries.append(entry(self.texts, event.token, event.logprob, event.top, self.detok.offsets[-1]))
        if event.finish is not None:
            return self._finish(event)
        text = self.detok.text
        upto = max(len(self.sent), releasable(text, self.stops))
        piece = text[len(self.sent) : upto]
        self.sent += piece
        done = self._released_tokens()
        if not piece and done == self.sent_tokens:
            return None
        return ChoiceDelta(self.index, piece, self._take_entries(done))

    def _released_tokens(self) -> int:
        """Tokens whose whole text has been streamed (start before the end of it, end within it)."""
        offsets, complete = self.detok.offsets, self.detok.complete_tokens
        n = self.sent_tokens
        while n < min(len(self.entries), complete):
            end = offsets[n + 1] if n + 1 < len(offsets) else len(self.detok.text)
            if not (offsets[n] < len(self.sent) and end <= len(self.sent)):
                break
            n += 1
        return n

    def _take_entries(self, upto: int) -> list[TokenLogprob] | None:
        if not self.logprobs:
            return None
        taken = self.entries[self.sent_tokens : upto]
        self.sent_tokens = max(self.sent_tokens, upto)
        return taken

    def _finish(self, event: TokenEvent) -> ChoiceDelta:
        self.finished = True
        final = event.text or ""
        if not final.startswith(self.sent):  # a tokenizer whose decode is not prefix-stable
            log.error("choice %d: streamed text is not a prefix of its final text", self.index)
        rest = final[len(self.sent) :] if final.startswith(self.sent) else ""
        self.sent += rest
        keep = reported_tokens(self.detok.offsets, len(final), cut=bool(event.stopped_by))
        return ChoiceDelta(
            self.index, rest, self._take_entries(keep), finish_reason=event.finish, stop_reason=event.stopped_by or None
        )


class GenerationStream:
    """One streamed request: queued on the batcher at construction (on the event loop); iterate `deltas()`."""

    def __init__(
        self,
        service: InferenceService,
        prompt_ids: Sequence[int],
        *,
        n: int,
        params: SamplingParams,
        model: ModelChoice,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        """`on_done`: called once, when the decode has ended (finished or failed: from the batcher's thread,
        before the stream's last event is posted) or when the caller went away (`cancel`: its rows are
        dropped from the queue or end at the next step), whichever comes first."""
        assert service.loaded is not None and service.batcher is not None
        self.service = service
        self.model = model.id
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[list[TokenEvent] | None] = asyncio.Queue()
        self._cancel = threading.Event()
        self._started = time.monotonic()
        tokenizer = service.loaded.tokenizer
        texts = TokenTexts(tokenizer)
        wants = params.logprobs is not None
        self.choices = [ChoiceStream(i, tokenizer, texts, params.stop, logprobs=wants) for i in range(n)]
        self.prompt_tokens = len(prompt_ids)  # encoded off the event loop (context.encode_checked)
        self.completion_tokens = 0
        self._on_done_once = on_done
        self._ended = threading.Lock()  # taken by the first of the decode's end and `cancel`
        request = SampleRequest(prompt_ids, n, params, on_step=self._on_step, cancel=self._cancel)
        self._future = service.batcher.enqueue(request, model.adapter)
        self._future.add_done_callback(self._on_done)

    # -- the decoding thread's side ----------------------------------------------------------
    def _post(self, item: list[TokenEvent] | None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone: nobody will read
            self._cancel.set()

    def _on_step(self, events: list[TokenEvent]) -> None:
        if not self._cancel.is_set():
            self._post(events)

    def _on_done(self, future: concurrent.futures.Future[Result]) -> None:
        try:
            self._count(future)
        finally:
            self._end()  # before the last event: a caller that read to the end finds it done
            self._post(None)

    def _end(self) -> None:
        if self._on_done_once is not None and self._ended.acquire(blocking=False):
            self._on_done_once()

    def _count(self, future: concurrent.futures.Future[Result]) -> None:
        """Metrics of what was generated, here and not in `deltas()`: a caller that hung up stops
        reading, but its rows decoded up to the cancel (a request dropped from the queue: nothing)."""
        if future.cancelled() or future.exception() is not None:
            return
        _samples, stats = future.result()
        metrics = self.service.metrics
        metrics.candidates.labels("none").inc(len(self.choices))
        metrics.tokens.inc(stats.completion_tokens)
        metrics.latency.observe(time.monotonic() - self._started)

    # -- the event loop's side --------------------------------------------------------------
    def cancel(self) -> None:
        """The caller went away (or all is done): end the rows left, and call `on_done` if not yet."""
        self._cancel.set()
        self._end()

    async def deltas(self) -> AsyncIterator[list[ChoiceDelta]]:
        """Each step's pieces, until every choice has finished; raises the decode's error if it fails."""
        try:
            while (events := await self._queue.get()) is not None:
                pieces = [d for e in events if (d := self.choices[e.index].push(e)) is not None]
                if pieces:
                    yield pieces
            _samples, stats = self._future.result()  # the decode's exception, if it failed
            self.completion_tokens = stats.completion_tokens
        finally:
            self.cancel()  # the caller stopped reading (or all is done): end the rows left
