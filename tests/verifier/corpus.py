"""A self-written corpus of C++ programs with the verdict `verify_cpp` must give each.

Every error class reachable from code (all but `sandbox_error`) and every branch of
`compute_reward` appears at least once. `test_corpus.py` runs the lot.
"""

from __future__ import annotations

from dataclasses import dataclass

# The error classes a program can reach; `sandbox_error` is the verifier's own failure.
REACHABLE_ERROR_CLASSES = frozenset(
    {
        "none",
        "syntax",
        "type",
        "undeclared",
        "link",
        "timeout_compile",
        "runtime_crash",
        "runtime_timeout",
        "memory",
        "output_limit",
    }
)

SIGABRT, SIGFPE, SIGSEGV = 6, 8, 11


@dataclass(frozen=True)
class Case:
    name: str
    code: str
    test_code: str | None
    expected_error_class: str
    expected_reward: float
    expected_compile_ok: bool
    expected_run_ok: bool
    expected_tests: tuple[int, int] | None = None  # (passed, total); None means (0, 0)
    timeout: float = 5.0
    std: str = "c++17"
    compile_timeout_s: float | None = None  # overrides VerifierConfig.compile_timeout_s
    min_warnings: int = 0
    expected_signal: int | None = None  # checked only when set
    stdout_contains: str | None = None  # checked only when set
    error_file: str = "solution.cpp"  # where a located compile error must point
    located_error: bool = True  # a compile failure carries a file:line diagnostic
    diagnostic_contains: str | None = None  # some error diagnostic's message names this


# --------------------------------------------------------------------------- clean runs, no tests

HELLO = r"""#include <cstdio>

int main() {
    std::printf("Hello from the corpus\n");
    return 0;
}
"""

WARNINGS = r"""#include <cstdio>
#include <vector>

int main() {
    int unused_value = 42;
    std::vector<int> v = {3, 1, 4, 1, 5};
    int total = 0;
    for (int i = 0; i < v.size(); ++i) total += v[i];
    std::printf("%d\n", total);
    return 0;
}
"""

CXX20 = r"""#include <algorithm>
#include <compare>
#include <concepts>
#include <cstdio>
#include <numeric>
#include <ranges>
#include <span>
#include <vector>

template <std::integral T>
constexpr T square(T x) { return x * x; }

int sum_span(std::span<const int> s) { return std::accumulate(s.begin(), s.end(), 0); }

int main() {
    std::vector<int> v{1, 2, 3, 4, 5, 6};
    auto evens = v | std::views::filter([](int x) { return x % 2 == 0; })
                   | std::views::transform([](int x) { return square(x); });
    int acc = 0;
    for (int x : evens) acc += x;
    auto cmp = (acc <=> 56);
    std::printf("%d %d %d\n", acc, sum_span(v), static_cast<int>(cmp == 0));
    return (acc == 56 && sum_span(v) == 21) ? 0 : 1;
}
"""

BITS_STDCXX = r"""#include <bits/stdc++.h>
using namespace std;

int main() {
    map<string, int> counts;
    for (string w : {"apple", "pear", "apple", "fig"}) counts[w]++;
    priority_queue<int> pq;
    for (auto& [k, c] : counts) pq.push(c * 10 + static_cast<int>(k.size()));
    cout << pq.top() << '\n';
    return 0;
}
"""

READS_STDIN = r"""#include <iostream>
#include <string>

int main() {
    std::string line;
    int n = 0;
    while (std::getline(std::cin, line)) ++n;
    if (std::cin.eof()) {
        std::cout << "eof after " << n << " lines\n";
        return 0;
    }
    return 2;
}
"""

STDERR_CLEAN = r"""#include <iostream>

int main() {
    std::cerr << "diagnostic chatter on stderr\n";
    std::cout << "done\n";
    return 0;
}
"""

NO_MAIN = r"""#include <string>
#include <vector>

int clamp_add(int a, int b, int hi) {
    int s = a + b;
    return s > hi ? hi : s;
}

std::vector<std::string> split_on(const std::string& s, char sep) {
    std::vector<std::string> out(1);
    for (char c : s) {
        if (c == sep) out.emplace_back();
        else out.back() += c;
    }
    return out;
}
"""

# --------------------------------------------------------------------------- runtime failures

