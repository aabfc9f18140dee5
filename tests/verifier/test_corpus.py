"""Run the self-written corpus through `verify_cpp` and pin every verdict and reward."""

from __future__ import annotations

import dataclasses

import pytest

from services.verifier.core.reward import compute_reward
from services.verifier.core.verify import VerifierConfig, VerifyResult, verify_cpp

from .corpus import CORPUS, REACHABLE_ERROR_CLASSES, Case

COMPILE_ERROR_CLASSES = {"syntax", "type", "undeclared"}


def run_case(case: Case) -> VerifyResult:
    config = None
    if case.compile_timeout_s is not None:
        config = dataclasses.replace(VerifierConfig.from_settings(), compile_timeout_s=case.compile_timeout_s)
    return verify_cpp(
        case.code,
        case.test_code,
        timeout=case.timeout,
        std=case.std,
        return_structured=True,
        config=config,
    )


def describe(result: VerifyResult) -> str:
    return (
        f"error_class={result.error_class} compile_ok={result.compile_ok} run_ok={result.run_ok} "
        f"tests={result.tests_passed}/{result.tests_total} rc={result.returncode} signal={result.signal}\n"
        f"compile_output={result.compile_output[:800]!r}\nstdout={result.stdout[:300]!r}\n"
        f"stderr={result.stderr[:500]!r}"
    )


def test_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 25
    names = [c.name for c in CORPUS]
    assert len(names) == len(set(names)), "case names must be unique"


def test_corpus_covers_every_reachable_error_class() -> None:
    covered = {c.expected_error_class for c in CORPUS}
    assert covered >= REACHABLE_ERROR_CLASSES, sorted(REACHABLE_ERROR_CLASSES - covered)
    assert "sandbox_error" not in covered


def test_corpus_covers_every_reward_branch() -> None:
    compile_fail = [c for c in CORPUS if not c.expected_compile_ok]
    no_main = [
        c
        for c in CORPUS
        if c.expected_compile_ok
        and c.expected_error_class == "none"
        and not c.expected_run_ok
        and c.expected_tests is None
    ]
    run_fail_no_tests = [
        c
        for c in CORPUS
        if c.expected_compile_ok
        and not c.expected_run_ok
        and c.expected_tests is None
        and c.expected_error_class != "none"
    ]
    clean_no_tests = [c for c in CORPUS if c.expected_run_ok and c.expected_tests is None]
    with_tests = [c.expected_tests for c in CORPUS if c.expected_tests is not None]
    assert {c.expected_reward for c in compile_fail} == {0.0}
    assert no_main and {c.expected_reward for c in no_main} == {0.3}
    assert run_fail_no_tests and {c.expected_reward for c in run_fail_no_tests} == {0.3}
    assert clean_no_tests and {c.expected_reward for c in clean_no_tests} == {0.5}
    assert any(p == t for p, t in with_tests), "a full pass"
    assert any(0 < p < t for p, t in with_tests), "a partial pass"
    assert any(p == 0 for p, _ in with_tests), "a zero pass"
    assert (3, 5) in with_tests and (1000, 1000) in with_tests


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_corpus_case(case: Case) -> None:
    result = run_case(case)
    info = describe(result)
    assert result.infra_error is None, info
    assert result.error_class == case.expected_error_class, info
    assert result.compile_ok is case.expected_compile_ok, info
    assert result.run_ok is case.expected_run_ok, info
    assert (result.tests_passed, result.tests_total) == (case.expected_tests or (0, 0)), info
    assert compute_reward(result) == pytest.approx(case.expected_reward), info
    if case.expected_signal is not None:
        assert result.signal == case.expected_signal, info
    if case.stdout_contains is not None:
        assert case.stdout_contains in result.stdout, info
    if case.min_warnings:
        assert result.warnings >= case.min_warnings, info
        assert len(result.warning_lines) == result.warnings
        assert all(line.startswith("solution.cpp:") for line in result.warning_lines), result.warning_lines
    if not case.expected_compile_ok and case.expected_error_class != "timeout_compile":
        check_structured_diagnostics(case, result)
    if case.expected_compile_ok:
        assert not [d for d in result.diagnostics if d.severity in ("error", "fatal error")], info


def check_structured_diagnostics(case: Case, result: VerifyResult) -> None:
    assert result.diagnostics, f"a failed build must explain itself\n{describe(result)}"
    for d in result.diagnostics:
        assert isinstance(d.file, str) and d.file
        assert d.line is None or (isinstance(d.line, int) and d.line >= 1)
        assert d.column is None or (isinstance(d.column, int) and d.column >= 1)
        assert d.severity in ("error", "fatal error", "warning", "note")
        assert isinstance(d.message, str) and d.message
    errors = [d for d in result.diagnostics if d.severity in ("error", "fatal error")]
    assert errors, describe(result)
    if case.diagnostic_contains is not None:
        assert any(case.diagnostic_contains in d.message for d in errors), result.diagnostics
    if case.expected_error_class in COMPILE_ERROR_CLASSES and case.located_error:
        first = errors[0]
        assert first.file in ("solution.cpp", "test.cpp"), first
        assert first.file == case.error_file, first
        assert isinstance(first.line, int), first
        # The line is the one the user wrote, in the user's own file.
        source = case.code if first.file == "solution.cpp" else case.test_code or ""
        assert 1 <= first.line <= source.count("\n") + 1, first
