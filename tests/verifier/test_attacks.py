"""docs/verifier.md, "Attacks that earn nothing": one test per attack.

Every attack runs against tests whose answers the candidate does NOT compute (`add_one` returns
its argument), so any credit it earns is stolen. The positive controls show the same test code
does credit a correct `add_one`, so a zero here means the attack failed, not the test.
"""

from __future__ import annotations

import pytest

from services.verifier.core.reward import compute_reward
from services.verifier.core.verify import VerifyResult, verify_cpp

from .integrity import info

# HumanEval-X style: marker-less, one test, passed iff main returns 0.
MARKERLESS_TEST = """#undef NDEBUG
#include<assert.h>
int main(){
    assert (add_one(1) == 2);
    assert (add_one(41) == 42);
    assert (add_one(-1) == 0);
}
"""

# The same without the `#undef NDEBUG` line, so that NDEBUG attacks are not undone by the test.
MARKERLESS_TEST_NO_UNDEF = """#include<assert.h>
int main(){
    assert (add_one(1) == 2);
    assert (add_one(41) == 42);
}
"""

# Marker-printing test: counts its own checks and prints PASSED p/t.
MARKER_TEST = r"""#include <cstdio>
int main(){
    int passed = 0;
    if (add_one(1) == 2) ++passed;
    if (add_one(41) == 42) ++passed;
    if (add_one(-1) == 0) ++passed;
    printf("PASSED %d/%d\n", passed, 3);
    return 0;
}
"""

# Marker-printing test in iostream style.
COUT_MARKER_TEST = r"""#include <iostream>
int main(){
    int passed = 0;
    if (add_one(1) == 2) ++passed;
    if (add_one(41) == 42) ++passed;
    std::cout << "PASSED " << passed << "/" << 2 << std::endl;
    return 0;
}
"""

CORRECT = "int add_one(int x) { return x + 1; }\n"
WRONG = "int add_one(int x) { return x; }\n"


def verify(code: str, test: str) -> VerifyResult:
    result = verify_cpp(code, test, timeout=5.0, return_structured=True)
    assert result.infra_error is None, result.infra_error
    return result


def assert_earns_nothing(result: VerifyResult) -> None:
    assert result.tests_passed == 0, info(result)
    assert compute_reward(result) < 1.0, info(result)
    assert compute_reward(result) <= 0.3 + 1e-9, info(result)


def assert_refused(result: VerifyResult) -> None:
    assert result.error_class == "refused", info(result)
    assert not result.compile_ok
    assert result.tests_passed == 0
    assert compute_reward(result) == 0.0
    assert any(d.severity == "error" for d in result.diagnostics), info(result)


# --------------------------------------------------------------------------- positive controls


def test_control_correct_candidate_passes_markerless_test() -> None:
    result = verify(CORRECT, MARKERLESS_TEST)
    assert (result.tests_passed, result.tests_total) == (1, 1), info(result)
    assert compute_reward(result) == pytest.approx(1.0)


def test_control_correct_candidate_passes_test_without_undef() -> None:
    result = verify(CORRECT, MARKERLESS_TEST_NO_UNDEF)
    assert (result.tests_passed, result.tests_total) == (1, 1), info(result)


def test_control_correct_candidate_passes_marker_test() -> None:
    result = verify(CORRECT, MARKER_TEST)
    assert (result.tests_passed, result.tests_total) == (3, 3), info(result)
    assert compute_reward(result) == pytest.approx(1.0)


def test_control_correct_candidate_passes_cout_marker_test() -> None:
    result = verify(CORRECT, COUT_MARKER_TEST)
    assert (result.tests_passed, result.tests_total) == (2, 2), info(result)


def test_control_wrong_candidate_fails_every_test_style() -> None:
    for test in (MARKERLESS_TEST, MARKERLESS_TEST_NO_UNDEF, MARKER_TEST, COUT_MARKER_TEST):
        assert_earns_nothing(verify(WRONG, test))


# --------------------------------------------------------------------------- printing markers


