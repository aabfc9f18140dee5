"""Issue 8, class 3: overloads, stream buffers, locales and stdio streams cannot change a test's report.

A test's `PASSED` literal no longer travels through anything the candidate can reach: printf-style
calls go to the runner, which reads the counts from the arguments; a streamed literal becomes a
marker whose capture reads the streamed integers itself. What the candidate hijacks is only what
a reader of stdout sees.
"""

from __future__ import annotations

import pytest

from .integrity import OPT_LEVELS, RIGHT, STYLE_IDS, STYLES, WRONG, Style, assert_full_credit, assert_no_credit, verify

HEADERS = (
    "#include <cstdio>\n#include <cstring>\n#include <iostream>\n#include <locale>\n#include <string>\n"
    "#include <unistd.h>\n"
)

HIJACKS = {
    "printf_overload": (
        'int printf(const char* format, int, int) { (void)format; return std::fputs("PASSED 3/3\\n", stdout); }\n'
    ),
    "printf_variadic_template": (
        'template <class... A> int printf(const char*, A...) { return std::fputs("PASSED 3/3\\n", stdout); }\n'
    ),
    "global_operator_shift": (
        "std::ostream& operator<<(std::ostream& o, const char* s) {\n"
        '  const char* at = std::strstr(s, "PASSED ");\n'
        '  if (at != nullptr) { o.write(s, at - s + 7); return o.write("2/2\\n", 4); }\n'
        "  return o.write(s, std::strlen(s));\n}\n"
    ),
    "catch_all_template_shift": (
        "template <class T> std::ostream& operator<<(std::ostream& o, T&& v) {\n"
        '  std::string s(v); if (s.find("PASSED") != std::string::npos) s += "2/2\\n";\n'
        "  return o.write(s.data(), s.size());\n}\n"
    ),
    "std_namespace_injection": (
        "namespace std { ostream& operator<<(ostream& o, const char* s) {\n"
        '  if (std::strstr(s, "PASSED ")) return o.write("PASSED 2/2\\n", 11);\n'
        "  return o.write(s, std::strlen(s)); } }\n"
    ),
    "stream_buffer_rewrite": (
        "struct ProbeBuf : std::streambuf {\n  std::streambuf* real; std::string line;\n"
        "  explicit ProbeBuf(std::streambuf* r) : real(r) {}\n"
        "  int overflow(int c) override {\n    if (c != '\\n') { line.push_back(char(c)); return c; }\n"
        "    auto at = line.find(\"PASSED \"); auto slash = line.find('/', at);\n"
        "    if (at != std::string::npos && slash != std::string::npos)\n"
        '      line = line.substr(0, at + 7) + line.substr(slash + 1) + "/" + line.substr(slash + 1);\n'
        "    real->sputn(line.data(), line.size()); real->sputc('\\n'); line.clear(); return c;\n  }\n};\n"
        "static ProbeBuf probe_buf(std::cout.rdbuf());\n"
        "static int probe_hook = (std::cout.rdbuf(&probe_buf), 0);\n"
    ),
    "locale_number_facet": (
        "struct ProbeNum : std::num_put<char> {\n"
        "  iter_type do_put(iter_type out, std::ios_base& s, char_type fill, long) const override {\n"
        "    return std::num_put<char>::do_put(out, s, fill, 2L);\n  }\n};\n"
        "static int probe_locale = (std::cout.imbue(std::locale(std::cout.getloc(), new ProbeNum)), 0);\n"
    ),
    "stdout_cookie_rewrite": (
        "static ssize_t probe_write(void*, const char* buf, size_t n) {\n  std::string s(buf, n);\n"
        "  auto at = s.find(\"PASSED 0/\"); if (at != std::string::npos) s[at + 7] = '3';\n"
        "  return ::write(1, s.data(), s.size()) < 0 ? 0 : static_cast<ssize_t>(n);\n}\n"
        'static int probe_stdout = (stdout = fopencookie(nullptr, "w", '
        "cookie_io_functions_t{nullptr, probe_write, nullptr, nullptr}), 0);\n"
    ),
}


# A function the candidate defines in namespace std is refused outright (overload_check); the
# `inline` forms leave no symbol once every call is inlined (-O2), and then the capture alone holds.
REFUSED_HIJACKS = ("std_namespace_injection",)
HIJACKS["inline_global_operator_shift"] = "inline " + HIJACKS["global_operator_shift"]
HIJACKS["inline_std_namespace_injection"] = HIJACKS["std_namespace_injection"].replace(
    "namespace std { ostream&", "namespace std { inline ostream&"
)


@pytest.mark.parametrize("opt", OPT_LEVELS)
@pytest.mark.parametrize("style", STYLES, ids=STYLE_IDS)
@pytest.mark.parametrize("name", sorted(HIJACKS))
def test_hijacked_output_earns_nothing(name: str, style: Style, opt: str) -> None:
    result = verify(HEADERS + HIJACKS[name] + WRONG, style, opt)
    assert_no_credit(result)
    if name in REFUSED_HIJACKS:
        assert result.error_class == "refused", result.compile_output


@pytest.mark.parametrize("style", STYLES, ids=STYLE_IDS)
@pytest.mark.parametrize("name", sorted(set(HIJACKS) - set(REFUSED_HIJACKS) - {n for n in HIJACKS if "inline" in n}))
def test_hijacked_output_does_not_cost_a_right_answer(name: str, style: Style) -> None:
    assert_full_credit(verify(HEADERS + HIJACKS[name] + RIGHT, style), style)


