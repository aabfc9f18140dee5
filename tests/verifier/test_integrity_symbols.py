"""Integrity: declarations that would change what the test's own calls mean, decided by GCC.

Opening a library namespace (GCC's -Wnamespaces names it), attributes that leave no symbol to check
(always_inline, gnu_inline), symbol aliases and names spelled like mangled symbols (`#pragma weak`,
`_Z...` identifiers), weak copies of runtime functions: each is refused at every optimisation level,
and the honest neighbour of each cheat still earns full credit.
"""

from __future__ import annotations

import pytest

from services.verifier.core.flags import validate_flags
from services.verifier.core.verify import verify_cpp

from .integrity import OPT_LEVELS, STYLES, assert_full_credit, assert_no_credit, assert_refused, info, verify
from .test_integrity_output import STRING_RIGHT, STRING_TEST, STRING_WRONG

# Each makes the test's `rev("abc") == "cba"` (or the issame helper's `a[i] != b[i]`) come out true.
NAMESPACE_INJECTIONS = {
    "inline_operator": "namespace std { inline bool operator==(const string&, const char*) { return true; } }\n",
    "inline_not_equal": "namespace std { inline bool operator!=(const string&, const string&) { return false; } }\n",
    "more_specialised_template": (
        "namespace std { template <class C> bool operator==(const basic_string<C>&, const C*) { return true; } }\n"
    ),
    "nested": "namespace std::__cxx11 { inline bool operator==(const string&, const char*) { return true; } }\n",
    "through_a_macro": (
        "#define OPEN(n) namespace n {\n"
        "OPEN(std) inline bool operator==(const string&, const char*) { return true; } }\n"
    ),
}


@pytest.mark.parametrize("opt", OPT_LEVELS)
@pytest.mark.parametrize("name", sorted(NAMESPACE_INJECTIONS))
def test_opening_a_library_namespace_is_refused(name: str, opt: str) -> None:
    result = verify(STRING_WRONG + NAMESPACE_INJECTIONS[name], STRING_TEST, opt)
    assert_refused(result, "opens namespace std")


def test_a_library_template_is_still_specialised_the_qualified_way() -> None:
    hash_for_point = (
        "#include <functional>\n#include <unordered_set>\nstruct Point { int x, y; };\n"
        "bool operator==(const Point& a, const Point& b) { return a.x == b.x && a.y == b.y; }\n"
        "template <> struct std::hash<Point> {\n"
        "  size_t operator()(const Point& p) const { return std::hash<int>()(p.x * 31 + p.y); }\n};\n"
        "int add(int a, int b) { std::unordered_set<Point> s{{a, b}}; return s.count({a, b}) ? a + b : 0; }\n"
    )
    style = STYLES[0]
    assert_full_credit(verify(hash_for_point, style), style)
    qualified = "template <> struct std::hash<Point> {"
    inside = hash_for_point.replace(qualified, "namespace std { template <> struct hash<Point> {")
    inside = inside.replace("p.y); }\n};\n", "p.y); }\n}; }\n")
    result = verify(inside, style)
    assert_refused(result, "template<> struct std::hash<T>")


def test_the_candidates_own_namespaces_stay_quiet() -> None:
    code = (
        "namespace util { int sum(int a, int b) { return a + b; } }\n"
        "int add(int a, int b) { return util::sum(a, b); }\n"
    )
    style = STYLES[2]
    result = verify(code, style)
    assert_full_credit(result, style)
    assert "Wnamespaces" not in result.compile_output and result.warnings == 0, info(result)


def test_the_namespace_warning_cannot_be_turned_off() -> None:
    with pytest.raises(ValueError, match="namespaces"):
        validate_flags(["-Wno-namespaces"])
    code = STRING_WRONG + '#pragma GCC diagnostic ignored "-Wnamespaces"\n' + NAMESPACE_INJECTIONS["inline_operator"]
    assert_refused(verify(code, STRING_TEST), "diagnostic pragma")


NO_SYMBOL_OPERATORS = {
    "always_inline": (
        "inline __attribute__((always_inline)) bool operator==(const std::string&, const char*) { return true; }\n"
    ),
    "gnu_always_inline": (
        "[[gnu::always_inline]] inline bool operator==(const std::string&, const char*) { return true; }\n"
    ),
    "glibc_macro": "__always_inline bool operator==(const std::string&, const char*) { return true; }\n",
    "gnu_inline": (
        "extern inline __attribute__((__gnu_inline__))\n"
        "bool operator==(const std::string&, const char*) { return true; }\n"
    ),
}