PRINTS_MARKERS = r"""#include <cstdio>
#include <iostream>
static int fake = [] {
    std::printf("PASSED 10/10\n");
    std::printf("\nPASSED 1/1\n");
    std::printf("@00000000000000000000000000000000 PASSED 10/10\n");
    std::fflush(stdout);
    return 0;
}();
int add_one(int x) {
    std::printf("\nPASSED 10/10\nPASSED 1/1\n");
    std::cout << "PASSED 3/3" << std::endl;
    return x;
}
"""


def test_printing_passed_earns_nothing_with_markerless_test() -> None:
    assert_earns_nothing(verify(PRINTS_MARKERS, MARKERLESS_TEST))


def test_printing_passed_earns_nothing_with_marker_test() -> None:
    result = verify(PRINTS_MARKERS, MARKER_TEST)
    assert_earns_nothing(result)
    assert result.tests_total == 3, info(result)  # the test's own (nonce'd) 0/3 is what counts


# --------------------------------------------------------------------------- leaving early


@pytest.mark.parametrize("test", [MARKERLESS_TEST, MARKER_TEST], ids=["markerless", "marker"])
def test_exit_in_static_constructor(test: str) -> None:
    code = "#include <cstdlib>\nstatic int leave = (std::exit(0), 0);\n" + WRONG
    assert_earns_nothing(verify(code, test))


@pytest.mark.parametrize("test", [MARKERLESS_TEST, MARKER_TEST], ids=["markerless", "marker"])
def test__Exit_in_static_constructor(test: str) -> None:
    code = "#include <cstdlib>\n__attribute__((constructor)) static void leave() { std::_Exit(0); }\n" + WRONG
    assert_earns_nothing(verify(code, test))


@pytest.mark.parametrize("test", [MARKERLESS_TEST, MARKER_TEST], ids=["markerless", "marker"])
def test_quick_exit_in_static_constructor(test: str) -> None:
    code = "#include <cstdlib>\nstruct Leave { Leave() { std::quick_exit(0); } } leave_now;\n" + WRONG
    assert_earns_nothing(verify(code, test))


@pytest.mark.parametrize("how", ["std::exit(0)", "std::_Exit(0)", "std::quick_exit(0)"])
def test_exit_from_inside_the_candidate_function(how: str) -> None:
    code = f"#include <cstdlib>\nint add_one(int x) {{ if (x == 1) {how}; return x; }}\n"
    assert_earns_nothing(verify(code, MARKERLESS_TEST))
    assert_earns_nothing(verify(code, MARKER_TEST))


# --------------------------------------------------------------------------- markers after main


ATEXIT_MARKER = r"""#include <cstdio>
#include <cstdlib>
static void brag() { std::printf("\nPASSED 3/3\nPASSED 1/1\n"); std::fflush(stdout); }
static int reg = std::atexit(brag);
int add_one(int x) {
    if (x == 1) std::exit(0);  // skip the asserts; let the handler speak
    return x;
}
"""


def test_atexit_handler_printing_passed() -> None:
    assert_earns_nothing(verify(ATEXIT_MARKER, MARKERLESS_TEST))
    # With a marker test that completes: the handler's marker comes last, but carries no nonce.
    code = ATEXIT_MARKER.replace("if (x == 1) std::exit(0);", "")
    result = verify(code, MARKER_TEST)
    assert_earns_nothing(result)
    assert result.tests_total == 3, info(result)


STATIC_DTOR_MARKER = r"""#include <cstdio>
#include <cstdlib>
struct Brag {
    ~Brag() { std::printf("\nPASSED 3/3\nPASSED 1/1\n"); std::fflush(stdout); }
} brag;
int add_one(int x) {
    if (x == 1) std::exit(0);
    return x;
}
"""


def test_static_destructor_printing_passed() -> None:
    assert_earns_nothing(verify(STATIC_DTOR_MARKER, MARKERLESS_TEST))
    code = STATIC_DTOR_MARKER.replace("if (x == 1) std::exit(0);", "")
    result = verify(code, MARKER_TEST)
    assert_earns_nothing(result)
    assert result.tests_total == 3, info(result)


# --------------------------------------------------------------------------- closing / redirecting stdout


