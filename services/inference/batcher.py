"""Merge generation requests from different callers into one decode batch, one adapter at a time.

One worker thread owns the model. Requests that arrive while it is decoding wait in a queue;
when it is free it takes the oldest waiting request and every other waiting request for the same
adapter (up to `max_rows` candidate rows) and decodes them together, so concurrent callers share
forward passes instead of queueing behind each other. PEFT runs one adapter per forward, so
requests for different adapters never share a decode: they are served in turn, and since every
batch holds the oldest waiting request, no request waits for more batches than there are requests
queued ahead of it (no starvation). A request alone decodes exactly as `sample_n` does.
Streaming callers `enqueue` a request that carries its own step listener and cancel event
(SampleRequest); one cancelled before its decode starts is dropped from the queue.

A merged decode that fails is retried one request at a time, so an error (one tenant's bad request)
reaches only the request that raises it alone; a request whose listener already saw tokens of the
failed decode cannot be replayed and gets the error too.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..lm.sampling import Sample, SampleRequest, SamplingStats, TokenEvent

Result = tuple[list[Sample], SamplingStats]
# decode(adapter, requests): one batched decode of `requests` with `adapter` selected (None: the base)
Decode = Callable[[str | None, Sequence[SampleRequest]], list[Result]]


@dataclass
class _Pending:
    request: SampleRequest
    adapter: str | None
    future: concurrent.futures.Future[Result] = field(default_factory=concurrent.futures.Future)


class GenerationBatcher:
    def __init__(self, decode: Decode, max_rows: int = 32) -> None:
        self.decode = decode
        self.max_rows = max_rows
        self.lock = threading.Lock()  # held while decoding; adapter loads take it too
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._closed = False
        self.batches = 0
        self.merged_requests = 0
        self._thread = threading.Thread(target=self._loop, name="generation-batcher", daemon=True)
        self._thread.start()

    def submit(self, request: SampleRequest, adapter: str | None = None) -> Result:
        """Blocking: the candidates of `request` under `adapter` (call it off the event loop)."""
        return self.enqueue(request, adapter).result()

    def enqueue(self, request: SampleRequest, adapter: str | None = None) -> concurrent.futures.Future[Result]:
        """Queue `request`; the future resolves when its decode ends. A request whose `cancel` is set
        before its decode starts is dropped from the queue (its future cancelled)."""
        pending = _Pending(request, adapter)
        with self._cond:
            if self._closed:
                raise RuntimeError("the generation batcher is closed")
            self._queue.append(pending)
            self._cond.notify()
        return pending.future

    def _take(self) -> list[_Pending]:
        """The oldest waiting request and the later ones for its adapter that fit, in arrival order."""
        with self._cond:
            while True:
                self._drop_cancelled()
                if self._queue or self._closed:
                    break
                self._cond.wait()
            if not self._queue:
                return []
            first = self._queue[0]
            taken: list[_Pending] = []
            rows = 0
            for item in self._queue:
                if item.adapter != first.adapter:
                    continue
                if taken and rows + item.request.n > self.max_rows:
                    break  # keep FIFO within an adapter: no later request overtakes this one
                taken.append(item)
                rows += item.request.n
            self._queue = [item for item in self._queue if not any(item is t for t in taken)]
            return taken

    def _drop_cancelled(self) -> None:
        """Under the condition's lock: requests whose caller went away before their decode started."""
        gone = [i for i in self._queue if i.request.cancel is not None and i.request.cancel.is_set()]
        for item in gone:
            item.future.cancel()
        self._queue = [i for i in self._queue if not any(i is g for g in gone)]

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                return  # closed and drained
            if len(batch) == 1:
                self._run(batch)
                continue
            heard = [False] * len(batch)  # which requests' listeners got events of the merged decode
            requests = [_watched(p.request, heard, i) for i, p in enumerate(batch)]
            exc = self._run(batch, requests)
            if exc is None:
                continue
            for i, pending in enumerate(batch):
                if heard[i]:  # its caller already has tokens of the failed decode: no clean replay
                    pending.future.set_exception(exc)
                elif not (pending.request.cancel is not None and pending.request.cancel.is_set()):
                    self._run([pending])  # alone: only a request that fails by itself gets an error
                else:
                    pending.future.cancel()

    def _run(self, batch: list[_Pending], requests: list[SampleRequest] | None = None) -> BaseException | None:
        """Decode `batch`, resolving its futures; on failure leave them unresolved when several
        requests were merged (the caller retries them alone) and return the error."""
        try:
            with self.lock:
                results = self.decode(batch[0].adapter, requests or [p.request for p in batch])
        except BaseException as exc:
            if len(batch) > 1:
                return exc
            batch[0].future.set_exception(exc)
            return None
        self.batches += 1
        self.merged_requests += len(batch)
        for pending, result in zip(batch, results, strict=True):
            pending.future.set_result(result)
        return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


def _watched(request: SampleRequest, heard: list[bool], i: int) -> SampleRequest:
    """`request` with its listener wrapped to note (heard[i]) that it got events."""
    listener = request.on_step
    if listener is None:
        return request

    def on_step(events: list[TokenEvent]) -> None:
        heard[i] = True
        listener(events)

    return dataclasses.replace(request, on_step=on_step)
