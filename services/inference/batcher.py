"""Merge generation requests from different callers into one decode batch.

One worker thread owns the model. Requests that arrive while it is decoding wait in a queue;
when it is free it takes every waiting request (up to `max_rows` candidate rows) and decodes them
together with `sample_batch`, so concurrent callers share forward passes instead of queueing
behind each other. A request alone decodes exactly as `sample_n` does.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

from ..lm.sampling import Sample, SampleRequest, SamplingStats, sample_batch

Result = tuple[list[Sample], SamplingStats]


class GenerationBatcher:
    def __init__(self, model: Any, tokenizer: Any, max_rows: int = 32) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_rows = max_rows
        self.lock = threading.Lock()  # held while decoding; adapter swaps take it too
        self._cond = threading.Condition()
        self._queue: list[tuple[SampleRequest, concurrent.futures.Future[Result]]] = []
        self._closed = False
        self.batches = 0
        self.merged_requests = 0
        self._thread = threading.Thread(target=self._loop, name="generation-batcher", daemon=True)
        self._thread.start()

    def submit(self, request: SampleRequest) -> Result:
        """Blocking: the candidates of `request` (call it off the event loop)."""
        future: concurrent.futures.Future[Result] = concurrent.futures.Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the generation batcher is closed")
            self._queue.append((request, future))
            self._cond.notify()
        return future.result()

    def _take(self) -> list[tuple[SampleRequest, concurrent.futures.Future[Result]]]:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            taken: list[tuple[SampleRequest, concurrent.futures.Future[Result]]] = []
            rows = 0
            while self._queue and (not taken or rows + self._queue[0][0].n <= self.max_rows):
                item = self._queue.pop(0)
                taken.append(item)
                rows += item[0].n
            return taken

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                return  # closed and drained
            requests = [req for req, _ in batch]
            try:
                with self.lock:
                    results = sample_batch(self.model, self.tokenizer, requests)
            except BaseException as exc:  # hand the error to every waiting caller
                for _, future in batch:
                    future.set_exception(exc)
                continue
            self.batches += 1
            self.merged_requests += len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
