"""Shaped-reward gaming (/v1/reward): no way of hiding warnings or clang-tidy findings from the
judge may raise the shaped reward over the same code without it.

One base program with two g++ warnings (unused variables) and two clang-tidy findings (NULL for a
pointer); each cheat below is that program plus a trick. Every program is verified and shaped once
(clang-tidy is slow) and the results are shared by the tests.
"""

from __future__ import annotations

import asyncio
from functools import cache

import pytest

from services.common.settings import VerifierServiceSettings
from services.verifier.core.reward import CompilerRewardShaper, ShapedReward
from services.verifier.core.verify import verify_cpp
from services.verifier.pool import VerifyJob
from services.verifier.service import VerifierService

HEADERS = "#include <cstdio>\n#include <cstddef>\n"
ADD = """int add(int a, int b) {
    int spare = 0;
    int extra = 1;
    int* p = NULL;
    return p == NULL ? a + b : 0;
}
"""
CLEAN_ADD = "int add(int a, int b) { return a + b; }\n"
MAIN = 'int main() { std::printf("%d\\n", add(2, 3)); return 0; }\n'
BASE = HEADERS + ADD + MAIN


def with_add(add: str, *, before: str = "", headers: str = HEADERS) -> str:
    return before + headers + add + MAIN


CHEATS = {
    # A GNU linemarker marks everything after it as a system header: GCC and clang drop all.
    "linemarker_at_top": with_add(ADD, before='# 1 "x" 3\n'),
    "linemarker_into_header_and_back": with_add(
        '# 1 "/usr/include/c++/12/vector" 1 3\n' + ADD + '# 9 "solution.cpp" 2\n'
    ),
    # clang-tidy sees the clean branch, g++ compiles the dirty one.
    "ifdef_clang": with_add(f"#ifdef __clang__\n{CLEAN_ADD}#else\n{ADD}#endif\n"),
    # The judge's working directory differs from the verification's (which links a runner object).
    "has_include_probe": with_add(f'#if __has_include("cppforge_runner.o")\n{ADD}#else\n{CLEAN_ADD}#endif\n'),
    # One pragma hides both warnings.
    "pragma_ignored": with_add('#pragma GCC diagnostic ignored "-Wunused-variable"\n' + ADD),
    "pragma_operator": with_add('_Pragma("GCC diagnostic ignored \\"-Wunused-variable\\"")\n' + ADD),
    "pragma_behind_macro": with_add(
        ADD,
        headers=HEADERS + '#define QUIET(w) _Pragma(#w)\nQUIET(GCC diagnostic ignored "-Wunused-variable")\n',
    ),
    "clang_pragma": with_add('#pragma clang diagnostic ignored "-Wunused-variable"\n' + ADD),
    # Casts to void behind macros, where a count over the raw text cannot see them.
    "void_cast_behind_macro": with_add(
        ADD.replace("    int* p", "    USE(spare); USE(extra);\n    int* p"),
        headers=HEADERS + "#define USE(x) (void)x\n",
    ),
    "static_cast_behind_macro": with_add(
        ADD.replace("    int* p", "    USE(spare); USE(extra);\n    int* p"),
        headers=HEADERS + "#define USE(x) static_cast<void>(x)\n",
    ),
    "maybe_unused_behind_macro": with_add(
        ADD.replace("int spare", "MU int spare").replace("int extra", "MU int extra"),
        headers=HEADERS + "#define MU [[maybe_unused]]\n",
    ),
    "nolint": with_add(ADD.replace("= NULL;", "= NULL; // NOLINT").replace("NULL ?", "NULL /* NOLINT */ ?")),
    "nolint_block": with_add("// NOLINTBEGIN\n" + ADD + "// NOLINTEND\n"),
}


@cache
def shaped(code: str) -> ShapedReward:
    shaper = CompilerRewardShaper(sanitizer_fraction=0.0, speed_reference_s=1e9)
    result = verify_cpp(code)
    if not result.compile_ok:
        # The verifier may refuse a trick outright (linemarkers); the judge must hold when it does not.
        result = verify_cpp(BASE)
    assert result.compile_ok and result.run_ok, result.compile_output
    return shaper.shape(code, result)


def test_base_program_is_penalised() -> None:
    base = shaped(BASE)
    assert base.warnings == 2
    assert len(base.tidy_findings) == 2, base.tidy_findings
    assert base.components["warnings"] == pytest.approx(-0.04)
    assert base.components["tidy"] == pytest.approx(-0.02)


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_cheat_does_not_raise_shaped_reward(name: str) -> None:
    base, cheat = shaped(BASE), shaped(CHEATS[name])
    assert cheat.components["warnings"] <= base.components["warnings"] + 1e-9, (cheat.warnings, base.warnings)
    assert cheat.components["tidy"] <= base.components["tidy"] + 1e-9, cheat.tidy_findings
    assert cheat.total <= base.total + 1e-9


def test_view_uses_the_verifications_flags() -> None:
    code = with_add(f"#ifdef DIRTY\n{ADD}#else\n{CLEAN_ADD}#endif\n")
    flags = ["-DDIRTY"]
    result = verify_cpp(code, extra_flags=flags)
    shaper = CompilerRewardShaper(sanitizer_fraction=0.0, speed_reference_s=1e9)
    dirty = shaper.shape(code, result, extra_flags=flags)
    assert dirty.warnings == 2 and len(dirty.tidy_findings) == 2
    assert dirty.total == pytest.approx(shaped(BASE).total)


def test_test_codes_own_warnings_are_not_charged() -> None:
    """The verification's warnings include the trusted test's; the shaped penalty is the candidate's."""
    code = "int add(int a, int b) { return a + b; }\n"
    test = "#include <cassert>\nint main() { int unused_in_test = 0; assert(add(2, 3) == 5); }\n"
    result = verify_cpp(code, test)
    assert result.warnings >= 1 and result.tests_passed == 1
    shaper = CompilerRewardShaper(sanitizer_fraction=0.0, use_clang_tidy=False, speed_reference_s=1e9)
    assert shaper.shape(code, result, test).warnings == 0


def test_reward_service_judges_with_the_jobs_own_flags() -> None:
    """/v1/reward's service passes the job's flags (and config) to the judge."""
    service = VerifierService(VerifierServiceSettings(redis_url=None, verifier_workers=1, prebuild_pch=False))
    job = VerifyJob(code=with_add(f"#ifdef DIRTY\n{ADD}#else\n{CLEAN_ADD}#endif\n"), flags=("-DDIRTY",))
    try:
        scored, shaped_reward = asyncio.run(
            service.reward(job, shaped=True, sanitizer_fraction=0.0, use_clang_tidy=True, seed=0)
        )
    finally:
        service.close()
    assert scored.reward == pytest.approx(0.5) and shaped_reward is not None
    assert shaped_reward.warnings == 2 and len(shaped_reward.tidy_findings) == 2, shaped_reward.tidy_findings
