"""A background builder: one daemon thread runs jobs one at a time from a bounded queue, deduplicated by key.

The PCH store hands it its builds so that the request that makes a header set's PCH due compiles without
it at once instead of waiting seconds for the build (pch.PchCache). One job at a time: the builds compete
with the verifications for the cores, and a PCH is only a cache. The thread lowers its own scheduling
priority, which the processes it starts (bwrap, g++) inherit: the builds yield to the verifications.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
Job = TypeVar("Job")
NICENESS = 10  # added to the thread's nice value: g++ of a build runs behind the candidates' g++
_BUILDERS: weakref.WeakSet[BackgroundBuilder[object]] = weakref.WeakSet()


class BackgroundBuilder(Generic[Job]):
    """`submit(key, job)` queues `work(key, job)` unless `key` is already queued or running, or the queue
    holds `max_queued` jobs (then it is dropped: the caller sees False and may submit it again later).
    The thread starts on the first submit and again after `close`, which empties the queue and waits for
    the running job: after it returns nothing of this builder runs until the next submit."""

    def __init__(self, work: Callable[[str, Job], None], *, max_queued: int, name: str, niceness: int = NICENESS):
        self._work = work
        self.max_queued = max_queued
        self.name = name
        self.niceness = niceness
        self._cond = threading.Condition()
        self._queue: OrderedDict[str, Job] = OrderedDict()
        self._running: str | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._at_exit = False
        self.queued = 0  # jobs accepted
        self.done = 0  # jobs finished (whatever their outcome)
        self.dropped = 0  # jobs refused for a full queue
        _BUILDERS.add(self)  # type: ignore[arg-type]

    def submit(self, key: str, job: Job) -> bool:
        """True when `key` is queued or running after the call."""
        with self._cond:
            if key == self._running or key in self._queue:
                return True
            if self._stopping or len(self._queue) >= self.max_queued:
                self.dropped += 1
                return False
            self._queue[key] = job
            self.queued += 1
            if self._thread is None:
                self._start()
            self._cond.notify_all()
            return True

    def idle(self) -> bool:
        with self._cond:
            return self._running is None and not self._queue

    def busy_with(self, key: str) -> bool:
        with self._cond:
            return key == self._running or key in self._queue

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or running; False when `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._running is not None or self._queue:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self, timeout: float | None = None) -> bool:
        """Drop what is queued, wait for the running job and the thread to end; False on `timeout`."""
        with self._cond:
            thread = self._thread
            if thread is None:
                return True
            self._stopping = True
            self._queue.clear()
            self._cond.notify_all()
        thread.join(timeout)
        return not thread.is_alive()

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {"queued": self.queued, "done": self.done, "dropped": self.dropped, "pending": len(self._queue)}

    def _after_fork(self) -> None:
        """A forked child has no builder thread (threads do not survive fork): start afresh there."""
        self._cond = threading.Condition()
        self._queue.clear()
        self._running, self._thread, self._stopping = None, None, False

    # -- the thread (callers of _start hold self._cond) ---------------------------------------
    def _start(self) -> None:
        if not self._at_exit:  # the running build ends before the interpreter does
            atexit.register(self.close)
            self._at_exit = True
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # per thread on Linux; children inherit it
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + self.niceness)
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    self._thread, self._stopping = None, False
                    self._cond.notify_all()
                    return
                key, job = self._queue.popitem(last=False)
                self._running = key
            try:
                self._work(key, job)
            except Exception:  # a failed job must not end the builder
                log.exception("background job %s of %s failed", key, self.name)
            finally:
                with self._cond:
                    self._running = None
                    self.done += 1
                    self._cond.notify_all()


def _reset_builders_after_fork() -> None:
    for builder in list(_BUILDERS):
        builder._after_fork()


os.register_at_fork(after_in_child=_reset_builders_after_fork)
