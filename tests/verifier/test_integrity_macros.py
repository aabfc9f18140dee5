"""Issue 8, class 1: no macro or pragma of the candidate's reaches the test code, however it is spelled.

Each spelling below once got past the guard's own lexer (NUL bytes, odd line splices, a bare CR,
trigraphs, `$`/UTF-8 identifiers that faked a raw string). The guard now asks GCC, so every
spelling GCC accepts is seen; the payload defines `if`, `NDEBUG` and `assert` at the test.
"""

from __future__ import annotations

import pytest

from .integrity import (
    OPT_LEVELS,
    RIGHT,
    STYLE_IDS,
    STYLES,
    WRONG,
    Style,
    assert_full_credit,
    assert_no_credit,
    assert_refused,
    info,
    verify,
)

HEADERS = "#include <cstdio>\n#include <iostream>\n"
PAYLOAD = ("if(x) if(1)", "NDEBUG 1", "assert(x) ((void)0)")


def plain(d: str) -> str:
    return f"#define {d}\n"


SPELLINGS = {
    "plain": plain,
    "nul_after_hash": lambda d: f"#\0define {d}\n",
    "formfeed_in_splice": lambda d: f"#def\\\f\nine {d}\n",
    "vtab_in_splice": lambda d: f"#def\\\v\nine {d}\n",
    "cr_in_splice": lambda d: f"#def\\\r\nine {d}\n",
    "bare_cr_line_end": lambda d: f"int probe_cr_{abs(hash(d)) % 997};\r#define {d}\r",
    "dollar_fake_raw_string": lambda d: (
        f'#define $R\nconst char* probe_s1 = $R"x(";\n#define {d}\nconst char* probe_s2 = ")x";\n'
    ),
    "utf8_fake_raw_string": lambda d: (
        f'#define éR\nconst char* probe_u1 = éR"y(";\n#define {d}\nconst char* probe_u2 = ")y";\n'
    ),
}


def attack(spelling: str, add: str) -> str:
    lines = "".join(SPELLINGS[spelling](d) for d in PAYLOAD)
    if "fake_raw" in spelling:
        # The raw-string trick defines its helper once; only the first payload needs it.
        lines = SPELLINGS[spelling](PAYLOAD[0]) + "".join(plain(d) for d in PAYLOAD[1:])
    return HEADERS + add + lines


@pytest.mark.parametrize("opt", OPT_LEVELS)
@pytest.mark.parametrize("style", STYLES, ids=STYLE_IDS)
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_macros_in_any_spelling_never_reach_the_test(spelling: str, style: Style, opt: str) -> None:
    assert_no_credit(verify(attack(spelling, WRONG), style, opt))


@pytest.mark.parametrize("style", STYLES, ids=STYLE_IDS)
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_the_same_macros_next_to_a_right_answer_do_not_cost_it(spelling: str, style: Style) -> None:
    assert_full_credit(verify(attack(spelling, RIGHT), style), style)


@pytest.mark.parametrize("opt", OPT_LEVELS)
@pytest.mark.parametrize("style", STYLES, ids=STYLE_IDS)
def test_trigraph_define_under_cxx11(style: Style, opt: str) -> None:
    trigraphs = "".join(f"??=define {d}\n" for d in PAYLOAD)
    assert_no_credit(verify(HEADERS + WRONG + trigraphs, style, opt, std="c++11"))
    if opt == "-O0":
        assert_full_credit(verify(HEADERS + RIGHT + trigraphs, style, opt, std="c++11"), style)


@pytest.mark.parametrize("style", STYLES, ids=STYLE_IDS)
def test_renaming_main_by_macro_earns_nothing(style: Style) -> None:
    code = HEADERS + WRONG + "int main() { return 0; }\n#define main probe_not_main\n"
    assert_no_credit(verify(code, style))


# --------------------------------------------------------------------------- headers the test includes

HALF_TEST = Style(
    "abs_test",
    "#include <cmath>\n#include <cassert>\nusing namespace std;\nint main(){ assert(abs(half(1.0) - 0.5) < 0.1); }\n",
    1,
)


def test_a_macro_aimed_inside_a_header_the_test_includes_afresh() -> None:
    # <cmath> is first included by the test; its std::abs(double) is __builtin_fabs(x).
    code = "double half(double x) { return x * 0; }\n#define __builtin_fabs(x) 0.0\n"
    assert_no_credit(verify(code, HALF_TEST))
    assert_full_credit(verify(code.replace("x * 0", "x / 2"), HALF_TEST), HALF_TEST)


def test_include_guards_of_headers_never_opened_are_dropped() -> None:
    # Without <cmath> and std_abs.h, the test's abs(double) would silently truncate to int abs.
    code = (
        '#define _GLIBCXX_CMATH 1\n#define _GLIBCXX_BITS_STD_ABS_H 1\nextern "C" int abs(int) noexcept;\n'
        "double half(double x) { return x * 0; }\n"
    )
    assert_no_credit(verify(code, HALF_TEST))
    assert_full_credit(verify(code.replace("x * 0", "x / 2"), HALF_TEST), HALF_TEST)


def test_undefining_a_header_macro_is_repaired() -> None:
    code = "#include <vector>\n#include <cstdio>\n#undef _GLIBCXX_VECTOR\n" + RIGHT
    style = Style("vector_test", "#include <vector>\n#include <cassert>\nint main(){ std::vector<int> v{add(1,2)};"
                  " assert(v[0] == 3); }\n", 1)  # fmt: skip
    assert_full_credit(verify(code, style), style)


