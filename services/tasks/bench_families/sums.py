"""Bench families: subarray sums, sliding windows, stairs, gcd/lcm, primes."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

from .common import Spec, family_rng, fill, make_spec


def fam_subarray_sum() -> list[Spec]:
    out = []
    for k in (0, 1, 3, 5, -2):
        rng = family_rng(f"subsum{k}")
        vecs = [
            [k, 1, -1, k, 2, -2],
            [rng.randint(-3, 4) for _ in range(8)],
            [],
            [k],
            [2, k - 2, 1, -1, k, 0],
        ]

        def ref(v: list[int], k: int = k) -> int:
            return sum(1 for i in range(len(v)) for j in range(i, len(v)) if sum(v[i : j + 1]) == k)

        out.append(
            make_spec(
                f"subarray_sum/k{k}".replace("-", "m"),
                ["vector"],
                "Return the number of non-empty contiguous subarrays of v whose elements add up to @k.",
                "int count_subarrays_sum_@tag(vector<int> v)",
                f"count_subarrays_sum_{k}".replace("-", "m"),
                ["vi"],
                "int",
                [((v,), ref(v)) for v in vecs],
                """
                int n = v.size(), c = 0;
                for (int i = 0; i < n; i++) {
                    int s = 0;
                    for (int j = i; j < n; j++) {
                        s += v[j];
                        if (s == @k) c++;
                    }
                }
                return c;
                """,
                """
                int n = v.size(), c = 0;
                for (int i = 0; i < n; i++) {
                    int s = v[i];
                    for (int j = i + 1; j < n; j++) {
                        s += v[j];
                        if (s == @k) c++;
                    }
                }
                return c;
                """,
                k=k,
                tag=str(k).replace("-", "m"),
            )
        )
    return out


def fam_sliding_window() -> list[Spec]:
    out = []
    for kind, k in (("max", 2), ("max", 3), ("max", 4), ("min", 2), ("min", 3)):
        rng = family_rng(f"win{kind}{k}")
        vecs = [
            [1, 3, -1, -3, 5, 3, 6, 7],
            [9, 1, 2, 3, 0, -5],
            [rng.randint(-20, 20) for _ in range(7)],
            [4] * (k - 1),
            list(range(k)),
        ]
        pick = max if kind == "max" else min

        def ref(v: list[int], k: int = k, pick: Callable[..., int] = pick) -> list[int]:
            return [pick(v[i : i + k]) for i in range(len(v) - k + 1)]

        cmp = ">" if kind == "max" else "<"
        if kind == "max" and k == 3:
            req = ["vector", "deque"]
            correct = """
                vector<int> out;
                deque<int> dq;
                for (int i = 0; i < (int)v.size(); i++) {
                    while (!dq.empty() && v[dq.back()] <= v[i]) dq.pop_back();
                    dq.push_back(i);
                    if (dq.front() <= i - @k) dq.pop_front();
                    if (i >= @k - 1) out.push_back(v[dq.front()]);
                }
                return out;
                """
            wrong = """
                vector<int> out;
                deque<int> dq;
                for (int i = 0; i < (int)v.size(); i++) {
                    while (!dq.empty() && v[dq.back()] <= v[i]) dq.pop_back();
                    dq.push_back(i);
                    if (dq.front() < i - @k) dq.pop_front();
                    if (i >= @k - 1) out.push_back(v[dq.front()]);
                }
                return out;
                """
        else:
            req = ["vector"]
            correct = """
                vector<int> out;
                for (int i = 0; i + @k <= (int)v.size(); i++) {
                    int best = v[i];
                    for (int j = i + 1; j < i + @k; j++)
                        if (v[j] @cmp best) best = v[j];
                    out.push_back(best);
                }
                return out;
                """
            wrong = """
                vector<int> out;
                for (int i = 0; i + @k < (int)v.size(); i++) {
                    int best = v[i];
                    for (int j = i + 1; j < i + @k; j++)
                        if (v[j] @cmp best) best = v[j];
                    out.push_back(best);
                }
                return out;
                """
        word = "largest" if kind == "max" else "smallest"
        out.append(
            make_spec(
                f"sliding_window/{kind}{k}",
                req,
                "For every window of @k consecutive elements of v, from left to right, take its @word element; "
                "return these values (an empty vector when v has fewer than @k elements).",
                "vector<int> window_@kind_@k(vector<int> v)",
                f"window_{kind}_{k}",
                ["vi"],
                "vi",
                [((v,), ref(v)) for v in vecs],
                correct,
                wrong,
                k=k,
                kind=kind,
                word=word,
                cmp=cmp,
            )
        )
    return out


def fam_climb_stairs() -> list[Spec]:
    out = []
    for k in (2, 3, 4, 5, 6):

        def ref(n: int, k: int = k) -> int:
            ways = [1] + [0] * n
            for i in range(1, n + 1):
                ways[i] = sum(ways[i - j] for j in range(1, k + 1) if i - j >= 0)
            return ways[n]

        out.append(
            make_spec(
                f"climb_stairs/k{k}",
                ["vector"],
                "You climb a staircase of n steps and may go up 1, 2, ... or @k steps at a time. Return the "
                "number of distinct ways to reach the top (1 way for n = 0).",
                "long long climb_ways_@k(int n)",
                f"climb_ways_{k}",
                ["int"],
                "ll",
                [((n,), ref(n)) for n in (4, 0, 1, 10, 40)],
                """
                vector<long long> ways(n + 1, 0);
                ways[0] = 1;
                for (int i = 1; i <= n; i++)
                    for (int j = 1; j <= @k && j <= i; j++) ways[i] += ways[i - j];
                return ways[n];
                """,
                """
                vector<long long> ways(n + 1, 0);
                ways[0] = 1;
                for (int i = 1; i <= n; i++)
                    for (int j = 1; j < @k && j <= i; j++) ways[i] += ways[i - j];
                return ways[n];
                """,
                k=k,
            )
        )
    return out


def fam_gcd_lcm() -> list[Spec]:
    from math import gcd

    def lcm_all(v: list[int]) -> int:
        r = 1
        for x in v:
            r = r * x // gcd(r, x)
        return r

    def gcd_all(v: list[int]) -> int:
        r = 0
        for x in v:
            r = gcd(r, x)
        return r

    vecs = [[12, 18, 24], [7], [4, 6, 10, 14], [9, 27, 81, 3], [1, 5, 8, 9]]
    return [
        make_spec(
            "gcd_lcm/gcd",
            ["vector", "numeric"],
            "Return the greatest common divisor of all the positive integers in the non-empty vector v.",
            "int gcd_of(vector<int> v)",
            "gcd_of",
            ["vi"],
            "int",
            [((v,), gcd_all(v)) for v in vecs],
            """
            int g = 0;
            for (int x : v) g = gcd(g, x);
            return g;
            """,
            """
            int g = v[0];
            for (int x : v)
                if (x < g) g = x;
            return g;
            """,
        ),
        make_spec(
            "gcd_lcm/lcm",
            ["vector"],
            "Return the least common multiple of all the positive integers in the non-empty vector v.",
            "long long lcm_of(vector<int> v)",
            "lcm_of",
            ["vi"],
            "ll",
            [((v,), lcm_all(v)) for v in vecs],
            """
            long long l = 1;
            for (int x : v) {
                long long a = l, b = x;
                while (b != 0) {
                    long long t = a % b;
                    a = b;
                    b = t;
                }
                l = l / a * x;
            }
            return l;
            """,
            """
            long long l = 1;
            for (int x : v) l *= x;
            return l;
            """,
        ),
        make_spec(
            "gcd_lcm/count_equal_gcd",
            ["vector", "numeric"],
            "Return how many elements of the non-empty vector v of positive integers are equal to the greatest "
            "common divisor of the whole vector.",
            "int count_equal_to_gcd(vector<int> v)",
            "count_equal_to_gcd",
            ["vi"],
            "int",
            [((v,), v.count(gcd_all(v))) for v in [[4, 8, 4, 12], [6, 10, 15], [5], [3, 9, 6, 3, 3]]],
            """
            int g = 0;
            for (int x : v) g = gcd(g, x);
            int c = 0;
            for (int x : v)
                if (x == g) c++;
            return c;
            """,
            """
            int m = v[0];
            for (int x : v)
                if (x < m) m = x;
            int c = 0;
            for (int x : v)
                if (x == m) c++;
            return c;
            """,
        ),
        make_spec(
            "gcd_lcm/lcm_upto",
            ["numeric"],
            "Return the least common multiple of the integers 1, 2, ..., n (1 <= n <= 30).",
            "long long lcm_upto(int n)",
            "lcm_upto",
            ["int"],
            "ll",
            [((n,), lcm_all(list(range(1, n + 1)))) for n in (6, 1, 10, 20, 30)],
            """
            long long l = 1;
            for (long long i = 1; i <= n; i++) l = l / gcd(l, i) * i;
            return l;
            """,
            """
            long long l = 1;
            for (long long i = 2; i <= n; i++)
                if (l % i != 0) l *= i;
            return l;
            """,
        ),
        make_spec(
            "gcd_lcm/coprime_pairs",
            ["vector"],
            "Return the number of pairs of positions i < j in v whose elements are coprime (their greatest "
            "common divisor is 1).",
            "int coprime_pairs(vector<int> v)",
            "coprime_pairs",
            ["vi"],
            "int",
            [
                ((v,), sum(1 for i in range(len(v)) for j in range(i + 1, len(v)) if gcd(v[i], v[j]) == 1))
                for v in [[1, 2, 3, 4], [1], [6, 10, 15], [1, 1, 7], [2, 4, 8]]
            ],
            """
            int c = 0;
            for (int i = 0; i < (int)v.size(); i++)
                for (int j = i + 1; j < (int)v.size(); j++) {
                    int a = v[i], b = v[j];
                    while (b != 0) {
                        int t = a % b;
                        a = b;
                        b = t;
                    }
                    if (a == 1) c++;
                }
            return c;
            """,
            """
            int c = 0;
            for (int i = 0; i < (int)v.size(); i++)
                for (int j = i; j < (int)v.size(); j++) {
                    int a = v[i], b = v[j];
                    while (b != 0) {
                        int t = a % b;
                        a = b;
                        b = t;
                    }
                    if (a == 1) c++;
                }
            return c;
            """,
        ),
    ]


def _is_prime(x: int) -> bool:
    return x >= 2 and all(x % d for d in range(2, int(x**0.5) + 1))


def fam_primes() -> list[Spec]:
    lam = """
        auto is_prime = [](int x) {
            if (x < 2) return false;
            for (int d = 2; (long long)d * d @op x; d++)
                if (x % d == 0) return false;
            return true;
        };
        """

    def nth_prime(n: int) -> int:
        c, x = 0, 1
        while c < n:
            x += 1
            if _is_prime(x):
                c += 1
        return x

    def largest_pf(n: int) -> int:
        best, d = 1, 2
        while d * d <= n:
            while n % d == 0:
                best, n = d, n // d
            d += 1
        return n if n > 1 else best

    specs: list[tuple[Any, ...]] = [
        (
            "count_below",
            "Return the number of prime numbers strictly less than n.",
            "int count_primes_below(int n)",
            "int",
            [(10, 4), (2, 0), (30, None), (100, None), (50, None)],
            lambda n: sum(1 for x in range(n) if _is_prime(x)),
            "int c = 0;\nfor (int x = 2; x < n; x++)\n    if (is_prime(x)) c++;\nreturn c;",
        ),
        (
            "count_upto",
            "Return the number of prime numbers p with p <= n.",
            "int count_primes_upto(int n)",
            "int",
            [(11, None), (1, None), (49, None), (97, None), (121, None)],
            lambda n: sum(1 for x in range(n + 1) if _is_prime(x)),
            "int c = 0;\nfor (int x = 2; x <= n; x++)\n    if (is_prime(x)) c++;\nreturn c;",
        ),
        (
            "sum_below",
            "Return the sum of all prime numbers strictly less than n.",
            "long long sum_primes_below(int n)",
            "ll",
            [(10, None), (3, None), (30, None), (1000, None), (26, None)],
            lambda n: sum(x for x in range(n) if _is_prime(x)),
            "long long s = 0;\nfor (int x = 2; x < n; x++)\n    if (is_prime(x)) s += x;\nreturn s;",
        ),
        (
            "nth",
            "Return the n-th prime number, counting from 1 (the 1st prime is 2).",
            "int nth_prime(int n)",
            "int",
            [(1, None), (3, None), (5, None), (10, None), (100, None)],
            nth_prime,
            "int c = 0, x = 1;\nwhile (c < n) {\n    x++;\n    if (is_prime(x)) c++;\n}\nreturn x;",
        ),
    ]
    out = []
    for kind, doc, sig, ret, ns, ref, loop in specs:
        name = sig.split("(")[0].split()[-1]
        out.append(
            make_spec(
                f"primes/{kind}",
                [],
                doc,
                sig,
                name,
                ["int"],
                ret,
                [((n,), ref(n)) for n, _ in ns],
                textwrap.dedent(fill(lam, op="<=")) + loop,
                textwrap.dedent(fill(lam, op="<")) + loop,
            )
        )
    out.append(
        make_spec(
            "primes/largest_factor",
            [],
            "Return the largest prime factor of the integer n >= 2.",
            "int largest_prime_factor(int n)",
            "largest_prime_factor",
            ["int"],
            "int",
            [((n,), largest_pf(n)) for n in (12, 13, 100, 13195, 2 * 2 * 2 * 17)],
            """
            int best = 1;
            for (int d = 2; (long long)d * d <= n; d++)
                while (n % d == 0) {
                    best = d;
                    n /= d;
                }
            if (n > 1) best = n;
            return best;
            """,
            """
            int best = 1;
            for (int d = 2; (long long)d * d <= n; d++)
                while (n % d == 0) {
                    best = d;
                    n /= d;
                }
            return best;
            """,
        )
    )
    return out


FAMILIES: tuple[Callable[[], list[Spec]], ...] = (
    fam_subarray_sum,
    fam_sliding_window,
    fam_climb_stairs,
    fam_gcd_lcm,
    fam_primes,
)
