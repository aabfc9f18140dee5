"""Parallel verification for the service: a bounded pool with a cache and in-flight dedupe.

* A thread pool sized to the cores runs `verify_cpp` (the work is in g++ and the program, in
  subprocesses; threads only wait on them).
* Identical jobs (same key as the Redis cache) share one verification, whether they arrive in
  one batch or from different callers at the same time.
* Admission is explicit: at most `workers + max_queue` distinct jobs are pending; beyond that
  `QueueFullError` (HTTP 429 with Retry-After). A batch is admitted whole or not at all.
* Every job has a deadline (its run timeout + the compile deadline + a margin); a caller is
  never left waiting past it (`DeadlineExceededError`, HTTP 503), and a job still queued at its
  deadline is dropped before it starts.
* A job that raises unexpectedly (a verifier bug, not the candidate's doing) comes back as an
  infrastructure failure of that job alone (`infra_error` set: never cached, never a reward);
  the other jobs of its batch are answered normally. Only a missing sandbox fails them all.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..common.errors import ServiceError
from .cache import ResultCache, cache_key
from .core.diagnostics import ErrorClass
from .core.sandbox import SandboxUnavailableError
from .core.think import strip_think_blocks
from .core.verify import VerifierConfig, VerifyResult, verify_cpp
from .metrics import VerifierMetrics

log = logging.getLogger(__name__)
DEADLINE_MARGIN_S = 5.0


class QueueFullError(ServiceError):
    status = 429

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"verification queue is full; retry in {retry_after_s}s", retry_after_s=retry_after_s)


class DeadlineExceededError(ServiceError):
    status = 503

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            "verification did not finish before its deadline (the service is overloaded)", retry_after_s=retry_after_s
        )


@dataclass(frozen=True)
class VerifyJob:
    code: str
    test_code: str | None = None
    timeout: float = 10.0
    std: str = "c++17"
    flags: tuple[str, ...] = ()
    strip_think: bool = True

    def normalized(self) -> VerifyJob:
        """Think blocks stripped once here, so the cache key sees what the compiler sees."""
        if not self.strip_think:
            return self
        return dataclasses.replace(self, code=strip_think_blocks(self.code), strip_think=False)

    def key(self) -> str:
        return cache_key(self.code, self.test_code, self.std, self.flags, self.timeout)


class VerifyPool:
    def __init__(
        self,
        config: VerifierConfig,
        workers: int | None = None,
        max_queue: int = 256,
        cache: ResultCache | None = None,
        metrics: VerifierMetrics | None = None,
    ) -> None:
        self.config = config
        self.workers = workers or os.cpu_count() or 1
        self.capacity = self.workers + max_queue
        self.cache = cache
        self.metrics = metrics
        self._executor = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="verify")
        self._inflight: dict[str, asyncio.Future[VerifyResult]] = {}
        self._pending = 0
        self._lock = threading.Lock()
        self._recent_job_s = 1.0  # moving average, for Retry-After

    @property
    def queue_depth(self) -> int:
        return self._pending

    def retry_after_s(self) -> int:
        backlog = self._pending / max(1, self.workers)
        return max(1, min(60, round(backlog * self._recent_job_s)))

    def deadline_s(self, job: VerifyJob) -> float:
        return job.timeout + self.config.compile_timeout_s + DEADLINE_MARGIN_S

    async def submit(self, job: VerifyJob) -> VerifyResult:
        results, _ = await self.submit_many([job])
        return results[0]

    async def submit_many(self, jobs: Sequence[VerifyJob]) -> tuple[list[VerifyResult], int]:
        """Verify `jobs`, answers in input order, and the number of distinct jobs among them;
        duplicates are verified once."""
        normalized = [j.normalized() for j in jobs]
        keys = [j.key() for j in normalized]
        unique: dict[str, VerifyJob] = {}
        for key, job in zip(keys, normalized, strict=True):
            unique.setdefault(key, job)
        if self.metrics is not None and len(unique) < len(jobs):
            self.metrics.deduplicated.inc(len(jobs) - len(unique))
        found = await self._cached(list(unique))
        to_start = [k for k in unique if k not in found and k not in self._inflight]
        self._admit(len(to_start))
        futures: dict[str, asyncio.Future[VerifyResult]] = {}
        loop = asyncio.get_running_loop()
        for key in unique:
            if key in found:
                continue
            fut = self._inflight.get(key)
            if fut is None:
                fut = self._start(loop, key, unique[key])
            futures[key] = fut
        deadline = max((self.deadline_s(j) for j in unique.values()), default=0.0)
        if futures:
            done = await asyncio.wait([asyncio.shield(f) for f in futures.values()], timeout=deadline)
            if done[1]:
                raise DeadlineExceededError(self.retry_after_s())
        results = {k: f.result() for k, f in futures.items()} | found
        return [dataclasses.replace(results[k]) for k in keys], len(unique)

    async def _cached(self, keys: list[str]) -> dict[str, VerifyResult]:
        if self.cache is None or not keys:
            return {}
        cache = self.cache

        def lookup() -> dict[str, VerifyResult]:
            out = {}
            for key in keys:
                hit = cache.get(key)
                if hit is not None:
                    out[key] = hit
            return out

        found = await asyncio.to_thread(lookup)
        if self.metrics is not None:
            self.metrics.cache_hits.inc(len(found))
            self.metrics.cache_misses.inc(len(keys) - len(found))
        return found

    def _admit(self, n: int) -> None:
        with self._lock:
            if n and self._pending + n > self.capacity:
                if self.metrics is not None:
                    self.metrics.rejected.inc()
                raise QueueFullError(self.retry_after_s())
            self._pending += n
        if self.metrics is not None:
            self.metrics.queue_depth.set(self._pending)

    def _start(self, loop: asyncio.AbstractEventLoop, key: str, job: VerifyJob) -> asyncio.Future[VerifyResult]:
        expires = time.monotonic() + self.deadline_s(job)
        inner = loop.run_in_executor(self._executor, self._work, key, job, expires)
        fut: asyncio.Future[VerifyResult] = asyncio.ensure_future(inner)
        self._inflight[key] = fut

        def finished(_: asyncio.Future[VerifyResult]) -> None:
            self._inflight.pop(key, None)
            with self._lock:
                self._pending -= 1
            if self.metrics is not None:
                self.metrics.queue_depth.set(self._pending)

        fut.add_done_callback(finished)
        return fut

    def _work(self, key: str, job: VerifyJob, expires: float) -> VerifyResult:
        if time.monotonic() > expires:
            raise DeadlineExceededError(self.retry_after_s())
        started = time.monotonic()
        try:
            result = verify_cpp(
                job.code,
                job.test_code,
                timeout=job.timeout,
                std=job.std,
                extra_flags=job.flags,
                return_structured=True,
                strip_think=False,
                config=self.config,
            )
        except SandboxUnavailableError:
            raise  # the service cannot sandbox anything: the whole request is a 503
        except Exception as exc:
            log.exception("verification of job %s raised; answering it as an infrastructure failure", key[-12:])
            result = infrastructure_failure(exc)
        elapsed = time.monotonic() - started
        self._recent_job_s = 0.8 * self._recent_job_s + 0.2 * elapsed
        if self.metrics is not None:
            self.metrics.observe(result)
        if self.cache is not None:
            self.cache.put(key, result)
        return result

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def infrastructure_failure(exc: BaseException) -> VerifyResult:
    """The result of a job the verifier itself failed on: no verdict, no reward, not cached.
    It names the exception type only: a traceback stays in the server's log."""
    message = f"internal error while verifying ({type(exc).__name__}); logged on the server"
    return VerifyResult(
        compile_ok=False,
        warnings=0,
        warning_lines=[],
        run_ok=False,
        stdout="",
        stderr="",
        returncode=None,
        tests_passed=0,
        tests_total=0,
        error_class=ErrorClass.SANDBOX_ERROR,
        infra_error=message,
    )