# --------------------------------------------------------------------------- pragmas


STRCMP_TEST = Style(
    "strcmp_test",
    '#include <cstring>\n#include <cassert>\nint main(){ assert(std::strcmp(greet(), "hello") == 0); }\n',
    1,
)


@pytest.mark.parametrize(
    "rename",
    ["#pragma redefine_extname strcmp probe_fake_strcmp\n", '_Pragma("redefine_extname strcmp probe_fake_strcmp")\n'],
    ids=["pragma", "_Pragma"],
)
def test_renaming_the_c_functions_the_test_calls_is_refused(rename: str) -> None:
    code = (
        "#include <cstring>\n" + rename + 'extern "C" int probe_fake_strcmp(const char*, const char*) { return 0; }\n'
        'const char* greet() { return "bye"; }\n'
    )
    assert_refused(verify(code, STRCMP_TEST), "redefine_extname")


def test_optimisation_pragmas_do_not_reach_the_test() -> None:
    # Under fast-math, isnan() folds to false: a NaN would pass the test's check.
    style = Style("nan_test", "#include <cmath>\n#include <cassert>\nint main(){ assert(!std::isnan(ratio())); }\n", 1)
    code = '#include <cmath>\n#pragma GCC optimize("fast-math")\ndouble ratio() { return std::nan(""); }\n'
    result = verify(code, style, "-O2")
    assert_no_credit(result)
    assert result.error_class == "runtime_crash", info(result)


@pytest.mark.parametrize(
    "code",
    [
        '# 1 "x" 3\n' + WRONG,
        "#define F __FILE__\n# 2 F 3\n" + WRONG,
        '#pragma GCC diagnostic ignored "-Wpedantic"\n# 1 "/usr/include/c++/12/vector" 1 3\n' + WRONG,
    ],
    ids=["system_flag", "macro_filename", "pragma_silenced"],
)
def test_gnu_linemarkers_are_refused(code: str) -> None:
    assert_refused(verify(HEADERS + code, STYLES[0]), "linemarker")


@pytest.mark.parametrize(
    "code",
    [
        '#pragma GCC diagnostic ignored "-Wcpp"\n' + WRONG,
        '_Pragma("GCC diagnostic ignored \\"-Wcpp\\"")\n' + WRONG,
        "#undef asm\n" + WRONG,
        "#define __asm__ __asm__\n" + WRONG,
        "#undef section\n" + WRONG,
    ],
    ids=["diagnostic_cpp", "diagnostic_cpp_Pragma", "undef_asm", "redefine_asm", "undef_section"],
)
def test_tampering_with_the_verifiers_own_checks_is_refused(code: str) -> None:
    assert_refused(verify(HEADERS + code, STYLES[0]))


def test_a_line_directive_is_harmless_unless_it_names_a_file() -> None:
    assert_full_credit(verify(HEADERS + "#line 100\n" + RIGHT, STYLES[0]), STYLES[0])
    # A file name would make GCC's debug information place what follows elsewhere (debug_check).
    assert_refused(verify(HEADERS + '#line 100 "elsewhere.cpp"\n' + RIGHT, STYLES[0]), "#line")


VECTOR_TEST = Style(
    "vector_equal_test",
    "#include <cassert>\n#include <vector>\nusing namespace std;\n"
    "int main(){ assert(f(3) == vector<int>({1, 2, 3})); }\n",
    1,
)


@pytest.mark.parametrize(
    "tamper",
    [
        "#define __builtin_memcmp(a, b, n) 0\n",
        "#define false true\n",
        '#pragma GCC optimize("fast-math")\n',
        '_Pragma("GCC optimize(\\"fast-math\\")")\n',
    ],
    ids=["builtin_macro", "keyword_macro", "fast_math_pragma", "fast_math__Pragma"],
)
def test_headers_compiled_under_the_candidates_macros_are_refused(tamper: str) -> None:
    # The library code the test's comparison runs would be compiled under them.
    code = (
        tamper
        + "#include <vector>\n#include <algorithm>\nstd::vector<int> f(int n) { return std::vector<int>(n, 7); }\n"
    )
    assert_refused(verify(code, VECTOR_TEST), "header included after a macro or pragma")


def test_the_competitive_programmers_header_stays_allowed() -> None:
    code = (
        '#pragma GCC optimize("O3,unroll-loops")\n#pragma GCC target("avx2,bmi,popcnt")\n'
        "#include <bits/stdc++.h>\nusing namespace std;\n#define ll long long\n"
        "vector<int> f(int n) { vector<int> v; for (ll i = 1; i <= n; ++i) v.push_back((int)i); return v; }\n"
    )
    assert_full_credit(verify(code, VECTOR_TEST), VECTOR_TEST)


def test_a_macro_bomb_is_refused_without_reading_its_expansion() -> None:
    """8 KiB of source that preprocesses to 240 MB: refused at the view's cap, never read whole."""
    literal = '"' + "a" * 8000 + '"'
    levels = ["#define L0 " + literal]
    levels += [f"#define L{i} " + " ".join([f"L{i - 1}"] * 10) for i in (1, 2, 3)]
    code = 'const char* probe_wide = "\U0001f600";\n' + "\n".join(levels) + "\nconst char* probe_big = L3 L3 L3;\n"
    result = verify(code, STYLES[0])
    assert_refused(result, "preprocesses to more than")
