"""Schedule generation requests from different callers over one model: merged batches, interleaved steps.

One worker thread owns the model. Requests wait in a queue; the worker opens a decode session for
the oldest waiting request together with every other waiting request for the same adapter (up to
`max_rows` candidate rows), so callers that arrive together share forward passes. PEFT runs one
adapter per forward, so requests for different adapters never share a session, and since every
new session holds the oldest waiting request, none waits behind requests queued after it.

Several sessions (up to `max_sessions`) are open at once and advance one small step at a time
(a chunk of prompt prefill or one decoding step: decode_session.DecodeSession), so a long prompt or a
long generation never holds the model while a short request waits. Each turn goes to the session whose
most urgent request needs the fewest steps to finish (shortest remaining work first: a short request
beside long ones runs almost as if alone; ties: the least model time so far, then the older), except
that a session kept waiting longer than `max_wait_s` since its last turn gets the next one (the longest
waiting first): nothing starves, and a session beside others advances at least once per `max_wait_s`
plus one step. A joined session is as urgent as its most urgent request. A request alone decodes exactly as `sample_n`
does. Streaming callers `enqueue` a request that carries its own step listener and cancel event
(SampleRequest); one cancelled before its session opens is dropped from the queue.

Failures reach only their own request: the session reports a request whose row or listener failed
as that request's outcome and decodes the others on. A step that fails as a whole (a forward) is
retried one request at a time in new sessions, except for requests whose listeners already got tokens
(they cannot be replayed cleanly) and which get the error.

Adapter changes take `exclusive()`: no new session opens, the open ones finish, then the caller holds
the model alone (a session never mixes two versions of an adapter's weights). `close()` fails what is
still queued or decoding after the step in progress and waits for the worker, so no decode runs while
the process exits.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from ..lm.decode_session import Outcome
from ..lm.sampling import Sample, SampleRequest, SamplingStats, TokenEvent

Result = tuple[list[Sample], SamplingStats]


class Session(Protocol):
    """An open decode: `step()` does one small unit of work (True once done); `remaining()` estimates the
    steps its most urgent request still needs; `take_finished()` gives
    the requests (index in request order, result or error) finished since its last call, every one
    once done; `absorb(other)` takes another session's requests into this one's forwards (False: it
    cannot, nothing changed)."""

    def step(self) -> bool: ...

    def remaining(self) -> int: ...

    def take_finished(self) -> list[tuple[int, Outcome]]: ...

    def absorb(self, other: Session) -> bool: ...


# open_session(adapter, requests): a session decoding `requests` with `adapter` (None: the base)
OpenSession = Callable[[str | None, Sequence[SampleRequest]], Session]
# decode(adapter, requests): a whole batched decode in one call (wrapped by `whole_decode`)
Decode = Callable[[str | None, Sequence[SampleRequest]], list[Result]]


@dataclass
class _WholeDecode:
    """A session whose single step is a whole `decode` call (for decoders that cannot step)."""

    decode: Decode
    adapter: str | None
    requests: Sequence[SampleRequest]
    results: list[Result] | None = None

    def step(self) -> bool:
        self.results = self.decode(self.adapter, self.requests)
        return True

    def remaining(self) -> int:
        return 0 if self.results is not None else 1

    def take_finished(self) -> list[tuple[int, Outcome]]:
        done, self.results = self.results or [], []
        return list(enumerate(done))

    def absorb(self, other: Session) -> bool:
        return False


def whole_decode(decode: Decode) -> OpenSession:
    return lambda adapter, requests: _WholeDecode(decode, adapter, requests)


@dataclass
class _Pending:
    request: SampleRequest
    adapter: str | None
    future: concurrent.futures.Future[Result] = field(default_factory=concurrent.futures.Future)
    heard: bool = False  # its listener got events: its decode cannot be replayed
    alone: bool = False  # a retry by itself: its failure is final


@dataclass
class _Open:
    session: Session
    batch: list[_Pending]  # in the session's request order
    order: int  # opening order: ties go to the older session
    since: float  # when its last turn ended (or it opened): how long it has been kept waiting
    attained_s: float = 0.0  # model time its steps took
    skipped: int = 0  # turns in a row given to other sessions

    @property
    def adapter(self) -> str | None:
        return self.batch[0].adapter

    @property
    def rows(self) -> int:
        return sum(p.request.n for p in self.batch if not p.future.done())


class GenerationBatcher:
    def __init__(
        self,
        open_session: OpenSession,
        max_rows: int = 32,
        max_sessions: int = 8,
        max_wait_s: float = 0.1,
        starve_after: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_sessions < 1 or not max_wait_s > 0:
            raise ValueError("max_sessions must be at least 1 and max_wait_s positive")
        self.open_session = open_session
        self.max_rows = max_rows
        self.max_sessions = max_sessions
        self.max_wait_s = max_wait_s
        self.starve_after = starve_after
        self.clock = clock
        self.lock = threading.Lock()  # held during each step; exclusive() holds it between sessions
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._open: list[_Open] = []
        self._paused = 0  # exclusive() callers waiting or holding: no new session opens
        self._closed = False
        self._order = itertools.count()
        self.batches = 0
        self.merged_requests = 0
        self._thread = threading.Thread(target=self._loop, name="generation-batcher", daemon=True)
        self._thread.start()

    def submit(self, request: SampleRequest, adapter: str | None = None) -> Result:
        """Blocking: the candidates of `request` under `adapter` (call it off the event loop)."""
        return self.enqueue(request, adapter).result()

    def enqueue(self, request: SampleRequest, adapter: str | None = None) -> concurrent.futures.Future[Result]:
        """Queue `request`; the future resolves when its decode ends. A request whose `cancel` is set
        before its session opens is dropped from the queue (its future cancelled)."""
        pending = _Pending(request, adapter)
        with self._cond:
            if self._closed:
                raise RuntimeError("the generation batcher is closed")
            self._queue.append(pending)
            self._cond.notify_all()
        return pending.future

    @property
    def open_sessions(self) -> int:
        return len(self._open)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """The model alone: waits for the open sessions to finish (opening none meanwhile), then holds
        the lock. Blocking: call it off the event loop, never from a step."""
        with self._cond:
            self._paused += 1
            while self._open:
                self._cond.wait()
        try:
            with self.lock:
                yield
        finally:
            with self._cond:
                self._paused -= 1
                self._cond.notify_all()

    # -- the worker --------------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        self._shut_down()
                        return
                    self._drop_cancelled()
                    if not self._paused:
                        while self._queue and len(self._open) < self.max_sessions:
                            self._start(self._take())
                    if self._open:
                        break
                    self._cond.wait()
                turn = self._pick()
            self._step(turn)

    def _take(self) -> list[_Pending]:
        """Under the lock: the oldest waiting request and the later ones for its adapter that fit, in
        arrival order."""
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

    def _start(self, batch: list[_Pending]) -> None:
        """Open a session for `batch`; a request that cannot open by itself (its adapter is gone, its
        input is bad) fails at once."""
        try:
            session = self.open_session(batch[0].adapter, [_watched(p) for p in batch])
        except Exception as exc:  # (one request's bad input, or a reason shared by all)
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
            else:  # each alone: only a request that cannot open by itself gets an error
                for pending in batch:
                    self._start([pending])
            return
        self._open.append(_Open(session, batch, next(self._order), since=self.clock()))

    def _drop_cancelled(self) -> None:
        """Under the lock: requests whose caller went away before their session opened."""
        gone = [i for i in self._queue if i.request.cancel is not None and i.request.cancel.is_set()]
        for item in gone:
            item.future.cancel()
        self._queue = [i for i in self._queue if not any(i is g for g in gone)]

    def _pick(self) -> _Open:
        """Under the lock: the session kept waiting longest if that is over `max_wait_s`, else the one
        with the least remaining work (then the least model time, then the older)."""
        now = self.clock()
        overdue = [s for s in self._open if now - s.since > self.max_wait_s or s.skipped >= self.starve_after]
        if overdue:
            return min(overdue, key=lambda s: (s.since, s.order))
        return min(self._open, key=lambda s: (s.session.remaining(), s.attained_s, s.order))

    def _step(self, turn: _Open) -> None:
        started = self.clock()
        try:
            with self.lock:
                done = turn.session.step()
                finished = turn.session.take_finished()
        except BaseException as exc:  # (the session's failure: retried per request)
            with self._cond:
                self._open.remove(turn)
                self._failed(turn, exc)
                self._cond.notify_all()
            return
        with self._cond:
            self._resolve(turn, finished)
            turn.since = self.clock()
            turn.attained_s += turn.since - started
            for other in self._open:
                other.skipped = 0 if other is turn else other.skipped + 1
            if done:
                self._open.remove(turn)
                self.batches += 1
                self.merged_requests += len(turn.batch)
                self._cond.notify_all()
            else:
                self._join(turn)

    def _resolve(self, turn: _Open, finished: list[tuple[int, Outcome]]) -> None:
        for index, outcome in finished:
            future = turn.batch[index].future
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _join(self, turn: _Open) -> None:
        """Under the lock: fold `turn` and another open session on its adapter into one (the older
        absorbs the newer) when their rows fit, the sessions can join (both prefilled) and the newer
        does not have far less left to do than the older (a short request is not slowed by long rows)."""
        for other in self._open:
            if other is turn or other.adapter != turn.adapter or other.rows + turn.rows > self.max_rows:
                continue
            older, newer = (other, turn) if other.order < turn.order else (turn, other)
            if newer.session.remaining() * 2 < older.session.remaining():
                continue  # the newcomer would finish much sooner alone (joined, its steps pay for the long rows)
            if older.session.absorb(newer.session):  # (session state only: the model's lock is not needed)
                older.batch += newer.batch
                older.attained_s = min(older.attained_s, newer.attained_s)  # the newcomer keeps its place
                older.since = max(older.since, newer.since)
                older.skipped = min(older.skipped, newer.skipped)
                self._open.remove(newer)
                return

    def _failed(self, turn: _Open, exc: BaseException) -> None:
        """Under the lock: a step failed as a whole. One request alone gets the error; a merged batch
        is retried one request at a time (only a request that fails by itself then gets an error)."""
        waiting = [p for p in turn.batch if not p.future.done()]
        for pending in waiting:
            if pending.alone or len(waiting) == 1 or pending.heard:
                pending.future.set_exception(exc)
            elif pending.request.cancel is not None and pending.request.cancel.is_set():
                pending.future.cancel()
            else:
                pending.alone = True
                self._start([pending])

    def close(self, wait_s: float = 10.0) -> None:
        """Stop: requests still queued or decoding fail with ShuttingDownError (the step in progress
        ends first); waits up to `wait_s` for the worker, so no decode runs while the process exits."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(wait_s)

    def _shut_down(self) -> None:
        """Under the lock, once closed: fail every waiting and open request."""
        gone = ShuttingDownError("the inference service is shutting down")
        for pending in [*self._queue, *(p for s in self._open for p in s.batch)]:
            if not pending.future.done():
                pending.future.set_exception(gone)
        self._queue, self._open = [], []
        self._cond.notify_all()  # (exclusive() waiters)


class ShuttingDownError(RuntimeError):
    """A request still queued or decoding when the service stopped."""


def _watched(pending: _Pending) -> SampleRequest:
    """The pending request with its listener wrapped to note (pending.heard) that it got events."""
    listener = pending.request.on_step
    if listener is None:
        return pending.request

    def on_step(events: list[TokenEvent]) -> None:
        pending.heard = True
        listener(events)

    return dataclasses.replace(pending.request, on_step=on_step)
