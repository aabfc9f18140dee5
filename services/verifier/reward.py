"""Rewards from verification results: the seed's schedule and the shaped compiler reward.

`compute_reward` is the contract's schedule. `CompilerRewardShaper` adds mild, un-gameable
shaping: warnings (NOLINT and `(void)x` cannot hide them: g++ still counts), a speed bonus,
an ASan+UBSan run on a seeded sampled fraction and clang-tidy findings (NOLINT-suppressed ones
counted as findings). Every component is reported, not just the sum. A result whose verification
itself failed raises InfrastructureError: an infrastructure failure is never a 0.0 reward.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .diagnostics import ErrorClass
from .tidy import TidyReport, count_suppressions, run_clang_tidy
from .verify import VerifyResult, verify_cpp


class InfrastructureError(RuntimeError):
    """The verifier could not judge the code (sandbox or toolchain failure)."""


def _require_judged(result: VerifyResult) -> None:
    if result.infra_error or result.error_class == ErrorClass.SANDBOX_ERROR.value:
        raise InfrastructureError(f"verification failed, no reward: {result.infra_error or 'sandbox error'}")


def compute_reward(result: VerifyResult) -> float:
    """The seed's schedule: 0.0 compile fails; 0.3 compiles but not run; 0.3 compiles but the run
    fails; 0.5 runs cleanly with no tests; 0.3 + 0.7 * passed/total with tests."""
    _require_judged(result)
    if not result.compile_ok:
        return 0.0
    if result.tests_total > 0:
        return 0.3 + 0.7 * result.tests_passed / result.tests_total
    if not result.ran:
        return 0.3
    if not result.run_ok:
        return 0.3
    return 0.5


@dataclass(frozen=True)
class ShaperWeights:
    compile: float = 0.3
    run: float = 0.2
    test: float = 0.3
    warning_each: float = 0.02
    warning_cap: float = 0.15
    speed: float = 0.05
    sanitizer: float = 0.05  # lost when ASan/UBSan reports an error on a sampled run
    tidy_each: float = 0.01
    tidy_cap: float = 0.05


@dataclass
class ShapedReward:
    total: float
    components: dict[str, float]
    base_reward: float
    sanitizer_sampled: bool
    sanitizer_findings: list[str] = field(default_factory=list)
    tidy_findings: list[str] = field(default_factory=list)
    warnings: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SanitizerRunner = Callable[[str, str | None, float, str], VerifyResult]


def _sanitized_verify(code: str, test_code: str | None, timeout: float, std: str) -> VerifyResult:
    flags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all", "-g"]
    return verify_cpp(code, test_code, timeout=timeout, std=std, extra_flags=flags, return_structured=True)


class CompilerRewardShaper:
    """Shaped reward: compile 0.3, run 0.2, tests 0.3, speed 0.05, minus mild penalties."""

    def __init__(
        self,
        weights: ShaperWeights | None = None,
        sanitizer_fraction: float = 0.1,
        seed: int | None = None,
        use_clang_tidy: bool = True,
        speed_reference_s: float = 1.0,
        sanitizer_runner: SanitizerRunner = _sanitized_verify,
        tidy_runner: Callable[[str, str], TidyReport] = run_clang_tidy,
    ) -> None:
        if not 0.0 <= sanitizer_fraction <= 1.0:
            raise ValueError("sanitizer_fraction must be in [0, 1]")
        self.weights = weights or ShaperWeights()
        self.sanitizer_fraction = sanitizer_fraction
        self.rng = random.Random(seed)
        self.use_clang_tidy = use_clang_tidy
        self.speed_reference_s = speed_reference_s
        self.sanitizer_runner = sanitizer_runner
        self.tidy_runner = tidy_runner

    def shape(
        self,
        code: str,
        result: VerifyResult,
        test_code: str | None = None,
        std: str = "c++17",
        timeout: float = 10.0,
    ) -> ShapedReward:
        _require_judged(result)
        w = self.weights
        comp: dict[str, float] = {}
        comp["compile"] = w.compile if result.compile_ok else 0.0
        comp["run"] = w.run if result.ran and result.run_ok else 0.0
        ratio = result.tests_passed / result.tests_total if result.tests_total else (1.0 if result.run_ok else 0.0)
        comp["test"] = w.test * ratio if result.compile_ok else 0.0
        # Silencing a warning costs what the warning would have (see tidy.py).
        warnings = result.warnings + count_suppressions(code)
        comp["warnings"] = -min(w.warning_cap, w.warning_each * warnings)
        comp["speed"] = self._speed(result)
        sampled = result.compile_ok and result.ran and self.rng.random() < self.sanitizer_fraction
        san_findings: list[str] = []
        if sampled:
            san = self.sanitizer_runner(code, test_code, timeout, std)
            _require_judged(san)
            san_findings = _sanitizer_findings(san)
        comp["sanitizer"] = -w.sanitizer if san_findings else 0.0
        tidy: list[str] = []
        if self.use_clang_tidy and result.compile_ok:
            tidy = self.tidy_runner(code, std).findings
        comp["tidy"] = -min(w.tidy_cap, w.tidy_each * len(tidy))
        total = max(0.0, sum(comp.values()))
        return ShapedReward(
            total=total,
            components=comp,
            base_reward=compute_reward(result),
            sanitizer_sampled=sampled,
            sanitizer_findings=san_findings,
            tidy_findings=tidy,
            warnings=warnings,
        )

    def _speed(self, result: VerifyResult) -> float:
        """Full bonus for a clean run well under the reference time, fading to 0 at it."""
        if not (result.ran and result.run_ok):
            return 0.0
        frac = max(0.0, 1.0 - result.run_s / self.speed_reference_s)
        return self.weights.speed * frac

    def shape_many(
        self, codes: Sequence[str], results: Sequence[VerifyResult], test_code: str | None = None
    ) -> list[ShapedReward]:
        return [self.shape(c, r, test_code) for c, r in zip(codes, results, strict=True)]


_SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "SUMMARY: UndefinedBehaviorSanitizer",
)


def _sanitizer_findings(result: VerifyResult) -> list[str]:
    return [line.strip() for line in result.stderr.splitlines() if any(m in line for m in _SANITIZER_MARKERS)][:20]
