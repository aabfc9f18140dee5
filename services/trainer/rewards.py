"""Rewards for a group of programs from the real verifier: in-process or over HTTP, plain or shaped.

Never the learned proxy, and never with think-stripping: the program judged is exactly prompt +
completion + stop, so a policy cannot earn a reward by hiding code that does not compile inside
`<think>...</think>` (verify_cpp's default strips those blocks first, for chat answers). A verification
that failed for infrastructure reasons (sandbox, toolchain, an unreachable or overloaded service)
yields a Verdict with `reward=None`: the loop drops that sample and counts it; it never becomes a 0
reward that would teach the model a wrong lesson.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..common.errors import ServiceError
from ..verifier.core.reward import CompilerRewardShaper, InfrastructureError, compute_reward
from ..verifier.core.verify import VerifyResult, verify_cpp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    reward: float | None  # None: infrastructure failure, the sample is dropped
    compiled: bool
    passed: bool  # every test passed (a test without markers: the program exited 0)
    compile_output: str  # the compiler's messages (FGO reads the first error line)
    infra_error: str | None = None

    @property
    def dropped(self) -> bool:
        return self.reward is None


def infra_verdict(message: str) -> Verdict:
    return Verdict(reward=None, compiled=False, passed=False, compile_output="", infra_error=message)


def passed_all(compile_ok: bool, run_ok: bool, tests_passed: int, tests_total: int) -> bool:
    return compile_ok and run_ok and tests_total > 0 and tests_passed == tests_total


class RewardBackend(Protocol):
    def score(self, programs: Sequence[str], test: str) -> list[Verdict]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class VerifyOptions:
    std: str = "c++17"
    timeout_s: float = 10.0
    shaped: bool = False


class LocalRewards:
    """verify_cpp in a thread pool (each call runs g++ and the program in their own sandboxes)."""

    def __init__(self, options: VerifyOptions, workers: int = 2) -> None:
        self.options = options
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify")
        self._shaper = CompilerRewardShaper() if options.shaped else None

    def _one(self, program: str, test: str) -> Verdict:
        opts = self.options
        try:
            result = verify_cpp(program, test, timeout=opts.timeout_s, std=opts.std, return_structured=True,
                                strip_think=False)  # fmt: skip
            reward = self._reward(program, test, result)
        except (InfrastructureError, ServiceError, OSError) as exc:
            return infra_verdict(f"{type(exc).__name__}: {exc}")
        if reward is None:
            return infra_verdict(result.infra_error or "sandbox error")
        return Verdict(
            reward=reward,
            compiled=result.compile_ok,
            passed=passed_all(result.compile_ok, result.run_ok, result.tests_passed, result.tests_total),
            compile_output=result.compile_output,
        )

    def _reward(self, program: str, test: str, result: VerifyResult) -> float | None:
        if result.infra_error:
            return None
        if self._shaper is None:
            return compute_reward(result)  # raises InfrastructureError on a sandbox error
        opts = self.options
        return self._shaper.shape(program, result, test, std=opts.std, timeout=opts.timeout_s).total

    def score(self, programs: Sequence[str], test: str) -> list[Verdict]:
        # Identical completions are common in a group (~7% on the bootstrap model, more as the policy
        # sharpens): verify each distinct program once, as the service's batch endpoint does.
        unique = list(dict.fromkeys(programs))
        verdicts = dict(zip(unique, self._pool.map(lambda p: self._one(p, test), unique), strict=True))
        return [verdicts[p] for p in programs]

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class HttpRewards:
    """The verifier service: one /v1/verify/batch call per group (duplicates verified once there);
    the shaped reward through /v1/reward per program (the batch endpoint gives plain rewards only)."""

    def __init__(self, url: str, options: VerifyOptions, workers: int = 4) -> None:
        from ..verifier.client import VerifierClient

        self.options = options
        self.client = VerifierClient(url)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reward")

    def score(self, programs: Sequence[str], test: str) -> list[Verdict]:
        opts = self.options
        try:
            answer = self.client.verify_batch(
                list(programs), test, std=opts.std, timeout=opts.timeout_s, return_structured=True, strip_think=False
            )
            if not len(answer.results) == len(answer.rewards) == len(programs):
                raise ValueError(f"{len(answer.results)} results for {len(programs)} programs")
        except (ServiceError, ValueError) as exc:
            # Unreachable or overloaded past the retries, refused, or a 2xx that is no batch answer (a proxy's
            # HTML page, another schema): the verifier judged nothing, so every sample is dropped.
            log.warning("verifier batch failed (%d samples dropped): %s", len(programs), exc)
            return [infra_verdict(f"{type(exc).__name__}: {exc}") for _ in programs]
        verdicts: list[Verdict] = []
        for result, reward in zip(answer.results, answer.rewards, strict=True):
            if reward is None or result.infra_error:
                verdicts.append(infra_verdict(result.infra_error or "verifier failed on this item"))
                continue
            verdicts.append(
                Verdict(
                    reward=float(reward),
                    compiled=result.compile_ok,
                    passed=passed_all(result.compile_ok, result.run_ok, result.tests_passed, result.tests_total),
                    compile_output=result.compile_output,
                )
            )
        if opts.shaped:
            verdicts = list(
                self._pool.map(lambda pv: self._shaped(pv[0], test, pv[1]), zip(programs, verdicts, strict=True))
            )
        return verdicts

    def _shaped(self, program: str, test: str, verdict: Verdict) -> Verdict:
        if verdict.dropped:
            return verdict
        opts = self.options
        try:
            answer = self.client.reward(program, test, std=opts.std, timeout=opts.timeout_s, shaped=True,
                                        strip_think=False)  # fmt: skip
        except ServiceError as exc:
            return infra_verdict(str(exc))
        total = answer.shaped.total if answer.shaped is not None else answer.reward
        return Verdict(reward=total, compiled=verdict.compiled, passed=verdict.passed,
                       compile_output=verdict.compile_output)  # fmt: skip

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.client.close()


def make_rewards(verifier_url: str, options: VerifyOptions, workers: int) -> RewardBackend:
    if verifier_url:
        return HttpRewards(verifier_url, options)
    return LocalRewards(options, workers)
