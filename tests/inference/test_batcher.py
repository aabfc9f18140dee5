"""GenerationBatcher's grouping: one adapter per decode, oldest waiting request first, FIFO within an adapter."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from services.inference.batcher import GenerationBatcher, Result, whole_decode
from services.lm.sampling import Sample, SampleRequest, SamplingParams, SamplingStats, sample_batch


def _request(tag: int, n: int = 1) -> SampleRequest:
    return SampleRequest(prompt_ids=[1, 2, 3], n=n, params=SamplingParams(max_tokens=1, seed=tag))


class Recorder:
    """A decode that records (adapter, request tags) and holds its first call until released."""

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, list[int]]] = []
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, adapter: str | None, requests: Sequence[SampleRequest]) -> list[Result]:
        self.calls.append((adapter, [r.params.seed or 0 for r in requests]))
        if len(self.calls) == 1:
            self.started.set()
            assert self.release.wait(10)
        stats = SamplingStats(prompt_tokens=3, completion_tokens=0, steps=1, seconds=0.0)
        return [([Sample(0, f"{adapter}:{r.params.seed}", [], "length", 0)], stats) for r in requests]


def _queue_in_order(
    batcher: GenerationBatcher, results: dict[int, str], items: list[tuple[int, str | None, int]]
) -> list[threading.Thread]:
    """Submit each (tag, adapter, n) from its own thread, one after the other in queue order;
    each caller stores the text of its first candidate under its tag."""

    def call(tag: int, adapter: str | None, n: int) -> None:
        samples, _ = batcher.submit(_request(tag, n), adapter)
        results[tag] = samples[0].text

    threads = []
    for tag, adapter, n in items:
        queued = len(batcher._queue)
        t = threading.Thread(target=call, args=(tag, adapter, n), daemon=True)
        t.start()
        deadline = time.monotonic() + 5
        while len(batcher._queue) == queued and time.monotonic() < deadline:
            time.sleep(0.001)
        threads.append(t)
    return threads


def _run(
    batcher: GenerationBatcher,
    decode: Recorder,
    first: tuple[int, str | None, int],
    rest: list[tuple[int, str | None, int]],
) -> dict[int, str]:
    """`first` starts decoding (and is held there) while `rest` queues up; then everything runs."""
    results: dict[int, str] = {}
    try:
        threads = _queue_in_order(batcher, results, [first])
        assert decode.started.wait(5)
        threads += _queue_in_order(batcher, results, rest)
        decode.release.set()
        for t in threads:
            t.join(5)
    finally:
        batcher.close()
    return results


def test_requests_for_different_adapters_never_share_a_decode() -> None:
    decode = Recorder()
    batcher = GenerationBatcher(whole_decode(decode))
    results = _run(batcher, decode, (0, None, 1), [(1, "a", 1), (2, None, 1), (3, "a", 1), (4, "b", 1), (5, None, 1)])
    # oldest waiting first, each batch takes the later requests for its adapter, none starves
    assert decode.calls == [(None, [0]), ("a", [1, 3]), (None, [2, 5]), ("b", [4])]
    assert batcher.batches == 4 and batcher.merged_requests == 6
    assert results == {0: "None:0", 1: "a:1", 2: "None:2", 3: "a:3", 4: "b:4", 5: "None:5"}


def test_rows_stay_capped_and_fifo_holds_within_an_adapter() -> None:
    decode = Recorder()
    batcher = GenerationBatcher(whole_decode(decode), max_rows=4)
    # a: 3 rows + 2 rows would exceed 4, so tag 2 waits, and tag 3 (1 row) may not overtake it
    results = _run(batcher, decode, (0, "a", 1), [(1, "a", 3), (2, "a", 2), (3, "a", 1), (4, "b", 4)])
    assert decode.calls == [("a", [0]), ("a", [1]), ("a", [2, 3]), ("b", [4])]
    assert results == {0: "a:0", 1: "a:1", 2: "a:2", 3: "a:3", 4: "b:4"}


def test_a_request_cancelled_while_queued_is_never_decoded() -> None:
    decode = Recorder()
    batcher = GenerationBatcher(whole_decode(decode))
    try:
        first = batcher.enqueue(_request(0))
        assert decode.started.wait(5)  # held in its decode while the others queue
        cancel = threading.Event()
        gone = batcher.enqueue(SampleRequest(prompt_ids=[1], n=1, params=SamplingParams(seed=1), cancel=cancel))
        kept = batcher.enqueue(_request(2))
        cancel.set()  # its caller went away before its decode started
        decode.release.set()
        assert kept.result(5)[0][0].text == "None:2" and first.result(5)[0][0].text == "None:0"
        assert gone.cancelled()
        assert decode.calls == [(None, [0]), (None, [2])]
    finally:
        batcher.close()


def test_a_failing_request_merged_with_a_good_one_fails_alone(tiny_model: Any) -> None:
    """One tenant's bad request (an empty prompt: sample_batch raises) merged into a decode with
    another's: the merged decode fails, each is retried alone, and only the bad one gets the error."""

    def decode(adapter: str | None, requests: Sequence[SampleRequest]) -> list[Result]:
        return sample_batch(tiny_model.model, tiny_model.tokenizer, requests)

    batcher = GenerationBatcher(whole_decode(decode))
    params = SamplingParams(max_tokens=2, seed=1)
    try:
        with batcher.lock:  # the worker takes `first` and waits here while the other two queue up
            first = batcher.enqueue(SampleRequest([5, 6, 7], 1, params))
            deadline = time.monotonic() + 5
            while batcher._queue and time.monotonic() < deadline:
                time.sleep(0.001)
            bad = batcher.enqueue(SampleRequest([], 1, params))
            good = batcher.enqueue(SampleRequest([5, 6, 7, 8], 2, params))
        samples, _ = good.result(timeout=30)
        assert len(samples) == 2 and all(s.token_ids for s in samples)
        with pytest.raises(ValueError, match="the prompt is empty"):
            bad.result(timeout=30)
        assert first.result(timeout=30)[0]
        assert batcher.batches == 2 and batcher.merged_requests == 2  # `first`, then `good` alone
    finally:
        batcher.close()
