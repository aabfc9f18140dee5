"""best_of_n_generate: sample N candidates in one batch, score them, return the best and metrics.

Ranking is (reward desc, code length desc): what matters for code is whether it compiles and
passes, not its log-probability (TGI ranks by log-prob; vLLM V1 dropped best_of). Scorers:
  * `ProxyRanker`: the learned compile-ability proxy, P(compiles) -> expected reward
    P * COMPILE_REWARD (a candidate function without tests earns 0.3 when it compiles); with no
    proxy loaded every estimate is 0.0 and the scorer is named "length" (the tie-break ranks);
  * `CompileRanker` (dev tier): the real verifier over HTTP, all candidates in parallel, within
    the request's deadline; whatever has not come back by then is ranked by the proxy, and the
    metrics say which candidates were verified. When no candidate got a verdict (the verifier
    unreachable or failing, or nothing back by the deadline) the ranking is the proxy's alone, and
    the metrics say so: `scorer: "proxy"` (`"length"` when no proxy is loaded) with `fallback` naming
    why, never "compile".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, Protocol

from ..lm.ranking import rank
from ..lm.sampling import Sample, SamplingParams, SamplingStats, sample_n

# compute_reward of a compiling candidate with no main and no tests (verifier reward.COMPILED; kept
# here so that serving code does not import the verifier's core; tests/inference/test_best_of_n.py checks it)
COMPILE_REWARD = 0.3
# Why the compile ranker has no verdict for a candidate, most telling first (the fallback names the first seen).
Fallback = Literal["verifier_unreachable", "verifier_error", "verifier_deadline"]
FALLBACKS: tuple[Fallback, ...] = ("verifier_unreachable", "verifier_error", "verifier_deadline")


@dataclass
class CandidateScore:
    reward: float
    verified: bool  # True: the real verifier judged it; False: estimated by the proxy
    compile_ok: bool | None = None
    ran: bool = False
    error_class: str | None = None  # an ErrorClass value (a str) when the verifier judged it
    unverified: Fallback | None = None  # the compile ranker's reason when the verifier gave no verdict


class Ranker(Protocol):
    name: str

    def score(self, codes: list[str], deadline: float) -> list[CandidateScore]: ...


@dataclass
class BestOfNMetrics:
    n: int
    best_index: int
    rewards: list[float]
    verified: list[bool]
    compile_count: int
    run_count: int
    scorer: str
    candidates: list[str]
    finish_reasons: list[str]
    timings: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seeds: list[int] = field(default_factory=list)
    order: list[int] = field(default_factory=list)  # candidate indices, best first
    stopped_by: list[str] = field(default_factory=list)
    fallback: Fallback | None = None  # scorer "proxy" in place of "compile": why no candidate was verified

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ProxyRanker:
    """The proxy's estimates; without a proxy (every estimate 0.0) it is named "length": the order is the
    tie-break's alone (code length), and the metrics must not claim a proxy ranked it."""

    def __init__(self, proxy_score: Callable[[list[str]], list[float]], name: str = "proxy") -> None:
        self.proxy_score = proxy_score
        self.name = name

    def score(self, codes: list[str], deadline: float) -> list[CandidateScore]:
        return [CandidateScore(p * COMPILE_REWARD, verified=False) for p in self.proxy_score(codes)]


class CompileRanker:
    """Dev tier: real compiles through the verifier service, bounded by the request's deadline."""

    name = "compile"

    def __init__(
        self,
        verifier_url: str,
        fallback: ProxyRanker,
        request_timeout_s: float = 10.0,
        reachable: Callable[[], bool] | None = None,
    ) -> None:
        self.verifier_url = verifier_url
        self.fallback = fallback
        self.request_timeout_s = request_timeout_s
        # The verifier monitor's view: when it saw the verifier down, the proxy answers at once rather than
        # every request waiting out a connection that will not come (a black-holed host takes the whole budget).
        self.reachable = reachable

    def score(self, codes: list[str], deadline: float) -> list[CandidateScore]:
        """Blocking; call it off the event loop (generation already runs in a worker thread)."""
        return asyncio.run(self.score_async(codes, deadline))

    async def score_async(self, codes: list[str], deadline: float) -> list[CandidateScore]:
        from ..verifier.client import AsyncVerifierClient

        if self.reachable is not None and not self.reachable():
            estimates = self.fallback.score(codes, deadline)
            return [replace(e, unverified="verifier_unreachable") for e in estimates]
        remaining = max(0.0, deadline - time.monotonic())
        # No retries: a 429 inside a 5 s budget is better answered by the proxy than by waiting.
        client = AsyncVerifierClient(self.verifier_url, timeout_s=max(0.1, remaining), max_retries=0)
        try:
            tasks = [asyncio.ensure_future(client.verify(c, None, timeout=self.request_timeout_s)) for c in codes]
            if tasks:
                await asyncio.wait(tasks, timeout=remaining)
            for task in tasks:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await client.aclose()
        estimates = self.fallback.score(codes, deadline)
        out: list[CandidateScore] = []
        for task, estimate in zip(tasks, estimates, strict=True):
            ok = task.done() and not task.cancelled() and task.exception() is None
            answer = task.result() if ok else None
            if answer is None or answer.reward is None:
                out.append(replace(estimate, unverified=_no_verdict(task)))
                continue
            out.append(
                CandidateScore(
                    reward=answer.reward,
                    verified=True,
                    compile_ok=answer.compile_ok,
                    ran=answer.ran,
                    error_class=answer.error_class,
                )
            )
        return out


