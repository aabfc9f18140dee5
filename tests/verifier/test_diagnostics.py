"""g++ diagnostics parsing and error classification, on real g++ output and on samples."""

from __future__ import annotations

import pytest

from services.verifier.core.diagnostics import ErrorClass, classify_compile_error, parse_diagnostics
from services.verifier.core.verify import verify_cpp

SAMPLE = """solution.cpp: In function 'int f()':
solution.cpp:3:12: error: 'y' was not declared in this scope
solution.cpp:2:9: warning: unused variable 'x' [-Wunused-variable]
test.cpp:4:5: note: in expansion of macro 'assert'
cc1plus: warning: command-line option '-Wfoo' is valid for C but not for C++
/usr/bin/ld: solution.o: in function `main': solution.cpp:(.text+0x5): undefined reference to `g()'
collect2: error: ld returned 1 exit status
"""


def test_parse_sample() -> None:
    diags = parse_diagnostics(SAMPLE)
    assert diags[0].file == "solution.cpp" and diags[0].line == 3 and diags[0].column == 12
    assert diags[0].severity == "error" and "'y' was not declared" in diags[0].message
    assert [d.severity for d in diags] == ["error", "warning", "note", "warning", "error", "error"]
    assert diags[3].file == "cc1plus" and diags[3].line is None
    assert "undefined reference" in diags[4].message


@pytest.mark.parametrize(
    ("code", "expected", "line"),
    [
        ("int f() { return y; }", ErrorClass.UNDECLARED, 1),
        ("int f() { return 1 }", ErrorClass.SYNTAX, 1),
        ("#include <nonexistent_header>\n", ErrorClass.SYNTAX, 1),
        ('#include <string>\nint f() { std::string s = "a"; return s; }', ErrorClass.TYPE, 2),
        ("struct A {};\nvoid f() { A a; a.g(); }", ErrorClass.UNDECLARED, 2),
        ('void f() { int x = "text"; }', ErrorClass.TYPE, 1),
        ("foo_t f();", ErrorClass.UNDECLARED, 1),
    ],
)
def test_real_compile_errors_are_classified(code: str, expected: ErrorClass, line: int) -> None:
    result = verify_cpp(code, return_structured=True)
    assert not result.compile_ok
    assert result.error_class == expected.value
    first = next(d for d in result.diagnostics if d.severity in ("error", "fatal error"))
    assert first.file == "solution.cpp" and first.line == line and first.column is not None


def test_link_error_is_classified() -> None:
    result = verify_cpp("int g();\nint main() { return g(); }\n", return_structured=True)
    assert not result.compile_ok and result.error_class == "link"
    assert any("undefined reference" in d.message for d in result.diagnostics)


def test_warnings_are_counted_with_lines() -> None:
    result = verify_cpp("int main() { int a; int b = 2; return 0; }\n", return_structured=True)
    assert result.compile_ok and result.run_ok
    assert result.warnings == 2 and len(result.warning_lines) == 2
    assert all(line.startswith("solution.cpp:1:") for line in result.warning_lines)


def test_first_error_decides() -> None:
    diags = parse_diagnostics("a.cpp:1:1: error: expected ';' before 'x'\na.cpp:2:1: error: 'z' was not declared\n")
    assert classify_compile_error(diags, "") is ErrorClass.SYNTAX


def test_errors_in_test_code_point_at_test_lines() -> None:
    result = verify_cpp("int f() { return 1; }\n", "int main() {\n  return f() + missing;\n}\n", return_structured=True)
    assert not result.compile_ok
    first = next(d for d in result.diagnostics if d.severity == "error")
    assert (first.file, first.line) == ("test.cpp", 2)
