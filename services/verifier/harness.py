"""Build the translation unit the verifier compiles and read the test verdict back, cheat-proof.

One TU, the HumanEval-X convention: candidate code, then trusted test code. Between them the
verifier inserts a guard block that
  * #undefs every macro name the candidate's directives touched, so `#define assert(x)`,
    `#define main ...`, `#define NDEBUG`, `#define if(x) if(1)` never reach the test code;
  * re-includes <cassert> and re-defines `assert` to fail through glibc's `__assert_fail` by an
    asm label (so no candidate overload of `__assert_fail` can be picked), as does every
    `#include <assert.h>`/`<cassert>` inside the test code; a caller's -DNDEBUG is honoured;
  * inlines `cppforge_test.h` when the test asks for it (no such file exists on disk, so the
    candidate cannot include it and use its nonce'd report macro);
and every `PASSED ` inside the test code's string literals becomes `@<nonce> PASSED `.
Only `PASSED N/M` markers carrying the nonce, and the runner's nonce'd RETURN record, count.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from .cpp_lexer import lex, macro_names_touched

MAX_TESTS_TOTAL = 1000
TEST_HEADER_NAME = "cppforge_test.h"
CANDIDATE_FILE = "solution.cpp"
TEST_FILE = "test.cpp"

_MAIN_DEF = re.compile(r"\bint\s+main\s*\(")
_TEST_HEADER_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*[<"]cppforge_test\.h[>"][^\n]*$', re.MULTILINE)


def new_nonce() -> str:
    return secrets.token_hex(16)


def has_main(code: str, test_code: str | None) -> bool:
    """The contract's rule: link and run only when the source has `int main(`."""
    return bool(_MAIN_DEF.search(code) or (test_code and _MAIN_DEF.search(test_code)))


def test_header(nonce: str) -> str:
    """`cppforge_test.h`: CPPFORGE_CHECK(cond) counts, CPPFORGE_REPORT() prints the marker.

    Builtins, so no overload or macro from the candidate can intercept the print.
    """
    return f"""namespace cppforge_test_detail {{ static int passed = 0, total = 0; }}
#define CPPFORGE_CHECK(cond) do {{ ++::cppforge_test_detail::total; \\
    if (static_cast<bool>(cond)) ++::cppforge_test_detail::passed; }} while (0)
#define CPPFORGE_REPORT() (__builtin_printf("\\n@{nonce} PASSED %d/%d\\n", \\
    ::cppforge_test_detail::passed, ::cppforge_test_detail::total))
"""


def rewrite_test_markers(test_code: str, nonce: str) -> str:
    """Stamp the nonce into every `PASSED ` inside the test code's string literals."""
    _, literals = lex(test_code)
    out: list[str] = []
    pos = 0
    for lit in literals:
        out.append(test_code[pos : lit.start])
        out.append(test_code[lit.start : lit.end].replace("PASSED ", f"@{nonce} PASSED "))
        pos = lit.end
    out.append(test_code[pos:])
    return "".join(out)


_ASSERT_INCLUDE = re.compile(r"^[ \t]*#[ \t]*include[ \t]*[<\"](?:assert\.h|cassert)[>\"][^\n]*$", re.MULTILINE)


def assert_definition(nonce: str) -> str:
    """`assert` as <cassert> defines it (NDEBUG honoured where it is tested), but failing through
    glibc's `__assert_fail` under an asm label with a per-run name: no overload of
    `__assert_fail` the candidate declares can be picked instead, and no macro reaches it."""
    fail = f"cppforge_assert_fail_{nonce[:12]}"
    return (
        "#undef assert\n"
        "#ifdef NDEBUG\n"
        "#define assert(expr) (static_cast<void>(0))\n"
        "#else\n"
        f"#define assert(expr) (static_cast<bool>(expr) ? void(0) : {fail}(#expr, __FILE__, __LINE__, "
        "__extension__ __PRETTY_FUNCTION__))\n"
        "#endif\n"
    )


