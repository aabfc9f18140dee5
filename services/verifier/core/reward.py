"""Rewards from verification results: the seed's schedule and the shaped compiler reward.

`compute_reward` is the contract's schedule. `CompilerRewardShaper` adds mild, un-gameable
shaping: a speed bonus, an ASan+UBSan run on a seeded sampled fraction, and penalties for g++
warnings, warning-silencing constructs and clang-tidy findings, all judged on GCC's own view of
the candidate code alone (gcc_view.py): no linemarker, `#ifdef __clang__`, `_Pragma`, macro or
NOLINT comment can show the judge other code than g++ compiled, and the trusted test code's own
warnings are not charged to the candidate. Every component is reported, not just the sum.
A result whose verification itself failed, or a judge that could not run (sandbox, toolchain),
raises InfrastructureError: an infrastructure failure is never a 0.0 reward nor a 0 penalty.
"""

from __future__ import annotations

import concurrent.futures
import functools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ...common.errors import ServiceError
from .compile import ToolchainError
from .diagnostics import ErrorClass
from .flags import MAX_FLAGS
from .gcc_view import CandidateView, GccViewer
from .tidy import TidyReport, run_clang_tidy
from .verify import VerifierConfig, VerifyResult, verify_cpp


class InfrastructureError(ServiceError, RuntimeError):
    """The verifier could not judge the code (sandbox or toolchain failure)."""

    status = 503

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after_s=5)


def _require_judged(result: VerifyResult) -> None:
    if result.infra_error or result.error_class == ErrorClass.SANDBOX_ERROR:
        raise InfrastructureError(f"verification failed, no reward: {result.infra_error or 'sandbox error'}")


# The seed's schedule (DESIGN.md, Rewards), in one place; the shaper's weights are ShaperWeights below.
COMPILED = 0.3  # compiles (whether or not it ran, or the run failed); the floor under test credit
RAN_CLEAN = 0.5  # runs cleanly with no tests
TESTS_SHARE = 0.7  # on top of COMPILED, scaled by tests_passed / tests_total


def compute_reward(result: VerifyResult) -> float:
    """The seed's schedule: 0.0 compile fails; 0.3 compiles but not run; 0.3 compiles but the run
    fails; 0.5 runs cleanly with no tests; 0.3 + 0.7 * passed/total with tests."""
    _require_judged(result)
    if not result.compile_ok:
        return 0.0
    if result.tests_total > 0:
        return COMPILED + TESTS_SHARE * result.tests_passed / result.tests_total
    if not result.ran:
        return COMPILED
    if not result.run_ok:
        return COMPILED
    return RAN_CLEAN


@dataclass(frozen=True)
class ShaperWeights:
    """CompilerRewardShaper's weights (DESIGN.md): positive parts, then the mild penalties' sizes and caps."""

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


SANITIZER_FLAGS = ("-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all", "-g")
# (code, test_code, timeout, std, the verification's own extra flags) -> the sanitized verification
SanitizerRunner = Callable[[str, str | None, float, str, Sequence[str]], VerifyResult]


@dataclass(frozen=True)
class _Judgement:
    warnings: int  # g++'s warnings on the view plus the silencing constructs in it (or the cap's count)
    tidy: list[str]
    tidy_maxed: bool  # charged the whole tidy cap whatever the findings' count


def sanitized_verify(
    code: str,
    test_code: str | None,
    timeout: float,
    std: str,
    flags: Sequence[str],
    *,
    config: VerifierConfig | None = None,
) -> VerifyResult:
    """verify_cpp under ASan+UBSan with the verification's own flags: code that needs its -D/-I
    flags must build here too (a sanitized build that fails is a finding)."""
    extra = [*flags, *(f for f in SANITIZER_FLAGS if f not in flags)]
    if len(extra) > MAX_FLAGS:
        raise InfrastructureError(f"no room for the sanitizer flags: the job already has {len(flags)} flags")
    return verify_cpp(
        code, test_code, timeout=timeout, std=std, extra_flags=extra, return_structured=True, config=config
    )


