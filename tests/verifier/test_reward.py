"""compute_reward's schedule and CompilerRewardShaper, on hand-built results and real runs."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from services.verifier.core.compile import ToolchainError
from services.verifier.core.gcc_view import CandidateView, GccViewer, count_suppressions
from services.verifier.core.reward import (
    CompilerRewardShaper,
    InfrastructureError,
    ShaperWeights,
    compute_reward,
)
from services.verifier.core.tidy import TidyReport
from services.verifier.core.verify import VerifyResult, verify_cpp


def make(**kw: object) -> VerifyResult:
    base: dict[str, object] = dict(
        compile_ok=True, warnings=0, warning_lines=[], run_ok=True, stdout="", stderr="",
        returncode=0, tests_passed=0, tests_total=0, ran=True, error_class="none",
    )  # fmt: skip
    base.update(kw)
    return VerifyResult(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"compile_ok": False, "ran": False, "run_ok": False}, 0.0),
        ({"ran": False, "run_ok": False}, 0.3),
        ({"run_ok": False, "returncode": 1}, 0.3),
        ({}, 0.5),
        ({"tests_passed": 0, "tests_total": 4}, 0.3),
        ({"tests_passed": 3, "tests_total": 4}, 0.3 + 0.7 * 0.75),
        ({"tests_passed": 4, "tests_total": 4}, 1.0),
        ({"tests_passed": 3, "tests_total": 5, "run_ok": False}, 0.3 + 0.7 * 0.6),
    ],
)
def test_compute_reward_schedule(fields: dict[str, object], expected: float) -> None:
    assert compute_reward(make(**fields)) == pytest.approx(expected)


def test_infrastructure_failure_raises_instead_of_zero() -> None:
    with pytest.raises(InfrastructureError):
        compute_reward(make(compile_ok=False, error_class="sandbox_error", infra_error="bwrap died"))
    with pytest.raises(InfrastructureError):
        CompilerRewardShaper(use_clang_tidy=False).shape("int main(){}", make(infra_error="x"))


def _no_tidy(code: str, std: str) -> TidyReport:
    return TidyReport(findings=[])


class FixedViewer(GccViewer):
    """GCC's judgement made up, for hand-built results: `warnings` g++ warnings (None: the view does
    not compile), `text` the view the counters read, `failure` a view GCC could not make."""

    def __init__(self, warnings: int | None = 0, text: str = "", failure: str | None = None) -> None:
        self.fixed = warnings
        self.view_text = text
        self.failure = failure

    def view(self, code: str, *, std: str, flags: Sequence[str], test_code: str | None = None) -> CandidateView:
        return CandidateView(self.view_text, failure=self.failure)

    def warnings(self, view: CandidateView, *, std: str, flags: Sequence[str]) -> int | None:
        return self.fixed if view.ok else None


class BrokenViewer(FixedViewer):
    def view(self, code: str, *, std: str, flags: Sequence[str], test_code: str | None = None) -> CandidateView:
        raise ToolchainError("the sandboxed g++ run failed: bwrap died")


def test_shaper_components_on_hand_built_result() -> None:
    # The warning component reads g++'s warnings on the view of the code alone (here made up: 3),
    # not the result's count, which holds the trusted test code's warnings too.
    shaper = CompilerRewardShaper(
        sanitizer_fraction=0.0, tidy_runner=_no_tidy, speed_reference_s=1.0, viewer=FixedViewer(3)
    )
    res = make(tests_passed=1, tests_total=2, warnings=7, run_s=0.5)
    shaped = shaper.shape("int main(){}", res)
    c = shaped.components
    assert c["compile"] == 0.3 and c["run"] == 0.2
    assert c["test"] == pytest.approx(0.15)
    assert c["warnings"] == pytest.approx(-0.06)
    assert c["speed"] == pytest.approx(0.025)
    assert c["sanitizer"] == 0.0 and c["tidy"] == 0.0
    assert shaped.total == pytest.approx(sum(c.values()))
    assert shaped.base_reward == pytest.approx(0.3 + 0.35)


def test_warning_penalty_is_capped() -> None:
    shaper = CompilerRewardShaper(sanitizer_fraction=0.0, tidy_runner=_no_tidy, viewer=FixedViewer(40))
    shaped = shaper.shape("int main(){}", make())
    assert shaped.components["warnings"] == pytest.approx(-ShaperWeights().warning_cap)


def test_view_that_does_not_compile_gets_the_maximum_penalties() -> None:
    cap = ShaperWeights()
    for viewer in (FixedViewer(None), FixedViewer(0, failure="g++ exited with 1")):
        shaper = CompilerRewardShaper(sanitizer_fraction=0.0, tidy_runner=_no_tidy, viewer=viewer)
        shaped = shaper.shape("int main(){}", make())
        assert shaped.components["warnings"] == pytest.approx(-cap.warning_cap)
        assert shaped.warnings == 8  # the fewest warnings that reach the cap
    assert shaped.components["tidy"] == pytest.approx(-cap.tidy_cap)


def test_unfinished_clang_tidy_gets_the_maximum_tidy_penalty() -> None:
    def slow(code: str, std: str) -> TidyReport:
        return TidyReport(findings=["view.cpp:1:1: warning: x [bugprone-x]"], complete=False)

    shaper = CompilerRewardShaper(sanitizer_fraction=0.0, tidy_runner=slow, viewer=FixedViewer(0))
    shaped = shaper.shape("int main(){}", make())
    assert shaped.components["tidy"] == pytest.approx(-ShaperWeights().tidy_cap)


def test_judge_failure_is_infrastructure_not_a_penalty() -> None:
    shaper = CompilerRewardShaper(sanitizer_fraction=0.0, tidy_runner=_no_tidy, viewer=BrokenViewer())
    with pytest.raises(InfrastructureError, match="bwrap died"):
        shaper.shape("int main(){}", make())


def test_silencing_warnings_does_not_raise_shaped_reward() -> None:
    noisy = '#include <cstdio>\nint main() { int unused = 3; std::puts("hi"); return 0; }\n'
    silenced = '#include <cstdio>\nint main() { int unused = 3; (void)unused; std::puts("hi"); return 0; }\n'
    shaper = CompilerRewardShaper(sanitizer_fraction=0.0, tidy_runner=_no_tidy, speed_reference_s=1e9)
    r_noisy = verify_cpp(noisy)
    r_silenced = verify_cpp(silenced)
    assert r_noisy.warnings == 1 and r_silenced.warnings == 0
    a = shaper.shape(noisy, r_noisy)
    b = shaper.shape(silenced, r_silenced)
    assert b.components["warnings"] == a.components["warnings"] == pytest.approx(-0.02)
    assert b.total <= a.total + 1e-9


def test_count_suppressions_on_the_view() -> None:
    # Counted on GCC's view (gcc_view.py), which holds no comments; string literals are not told
    # apart from code there (no lexer of ours), so one that spells a cast costs its author. The
    # diagnostic pragma is counted where the view removes it (CandidateView.diagnostic_pragmas).
    view = (
        "void f(int a, int b) { (void)a; static_cast<void>(b); }\n"
        "[[maybe_unused]] int g;\n"
        'const char* s = "(void)y;";\n'
    )
    assert count_suppressions(view) == 4


def test_nolint_does_not_hide_clang_tidy_findings() -> None:
    code = "#include <cstdlib>\nint main() { int* p = NULL; return p == NULL ? 0 : 1; }\n"
    nolint = "#include <cstdlib>\nint main() { int* p = NULL; return p == NULL ? 0 : 1; } // NOLINT\n"
    shaper = CompilerRewardShaper(sanitizer_fraction=0.0, speed_reference_s=1e9)
    a = shaper.shape(code, verify_cpp(code))
    b = shaper.shape(nolint, verify_cpp(nolint))
    assert a.tidy_findings, "clang-tidy should flag NULL (modernize-use-nullptr)"
    assert len(b.tidy_findings) == len(a.tidy_findings)
    assert b.total <= a.total + 1e-9


def test_sanitizer_sampling_is_seeded_and_reports_findings() -> None:
    code = "#include <cstdlib>\nint main() { int* p = (int*)malloc(4 * sizeof(int)); p[4] = 1; free(p); return 0; }\n"
    result = verify_cpp(code)
    always = CompilerRewardShaper(sanitizer_fraction=1.0, tidy_runner=_no_tidy, seed=1)
    shaped = always.shape(code, result)
    assert shaped.sanitizer_sampled
    assert any("AddressSanitizer" in f for f in shaped.sanitizer_findings)
    assert shaped.components["sanitizer"] == pytest.approx(-ShaperWeights().sanitizer)

    def picks(seed: int) -> list[bool]:
        calls: list[bool] = []

        def fake(code: str, test: str | None, timeout: float, std: str, flags: Sequence[str]) -> VerifyResult:
            calls.append(True)
            return make()

        s = CompilerRewardShaper(
            sanitizer_fraction=0.1, tidy_runner=_no_tidy, seed=seed, sanitizer_runner=fake, viewer=FixedViewer()
        )
        return [s.shape("int main(){}", make()).sanitizer_sampled for _ in range(200)]

    assert picks(7) == picks(7)
    assert 5 <= sum(picks(7)) <= 40  # about 10% of 200


@pytest.mark.parametrize(
    "san",
    [
        make(compile_ok=False, ran=False, run_ok=False, error_class="syntax"),  # `#ifdef __SANITIZE_ADDRESS__`
        make(run_ok=False, returncode=None, error_class="runtime_timeout"),  # a loop only when sanitized
    ],
)
def test_dodging_the_sanitized_build_is_a_finding(san: VerifyResult) -> None:
    def runner(code: str, test: str | None, timeout: float, std: str, flags: Sequence[str]) -> VerifyResult:
        assert flags == ("-DNEEDED",)  # the verification's own flags
        return san

    shaper = CompilerRewardShaper(
        sanitizer_fraction=1.0, tidy_runner=_no_tidy, sanitizer_runner=runner, viewer=FixedViewer()
    )
    shaped = shaper.shape("int main(){}", make(), extra_flags=("-DNEEDED",))
    assert shaped.sanitizer_findings and shaped.components["sanitizer"] == pytest.approx(-ShaperWeights().sanitizer)


def test_leak_is_a_sanitizer_finding() -> None:
    code = "#include <cstdlib>\nint main() { void* p = malloc(64); p = nullptr; return p != nullptr; }\n"
    shaper = CompilerRewardShaper(sanitizer_fraction=1.0, tidy_runner=_no_tidy, seed=0)
    shaped = shaper.shape(code, verify_cpp(code))
    assert any("LeakSanitizer" in f for f in shaped.sanitizer_findings)


def test_bad_fraction_is_refused() -> None:
    with pytest.raises(ValueError, match="sanitizer_fraction"):
        CompilerRewardShaper(sanitizer_fraction=1.5)