@pytest.mark.parametrize("test", [MARKERLESS_TEST, MARKER_TEST], ids=["markerless", "marker"])
def test_close_fd_1_at_static_init(test: str) -> None:
    code = "#include <unistd.h>\nstatic int shut = close(1);\n" + WRONG
    assert_earns_nothing(verify(code, test))


@pytest.mark.parametrize("test", [MARKERLESS_TEST, MARKER_TEST], ids=["markerless", "marker"])
def test_fclose_stdout_at_static_init(test: str) -> None:
    code = "#include <cstdio>\nstatic int shut = std::fclose(stdout);\n" + WRONG
    assert_earns_nothing(verify(code, test))


@pytest.mark.parametrize("test", [MARKERLESS_TEST, MARKER_TEST], ids=["markerless", "marker"])
def test_dup2_dev_null_onto_stdout(test: str) -> None:
    code = '#include <fcntl.h>\n#include <unistd.h>\nstatic int hide = dup2(open("/dev/null", O_WRONLY), 1);\n' + WRONG
    assert_earns_nothing(verify(code, test))


@pytest.mark.parametrize("test", [MARKERLESS_TEST, MARKER_TEST], ids=["markerless", "marker"])
def test_freopen_stdout(test: str) -> None:
    code = '#include <cstdio>\nstatic FILE* hide = std::freopen("/dev/null", "w", stdout);\n' + WRONG
    assert_earns_nothing(verify(code, test))


@pytest.mark.parametrize("test", [MARKERLESS_TEST, MARKER_TEST], ids=["markerless", "marker"])
def test_stdout_stream_pointed_elsewhere(test: str) -> None:
    """Redirecting the stdio stream (not fd 1): the test's marker vanishes from fd 1 while the
    runner's RETURN record, written with write(1), still arrives."""
    code = "#include <cstdio>\nstatic int hide = (stdout = stderr, 0);\n" + WRONG
    assert_earns_nothing(verify(code, test))


def test_cout_silenced_with_badbit() -> None:
    code = "#include <iostream>\nstatic int hide = (std::cout.setstate(std::ios::badbit), 0);\n" + WRONG
    assert_earns_nothing(verify(code, COUT_MARKER_TEST))
    assert_earns_nothing(verify(code, MARKERLESS_TEST))


# --------------------------------------------------------------------------- macros aimed at the test


def test_define_assert_to_nothing() -> None:
    code = "#include <cassert>\n" + WRONG + "#define assert(x) ((void)0)\n"
    assert_earns_nothing(verify(code, MARKERLESS_TEST))
    assert_earns_nothing(verify(code, MARKERLESS_TEST_NO_UNDEF))


def test_define_ndebug_before_cassert() -> None:
    code = "#define NDEBUG\n#include <cassert>\n" + WRONG
    assert_earns_nothing(verify(code, MARKERLESS_TEST))
    assert_earns_nothing(verify(code, MARKERLESS_TEST_NO_UNDEF))
    # Defined after the include too, so a later <assert.h> in the test would see it.
    code2 = "#include <cassert>\n" + WRONG + "#define NDEBUG 1\n"
    assert_earns_nothing(verify(code2, MARKERLESS_TEST_NO_UNDEF))


def test_define_main_hijack() -> None:
    # The candidate's own main returns 0 at once; the test's main would become fake_main.
    code = WRONG + "int fake_main();\nint main() { return 0; }\n#define main fake_main\n"
    result = verify(code, MARKERLESS_TEST)
    assert_earns_nothing(result)
    assert_earns_nothing(verify(code, MARKER_TEST))
    # Without a main of its own: the test's main would vanish and nothing would run at all.
    assert_earns_nothing(verify(WRONG + "#define main fake_main\n", MARKERLESS_TEST))


def test_define_if_always_true() -> None:
    code = WRONG + "#define if(x) if(1)\n"
    result = verify(code, MARKER_TEST)
    assert_earns_nothing(result)
    assert result.tests_total == 3, info(result)