class CompilerRewardShaper:
    """Shaped reward: compile, run, tests and speed parts minus mild penalties (ShaperWeights)."""

    def __init__(
        self,
        weights: ShaperWeights | None = None,
        sanitizer_fraction: float = 0.1,
        seed: int | None = None,
        use_clang_tidy: bool = True,
        speed_reference_s: float = 1.0,
        sanitizer_runner: SanitizerRunner | None = None,
        tidy_runner: Callable[[str, str], TidyReport] = run_clang_tidy,
        *,
        viewer: GccViewer | None = None,
        config: VerifierConfig | None = None,
    ) -> None:
        """`viewer` builds and compiles GCC's view of the code (default: a GccViewer under `config`,
        itself defaulting to the settings' VerifierConfig)."""
        if not 0.0 <= sanitizer_fraction <= 1.0:
            raise ValueError("sanitizer_fraction must be in [0, 1]")
        self.weights = weights or ShaperWeights()
        self.sanitizer_fraction = sanitizer_fraction
        self.rng = random.Random(seed)
        self.use_clang_tidy = use_clang_tidy
        self.speed_reference_s = speed_reference_s
        self.sanitizer_runner = sanitizer_runner or functools.partial(sanitized_verify, config=config)
        self.tidy_runner = tidy_runner  # called with the view's clang-tidy source, not the raw code
        self._viewer = viewer
        self._config = config

    @property
    def viewer(self) -> GccViewer:
        if self._viewer is None:
            self._viewer = GccViewer(self._config)
        return self._viewer

    def shape(
        self,
        code: str,
        result: VerifyResult,
        test_code: str | None = None,
        *,
        std: str = "c++17",
        timeout: float = 10.0,
        extra_flags: Sequence[str] = (),
    ) -> ShapedReward:
        """`extra_flags`: the verification's own (GCC's view must be taken with the same)."""
        _require_judged(result)
        w = self.weights
        comp: dict[str, float] = {}
        comp["compile"] = w.compile if result.compile_ok else 0.0
        comp["run"] = w.run if result.ran and result.run_ok else 0.0
        ratio = result.tests_passed / result.tests_total if result.tests_total else (1.0 if result.run_ok else 0.0)
        comp["test"] = w.test * ratio if result.compile_ok else 0.0
        judged = _Judgement(warnings=0, tidy=[], tidy_maxed=False)
        if result.compile_ok:
            try:
                judged = self._judge(code, test_code, std, extra_flags)
            except ToolchainError as exc:
                raise InfrastructureError(f"the shaped reward's judge could not run: {exc}") from exc
        warnings, tidy = judged.warnings, judged.tidy
        comp["warnings"] = -min(w.warning_cap, w.warning_each * warnings)
        comp["speed"] = self._speed(result)
        sampled = result.compile_ok and result.ran and self.rng.random() < self.sanitizer_fraction
        san_findings: list[str] = []
        if sampled:
            san = self.sanitizer_runner(code, test_code, timeout, std, extra_flags)
            _require_judged(san)
            san_findings = _sanitizer_findings(san, result)
        comp["sanitizer"] = -w.sanitizer if san_findings else 0.0
        comp["tidy"] = -w.tidy_cap if judged.tidy_maxed else -min(w.tidy_cap, w.tidy_each * len(tidy))
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

    def _judge(self, code: str, test_code: str | None, std: str, flags: Sequence[str]) -> _Judgement:
        """Warnings charged and tidy findings on GCC's view of the code alone; clang-tidy runs while
        g++ compiles the view. A view GCC cannot preprocess or compile, or a clang-tidy run that did
        not finish, is charged the maximum: honest code that the verification compiled never is."""
        view = self.viewer.view(code, std=std, flags=flags, test_code=test_code)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            tidy_job = pool.submit(self._tidy, view, std) if self.use_clang_tidy else None
            gcc_warnings = self.viewer.warnings(view, std=std, flags=flags)
            tidy, tidy_maxed = tidy_job.result() if tidy_job is not None else ([], False)
        if gcc_warnings is None:
            w = self.weights
            warnings = math.ceil(round(w.warning_cap / w.warning_each, 6)) if w.warning_each > 0 else 0
        else:
            warnings = gcc_warnings + view.suppressions()
        return _Judgement(warnings=warnings, tidy=tidy, tidy_maxed=tidy_maxed)

    def _tidy(self, view: CandidateView, std: str) -> tuple[list[str], bool]:
        """clang-tidy's findings on the view, and whether they are charged the maximum."""
        if not view.ok:
            return [f"cppforge: GCC could not preprocess the code alone ({view.failure})"], True
        report = self.tidy_runner(view.tidy_source(), std)
        if not report.complete:
            return [*report.findings, "cppforge: clang-tidy did not finish (time or output limit)"], True
        return report.findings, False

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


def _sanitizer_findings(san: VerifyResult, plain: VerifyResult) -> list[str]:
    """The sanitizers' reports; a sanitized build that does not compile, or a sanitized run that fails
    where the plain one passed, is a finding too: code can tell the builds apart
    (`__SANITIZE_ADDRESS__`) and would otherwise dodge the check by breaking only the sanitized one."""
    found = [line.strip() for line in san.stderr.splitlines() if any(m in line for m in _SANITIZER_MARKERS)][:20]
    if found:
        return found
    if not san.compile_ok:
        return [f"cppforge: the sanitized build did not compile ({san.error_class})"]
    if plain.run_ok and not san.run_ok:
        return [f"cppforge: the sanitized run failed where the plain one passed ({san.error_class})"]
    return []
