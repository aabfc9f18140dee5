"""The trusted-text lexer, the translation unit harness.py builds and the verdict rules of verdict.py."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from services.verifier.core.cpp_lexer import lex
from services.verifier.core.harness import (
    POISONED_BUILTINS,
    REFUSAL_TAG,
    build_translation_unit,
    prelude,
    reserved_macro_names,
    rewrite_markers,
    runner_aliases,
)
from services.verifier.core.verdict import MAX_TESTS_TOTAL, read_verdict, score_tests

NONCE = "ab" * 16
TOKEN = "0123456789abcdef"


def test_lexer_blanks_comments_and_strings_but_keeps_length() -> None:
    code = 'int a = 1\'000; const char* s = "x // y"; /* c */ auto r = R"d(")d"; // tail\n'
    cleaned, literals = lex(code)
    assert len(cleaned) == len(code)
    assert "tail" not in cleaned and "x // y" not in cleaned and " c " not in cleaned
    assert len(literals) == 2 and literals[1].raw


def test_prelude_poisons_and_tags_every_refused_construct() -> None:
    text = prelude()
    assert "\n#pragma GCC poison " + " ".join(POISONED_BUILTINS) + "\n" in text
    names = ("asm", "__asm", "__asm__", "__section__", "section", "alias", "ifunc", "symver", "weakref")
    for name in (*names, "always_inline", "__always_inline__", "gnu_inline", "__gnu_inline__"):
        assert re.search(rf"^#define {re.escape(name)}\b", text, re.MULTILINE), name
    assert text.count(REFUSAL_TAG) == len(reserved_macro_names() - set(POISONED_BUILTINS))


def test_translation_unit_layout() -> None:
    tu = build_translation_unit("int f();", "#include <assert.h>\nint main(){ assert(f() == 1); }", TOKEN, "#undef X\n")
    prelude_end = tu.index('#line 1 "solution.cpp"')
    guard, test = tu.index("#pragma GCC reset_options"), tu.index('#line 1 "test.cpp"')
    assert 0 < prelude_end < tu.index("int f();") < guard < tu.index("#undef X") < test
    # The refusal macros are lifted before the test, and assert fails through the runner's alias.
    assert tu.index("#undef __asm__", guard) < test
    assert f"::cppforge_f_{TOKEN}(#expr" in tu[test:]
    # The nonce of the records never appears in the source: only the per-run token of the aliases.
    assert NONCE not in tu


def test_test_header_is_inlined_not_a_file() -> None:
    test = '#include "cppforge_test.h"\nint main() { CPPFORGE_CHECK(1 == 1); CPPFORGE_REPORT(); }\n'
    tu = build_translation_unit("int x;", test, TOKEN)
    assert "cppforge_test.h" not in tu.split("CPPFORGE_CHECK(cond)")[1]
    assert f"::cppforge_r_{TOKEN}(" in tu


def test_marker_literals_are_routed_to_the_runner() -> None:
    test = (
        "int main() { int p = 1;\n"
        '  printf("PASSED %d/%d\\n", p, 2);\n'
        '  std::printf("PASSED %d/%d\\n", p, 2);\n'
        '  fprintf(stdout, "PASSED %d/%d\\n", p, 2);\n'
        '  puts("PASSED 1/2");\n'
        '  std::cout << "PASSED " "" << p << "/" << 2 << std::endl;\n'
        '  log.printf("PASSED not a marker");\n'
        '  const char* kept = "PASSED 9/9";\n'
        "}\n"
    )
    out, needs = rewrite_markers(test, TOKEN)
    ns = f"::cppforge_{TOKEN}::"
    assert out.count(f'{ns}printf_marker("PASSED') == 2
    assert f'{ns}fprintf_marker(stdout, "PASSED' in out
    assert f'{ns}puts_marker("PASSED 1/2")' in out
    assert f'std::cout << {ns}Marker("PASSED " "") << p' in out
    assert 'log.printf("PASSED not a marker")' in out and 'kept = "PASSED 9/9"' in out
    assert needs.printf_markers and needs.stream_markers
    assert out.count("\n") == test.count("\n"), "rewriting must keep the test's line numbers"


def test_runner_aliases_use_the_token() -> None:
    aliases = runner_aliases(TOKEN)
    assert all(TOKEN in alias for alias in aliases)
    assert set(aliases.values()) == {
        "cppforge_api_report",
        "cppforge_api_assert_fail",
        "cppforge_api_vprintf",
        "cppforge_api_vfprintf",
        "cppforge_api_puts",
    }


def test_verdict_needs_the_nonce_and_one_return() -> None:
    out = f"PASSED 10/10\n@{'0' * 32} RETURN 0\nhello\n@{NONCE} PASSED 3/4\n\n@{NONCE} RETURN 0\n"
    v = read_verdict(out, NONCE)
    assert v.returned and v.return_status == 0
    assert (v.marker_passed, v.marker_total) == (3, 4)
    twice = read_verdict(f"\n@{NONCE} RETURN 0\n\n@{NONCE} RETURN 0\n", NONCE)
    assert not twice.returned
    assert read_verdict(f"\n@{NONCE} INFRA 1\n", NONCE).infra


def test_huge_numbers_in_records_never_raise() -> None:
    digits = "9" * 5000
    v = read_verdict(f"\n@{NONCE} PASSED {digits}/{digits}\n@{NONCE} RETURN {digits}\n", NONCE)
    assert v.marker_total is None and not v.returned


def score(verdict_text: str, *, ended: bool = True, exit_ok: bool = True, marker: bool = False) -> tuple[int, int]:
    v = read_verdict(verdict_text, NONCE)
    return score_tests(v, ended_normally=ended, exit_ok=exit_ok, has_tests=True, marker_expected=marker)


def test_score_tests_rules() -> None:
    returned = f"\n@{NONCE} RETURN 0\n"
    assert score(returned) == (1, 1)
    assert score(returned, exit_ok=False) == (0, 1)
    assert score("") == (0, 1)
    v = read_verdict(returned, NONCE)
    assert score_tests(v, ended_normally=True, exit_ok=True, has_tests=False, marker_expected=False) == (0, 0)
    assert score(f"@{NONCE} PASSED 1500/3000\n{returned}", marker=True) == (500, MAX_TESTS_TOTAL)


def test_no_credit_from_a_run_that_crashed_or_never_returned() -> None:
    marker = f"\n@{NONCE} PASSED 3/3\n"
    assert score(marker + f"\n@{NONCE} RETURN 0\n", marker=True) == (3, 3)
    # A crash after the marker, or a marker without main returning, earns nothing.
    assert score(marker + f"\n@{NONCE} RETURN 0\n", ended=False, exit_ok=False, marker=True) == (0, 3)
    assert score(marker, marker=True) == (0, 3)
    # A marker test whose marker never arrived has failed, whatever the exit status.
    assert score(f"\n@{NONCE} RETURN 0\n", marker=True) == (0, 1)


@given(st.text(alphabet="#%:defineundf \\\n\t/*\"'Rxa()", max_size=80))
def test_lexer_never_crashes_and_keeps_length(code: str) -> None:
    cleaned, _ = lex(code)
    assert len(cleaned) == len(code)


@given(st.text(max_size=300))
def test_verdict_reading_never_raises(text: str) -> None:
    read_verdict(text + f"\n@{NONCE} PASSED 1/2\n", NONCE)
