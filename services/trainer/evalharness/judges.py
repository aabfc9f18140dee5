"""Judging programs with the real verifier: `verify_cpp` in-process (a thread pool), or the verifier
service's batch endpoint. A verification that failed for infrastructure reasons (no sandbox, a broken
toolchain, the service down past its retries) is a `Judgement` with `infra` set: the runner leaves it out
of pass@k, it never counts as a failed sample.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ...common.errors import ServiceError
from ...verifier.core.diagnostics import ErrorClass
from ...verifier.core.reward import InfrastructureError
from ...verifier.core.sandbox import SandboxUnavailableError
from ...verifier.core.verify import VerifyResult, verify_cpp
from ..rewards import passed_all

log = logging.getLogger(__name__)

INFRA = "infra"  # the error_class of a sample the verifier could not judge
DETAIL_CHARS = 300


@dataclass(frozen=True)
class Judgement:
    error_class: str  # the verifier's ErrorClass value, or "infra"
    compiled: bool
    passed: bool  # compiled, ran, and every test passed
    detail: str = ""  # why it failed: the first compiler error, or the run's stderr / exit status

    @property
    def infra(self) -> bool:
        return self.error_class == INFRA


def infra_judgement(message: str) -> Judgement:
    return Judgement(error_class=INFRA, compiled=False, passed=False, detail=message[:DETAIL_CHARS])


def _first_error_line(result: VerifyResult) -> str:
    for diag in result.diagnostics:
        if diag.severity in ("error", "fatal error"):
            where = f"{diag.file}:{diag.line}: " if diag.line is not None else ""
            return where + diag.message
    for line in result.compile_output.splitlines():
        if "error" in line:
            return line.strip()
    return result.compile_output.strip().splitlines()[0] if result.compile_output.strip() else ""


def failure_detail(result: VerifyResult) -> str:
    """One short line saying why a program did not pass ("" when it passed)."""
    if not result.compile_ok:
        return f"compile: {_first_error_line(result) or result.error_class}"[:DETAIL_CHARS]
    if passed_all(result.compile_ok, result.run_ok, result.tests_passed, result.tests_total):
        return ""
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    if result.signal is not None:
        status = f"signal {result.signal}"
    elif result.returncode is not None:
        status = f"exit {result.returncode}"
    else:
        status = str(result.error_class)
    tests = f"{result.tests_passed}/{result.tests_total} tests"
    return (f"run: {status}, {tests}" + (f": {lines[-1].strip()}" if lines else ""))[:DETAIL_CHARS]


def judgement_of(result: VerifyResult) -> Judgement:
    """What a VerifyResult says about a sample; an infrastructure failure becomes an `infra` judgement."""
    if result.infra_error or result.error_class == ErrorClass.SANDBOX_ERROR:
        return infra_judgement(result.infra_error or "sandbox error")
    return Judgement(
        error_class=str(result.error_class or ErrorClass.NONE),
        compiled=result.compile_ok,
        passed=passed_all(result.compile_ok, result.run_ok, result.tests_passed, result.tests_total),
        detail=failure_detail(result),
    )


class Judge(Protocol):
    def judge(self, codes: Sequence[str], test: str, libraries: Sequence[str] = ()) -> list[Judgement]:
        """One judgement per program in `codes` (each followed by the same trusted `test`, linked with
        the problem's `libraries`), in order."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class VerifyOptions:
    std: str = "c++17"
    timeout_s: float = 10.0


class LocalJudge:
    """`verify_cpp` on a thread pool (each call compiles and runs in its own sandbox)."""

    def __init__(self, options: VerifyOptions, workers: int = 2) -> None:
        self.options = options
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eval-verify")

    def _one(self, code: str, test: str, libraries: Sequence[str]) -> Judgement:
        try:
            result = verify_cpp(code, test, timeout=self.options.timeout_s, std=self.options.std,
                                extra_flags=tuple(libraries), return_structured=True, strip_think=False)  # fmt: skip
        except (InfrastructureError, SandboxUnavailableError, OSError) as exc:
            return infra_judgement(f"{type(exc).__name__}: {exc}")
        return judgement_of(result)

    def judge(self, codes: Sequence[str], test: str, libraries: Sequence[str] = ()) -> list[Judgement]:
        unique = list(dict.fromkeys(codes))  # identical samples are common at low temperature: verify once
        found = dict(zip(unique, self._pool.map(lambda c: self._one(c, test, libraries), unique), strict=True))
        return [found[c] for c in codes]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class HttpJudge:
    """The verifier service: one /v1/verify/batch request per task (its samples share the test)."""

    def __init__(self, url: str, options: VerifyOptions) -> None:
        from ...verifier.client import VerifierClient

        self.options = options
        self.client = VerifierClient(url)

    def judge(self, codes: Sequence[str], test: str, libraries: Sequence[str] = ()) -> list[Judgement]:
        opts = self.options
        try:
            answer = self.client.verify_batch(list(codes), test, std=opts.std, timeout=opts.timeout_s,
                                              extra_flags=list(libraries), return_structured=True,
                                              strip_think=False)  # fmt: skip
            if len(answer.results) != len(codes):
                raise ValueError(f"{len(answer.results)} results for {len(codes)} programs")
        except (ServiceError, ValueError) as exc:
            log.warning("verifier batch failed (%d samples not judged): %s", len(codes), exc)
            return [infra_judgement(f"{type(exc).__name__}: {exc}") for _ in codes]
        return [judgement_of(VerifyResult.from_dict(item.model_dump())) for item in answer.results]

    def close(self) -> None:
        self.client.close()


def make_judge(verifier_url: str, options: VerifyOptions, workers: int) -> Judge:
    return HttpJudge(verifier_url, options) if verifier_url else LocalJudge(options, workers)
