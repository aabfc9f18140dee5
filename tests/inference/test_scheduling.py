"""GenerationBatcher's step scheduling: a newcomer runs almost as if alone, nothing starves, sessions join,
adapter changes wait for open decodes (scripted sessions on a scripted clock: each step costs 1 ms of it,
so the order of steps, the thing under test, does not depend on the machine's speed)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.inference.batcher import GenerationBatcher, ShuttingDownError
from services.lm.sampling import Sample, SampleRequest, SamplingParams, SamplingStats


def _request(tag: int, steps: int) -> SampleRequest:
    """A scripted request: `steps` units of work; its tag rides in the seed."""
    return SampleRequest(prompt_ids=[1], n=1, params=SamplingParams(max_tokens=steps, seed=tag))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


STEP_S = 0.001  # what one scripted step costs on the scripted clock


@dataclass
class Scripted:
    """A session whose requests each need `max_tokens` steps; it logs every step's tags in `log`."""

    requests: list[SampleRequest]
    log: list[list[int]]
    joinable: bool = False
    done_steps: list[int] = field(default_factory=list)
    reported: set[int] = field(default_factory=set)
    gate: threading.Event | None = None
    clock: Clock | None = None

    def __post_init__(self) -> None:
        self.done_steps = [0] * len(self.requests)

    def step(self) -> bool:
        if self.gate is not None:
            assert self.gate.wait(10)
        time.sleep(0.002)  # a forward takes a while: callers can queue between steps
        if self.clock is not None:
            self.clock.now += STEP_S
        live = [i for i, r in enumerate(self.requests) if self.done_steps[i] < r.params.max_tokens]
        for i in live:
            self.done_steps[i] += 1
        self.log.append([self.requests[i].params.seed or 0 for i in live])
        return all(d >= r.params.max_tokens for d, r in zip(self.done_steps, self.requests, strict=True))

    def remaining(self) -> int:
        left = [r.params.max_tokens - d for d, r in zip(self.done_steps, self.requests, strict=True)]
        return min((x for x in left if x > 0), default=0)

    def take_finished(self) -> list[tuple[int, Any]]:
        out = []
        for i, r in enumerate(self.requests):
            if i not in self.reported and self.done_steps[i] >= r.params.max_tokens:
                self.reported.add(i)
                stats = SamplingStats(prompt_tokens=1, completion_tokens=self.done_steps[i], steps=0, seconds=0)
                out.append((i, ([Sample(0, str(r.params.seed), [], "length", 0)], stats)))
        return out

    def absorb(self, other: Any) -> bool:
        if not (self.joinable and other.joinable):
            return False
        self.requests += other.requests
        self.done_steps += other.done_steps
        self.reported |= {i + len(self.requests) - len(other.requests) for i in other.reported}
        other.requests, other.done_steps = [], []
        return True


def _batcher(log: list[list[int]], **kwargs: Any) -> tuple[GenerationBatcher, list[Scripted]]:
    opened: list[Scripted] = []
    gate = kwargs.pop("gate", None)
    joinable = kwargs.pop("joinable", False)
    clock = kwargs.setdefault("clock", Clock())

    def open_session(adapter: str | None, requests: Sequence[SampleRequest]) -> Scripted:
        session = Scripted(list(requests), log, joinable=joinable, gate=gate, clock=clock)
        opened.append(session)
        return session

    return GenerationBatcher(open_session, **kwargs), opened


def _wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.001)


def test_a_short_request_beside_a_long_one_runs_almost_alone() -> None:
    log: list[list[int]] = []
    gate = threading.Event()
    batcher, _ = _batcher(log, max_wait_s=5.5 * STEP_S, starve_after=1000, gate=gate)
    try:
        long = batcher.enqueue(_request(1, 200))
        gate.set()
        _wait_for(lambda: len(log) >= 20)  # the long one is well under way
        short = batcher.enqueue(_request(2, 10))
        short.result(10)
        assert not long.done()  # the short one did not wait for the long one to end
        turns = [tags[0] for tags in log]
        first, last = turns.index(2), len(turns) - 1 - turns[::-1].index(2)
        window = turns[first : last + 1]
        assert window.count(2) == 10
        # The newcomer goes first (least model time); the long one waits at most 5.5 steps: one turn, no more.
        assert window.count(1) == 1 and window.index(1) == 6
        long.result(30)
        assert [tags[0] for tags in log].count(1) == 200
    finally:
        batcher.close()


