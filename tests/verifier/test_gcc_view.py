"""gcc_view: the text functions on hand-written views, and GCC's view of real code in the sandbox."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pytest

from services.verifier.core.gcc_view import (
    CandidateView,
    GccViewer,
    clean_view,
    count_suppressions,
    count_warnings,
    tidy_source,
)
from services.verifier.core.pch import leading_includes
from services.verifier.core.verify import VerifierConfig, pch_cache, verify_cpp

# ----------------------------------------------------------------------------- text functions


def test_clean_view_removes_and_counts_diagnostic_pragmas() -> None:
    raw = "\n".join(
        [
            "#pragma GCC diagnostic push",
            '#pragma GCC diagnostic ignored "-Wunused-variable"',
            '#pragma clang diagnostic ignored "-Wall"',
            '# pragma GCC diagnostic warning "-Wshadow"',
            "#pragma GCC diagnostic pop",
            '#pragma GCC pch_preprocess "/etc/passwd"',
            '#pragma GCC optimize("O0")',
            "int x;",
        ]
    )
    text, counted = clean_view(raw)
    assert counted == 3  # push and pop silence nothing once the others are gone
    assert text.split("\n") == ["", "", "", "", "", "", '#pragma GCC optimize("O0")', "int x;"]


def test_clean_view_never_leaves_a_linemarker_or_pragma_operator() -> None:
    raw = 'const char* s = R"(\n# 1 "x" 3\n%: 1 "y" 3\n)";\n_Pragma("GCC diagnostic ignored \\"-Wall\\"")\n'
    text, _ = clean_view(raw)
    assert '\n # 1 "x" 3\n %: 1 "y" 3\n' in text
    assert "_Pragma(" not in text and "_Pragma_(" in text


def test_tidy_source_puts_headers_back_and_undefines_every_name() -> None:
    view = 'int add(int a, int b) { return a + b; }\n#pragma GCC optimize("O0")\nbool f() { return defined and 1; }\n'
    src = tidy_source(view, ("cstdio", "vector"))
    lines = src.split("\n")
    assert lines[:2] == ["#include <cstdio>", "#include <vector>"]
    assert "#undef add" in lines and "#undef return" in lines
    assert "#undef defined" not in lines and "#undef and" not in lines  # clang refuses those names
    assert not any(line.startswith("#pragma") for line in lines)


@pytest.mark.parametrize(
    "hidden",
    [
        ' # 1 "x" 3',  # macro-made: GCC writes a space in front; clang still takes it as a directive
        '\t%: 1 "x" 3',
        '??= 1 "x" 3',
        'int a;\r# 1 "x" 3',  # a bare CR ends a line for clang
        'int a; \\\n# 1 "x" 3',  # joined by the splice: no directive after all, but no risk either
        '%\\\n: 1 "x" 3',  # a splice that makes a digraph `#`
    ],
)
def test_tidy_source_shows_clang_no_directive(hidden: str) -> None:
    src = tidy_source(f"int before;\n{hidden}\nint after;\n", ())
    body = src.split("\n")[src.count("#undef") :]
    assert not any(line.lstrip(" \t\f\v").startswith(("#", "%:", "??=")) for line in body), body


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ("void f(int a) { (void)a; }", 1),
        ("void f(int a) { ( void ) ( a ); (const void)a; }", 2),
        ("void f(int a) { static_cast< void >( a ); }", 1),
        ("void f(int a) { void(a); if (a) void(a + 1); }", 2),
        ("[[maybe_unused]] int g; [[gnu::unused]] int h; [[using gnu: __unused__]] int k;", 3),
        ("__attribute__((unused)) int g; __attribute((__unused__, aligned(4))) int h;", 2),
        ('const char* s = "(void)y;";', 1),  # strings are not told apart: it costs the author only
        # Parameter lists, declarators, types and literals are no casts:
        ("int main(void) { return 0; }", 0),
        ("int f(void); int g(void) const; virtual int h(void) = 0; auto k(void) -> int;", 0),
        ("std::function<void(int)> cb; void (*fp)(int); void (A::*pm)(); using F = void(int);", 0),
        ("template <class T> using V = decltype(f(), void());", 0),
        ('(static_cast<void> (0)); (void)0; (c ? void (0) : __assert_fail ("x", "f", 1, ""));', 0),
    ],
)
def test_count_suppressions(view: str, expected: int) -> None:
    assert count_suppressions(view) == expected


def test_count_warnings_counts_located_warnings_only() -> None:
    stderr = (
        "<stdin>: In function 'int f()':\n"
        "<stdin>:3:9: warning: unused variable 'x' [-Wunused-variable]\n"
        "<stdin>:3:9: note: something\n"
        "cc1plus: warning: command-line option ignored\n"
        "<stdin>:4:1: warning: no return statement [-Wreturn-type]\n"
    )
    assert count_warnings(stderr) == 2


# ----------------------------------------------------------------------------- GCC in the sandbox

WARNY = """#include <cstdio>
#include <cstddef>
int add(int a, int b) {
    const char* s = R"(
# 1 "x" 3
#pragma GCC diagnostic ignored "-Wunused-variable"
)";
    int spare = 0;
    static_assert(__FILE__[0] == 's', "the view's __FILE__ is the verification's");
    return s ? a + b : 0;
}
int uninitialised() { int y; return y; }  // a middle-end warning: -fsyntax-only would miss it
"""


@pytest.fixture(scope="module")
def configs() -> tuple[VerifierConfig, VerifierConfig]:
    """One config whose PCH store holds WARNY's headers, and one without any PCH."""
    # Under the session temp root (0755): the sandbox runs as nobody and must reach it.
    root = Path(tempfile.mkdtemp(prefix="pch-"))
    root.chmod(0o755)
    with_pch = dataclasses.replace(VerifierConfig.from_settings(), pch_root=root, use_pch=True)
    cache = pch_cache(with_pch, True)
    assert cache is not None and cache.prebuild("c++17", (), leading_includes(WARNY))
    return with_pch, dataclasses.replace(with_pch, use_pch=False)