NONZERO_RETURN = r"""#include <cstdio>

int main() {
    std::puts("about to report failure");
    return 3;
}
"""

UNCAUGHT_EXCEPTION = r"""#include <stdexcept>
#include <vector>

int pick(const std::vector<int>& v, std::size_t i) { return v.at(i); }

int main() {
    std::vector<int> v{1, 2, 3};
    if (pick(v, 1) == 2) throw std::runtime_error("corpus: nobody catches this");
    return 0;
}
"""

DIV_BY_ZERO = r"""#include <cstdio>

int main() {
    volatile int zero = 0;
    int x = 17 / zero;
    std::printf("%d\n", x);
    return 0;
}
"""

NULL_DEREF = r"""#include <cstdio>

struct Node { int value; Node* next; };

int main() {
    Node* volatile head = nullptr;
    head->value = 7;
    std::printf("%d\n", head->value);
    return 0;
}
"""

ABORTS = r"""#include <cstdio>
#include <cstdlib>

int main() {
    std::fputs("giving up\n", stderr);
    std::abort();
}
"""

INFINITE_LOOP = r"""int main() {
    volatile unsigned long spins = 0;
    for (;;) ++spins;
}
"""

MEMORY_HOG = r"""#include <cstdio>
#include <vector>

int main() {
    std::vector<long long> grow;
    for (long long i = 0;; ++i) grow.push_back(i);
    std::printf("%zu\n", grow.size());
    return 0;
}
"""

OUTPUT_FLOOD = r"""#include <cstdio>

int main() {
    for (unsigned long i = 0;; ++i) std::printf("line %lu of a never-ending story\n", i);
}
"""

# --------------------------------------------------------------------------- compile failures

MISSING_SEMICOLON = r"""#include <cstdio>

int main() {
    int x = 5
    std::printf("%d\n", x);
    return 0;
}
"""

MISSING_HEADER = r"""#include <cppforge_no_such_header_anywhere.hpp>

int main() { return 0; }
"""

TYPE_MISMATCH = r"""#include <string>

int main() {
    std::string name = "corpus";
    int n = name;
    return n;
}
"""

WRONG_ARG_COUNT = r"""int add(int a, int b) { return a + b; }

int main() {
    return add(1, 2, 3);
}
"""

UNDECLARED = r"""#include <cstdio>

int main() {
    int total = 0;
    for (int i = 0; i < 4; ++i) total += i;
    std::printf("%d\n", totl);
    return 0;
}
"""

LINK_ERROR = r"""int helper_defined_elsewhere(int x);

int main() {
    return helper_defined_elsewhere(41) == 42 ? 0 : 1;
}
"""

# Each v<I> costs g++ ~16M constexpr operations (~2 s here); six of them are far past a 3 s
# deadline, each stays under -fconstexpr-ops-limit, and the memory stays well under the cap.
SLOW_CONSTEXPR = r"""constexpr unsigned long long churn(unsigned long long seed) {
    unsigned long long x = seed;
    for (int i = 0; i < 100000; ++i)
        for (int j = 0; j < 10; ++j) x = x * 6364136223846793005ULL + 1442695040888963407ULL + j;
    return x;
}
template <int I> constexpr unsigned long long v = churn(I);
static_assert((v<1> ^ v<2> ^ v<3> ^ v<4> ^ v<5> ^ v<6>) != 12345, "unlikely");
int main() { return 0; }
"""

# --------------------------------------------------------------------------- with tests

ADD_ONE_OK = "int add_one(int x) { return x + 1; }\n"
ADD_ONE_WRONG = "int add_one(int x) { return x; }\n"
ADD_ONE_HANGS = "int add_one(int x) {\n    volatile int y = x;\n    for (;;) ++y;\n}\n"

ASSERT_TEST = """#undef NDEBUG
#include<assert.h>
int main(){
    assert (add_one(1) == 2);
    assert (add_one(41) == 42);
    assert (add_one(-1) == 0);
}
"""

ASSERT_TEST_UNDECLARED = """#undef NDEBUG
#include<assert.h>
int main(){
    assert (add_two(1) == 3);
}
"""

