"""Build the translation unit the verifier compiles and read the test verdict back, cheat-proof.

One TU, the HumanEval-X convention: candidate code, then trusted test code. Between them the
verifier inserts a guard block that
  * #undefs every macro name the candidate's directives touched, so `#define assert(x)`,
    `#define main ...`, `#define NDEBUG`, `#define if(x) if(1)` never reach the test code;
  * re-includes <cassert>, restoring `assert` (honouring a caller's -DNDEBUG only);
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


def guard_block(candidate_code: str) -> str:
    names = sorted(macro_names_touched(candidate_code))
    undefs = "".join(f"#undef {name}\n" for name in names)
    return f"\n{undefs}#include <cassert>\n"


def build_translation_unit(code: str, test_code: str | None, nonce: str) -> str:
    """The whole TU, fed to g++ on stdin (there is no file on disk to self-#include)."""
    parts = [f'#line 1 "{CANDIDATE_FILE}"\n', code, "\n"]
    if test_code is not None and test_code.strip():
        parts.append(guard_block(code))
        body = test_code
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


def score_tests(verdict: RunVerdict, clean_exit: bool, has_tests: bool) -> tuple[int, int]:
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
    # A marker-less test is one test: passed iff main returned 0 and the process ended cleanly.
    ok = verdict.returned and verdict.return_status == 0 and clean_exit
    return (1 if ok else 0), 1