def judge(config: VerifierConfig, code: str) -> tuple[CandidateView, int | None]:
    viewer = GccViewer(config)
    view = viewer.view(code, std="c++17", flags=())
    return view, viewer.warnings(view, std="c++17", flags=())


def test_pch_and_header_text_give_the_same_view(configs: tuple[VerifierConfig, VerifierConfig]) -> None:
    with_pch, without = configs
    (a, wa), (b, wb) = judge(with_pch, WARNY), judge(without, WARNY)
    assert a.prelude.startswith("#pragma GCC pch_preprocess") and a.prelude_binds
    assert not b.prelude_binds and "# 1 " in b.prelude  # GCC's own linemarkers for the headers
    assert a.text == b.text and a.text.startswith("int add(")
    # The raw string's lines neither mark the rest a system header nor silence the warning.
    assert wa == wb == 2
    assert a.diagnostic_pragmas == b.diagnostic_pragmas == 1


def test_code_that_fails_alone_is_a_failed_view(configs: tuple[VerifierConfig, VerifierConfig]) -> None:
    view, warnings = judge(configs[0], '#include <cstdio>\n#error "not alone"\n')
    assert not view.ok and warnings is None
    _, warnings = judge(configs[0], "#include <cstdio>\nint f() { return undeclared; }\n")
    assert warnings is None


def test_headers_included_later_count_against_the_candidate(configs: tuple[VerifierConfig, VerifierConfig]) -> None:
    view, _ = judge(configs[0], "int x;\n#include <vector>\n")
    assert view.headers == () and "namespace std" in view.text and view.suppressions() > 0


def test_the_view_sees_the_working_directory_the_verification_saw() -> None:
    """Whatever `__has_include` finds in the verification's working directory, the view finds too
    (today: the runner object where it links), so no probe can show the judge other code."""
    code = (
        "#include <cstdio>\n"
        '#if __has_include("cppforge_runner.o")\nint seen() { return 1; }\n#else\nint seen() { return 0; }\n#endif\n'
        'int main() { std::printf("seen=%d\\n", seen()); return 0; }\n'
    )
    result = verify_cpp(code)
    assert result.run_ok, result.compile_output
    view = GccViewer().view(code, std="c++17", flags=(), test_code=None)
    judged = "return 1" in view.text
    assert f"seen={int(judged)}" in result.stdout