FIVE_CHECKS = r"""#include <cstdio>
int main() {
    int passed = 0, total = 0;
    const int inputs[5] = {0, 1, 2, 10, -5};
    for (int x : inputs) {
        ++total;
        if (triple(x) == 3 * x) ++passed;
    }
    printf("PASSED %d/%d\n", passed, total);
    return 0;
}
"""

TRIPLE_OK = "int triple(int x) { return 3 * x; }\n"
TRIPLE_PARTIAL = "int triple(int x) { return x >= 0 && x < 5 ? 3 * x : 0; }\n"  # right for 0, 1, 2 only
TRIPLE_ZERO = "int triple(int x) { return 3 * x + 1; }\n"

HEADER_TEST = """#include "cppforge_test.h"
int main() {
    CPPFORGE_CHECK(gcd_of(12, 18) == 6);
    CPPFORGE_CHECK(gcd_of(7, 13) == 1);
    CPPFORGE_CHECK(gcd_of(0, 9) == 9);
    CPPFORGE_CHECK(gcd_of(100, 75) == 25);
    CPPFORGE_REPORT();
    return 0;
}
"""

GCD_OK = r"""int gcd_of(int a, int b) {
    while (b != 0) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}
"""

GCD_HALF = "int gcd_of(int a, int b) { return b == 0 ? a : (a % b == 0 ? b : 1); }\n"  # (7,13), (0,9)

BIG_MARKER_TEST = r"""#include <cstdio>
int main() {
    int passed = 0;
    for (int i = 0; i < 2000; ++i) passed += (id(i) == i);
    printf("PASSED %d/%d\n", passed, 2000);
    return 0;
}
"""

ID_OK = "int id(int x) { return x; }\n"
ID_HALF = "int id(int x) { return (x % 2 == 0) ? x : -x; }\n"

CXX20_TEST = """#undef NDEBUG
#include<assert.h>
#include<vector>
int main(){
    std::vector<int> v{4, 9, 16};
    assert (sum_of_squares(std::span<const int>(v)) == 16 + 81 + 256);
    assert (sum_of_squares(std::span<const int>()) == 0);
}
"""

CXX20_SOLUTION = r"""#include <numeric>
#include <span>

template <typename T>
concept Number = requires(T a) { a * a; a + a; };

template <Number T>
constexpr T sq(T x) { return x * x; }

long sum_of_squares(std::span<const int> xs) {
    long s = 0;
    for (int x : xs) s += sq(x);
    return s;
}
"""


def _ratio(passed: int, total: int) -> float:
    return 0.3 + 0.7 * passed / total


