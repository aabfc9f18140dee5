"""Prometheus metrics of the verifier service, in a registry of its own per app instance."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from .core.verify import VerifyResult

_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class VerifierMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "cppforge_verifier_requests", "HTTP requests by endpoint and status", ["endpoint", "status"], registry=r
        )
        self.queue_depth = Gauge("cppforge_verifier_queue_depth", "Distinct verifications pending", registry=r)
        self.cache_hits = Counter("cppforge_verifier_cache_hits", "Results served from the cache", registry=r)
        self.cache_misses = Counter("cppforge_verifier_cache_misses", "Cache lookups that missed", registry=r)
        self.deduplicated = Counter("cppforge_verifier_deduplicated", "Duplicate jobs folded into one", registry=r)
        self.rejected = Counter("cppforge_verifier_rejected", "Requests refused with 429 (queue full)", registry=r)
        self.compile_seconds = Histogram(
            "cppforge_verifier_compile_seconds", "Build time per verification", buckets=_SECONDS, registry=r
        )
        self.run_seconds = Histogram(
            "cppforge_verifier_run_seconds", "Run time per executed program", buckets=_SECONDS, registry=r
        )
        # What a trainer reads: how many rewards went out (by endpoint) and how many items got none.
        self.rewards = Counter("cppforge_verifier_rewards", "Rewards returned", ["endpoint"], registry=r)
        self.reward_sum = Counter(
            "cppforge_verifier_reward_sum", "Sum of the rewards returned", ["endpoint"], registry=r
        )
        self.no_reward = Counter(
            "cppforge_verifier_no_reward", "Batch items the verifier failed on (reward null, never 0)", registry=r
        )
        self.error_class = Counter(
            "cppforge_verifier_error_class", "Verifications by error_class", ["error_class"], registry=r
        )

    def observe(self, result: VerifyResult) -> None:
        self.compile_seconds.observe(result.compile_s)
        if result.ran:
            self.run_seconds.observe(result.run_s)
        self.error_class.labels(result.error_class or "none").inc()

    def reward(self, endpoint: str, value: float | None) -> None:
        if value is None:
            self.no_reward.inc()
            return
        self.rewards.labels(endpoint).inc()
        self.reward_sum.labels(endpoint).inc(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)