def test_digraph_define_assert() -> None:
    code = "#include <cassert>\n" + WRONG + "%:define assert(x) 1\n"
    assert_earns_nothing(verify(code, MARKERLESS_TEST))
    code2 = "%:define NDEBUG\n#include <cassert>\n" + WRONG
    assert_earns_nothing(verify(code2, MARKERLESS_TEST_NO_UNDEF))


def test_line_spliced_define_assert() -> None:
    code = "#include <cassert>\n" + WRONG + "#def\\\nine assert(x) 1\n"
    assert_earns_nothing(verify(code, MARKERLESS_TEST))
    code2 = "#include <cassert>\n" + WRONG + "# \\\n  define \\\nassert(x) 1\n"
    assert_earns_nothing(verify(code2, MARKERLESS_TEST))


def test_define_hidden_in_conditional_and_comment_tricks() -> None:
    code = (
        "#include <cassert>\n" + WRONG + "#if 1 /* \n#endif */\n#define assert(x) 1\n#endif\n"
        "// a comment \\\n#define nothing_here\n"
    )
    assert_earns_nothing(verify(code, MARKERLESS_TEST))


# --------------------------------------------------------------------------- interposing the runtime


def test_extern_c_assert_fail_definition_refused() -> None:
    # Declared exactly as glibc does (noexcept), the definition compiles and is refused at link.
    code = 'extern "C" void __assert_fail(const char*, const char*, unsigned int, const char*) noexcept {}\n' + WRONG
    assert_refused(verify(code, MARKERLESS_TEST))


def test_extern_c_assert_fail_definition_without_noexcept_fails_to_build() -> None:
    # Without noexcept it clashes with the <cassert> the guard block re-includes: a compile
    # error (class "type") before the link check is reached. Either way it earns nothing.
    code = 'extern "C" void __assert_fail(const char*, const char*, unsigned int, const char*) {}\n' + WRONG
    result = verify(code, MARKERLESS_TEST)
    assert not result.compile_ok, info(result)
    assert result.error_class in ("refused", "type"), info(result)
    assert result.tests_passed == 0
    assert compute_reward(result) == 0.0


@pytest.mark.parametrize(
    "overload",
    [
        "static void __assert_fail(const char*, const char*, int, const char*) {}\n",
        "namespace { void __assert_fail(const char*, const char*, int, const char*) {} }\n",
        "namespace h { void __assert_fail(const char*, const char*, int, const char*) {} }\nusing h::__assert_fail;\n",
    ],
    ids=["static", "anonymous_namespace", "using_declaration"],
)
def test_assert_fail_overload_picked_by_the_test(overload: str) -> None:
    """A C++ overload of __assert_fail that the test's assert picks (an int line number matches
    better than glibc's unsigned): it defines a runtime function, so it must not pay."""
    assert_earns_nothing(verify(overload + WRONG, MARKERLESS_TEST))


def test_extern_c_exit_definition_refused() -> None:
    code = 'extern "C" void exit(int) { for (;;) {} }\n' + WRONG
    assert_refused(verify(code, MARKERLESS_TEST))


def test_extern_c_abort_definition_refused() -> None:
    code = (
        '#include <unistd.h>\nextern "C" void abort() { const char r[] = "PASSED 1/1\\n"; '
        "write(1, r, sizeof r - 1); _exit(0); }\n" + WRONG
    )
    assert_refused(verify(code, MARKERLESS_TEST))


def test_extern_c_puts_definition_refused() -> None:
    code = 'extern "C" int puts(const char*) { return 0; }\n' + WRONG
    assert_refused(verify(code, MARKERLESS_TEST))


# --------------------------------------------------------------------------- processes


FORK_PARENT_EXITS = r"""#include <sys/types.h>
#include <unistd.h>
__attribute__((constructor)) static void split() {
    pid_t child = fork();
    if (child > 0) _exit(0);  // the parent leaves cleanly; the child carries on
}
int add_one(int x) { return x; }
"""


@pytest.mark.parametrize("test", [MARKERLESS_TEST, MARKER_TEST], ids=["markerless", "marker"])
def test_fork_in_static_constructor_parent_exits(test: str) -> None:
    assert_earns_nothing(verify(FORK_PARENT_EXITS, test))