CORPUS: list[Case] = [
    # ---- clean runs without tests: 0.5
    Case("hello_world", HELLO, None, "none", 0.5, True, True, stdout_contains="Hello from the corpus"),
    Case("warnings_still_run", WARNINGS, None, "none", 0.5, True, True, min_warnings=2, stdout_contains="14"),
    Case("cxx20_concepts_ranges_span", CXX20, None, "none", 0.5, True, True, std="c++20", stdout_contains="56 21 1"),
    Case("bits_stdcxx_header", BITS_STDCXX, None, "none", 0.5, True, True, stdout_contains="25"),
    Case("stdin_reads_eof", READS_STDIN, None, "none", 0.5, True, True, stdout_contains="eof after 0 lines"),
    Case("stderr_then_clean_exit", STDERR_CLEAN, None, "none", 0.5, True, True, stdout_contains="done"),
    # ---- compiles, nothing to run: 0.3
    Case("no_main_library_only", NO_MAIN, None, "none", 0.3, True, False),
    # Whether there is a program to run is GCC's call (the object defines `main`), not a text match.
    Case(
        "main_only_in_a_comment",
        "// usage: int main() { return f(); }\nint f() { return 1; }\n",
        None,
        "none",
        0.3,
        True,
        False,
    ),
    Case(
        "signed_main_runs",
        "#define int long long\nsigned main() { int x = 1; return (int)(x - 1); }\n",
        None,
        "none",
        0.5,
        True,
        True,
    ),
    # ---- runs but fails, no tests: 0.3
    Case("nonzero_return_from_main", NONZERO_RETURN, None, "runtime_crash", 0.3, True, False),
    Case("uncaught_exception", UNCAUGHT_EXCEPTION, None, "runtime_crash", 0.3, True, False, expected_signal=SIGABRT),
    Case("division_by_zero_sigfpe", DIV_BY_ZERO, None, "runtime_crash", 0.3, True, False, expected_signal=SIGFPE),
    Case("null_deref_sigsegv", NULL_DEREF, None, "runtime_crash", 0.3, True, False, expected_signal=SIGSEGV),
    Case("abort_sigabrt", ABORTS, None, "runtime_crash", 0.3, True, False, expected_signal=SIGABRT),
    Case("infinite_loop", INFINITE_LOOP, None, "runtime_timeout", 0.3, True, False, timeout=1.0),
    Case("vector_grows_past_memory_cap", MEMORY_HOG, None, "memory", 0.3, True, False),
    Case("output_flood", OUTPUT_FLOOD, None, "output_limit", 0.3, True, False),
    # ---- compile (or link) failures: 0.0
    Case("empty_code", "   \n\t\n", None, "syntax", 0.0, False, False, located_error=False),
    Case(
        "only_think_block",
        "<think>int main() { return 0; }</think>\n",
        None,
        "syntax",
        0.0,
        False,
        False,
        located_error=False,
    ),
    Case("syntax_missing_semicolon", MISSING_SEMICOLON, None, "syntax", 0.0, False, False),
    Case(
        "syntax_missing_header",
        MISSING_HEADER,
        None,
        "syntax",
        0.0,
        False,
        False,
        diagnostic_contains="cppforge_no_such_header_anywhere.hpp",
    ),
    Case("type_string_to_int", TYPE_MISMATCH, None, "type", 0.0, False, False),
    Case("type_wrong_argument_count", WRONG_ARG_COUNT, None, "type", 0.0, False, False),
    Case("undeclared_identifier", UNDECLARED, None, "undeclared", 0.0, False, False, diagnostic_contains="totl"),
    Case(
        "undeclared_in_test_code",
        ADD_ONE_OK,
        ASSERT_TEST_UNDECLARED,
        "undeclared",
        0.0,
        False,
        False,
        error_file="test.cpp",
        diagnostic_contains="add_two",
    ),
    Case(
        "link_declared_not_defined",
        LINK_ERROR,
        None,
        "link",
        0.0,
        False,
        False,
        located_error=False,
        diagnostic_contains="helper_defined_elsewhere",
    ),
    Case(
        "slow_constexpr_compile",
        SLOW_CONSTEXPR,
        None,
        "timeout_compile",
        0.0,
        False,
        False,
        compile_timeout_s=3.0,
        located_error=False,
    ),
    # ---- with tests: 0.3 + 0.7 * passed / total
    Case("assert_tests_pass", ADD_ONE_OK, ASSERT_TEST, "none", 1.0, True, True, (1, 1)),
    Case(
        "assert_tests_fail",
        ADD_ONE_WRONG,
        ASSERT_TEST,
        "runtime_crash",
        0.3,
        True,
        False,
        (0, 1),
        expected_signal=SIGABRT,
    ),
    Case("assert_tests_hang", ADD_ONE_HANGS, ASSERT_TEST, "runtime_timeout", 0.3, True, False, (0, 1), timeout=1.0),
    Case("marker_full_pass", TRIPLE_OK, FIVE_CHECKS, "none", 1.0, True, True, (5, 5)),
    Case("marker_partial_3_of_5", TRIPLE_PARTIAL, FIVE_CHECKS, "none", _ratio(3, 5), True, True, (3, 5)),
    Case("marker_zero_pass", TRIPLE_ZERO, FIVE_CHECKS, "none", 0.3, True, True, (0, 5)),
    Case("test_header_full_pass", GCD_OK, HEADER_TEST, "none", 1.0, True, True, (4, 4)),
    Case("test_header_partial", GCD_HALF, HEADER_TEST, "none", _ratio(2, 4), True, True, (2, 4)),
    Case("tests_total_capped", ID_OK, BIG_MARKER_TEST, "none", 1.0, True, True, (1000, 1000)),
    Case("tests_total_capped_ratio_kept", ID_HALF, BIG_MARKER_TEST, "none", _ratio(1, 2), True, True, (500, 1000)),
    Case("cxx20_with_assert_tests", CXX20_SOLUTION, CXX20_TEST, "none", 1.0, True, True, (1, 1), std="c++20"),
]
