"""The verifier service object: pool + cache + metrics + rewards, with no FastAPI import.

app.py builds one in its lifespan and routes call it; tests may drive it without HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..common.errors import ServiceError
from ..common.settings import VerifierServiceSettings
from ..common.store import RedisStore
from ..tasks.jsonl import read_jsonl
from ..tasks.sets import DATA_DIR
from .cache import ResultCache
from .core.compile import ToolchainError, compiler_version
from .core.pch import EAGER_HEADERS
from .core.reward import CompilerRewardShaper, InfrastructureError, ShapedReward, compute_reward
from .core.sandbox import SandboxUnavailableError
from .core.source_shape import leading_block
from .core.verify import VerifierConfig, VerifyResult, pch_cache, sandbox_mode, verify_cpp
from .metrics import VerifierMetrics
from .pool import QueueFullError, VerifyJob, VerifyPool

log = logging.getLogger(__name__)

# The start-up self-test: must compile, run and pass its one test in the sandbox.
SELF_TEST_CODE = "int add(int a, int b) { return a + b; }\n"
SELF_TEST_TEST = "int main() { return add(2, 3) == 5 ? 0 : 1; }\n"
PREBUILD_STD = "c++17"  # the shipped problem sets are verified under the default std and no flags


def shipped_header_sets(data_dir: Path = DATA_DIR) -> list[tuple[str, ...]]:
    """The leading include blocks of the shipped problem sets' prompts (data/*.jsonl), most frequent
    first; bits/stdc++.h leads. Empty without a data/ (a wheel install) or when a file cannot be read."""
    counts: Counter[tuple[str, ...]] = Counter()
    for path in sorted(data_dir.glob("*.jsonl")):
        try:
            rows = [row for _, row in read_jsonl(path)]
        except (OSError, ValueError) as exc:  # a PCH is only a cache: never a reason not to start
            log.warning("not prebuilding the PCHs of %s: %s", path, exc)
            continue
        for row in rows:
            prompt = row.get("prompt")
            items = leading_block(prompt).items if isinstance(prompt, str) else ()
            if items:
                counts[items] += 1
    ordered = sorted(counts, key=lambda items: -counts[items])  # stable: ties keep the files' order
    return [*EAGER_HEADERS, *(items for items in ordered if items not in EAGER_HEADERS)]


class SourceTooLargeError(ServiceError, ValueError):
    status = 413

    def __init__(self, field: str, size: int, limit: int) -> None:
        super().__init__(f"{field} is {size} bytes; the limit is {limit} bytes")
        self.field = field


class BatchTooLargeError(ServiceError, ValueError):
    """More items in one batch than `max_batch` allows (a count, not bytes)."""

    status = 413

    def __init__(self, field: str, count: int, limit: int) -> None:
        super().__init__(
            f"{field} has {count} items; the limit is {limit} items per batch (setting CPPFORGE_MAX_BATCH)"
        )
        self.field = field


@dataclass
class ScoredResult:
    result: VerifyResult
    reward: float | None  # None only for a batch item the verifier failed on (infra_error set)


def reward_or_none(result: VerifyResult) -> float | None:
    """compute_reward, or None when the verification itself failed: never a 0.0 for that."""
    try:
        return compute_reward(result)
    except InfrastructureError:
        return None


class VerifierService:
    def __init__(self, settings: VerifierServiceSettings, config: VerifierConfig | None = None) -> None:
        self.settings = settings
        self.config = config or VerifierConfig.from_settings()
        self.metrics = VerifierMetrics()
        self.store = RedisStore(settings.redis_url)
        self.cache = ResultCache(self.store, settings.cache_ttl_s) if settings.redis_url else None
        self.pool = VerifyPool(
            self.config,
            workers=settings.verifier_workers,
            max_queue=settings.verifier_max_queue,
            cache=self.cache,
            metrics=self.metrics,
        )
        self._shaping = asyncio.Semaphore(self.pool.workers)
        self._shaping_waiting = 0
        self.self_test_error: str | None = None  # set when the start-up self-test failed
        self.self_tested = False

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self.store.ping()  # connect now so /readyz is right from the start
        if self.settings.self_test and self.sandboxed_or_none() is not None:
            asyncio.get_running_loop().run_in_executor(None, self._self_test)
        if self.settings.prebuild_pch and self.sandboxed_or_none() is not None:
            cache = pch_cache(self.config, bool(self.sandboxed_or_none()))
            if cache is not None:
                # The background builder's queue, one at a time: the service answers meanwhile. Reading
                # data/ takes ~10 ms, off the event loop all the same.
                def queue_all() -> None:
                    for items in shipped_header_sets():
                        cache.queue_build(PREBUILD_STD, (), items)

                asyncio.get_running_loop().run_in_executor(None, queue_all)

    def close(self) -> None:
        self.pool.close()
        sandboxed = self.sandboxed_or_none()
        cache = pch_cache(self.config, sandboxed) if sandboxed is not None else None
        if cache is not None:
            cache.close()  # nothing builds into the PCH store once the service is closed

    def _self_test(self) -> None:
        """A known-good program through the real pipeline (sandbox, g++, run), uncached. bwrap can be installed
        and still fail (a container's seccomp profile refusing namespaces, a masked /proc): every compile would
        then look like a failed one and earn 0.0. A failed self-test makes the service unhealthy and refuses
        verifications (503), so that no reward is ever made of a broken sandbox."""
        try:
            result = verify_cpp(SELF_TEST_CODE, SELF_TEST_TEST, timeout=10.0, return_structured=True,
                                config=self.config)  # fmt: skip
        except Exception as exc:  # any failure of the machinery is what this test is for
            self.self_test_error = f"{type(exc).__name__}: {exc}"[:500]
        else:
            if result.compile_ok and result.run_ok and result.tests_passed == result.tests_total == 1:
                self.self_test_error = None
            else:
                detail = result.infra_error or result.compile_output or result.stderr or result.error_class
                self.self_test_error = f"a known-good program got {result.error_class}: {detail}"[:500]
        if self.self_test_error is not None:
            log.error("verifier self-test failed, refusing verifications: %s", self.self_test_error)
        self.self_tested = True

    def check_self_test(self) -> None:
        if self.self_test_error is not None:
            raise SandboxUnavailableError(f"the verifier's self-test failed: {self.self_test_error}")

    def sandboxed_or_none(self) -> bool | None:
        try:
            return sandbox_mode(self.config)
        except SandboxUnavailableError:
            return None

    # -- checks ----------------------------------------------------------------------------
    def check_sizes(self, **fields: str | None) -> None:
        limit = self.settings.max_source_bytes
        for name, value in fields.items():
            if value is not None and len(value.encode()) > limit:
                raise SourceTooLargeError(name, len(value.encode()), limit)

    # -- work ------------------------------------------------------------------------------
    async def verify(self, job: VerifyJob) -> ScoredResult:
        """One job; an infrastructure failure raises InfrastructureError (HTTP 503)."""
        self.check_self_test()
        self.check_sizes(code=job.code, test_code=job.test_code)
        result = await self.pool.submit(job)
        scored = ScoredResult(result, compute_reward(result))
        self.metrics.reward("verify", scored.reward)
        return scored

    async def verify_batch(self, jobs: list[VerifyJob]) -> tuple[list[ScoredResult], int]:
        """Many jobs; an item the verifier failed on gets reward None, the others are unaffected."""
        if len(jobs) > self.settings.max_batch:
            raise BatchTooLargeError("completions", len(jobs), self.settings.max_batch)
        self.check_self_test()
        for job in jobs:
            self.check_sizes(code=job.code, test_code=job.test_code)
        results, unique = await self.pool.submit_many(jobs)
        scored = [ScoredResult(r, reward_or_none(r)) for r in results]
        for item in scored:
            self.metrics.reward("verify_batch", item.reward)
        return scored, unique

    async def reward(
        self, job: VerifyJob, *, shaped: bool, sanitizer_fraction: float, use_clang_tidy: bool, seed: int | None
    ) -> tuple[ScoredResult, ShapedReward | None]:
        scored = await self.verify(job)
        if not shaped:
            return scored, None
        # Judged on GCC's view of the code, under the verification's own config, std and flags.
        shaper = CompilerRewardShaper(
            sanitizer_fraction=sanitizer_fraction, seed=seed, use_clang_tidy=use_clang_tidy, config=self.config
        )
        code = job.normalized().code

        def shape() -> ShapedReward:
            return shaper.shape(
                code, scored.result, job.test_code, std=job.std, timeout=job.timeout, extra_flags=job.flags
            )

        # Shaping runs g++ and clang-tidy outside the pool: bound it the same way (cores at once,
        # a bounded number waiting, 429 beyond), so /v1/reward cannot pile up processes.
        if self._shaping.locked() and self._shaping_waiting >= self.settings.verifier_max_queue:
            raise QueueFullError(self.pool.retry_after_s())
        self._shaping_waiting += 1
        try:
            await self._shaping.acquire()
        finally:
            self._shaping_waiting -= 1
        try:
            return scored, await asyncio.to_thread(shape)
        finally:
            self._shaping.release()

    # -- health ----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        sandboxed = self.sandboxed_or_none()
        try:
            gxx = compiler_version()
        except ToolchainError as exc:
            gxx = f"unavailable: {exc}"
        cache = pch_cache(self.config, bool(sandboxed)) if sandboxed is not None else None
        ok = sandboxed is not None and not gxx.startswith("unavailable") and self.self_test_error is None
        return {
            "status": "ok" if ok else "unhealthy",
            "self_test": "failed: " + self.self_test_error
            if self.self_test_error
            else ("passed" if self.self_tested else "pending"),
            "bwrap": shutil.which("bwrap"),
            "sandboxed": sandboxed,
            "unsandboxed_allowed": self.config.allow_unsandboxed,
            "gxx_version": gxx,
            "pch_ready": bool(cache and cache.ready()),
        }

    def readiness(self) -> dict[str, Any]:
        health = self.health()
        redis_up = self.store.ping() if self.settings.redis_url else False
        if health["status"] != "ok":
            status = "not_ready"
        elif not redis_up:
            status = "degraded"
        else:
            status = "ready"
        return {
            "status": status,
            "redis": "up" if redis_up else ("disabled" if not self.settings.redis_url else "down"),
            "queue_depth": self.pool.queue_depth,
            "capacity": self.pool.capacity,
            "workers": self.pool.workers,
        }