@pytest.mark.parametrize("opt", OPT_LEVELS)
@pytest.mark.parametrize("name", sorted(NO_SYMBOL_OPERATORS))
def test_attributes_that_leave_no_symbol_are_refused(name: str, opt: str) -> None:
    code = "#include <cstring>\n" + STRING_WRONG + NO_SYMBOL_OPERATORS[name]
    result = verify(code, STRING_TEST, opt)
    assert_refused(result, "inline attribute")


def test_headers_that_use_those_attributes_themselves_still_build() -> None:
    # glibc's and libstdc++'s own always_inline functions (fortify wrappers, <bit>, <atomic>).
    code = (
        "#include <cstring>\n#include <atomic>\n#include <algorithm>\n#include <string>\n#include <vector>\n"
        "int add(int a, int b) { std::atomic<int> s{a}; s += b; char buf[8]; std::memset(buf, 0, sizeof buf);\n"
        "  return s.load(); }\n"
    )
    for opt in OPT_LEVELS:
        assert_full_credit(verify(code, STYLES[0], opt), STYLES[0])


COMPARE = "_ZNKSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE7compareEPKc"
SYMBOL_TRICKS = {
    "pragma_weak_alias": (
        'extern "C" int fake_compare(const void*, const char*) { return 0; }\n'
        f"#pragma weak {COMPARE} = fake_compare\n",
        "#pragma weak",
    ),
    "extern_c_inline_mangled_name": (
        f'extern "C" inline int {COMPARE}(const void*, const char*) {{ return 0; }}\nstatic auto keep = &{COMPARE};\n',
        "_Z",
    ),
    "mangled_name_pasted_by_a_macro": (
        "#define GLUE(a, b) a##b\n"
        f'extern "C" inline int GLUE(_, {COMPARE[1:]})(const void*, const char*) {{ return 0; }}\n'
        f"static auto keep = &GLUE(_, {COMPARE[1:]});\n",
        "_Z",
    ),
    "weak_runtime_function": (
        "namespace std { __attribute__((weak)) void __throw_out_of_range(const char*) { for (;;) {} } }\n",
        "",
    ),
}


@pytest.mark.parametrize("opt", OPT_LEVELS)
@pytest.mark.parametrize("name", sorted(SYMBOL_TRICKS))
def test_replacing_library_symbols_is_refused(name: str, opt: str) -> None:
    code, why = SYMBOL_TRICKS[name]
    result = verify(STRING_WRONG + code, STRING_TEST, opt)
    assert_refused(result, why)
    assert_no_credit(result)


def test_a_weak_runtime_function_outside_std_is_refused_by_its_symbol() -> None:
    # No namespace is opened: the qualified definition of a declared library function.
    code = STRING_WRONG + "__attribute__((weak)) void std::__throw_out_of_range(const char*) { for (;;) {} }\n"
    assert_refused(verify(code, STRING_TEST), "function of the C/C++ runtime")


def test_comparisons_of_library_templates_over_the_candidates_own_types_stay_allowed() -> None:
    code = (
        "#include <vector>\nusing namespace std;\nstruct P { int v; };\n"
        "bool operator<(const vector<P>& a, const vector<P>& b) { return a.size() < b.size(); }\n"
        "int add(int a, int b) { vector<P> x(1), y(2); return x < y ? a + b : 0; }\n"
    )
    for opt in OPT_LEVELS:
        assert_full_credit(verify(code, STYLES[0], opt), STYLES[0])


# A HumanEval-X-shaped prompt: `using namespace std;` between includes ends the leading block.
PROMPT_SHAPE = "#include<stdio.h>\n#include<vector>\nusing namespace std;\n#include<algorithm>\n"


@pytest.mark.parametrize(
    "extra",
    ["#define ll long long\n", '#pragma GCC optimize("O3")\n', "#undef NDEBUG\n"],
    ids=["define", "pragma", "undef_ndebug"],
)
def test_macros_after_the_last_include_are_allowed(extra: str) -> None:
    code = PROMPT_SHAPE + extra + "int add(int a, int b) { return a + b; }\n"
    for style in (STYLES[0], STYLES[2]):
        assert_full_credit(verify(code, style), style)


def test_a_macro_before_a_later_include_is_refused() -> None:
    code = PROMPT_SHAPE + "#define private public\n#include<string>\nint add(int a, int b) { return a + b; }\n"
    assert_refused(verify(code, STYLES[0]), "header included after a macro")


def test_string_comparisons_still_judge_honest_code_at_every_level() -> None:
    for opt in OPT_LEVELS:
        assert_full_credit(verify(STRING_RIGHT, STRING_TEST, opt), STRING_TEST)
        wrong = verify_cpp(STRING_WRONG, STRING_TEST.test, timeout=5.0, extra_flags=[opt], return_structured=True)
        assert_no_credit(wrong)