def _no_verdict(task: asyncio.Future[Any]) -> Fallback:
    """Why a verification task gave no reward: the verifier unreachable (no connection), failing
    (an error answer or a result without a reward), or still out at the deadline."""
    import httpx

    if not task.done() or task.cancelled():
        return "verifier_deadline"
    exc = task.exception()
    cause = exc.__cause__ if exc is not None else None
    if isinstance(cause, httpx.TimeoutException):
        return "verifier_deadline"
    if isinstance(cause, httpx.TransportError):
        return "verifier_unreachable"
    return "verifier_error"


def _fallback(scores: list[CandidateScore]) -> Fallback | None:
    """The reason to report when no candidate was verified (None: some were, or nothing was tried)."""
    if any(s.verified for s in scores):
        return None
    reasons = {s.unverified for s in scores}
    return next((r for r in FALLBACKS if r in reasons), None)


def best_of_n_generate(
    model: Any,
    prompt_ids: Sequence[int],
    tokenizer: Any,
    n: int,
    params: SamplingParams | None = None,
    scorer: Ranker | None = None,
    prompt_text: str | None = None,
    budget_s: float | None = None,
) -> tuple[str, BestOfNMetrics]:
    """Sample `n` candidates in one batched generation, score `prompt + candidate` with `scorer`,
    return the best candidate's text and the metrics (per-candidate rewards, best_index,
    compile_count, run_count, timings). Without a scorer (or n == 1) the first sample wins."""
    started = time.monotonic()
    samples, stats = sample_n(model, tokenizer, prompt_ids, n, params or SamplingParams())
    prefix = prompt_text if prompt_text is not None else tokenizer.decode(list(prompt_ids), skip_special_tokens=True)
    return rank_samples(samples, stats, prefix, scorer, started, budget_s)


def rank_samples(
    samples: list[Sample],
    stats: SamplingStats,
    prefix: str,
    scorer: Ranker | None,
    started: float,
    budget_s: float | None = None,
) -> tuple[str, BestOfNMetrics]:
    """Score and rank already sampled candidates (the part of best-of-N after generation).
    `started`/`budget_s`: the request's start (time.monotonic) and its whole-request budget."""
    generated = time.monotonic()
    deadline = started + budget_s if budget_s is not None else float("inf")
    n = len(samples)
    # Scored as the program it ends: a stop sequence such as "\n}" closes the function.
    codes = [s.program(prefix) for s in samples]
    if scorer is None or n == 1:
        scores = [CandidateScore(0.0, verified=False) for _ in samples]
        scorer_name = "none"
    else:
        scores = scorer.score(codes, deadline)
        scorer_name = scorer.name
    fallback = _fallback(scores)
    if fallback is not None:  # not one verdict: the order is the fallback's (proxy or length), whatever the tier asked
        scorer_name = scorer.fallback.name if isinstance(scorer, CompileRanker) else "proxy"
    scored = time.monotonic()
    rewards = [s.reward for s in scores]
    order = rank(rewards, codes) if scorer is not None and n > 1 else list(range(n))
    metrics = _metrics(samples, scores, rewards, order[0], scorer_name, stats.prompt_tokens, stats.completion_tokens)
    metrics.order = order
    metrics.fallback = fallback
    metrics.timings = {
        "generate_s": generated - started,
        "score_s": scored - generated,
        "total_s": scored - started,
    }
    return samples[order[0]].text, metrics


def _metrics(
    samples: list[Sample],
    scores: list[CandidateScore],
    rewards: list[float],
    best: int,
    scorer: str,
    prompt_tokens: int,
    completion_tokens: int,
) -> BestOfNMetrics:
    return BestOfNMetrics(
        n=len(samples),
        best_index=best,
        rewards=rewards,
        verified=[s.verified for s in scores],
        compile_count=sum(1 for s in scores if s.verified and s.compile_ok),
        run_count=sum(1 for s in scores if s.verified and s.ran),
        scorer=scorer,
        candidates=[s.text for s in samples],
        finish_reasons=[s.finish_reason for s in samples],
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        seeds=[s.seed for s in samples],
        stopped_by=[s.stopped_by for s in samples],
    )