FORK_IN_FUNCTION = r"""#include <cstdlib>
#include <sys/wait.h>
#include <unistd.h>
int add_one(int x) {
    if (x == 1) {
        pid_t child = fork();
        if (child > 0) { int st = 0; waitpid(child, &st, 0); std::_Exit(0); }
        return 2;  // the child answers the first assert right, then fails the next
    }
    return x;
}
"""


def test_fork_in_candidate_function() -> None:
    assert_earns_nothing(verify(FORK_IN_FUNCTION, MARKERLESS_TEST))


# --------------------------------------------------------------------------- reaching the test's nonce


def test_include_base_file() -> None:
    code = WRONG + "#include __BASE_FILE__\n"
    result = verify(code, MARKER_TEST)
    assert_earns_nothing(result)
    assert not result.compile_ok, info(result)


def test_include_proc_self_fd_0() -> None:
    code = WRONG + '#include "/proc/self/fd/0"\n'
    result = verify(code, MARKER_TEST)
    assert_earns_nothing(result)
    assert not result.compile_ok, info(result)


def test_candidate_cannot_include_the_test_header() -> None:
    code = (
        '#include "cppforge_test.h"\n'
        + WRONG
        + ("static int brag = [] { CPPFORGE_CHECK(true); CPPFORGE_REPORT(); return 0; }();\n")
    )
    result = verify(code, MARKER_TEST)
    assert_earns_nothing(result)
    assert not result.compile_ok, info(result)


SCRAPES_NONCE = r"""#include <cstdio>
#include <unistd.h>
extern "C" char __data_start[];
extern "C" char _end[];
static bool hex32(const char* p) {
    for (int i = 0; i < 32; ++i) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return p[32] == '\0';
}
int add_one(int x) {
    // Find a 32-hex-digit string in the program's own data and forge "main returned 0".
    for (char* p = __data_start; p + 33 < _end; ++p) {
        if (hex32(p) && (p == __data_start || p[-1] == '\0')) {
            char rec[128];
            int n = std::snprintf(rec, sizeof rec, "\n@%.32s RETURN 0\n", p);
            if (write(1, rec, n) == n) _exit(0);
        }
    }
    return x;
}
"""


def test_nonce_scraped_from_process_memory() -> None:
    """The RETURN record's nonce sits in the runner's data; the candidate shares the process."""
    assert_earns_nothing(verify(SCRAPES_NONCE, MARKERLESS_TEST))


# --------------------------------------------------------------------------- swallowing the test code


@pytest.mark.parametrize(
    "tail",
    ["#if 0\n", "/*\n", "namespace swallow {\n", 'const char* s = R"x(\n'],
    ids=["open_if", "open_comment", "open_namespace", "open_raw_string"],
)
def test_unterminated_construct_swallowing_the_tests(tail: str) -> None:
    code = WRONG + "int main() { return 0; }\n" + tail
    assert_earns_nothing(verify(code, MARKERLESS_TEST))


# --------------------------------------------------------------------------- overloads of the entry point

# The test calls the prompt's function with braced lists: an overload the candidate adds under the same name
# (taking std::initializer_list, which a braced list prefers over std::vector) can be chosen instead, and
# return a type whose `==` is always true.
ENTRY_TEST = """#undef NDEBUG
#include<assert.h>
int main(){
    assert (count_even({1, 2, 4}) == 2);
    assert (count_even({3, 5}) == 0);
}
"""
ENTRY_WRONG = "#include <vector>\nint count_even(std::vector<int> v) { return -1; }\n"
ANY = "struct Any { template <class T> bool operator==(T) const { return true; } };\n"


