"""The C++ lexer, the guard block and the verdict parsing of harness.py."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.verifier.cpp_lexer import lex, macro_names_touched, splice_lines
from services.verifier.harness import (
    MAX_TESTS_TOTAL,
    build_translation_unit,
    read_verdict,
    rewrite_test_markers,
    score_tests,
)

NONCE = "ab" * 16


def test_macro_names_found_in_every_spelling() -> None:
    code = (
        "#define assert(x) 1\n"
        "  #  undef NDEBUG\n"
        "%:define main fake\n"
        "#def\\\nine if(x) if(1)\n"
        "#ifdef Y\n#define HIDDEN 1\n#endif\n"
        "/* #define IN_COMMENT */\n"
        "// #define IN_LINE_COMMENT\n"
    )
    names = macro_names_touched(code)
    assert {"assert", "NDEBUG", "main", "if", "HIDDEN"} <= names


def test_lexer_blanks_comments_and_strings_but_keeps_length() -> None:
    code = 'int a = 1\'000; const char* s = "x // y"; /* c */ auto r = R"d(")d"; // tail\n'
    cleaned, literals = lex(code)
    assert len(cleaned) == len(code)
    assert "tail" not in cleaned and "x // y" not in cleaned and " c " not in cleaned
    assert len(literals) == 2 and literals[1].raw


def test_splice_joins_lines() -> None:
    assert splice_lines("a\\\nb\\  \nc") == "abc"


def test_markers_in_test_strings_get_the_nonce_only() -> None:
    test = 'int main() { printf("PASSED %d/%d\\n", 1, 2); /* PASSED 9/9 */ }'
    out = rewrite_test_markers(test, NONCE)
    assert f'"@{NONCE} PASSED %d/%d' in out
    assert "/* PASSED 9/9 */" in out


def test_translation_unit_layout() -> None:
    tu = build_translation_unit("#define assert(x) 1\nint f();", "int main(){}", NONCE)
    assert tu.startswith('#line 1 "solution.cpp"\n')
    guard = tu.index("#undef assert")
    assert guard < tu.index("#include <cassert>") < tu.index('#line 1 "test.cpp"')
    assert NONCE not in tu.split('#line 1 "test.cpp"')[0]


def test_test_header_is_inlined_not_a_file() -> None:
    test = '#include "cppforge_test.h"\nint main() { CPPFORGE_CHECK(1 == 1); CPPFORGE_REPORT(); }\n'
    tu = build_translation_unit("int x;", test, NONCE)
    assert "cppforge_test.h" not in tu.split("CPPFORGE_CHECK(cond)")[1]
    assert f"@{NONCE} PASSED" in tu


def test_verdict_needs_the_nonce_and_one_return() -> None:
    out = f"PASSED 10/10\n@{'0' * 32} RETURN 0\nhello\n@{NONCE} PASSED 3/4\n\n@{NONCE} RETURN 0\n"
    v = read_verdict(out, NONCE)
    assert v.returned and v.return_status == 0
    assert (v.marker_passed, v.marker_total) == (3, 4)
    assert NONCE not in v.stdout and "hello" in v.stdout
    twice = read_verdict(f"\n@{NONCE} RETURN 0\n\n@{NONCE} RETURN 0\n", NONCE)
    assert not twice.returned


def test_score_tests_rules() -> None:
    returned = read_verdict(f"\n@{NONCE} RETURN 0\n", NONCE)
    assert score_tests(returned, clean_exit=True, has_tests=True) == (1, 1)
    assert score_tests(returned, clean_exit=False, has_tests=True) == (0, 1)
    assert score_tests(read_verdict("", NONCE), clean_exit=True, has_tests=True) == (0, 1)
    assert score_tests(returned, clean_exit=True, has_tests=False) == (0, 0)
    big = read_verdict(f"@{NONCE} PASSED 1500/3000\n", NONCE)
    assert score_tests(big, clean_exit=True, has_tests=True) == (500, MAX_TESTS_TOTAL)


@given(st.text(alphabet="#%:defineundf \\\n\t/*\"'Rxa()", max_size=80))
def test_lexer_never_crashes_and_keeps_length(code: str) -> None:
    cleaned, _ = lex(code)
    assert len(cleaned) == len(code)
    macro_names_touched(code)
