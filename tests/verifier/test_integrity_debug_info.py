"""Integrity: what the candidate's own source defines, decided by GCC's debug information.

Each cheat below defines a function that changes what the test's `rev("abc") == "cba"` means, in a
way the symbol table cannot tell apart from the library's own (a qualified explicit specialisation
has the library instance's very symbol; an inline operator inlined at -O2 has none; a namespace
opened through a system header's macro escapes -Wnamespaces). GCC still records where each was
written, and every one is refused at every level and std; honest neighbours keep full credit.
"""

from __future__ import annotations

import pytest

from services.verifier.core.debug_check import CandidateFunction, candidate_file_indices, library_refusals

from .integrity import OPT_LEVELS, STYLES, Style, assert_full_credit, assert_no_credit, assert_refused, verify
from .test_integrity_output import STRING_RIGHT, STRING_TEST, STRING_WRONG

STRING_EQ = "std::operator==<char, std::char_traits<char>, std::allocator<char>>"
WRITTEN_ELSEWHERE = {
    "specialised_library_operator": (
        f"template <> inline bool {STRING_EQ}(const std::string&, const char*) {{ return true; }}\n"
    ),
    "namespace_through_a_system_macro": (
        "namespace _GLIBCXX_STD_C { inline bool operator==(const string&, const char*) { return true; } }\n"
    ),
    "global_inline_operator": "inline bool operator==(const std::string&, const char*) { return true; }\n",
    "template_operator_inlined": (
        "template <class C> bool operator==(const std::basic_string<C>&, const C*) { return true; }\n"
    ),
}
STDS = ("c++17", "c++20")

# Literal template arguments (`true`, `3`) are not the candidate's own types.
VECTOR_TEST = Style(
    "vector_test",
    "#undef NDEBUG\n#include <cassert>\n#include <vector>\n#include <array>\n"
    "int main(){ assert(g(2) == std::vector<int>({1, 2})); assert((h(3) == std::array<int, 3>{1, 2, 3})); }\n",
    1,
)
VECTOR_WRONG = (
    "#include <vector>\n#include <array>\n#include <algorithm>\n"
    "std::vector<int> g(int n) { return std::vector<int>(n, 0); }\n"
    "std::array<int, 3> h(int) { return {0, 0, 0}; }\n"
)
VECTOR_RIGHT = (
    "#include <vector>\n#include <array>\n#include <numeric>\n"
    "std::vector<int> g(int n) { std::vector<int> v(n); std::iota(v.begin(), v.end(), 1); return v; }\n"
    "std::array<int, 3> h(int) { return {1, 2, 3}; }\n"
)
LITERAL_ARGUMENTS = {
    "specialised_helper_with_a_bool_argument": (
        "template <> inline bool std::__equal<true>::equal<int>(const int*, const int*, const int*) { return true; }\n"
        "inline bool operator==(const std::array<int, 3>&, const std::array<int, 3>&) { return true; }\n"
    ),
}


@pytest.mark.parametrize("std", STDS)
@pytest.mark.parametrize("opt", OPT_LEVELS)
@pytest.mark.parametrize("name", sorted(WRITTEN_ELSEWHERE))
def test_a_function_the_candidate_wrote_is_judged_however_it_was_reached(name: str, opt: str, std: str) -> None:
    result = verify(STRING_WRONG + WRITTEN_ELSEWHERE[name], STRING_TEST, opt, std)
    assert_refused(result, "standard")
    assert_no_credit(result)


@pytest.mark.parametrize("opt", OPT_LEVELS)
def test_literal_template_arguments_are_not_the_candidates_types(opt: str) -> None:
    code = VECTOR_WRONG + LITERAL_ARGUMENTS["specialised_helper_with_a_bool_argument"]
    result = verify(code, VECTOR_TEST, opt)
    assert_refused(result, "standard")
    assert_no_credit(result)
    assert_full_credit(verify(VECTOR_RIGHT, VECTOR_TEST, opt), VECTOR_TEST)


