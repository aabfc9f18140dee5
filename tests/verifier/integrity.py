"""Shared pieces of the integrity tests (issue 8): every test style, a wrong and a right `add`.

Each attack is run against tests whose answers a deliberately wrong `int add(int, int)` (it returns
0) does NOT compute, in every test style the verifier supports, at -O0 and -O2: any credit it earns
is stolen. The same attack code next to a right `add` must still earn full credit, which shows the
defence rejects the cheat, not the program.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.verifier.core.reward import compute_reward
from services.verifier.core.verify import VerifyResult, verify_cpp

WRONG = "int add(int a, int b) { (void)a; (void)b; return 0; }\n"
RIGHT = "int add(int a, int b) { return a + b; }\n"


@dataclass(frozen=True)
class Style:
    name: str
    test: str
    total: int  # tests_total a right answer reaches


STYLES = (
    # HumanEval-X: `#undef NDEBUG`, then asserts; one test, passed iff main returns 0.
    Style(
        "assert",
        "#undef NDEBUG\n#include<assert.h>\nint main(){\n    assert (add(2,3)==5);\n    assert (add(-1,2)==1);\n}\n",
        1,
    ),
    # Asserts without the `#undef NDEBUG` line, so an NDEBUG the candidate leaves behind would bite.
    Style("assert_plain", "#include <cassert>\nint main(){ assert(add(2,3)==5); assert(add(-1,2)==1); }\n", 1),
    Style(
        "printf_marker",
        "#include <cstdio>\nint main(){\n    int passed = 0;\n    if (add(2,3) == 5) ++passed;\n"
        "    if (add(-1,2) == 1) ++passed;\n    if (add(40,2) == 42) ++passed;\n"
        '    printf("PASSED %d/%d\\n", passed, 3);\n    return 0;\n}\n',
        3,
    ),
    Style(
        "cout_marker",
        "#include <iostream>\nint main(){\n    int passed = 0;\n    if (add(2,3) == 5) ++passed;\n"
        "    if (add(-1,2) == 1) ++passed;\n"
        '    std::cout << "PASSED " << passed << "/" << 2 << std::endl;\n    return 0;\n}\n',
        2,
    ),
    Style(
        "test_header",
        '#include "cppforge_test.h"\nint main(){\n    CPPFORGE_CHECK(add(2,3) == 5);\n'
        "    CPPFORGE_CHECK(add(-1,2) == 1);\n    CPPFORGE_REPORT();\n    return 0;\n}\n",
        2,
    ),
)
STYLE_IDS = [s.name for s in STYLES]
OPT_LEVELS = ("-O0", "-O2")


def verify(code: str, style: Style, opt: str = "-O0", std: str = "c++17") -> VerifyResult:
    result = verify_cpp(code, style.test, timeout=5.0, std=std, extra_flags=[opt], return_structured=True)
    assert result.infra_error is None, result.infra_error
    return result


def info(result: VerifyResult) -> str:
    return (
        f"error_class={result.error_class} compile_ok={result.compile_ok} run_ok={result.run_ok} "
        f"tests={result.tests_passed}/{result.tests_total} rc={result.returncode} signal={result.signal}\n"
        f"compile_output={result.compile_output[-1500:]!r}\nstdout={result.stdout[:400]!r}\n"
        f"stderr={result.stderr[:400]!r}"
    )


def assert_no_credit(result: VerifyResult) -> None:
    assert result.tests_passed == 0, info(result)
    assert compute_reward(result) <= 0.3 + 1e-9, info(result)


def assert_full_credit(result: VerifyResult, style: Style) -> None:
    assert (result.tests_passed, result.tests_total) == (style.total, style.total), info(result)
    assert compute_reward(result) == pytest.approx(1.0), info(result)


def assert_refused(result: VerifyResult, why: str = "") -> None:
    assert result.error_class == "refused", info(result)
    assert not result.compile_ok and compute_reward(result) == 0.0, info(result)
    assert why.lower() in result.compile_output.lower(), info(result)