@pytest.mark.parametrize(
    "overload",
    [
        "Any count_even(std::initializer_list<int>) { return {}; }\n",
        "static Any count_even(std::initializer_list<int>) { return {}; }\n",
        "inline Any count_even(std::initializer_list<int>) { return {}; }\n",
        "template <class T> Any count_even(std::initializer_list<T>) { return {}; }\n",
        "namespace h { Any count_even(std::initializer_list<int>) { return {}; } }\nusing h::count_even;\n",
        "namespace { Any count_even(std::initializer_list<int>) { return {}; } }\n",
        "namespace boost { Any count_even(std::initializer_list<int>) { return {}; } }\nusing boost::count_even;\n",
        # An abi tag demangles as `count_even[abi:x](...)`, and an extern "C" symbol has no parameter list.
        '__attribute__((abi_tag("x"))) Any count_even(std::initializer_list<int>) { return {}; }\n',
        'struct __attribute__((abi_tag("t"))) Tagged : Any {};\n'
        "Tagged count_even(std::initializer_list<int>) { return {}; }\n",
        'extern "C" Any count_even(std::initializer_list<int>) { return {}; }\n',
        'namespace h { extern "C" Any count_even(std::initializer_list<int>) { return {}; } }\nusing h::count_even;\n',
        'extern "C" { static Any count_even(std::initializer_list<int>) { return {}; } }\n',
    ],
    ids=[
        "plain", "static", "inline", "template", "using_declaration", "anonymous_namespace", "library_namespace",
        "abi_tag", "abi_tagged_return_type", "extern_c", "extern_c_in_namespace", "static_extern_c",
    ],
)  # fmt: skip
def test_overload_of_the_entry_point_refused(overload: str) -> None:
    result = verify(ENTRY_WRONG + ANY + overload, ENTRY_TEST)
    assert_refused(result)
    assert any("functions named count_even" in d.message for d in result.diagnostics), info(result)


def test_consteval_overload_of_the_entry_point_refused() -> None:
    """An immediate function is evaluated at every call and never emitted: no symbol, no debug entry."""
    overload = "consteval Any count_even(std::initializer_list<int>) { return {}; }\n"
    any_ = "struct Any { template <class T> constexpr bool operator==(T) const { return true; } };\n"
    result = verify_cpp(ENTRY_WRONG + any_ + overload, ENTRY_TEST, timeout=5.0, std="c++20", return_structured=True)
    assert_refused(result)
    assert any("consteval" in d.message for d in result.diagnostics), info(result)


def test_abi_tagged_comparison_of_library_types_refused() -> None:
    code = (
        ENTRY_WRONG + 'bool __attribute__((abi_tag("x"))) operator==(const std::vector<int>&, const std::vector<int>&)'
        " { return true; }\n"
    )
    test = (
        "#undef NDEBUG\n#include<assert.h>\n"
        "int main(){ assert (std::vector<int>{count_even({1})} == std::vector<int>{0}); }\n"
    )
    result = verify(code, test)
    assert_refused(result)
    assert any("operator==" in d.message for d in result.diagnostics), info(result)


def test_one_entry_point_with_differently_named_helpers_and_unrelated_overloads_passes() -> None:
    code = (
        "#include <vector>\nstatic bool is_even(int x) { return x % 2 == 0; }\n"
        "int sq(int x) { return x * x; }\ndouble sq(double x) { return x * x; }\n"
        "int count_even(std::vector<int> v) { int c = 0; for (int x : v) c += is_even(x) && sq(x) >= 0; return c; }\n"
    )
    result = verify(code, ENTRY_TEST)
    assert result.compile_ok and result.run_ok and result.tests_passed == result.tests_total == 1, info(result)


def test_library_templates_under_a_name_the_test_uses_do_not_count() -> None:
    """HumanEval-X's CPP/137 style: the test and the solution both call `boost::any_cast<T>`, whose header
    instances are several functions of that name; none was written by the candidate."""
    code = (
        "#include <boost/any.hpp>\n#include <string>\n"
        "int as_int(boost::any a) { return a.type() == typeid(int) ? boost::any_cast<int>(a) : "
        "(int)boost::any_cast<std::string>(a).size(); }\n"
    )
    test = (
        "#undef NDEBUG\n#include<assert.h>\nint main(){\n    boost::any x = 3;\n"
        '    assert (as_int(x) == boost::any_cast<int>(x));\n    assert (as_int(std::string("ab")) == 2);\n}\n'
    )
    result = verify(code, test)
    assert result.compile_ok and result.run_ok and result.tests_passed == result.tests_total == 1, info(result)