def test_a_specialisation_of_a_library_function_for_the_candidates_type_is_allowed() -> None:
    # Not inline: a GLOBAL symbol in std, for the candidate's own Node.
    code = (
        "#include <utility>\nstruct Node { int v; };\n"
        "template <> void std::swap<Node>(Node& a, Node& b) noexcept { int t = a.v; a.v = b.v; b.v = t; }\n"
        "int add(int a, int b) { Node x{a}, y{b}; std::swap(x, y); return x.v + y.v; }\n"
    )
    for opt in OPT_LEVELS:
        assert_full_credit(verify(code, STYLES[0], opt), STYLES[0])


def test_a_line_directive_naming_another_file_is_refused() -> None:
    # It would make GCC record the specialisation as written in a library header.
    code = STRING_WRONG + '#line 1 "/usr/include/c++/12/bits/basic_string.h"\n'
    code += WRITTEN_ELSEWHERE["specialised_library_operator"]
    for opt in OPT_LEVELS:
        assert_refused(verify(code, STRING_TEST, opt), "#line")


def test_a_line_directive_that_keeps_the_file_is_allowed() -> None:
    code = "#line 100\nint add(int a, int b) { return a + b; }\n"
    assert_full_credit(verify(code, STYLES[0]), STYLES[0])


@pytest.mark.parametrize("std", (*STDS, "c++23"))
def test_string_code_keeps_full_credit_at_every_std(std: str) -> None:
    # At C++20 the string's constexpr members are emitted as weak copies of the runtime's own.
    for opt in OPT_LEVELS:
        assert_full_credit(verify(STRING_RIGHT, STRING_TEST, opt, std), STRING_TEST)


def test_specialisations_over_the_candidates_types_and_hashes_stay_allowed() -> None:
    code = (
        "#include <bits/stdc++.h>\nusing namespace std;\n"
        "struct P { int x; bool operator==(const P& o) const { return x == o.x; } };\n"
        "template <> struct std::hash<P> { size_t operator()(const P& p) const { return p.x; } };\n"
        "template <> struct std::less<P> { bool operator()(const P& a, const P& b) const { return a.x < b.x; } };\n"
        "template <> struct std::hash<pair<int, int>> {\n"
        "  size_t operator()(const pair<int, int>& p) const { return p.first * 31 + p.second; } };\n"
        "int add(int a, int b) { unordered_set<P> s{{a}}; set<P> t{{b}}; unordered_set<pair<int, int>> u{{a, b}};\n"
        "  return s.begin()->x + t.begin()->x + 0 * (int)u.size(); }\n"
    )
    for style in (STYLES[0], STYLES[2]):
        for opt in OPT_LEVELS:
            assert_full_credit(verify(code, style, opt), style)


FILE_TABLE = (
    " The File Name Table (offset 0x3c, lines 3, columns 2):\n  Entry\tDir\tName\n"
    "  0\t(udata)\t0\t(line_strp)\t(offset: 0x85): <stdin>\n"
    "  1\t(udata)\t1\t(line_strp)\t(offset: 0x8b): basic_string.h\n"
    "  2\t(udata)\t0\t(line_strp)\t(offset: 0x97): solution.cpp\n\n"
)


def test_the_candidate_file_is_found_in_the_line_table() -> None:
    assert candidate_file_indices(FILE_TABLE) == {2}
    assert candidate_file_indices(FILE_TABLE.replace("solution.cpp", "test.cpp")) == frozenset()


@pytest.mark.parametrize(
    ("name", "linkage", "refused"),
    [
        ("operator==<char>", "bool std::operator==<char>(std::string const&, char const*)", True),
        ("size", "std::vector<int, std::allocator<int> >::size() const", True),
        ("operator()", "std::hash<P>::operator()(P const&) const", False),
        ("operator()", "std::hash<std::pair<int, int> >::operator()(std::pair<int, int> const&) const", False),
        ("operator()", "std::less<P>::operator()(P const&, P const&) const", False),
        ("rev", "rev[abi:cxx11](std::string)", False),
        ("operator()", "rev(std::string)::{lambda(char)#1}::operator()(char) const", False),
        ("equal<int>", "bool std::__equal<true>::equal<int>(int const*, int const*, int const*)", True),
        ("f<5>", "void std::f<5ul>(int)", True),
        ("swap<Node>", "void std::swap<Node>(Node&, Node&)", False),
    ],
)
def test_library_scope_rule(name: str, linkage: str, refused: bool) -> None:
    assert bool(library_refusals([CandidateFunction(name, linkage)])) is refused