def guard_block(candidate_code: str, nonce: str) -> str:
    names = sorted(macro_names_touched(candidate_code))
    undefs = "".join(f"#undef {name}\n" for name in names)
    fail = f"cppforge_assert_fail_{nonce[:12]}"
    declare = (
        f'extern "C" [[noreturn]] void {fail}(const char*, const char*, unsigned int, const char*) noexcept '
        '__asm__("__assert_fail");\n'
    )
    return f"\n{undefs}#include <cassert>\n{declare}{assert_definition(nonce)}"


def rewrite_assert_includes(test_code: str, nonce: str) -> str:
    """Each `#include <assert.h>`/`<cassert>` in the test re-defines assert our way, and a #line
    directive keeps the test's line numbers."""
    lines = test_code.split("\n")
    out: list[str] = []
    for number, line in enumerate(lines, start=1):
        if _ASSERT_INCLUDE.match(line):
            out.append(f'#include <cassert>\n{assert_definition(nonce)}#line {number + 1} "{TEST_FILE}"')
        else:
            out.append(line)
    return "\n".join(out)


def expects_marker(test_code: str | None) -> bool:
    """Test code that prints `PASSED N/M` itself (a literal) or uses cppforge_test.h: its verdict
    is the marker, and a missing marker is a failure, never a fall-back to the exit status."""
    if not test_code:
        return False
    if _TEST_HEADER_INCLUDE.search(test_code):
        return True
    _, literals = lex(test_code)
    return any("PASSED" in test_code[lit.start : lit.end] for lit in literals)


def build_translation_unit(code: str, test_code: str | None, nonce: str) -> str:
    """The whole TU, fed to g++ on stdin (there is no file on disk to self-#include)."""
    parts = [f'#line 1 "{CANDIDATE_FILE}"\n', code, "\n"]
    if test_code is not None and test_code.strip():
        parts.append(guard_block(code, nonce))
        body = rewrite_assert_includes(test_code, nonce)
        if _TEST_HEADER_INCLUDE.search(body):
            parts.append(test_header(nonce))
            body = _TEST_HEADER_INCLUDE.sub("", body)
        parts.append(f'#line 1 "{TEST_FILE}"\n')
        parts.append(rewrite_test_markers(body, nonce))
        parts.append("\n")
    return "".join(parts)


@dataclass(frozen=True)
class RunVerdict:
    stdout: str  # records and nonce stamps removed
    returned: bool  # the user's main returned (exactly one genuine RETURN record)
    return_status: int | None
    marker_passed: int | None
    marker_total: int | None


def read_verdict(stdout: str, nonce: str) -> RunVerdict:
    record = re.compile(rf"\n?@{nonce} RETURN (-?\d+)\n?")
    marker = re.compile(rf"\n?@{nonce} PASSED (\d+)/(\d+)")
    returns = [int(m.group(1)) for m in record.finditer(stdout)]
    markers = [(int(m.group(1)), int(m.group(2))) for m in marker.finditer(stdout)]
    clean = record.sub("", stdout)
    clean = re.sub(rf"\n?@{nonce} PASSED ", "PASSED ", clean)
    # Two records mean the process forked around the runner: trust neither.
    returned = len(returns) == 1
    passed = total = None
    if markers:
        passed, total = markers[-1]
    return RunVerdict(
        stdout=clean,
        returned=returned,
        return_status=returns[0] if returned else None,
        marker_passed=passed,
        marker_total=total,
    )


def score_tests(
    verdict: RunVerdict, clean_exit: bool, has_tests: bool, marker_expected: bool = False
) -> tuple[int, int]:
    """(tests_passed, tests_total) by the contract's rules."""
    if not has_tests:
        return 0, 0
    if verdict.marker_total is not None and verdict.marker_total > 0:
        total = min(verdict.marker_total, MAX_TESTS_TOTAL)
        passed = min(verdict.marker_passed or 0, verdict.marker_total)
        # Scale when capped so the ratio, which the reward uses, is preserved.
        if verdict.marker_total > MAX_TESTS_TOTAL:
            passed = passed * MAX_TESTS_TOTAL // verdict.marker_total
        return passed, total
    if marker_expected:
        return 0, 1  # the test reports by marker and none carrying the nonce arrived
    # A marker-less test is one test: passed iff main returned 0 and the process ended cleanly.
    ok = verdict.returned and verdict.return_status == 0 and clean_exit
    return (1 if ok else 0), 1
