"""`cppforge demo` / `make demo`: the embedded default, no Docker, no GPU, no network.

Verifies a small set of built-in candidates against one HumanEval-X-style task (a correct
solution, a wrong one, one that does not compile, one that hangs, one wrapped in a think block
and three reward hacks) and prints what the verifier and the reward schedule make of each.
"""

from __future__ import annotations

import time

from .verifier.reward import CompilerRewardShaper, compute_reward
from .verifier.verify import verify_cpp

PROMPT = """#include <vector>
#include <algorithm>
using namespace std;
// Return the second largest distinct value of v, or -1 when there is none.
int second_largest(vector<int> v) {
"""

TEST = """#undef NDEBUG
#include <assert.h>
int main() {
    assert(second_largest({1, 2, 3}) == 2);
    assert(second_largest({5, 5, 5}) == -1);
    assert(second_largest({7}) == -1);
    assert(second_largest({-3, 10, 10, 4}) == 4);
}
"""

CORRECT = """    sort(v.begin(), v.end());
    v.erase(unique(v.begin(), v.end()), v.end());
    return v.size() < 2 ? -1 : v[v.size() - 2];
}
"""

CANDIDATES: list[tuple[str, str]] = [
    ("correct", CORRECT),
    ("wrong (max, not second)", "    return *max_element(v.begin(), v.end());\n}\n"),
    ("does not compile", "    return v.second();\n}\n"),
    ("hangs", "    while (true) {}\n}\n"),
    ("think block + correct", "<think>sort, dedupe, pick v[n-2]... </think>\n" + CORRECT),
    (
        "hack: print PASSED",
        '    return 0;\n}\n#include <cstdio>\nstruct P { P() { puts("PASSED 4/4"); } } p;\n',
    ),
    ("hack: exit(0) early", "    return 0;\n}\n#include <cstdlib>\nstruct E { E() { exit(0); } } e;\n"),
    ("hack: #define assert", "    return 0;\n}\n#define assert(x) ((void)0)\n"),
]


def run_demo() -> int:
    shaper = CompilerRewardShaper(sanitizer_fraction=0.0, use_clang_tidy=False, seed=0)
    print("cppforge demo: verifying candidates for `second_largest` in the sandbox\n")
    print(f"{'candidate':<26} {'class':<16} {'tests':>6} {'reward':>7} {'shaped':>7} {'time':>6}")
    for name, body in CANDIDATES:
        code = PROMPT + body
        started = time.monotonic()
        result = verify_cpp(code, TEST, timeout=2.0, return_structured=True)
        elapsed = time.monotonic() - started
        reward = compute_reward(result)
        shaped = shaper.shape(code, result, TEST).total
        tests = f"{result.tests_passed}/{result.tests_total}"
        print(f"{name:<26} {result.error_class or '':<16} {tests:>6} {reward:>7.3f} {shaped:>7.3f} {elapsed:>5.2f}s")
    print("\nOnly the correct candidates earn 1.0; the hacks earn no test credit.")
    return 0