def test_nothing_starves_under_a_stream_of_newcomers() -> None:
    log: list[list[int]] = []
    batcher, _ = _batcher(log, max_wait_s=3.5 * STEP_S, starve_after=1000, max_sessions=4)
    try:
        old = batcher.enqueue(_request(1, 20))
        _wait_for(lambda: len(log) >= 1)
        newcomers = [batcher.enqueue(_request(10 + i, 5)) for i in range(30)]
        old.result(30)
        for f in newcomers:
            f.result(30)
        turns = [tags[0] for tags in log]
        mine = [i for i, t in enumerate(turns) if t == 1]
        # Kept waiting over 3.5 steps, it is next unless another open session waited longer: with 4 open,
        # at most 3 such turns come first.
        assert max(b - a for a, b in itertools.pairwise(mine)) <= 4 + 3
    finally:
        batcher.close()


def test_prefilled_sessions_on_one_adapter_join() -> None:
    log: list[list[int]] = []
    batcher, opened = _batcher(log, joinable=True)
    try:
        first = batcher.enqueue(_request(1, 30))
        _wait_for(lambda: len(log) >= 3)
        second = batcher.enqueue(_request(2, 20))
        assert second.result(10) and first.result(10)
        assert len(opened) == 2
        assert any(tags == [1, 2] for tags in log)  # one step served both after the join
        assert batcher.batches == 1 and batcher.merged_requests == 2
    finally:
        batcher.close()


def test_a_much_shorter_newcomer_does_not_join_a_long_session() -> None:
    """Joined, the newcomer's steps would carry the long session's rows: alone, it finishes first."""
    log: list[list[int]] = []
    batcher, _ = _batcher(log, joinable=True, starve_after=1000)
    try:
        first = batcher.enqueue(_request(1, 60))
        _wait_for(lambda: len(log) >= 3)
        second = batcher.enqueue(_request(2, 5))
        assert second.result(10) and not first.done()
        first.result(10)
        assert all(len(tags) == 1 for tags in log) and batcher.batches == 2
    finally:
        batcher.close()


def test_sessions_on_different_adapters_never_join() -> None:
    log: list[list[int]] = []
    batcher, _ = _batcher(log, joinable=True)
    try:
        first = batcher.enqueue(_request(1, 30), "a")
        _wait_for(lambda: len(log) >= 3)
        second = batcher.enqueue(_request(2, 5), "b")
        assert second.result(10) and first.result(10)
        assert all(len(tags) == 1 for tags in log)
    finally:
        batcher.close()


def test_exclusive_waits_for_open_sessions_and_opens_none_meanwhile() -> None:
    log: list[list[int]] = []
    batcher, opened = _batcher(log)
    try:
        running = batcher.enqueue(_request(1, 50))
        _wait_for(lambda: len(log) >= 1)
        with batcher.exclusive():
            assert running.done()  # the open decode finished first
            queued = batcher.enqueue(_request(2, 3))
            time.sleep(0.05)
            assert len(opened) == 1 and not queued.done()  # nothing new opens while the model is held
        assert queued.result(10)
    finally:
        batcher.close()


def test_close_fails_what_is_queued_or_decoding_and_stops_the_worker() -> None:
    log: list[list[int]] = []
    batcher, _ = _batcher(log, max_sessions=1)
    running = batcher.enqueue(_request(1, 10_000))
    _wait_for(lambda: len(log) >= 1)
    queued = batcher.enqueue(_request(2, 3))
    batcher.close(wait_s=10)
    assert not batcher._thread.is_alive()
    for future in (running, queued):
        with pytest.raises(ShuttingDownError):
            future.result(1)
    assert len(log) < 10_000
    with pytest.raises(RuntimeError, match="closed"):
        batcher.enqueue(_request(3, 1))


def test_a_session_passed_over_starve_after_turns_gets_the_next() -> None:
    log: list[list[int]] = []
    gate = threading.Event()
    batcher, _ = _batcher(log, max_wait_s=1.0, starve_after=3, gate=gate)  # (the wait bound never fires here)
    try:
        long = batcher.enqueue(_request(1, 100))
        gate.set()
        _wait_for(lambda: len(log) >= 5)
        short = batcher.enqueue(_request(2, 9))
        short.result(10)
        long.result(30)
        turns = [tags[0] for tags in log]
        first = turns.index(2)
        window = turns[first : first + 12]
        assert window == [2, 2, 2, 1, 2, 2, 2, 1, 2, 2, 2, 1]  # three of the newcomer's, then one of the long one
    finally:
        batcher.close()