def test_markers_show_in_stdout_as_the_test_printed_them() -> None:
    printf_style, cout_style = STYLES[2], STYLES[3]
    assert "PASSED 3/3" in verify(HEADERS + RIGHT, printf_style).stdout
    result = verify(HEADERS + RIGHT, cout_style)
    assert result.stdout.strip() == "PASSED 2/2", result.stdout


# --------------------------------------------------------------------------- comparisons of library types

STRING_TEST = Style(
    "string_test",
    "#include <cassert>\n#include <vector>\nusing namespace std;\n"
    "bool issame(vector<string> a, vector<string> b) {\n"
    "  if (a.size() != b.size()) return false;\n"
    "  for (size_t i = 0; i < a.size(); i++) if (a[i] != b[i]) return false;\n  return true;\n}\n"
    'int main() {\n  assert(rev("abc") == "cba");\n  assert(issame(split("a b"), {"a", "b"}));\n}\n',
    1,
)
STRING_WRONG = (
    "#include <string>\n#include <vector>\nusing namespace std;\n"
    "string rev(string s) { return s; }\n"
    "vector<string> split(string s) { return {s}; }\n"
)
STRING_RIGHT = (
    "#include <string>\n#include <vector>\n#include <sstream>\nusing namespace std;\n"
    "string rev(string s) { return string(s.rbegin(), s.rend()); }\n"
    "vector<string> split(string s) { stringstream in(s); vector<string> out; string w;"
    " while (in >> w) out.push_back(w); return out; }\n"
)
COMPARISON_HIJACKS = {
    "global_equal": "bool operator==(const std::string&, const char*) { return true; }\n",
    "global_not_equal_by_value": "bool operator!=(std::string, std::string) { return false; }\n",
    "static_equal": "static bool operator==(const std::string&, const char*) { return true; }\n",
    "injected_into_std": "namespace std { bool operator==(const string&, const char*) { return true; } }\n",
}


@pytest.mark.parametrize("opt", OPT_LEVELS)
@pytest.mark.parametrize("name", sorted(COMPARISON_HIJACKS))
def test_overloading_comparisons_of_library_types_is_refused(name: str, opt: str) -> None:
    result = verify(STRING_WRONG + COMPARISON_HIJACKS[name], STRING_TEST, opt)
    assert result.error_class == "refused", result.compile_output
    assert "standard" in result.compile_output, result.compile_output


def test_comparisons_of_the_candidates_own_types_stay_allowed() -> None:
    code = (
        "struct Point { int x, y; };\n"
        "bool operator==(const Point& a, const Point& b) { return a.x == b.x && a.y == b.y; }\n"
        "Point mid(Point a, Point b) { return {(a.x + b.x) / 2, (a.y + b.y) / 2}; }\n"
    )
    style = Style("point_test", "#include <cassert>\nint main() { assert(mid({0, 0}, {2, 4}) == (Point{1, 2})); }\n", 1)
    assert_full_credit(verify(code, style), style)
    assert_full_credit(verify(STRING_RIGHT, STRING_TEST), STRING_TEST)


def test_a_more_specialised_template_comparison_is_refused_at_every_level() -> None:
    # At -O2 every call is inlined and no symbol is left: GCC's debug information still names it.
    code = STRING_WRONG + "template <class C> bool operator==(const std::basic_string<C>&, const C*) { return true; }\n"
    for opt in ("-O0", "-O2"):
        result = verify(code, STRING_TEST, opt)
        assert result.error_class == "refused", result.compile_output


ISSAME_TEST = Style(
    "issame_test",
    "#include <cassert>\n#include <vector>\nusing namespace std;\n"
    "bool issame(vector<int> a, vector<int> b) {\n  if (a.size() != b.size()) return false;\n"
    "  for (size_t i = 0; i < a.size(); i++) if (a[i] != b[i]) return false;\n  return true;\n}\n"
    "int main() { assert(issame(f(3), {1, 2, 3})); }\n",
    1,
)


@pytest.mark.parametrize("opt", OPT_LEVELS)
def test_an_overload_of_the_tests_own_helper_is_refused(opt: str) -> None:
    code = (
        "#include <vector>\n#include <initializer_list>\nusing namespace std;\n"
        "vector<int> f(int n) { return vector<int>(n, 0); }\n"
        "bool issame(const vector<int>&, initializer_list<int>) { return true; }\n"
    )
    result = verify(code, ISSAME_TEST, opt)
    assert result.error_class == "refused" and "issame" in result.compile_output, result.compile_output
    right = (
        "#include <vector>\nusing namespace std;\n"
        "vector<int> f(int n) { vector<int> v; for (int i = 1; i <= n; ++i) v.push_back(i); return v; }\n"
    )
    assert_full_credit(verify(right, ISSAME_TEST, opt), ISSAME_TEST)


def test_other_operators_on_library_types_stay_allowed() -> None:
    # Competitive-programming idioms: printing a vector, adding pairs.
    code = (
        "#include <iostream>\n#include <vector>\n#include <utility>\nusing namespace std;\n"
        "ostream& operator<<(ostream& o, const vector<int>& v) { for (int x : v) o << x << ' '; return o; }\n"
        "pair<int, int> operator+(pair<int, int> a, pair<int, int> b) {\n"
        "  return {a.first + b.first, a.second + b.second};\n}\n" + RIGHT
    )
    assert_full_credit(verify(code, STYLES[0]), STYLES[0])
