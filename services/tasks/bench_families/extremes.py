"""Bench families: long words, pair differences, extremes, partitions."""

from __future__ import annotations

from collections.abc import Callable

from .common import Spec, family_rng, make_spec


def fam_long_words() -> list[Spec]:
    out = []
    texts = ["the cat sat on a mat", "", "  extraordinary   words here  ", "ab abc abcd abcde abcdef", "x"]
    for k in (2, 3, 4, 5):
        out.append(
            make_spec(
                f"long_words/k{k}",
                ["string", "sstream"],
                "s holds words separated by one or more spaces. Return how many of the words have more than @k "
                "letters.",
                "int count_words_longer_than_@k(string s)",
                f"count_words_longer_than_{k}",
                ["str"],
                "int",
                [((s,), sum(1 for w in s.split() if len(w) > k)) for s in texts],
                """
                stringstream ss(s);
                string w;
                int c = 0;
                while (ss >> w)
                    if ((int)w.size() > @k) c++;
                return c;
                """,
                """
                stringstream ss(s);
                string w;
                int c = 0;
                while (ss >> w)
                    if ((int)w.size() >= @k) c++;
                return c;
                """,
                k=k,
            )
        )
    return out


def fam_pairs_with_difference() -> list[Spec]:
    out = []
    for k in (0, 1, 2, 3, 5):
        rng = family_rng(f"pairdiff{k}")
        vecs = [[1, 5, 3, 4, 2, 1], [rng.randint(0, 9) for _ in range(8)], [], [7, 7, 7], [0, k, 2 * k, k]]

        def ref(v: list[int], k: int = k) -> int:
            return sum(1 for i in range(len(v)) for j in range(i + 1, len(v)) if abs(v[i] - v[j]) == k)

        if k == 0:
            correct = """
                unordered_map<int, int> cnt;
                int c = 0;
                for (int x : v) {
                    c += cnt[x];
                    cnt[x]++;
                }
                return c;
                """
            wrong = """
                unordered_map<int, int> cnt;
                int c = 0;
                for (int x : v) {
                    c += cnt[x - @k] + cnt[x + @k];
                    cnt[x]++;
                }
                return c;
                """
        else:
            correct = """
                unordered_map<int, int> cnt;
                int c = 0;
                for (int x : v) {
                    c += cnt[x - @k] + cnt[x + @k];
                    cnt[x]++;
                }
                return c;
                """
            wrong = """
                unordered_map<int, int> cnt;
                int c = 0;
                for (int x : v) {
                    c += cnt[x - @k];
                    cnt[x]++;
                }
                return c;
                """
        out.append(
            make_spec(
                f"pairs_with_difference/k{k}",
                ["vector", "unordered_map"],
                "Return the number of pairs of positions i < j of v whose elements differ by exactly @k "
                "(in either direction).",
                "int pairs_with_difference_@k(vector<int> v)",
                f"pairs_with_difference_{k}",
                ["vi"],
                "int",
                [((v,), ref(v)) for v in vecs],
                correct,
                wrong,
                k=k,
            )
        )
    return out


def fam_extremes() -> list[Spec]:
    def second(v: list[int], largest: bool, none: int) -> int:
        d = sorted(set(v), reverse=largest)
        return d[1] if len(d) > 1 else none

    vecs = [[4, 1, 4, 3], [7], [2, 2, 2], [-5, -9, -1, -9], [10, 30, 20, 30, 10]]
    int_min, int_max = -(2**31), 2**31 - 1

    def kadane(v: list[int]) -> int:
        return max(sum(v[i : j + 1]) for i in range(len(v)) for j in range(i, len(v)))

    def max_pair(v: list[int]) -> int:
        return max(v[i] * v[j] for i in range(len(v)) for j in range(i + 1, len(v)))

    return [
        make_spec(
            "extremes/second_largest",
            ["vector", "climits"],
            "Return the second largest distinct value of v, or INT_MIN when v has fewer than two distinct values.",
            "int second_largest(vector<int> v)",
            "second_largest",
            ["vi"],
            "int",
            [((v,), second(v, True, int_min)) for v in vecs],
            """
            int a = INT_MIN, b = INT_MIN;
            bool seen = false;
            for (int x : v) {
                if (!seen || x > a) {
                    if (seen) b = a;
                    a = x;
                    seen = true;
                } else if (x < a && x > b) {
                    b = x;
                }
            }
            return b;
            """,
            """
            int a = INT_MIN, b = INT_MIN;
            for (int x : v) {
                if (x >= a) {
                    b = a;
                    a = x;
                } else if (x > b) {
                    b = x;
                }
            }
            return b;
            """,
        ),
        make_spec(
            "extremes/second_smallest",
            ["vector", "climits"],
            "Return the second smallest distinct value of v, or INT_MAX when v has fewer than two distinct values.",
            "int second_smallest(vector<int> v)",
            "second_smallest",
            ["vi"],
            "int",
            [((v,), second(v, False, int_max)) for v in vecs],
            """
            int a = INT_MAX, b = INT_MAX;
            bool seen = false;
            for (int x : v) {
                if (!seen || x < a) {
                    if (seen) b = a;
                    a = x;
                    seen = true;
                } else if (x > a && x < b) {
                    b = x;
                }
            }
            return b;
            """,
            """
            int a = INT_MAX, b = INT_MAX;
            for (int x : v) {
                if (x <= a) {
                    b = a;
                    a = x;
                } else if (x < b) {
                    b = x;
                }
            }
            return b;
            """,
        ),
        make_spec(
            "extremes/max_subarray",
            ["vector", "climits"],
            "Return the largest sum of a non-empty contiguous subarray of the non-empty vector v.",
            "int max_subarray_sum(vector<int> v)",
            "max_subarray_sum",
            ["vi"],
            "int",
            [((v,), kadane(v)) for v in [[-2, 1, -3, 4, -1, 2, 1, -5, 4], [-3, -1, -2], [5], [2, -1, 2]]],
            """
            int best = INT_MIN, cur = 0;
            for (int x : v) {
                cur = cur > 0 ? cur + x : x;
                if (cur > best) best = cur;
            }
            return best;
            """,
            """
            int best = 0, cur = 0;
            for (int x : v) {
                cur = cur + x > 0 ? cur + x : 0;
                if (cur > best) best = cur;
            }
            return best;
            """,
        ),
        make_spec(
            "extremes/max_pair_product",
            ["vector", "climits"],
            "v has at least two elements. Return the largest product v[i] * v[j] over positions i < j.",
            "long long max_pair_product(vector<int> v)",
            "max_pair_product",
            ["vi"],
            "ll",
            [((v,), max_pair(v)) for v in [[1, 5, 3, 4], [-10, -20, 1, 3], [-1, 2], [100000, 100000, -7]]],
            """
            long long best = LLONG_MIN;
            for (int i = 0; i < (int)v.size(); i++)
                for (int j = i + 1; j < (int)v.size(); j++)
                    if ((long long)v[i] * v[j] > best) best = (long long)v[i] * v[j];
            return best;
            """,
            """
            int a = INT_MIN, b = INT_MIN;
            for (int x : v) {
                if (x > a) {
                    b = a;
                    a = x;
                } else if (x > b) {
                    b = x;
                }
            }
            return (long long)a * b;
            """,
        ),
    ]


def fam_partitions() -> list[Spec]:
    out = []
    for k in (2, 3, 4, 5):

        def ref(n: int, k: int = k) -> int:
            ways = [1] + [0] * n
            for part in range(1, k + 1):
                for i in range(part, n + 1):
                    ways[i] += ways[i - part]
            return ways[n]

        out.append(
            make_spec(
                f"partitions/k{k}",
                ["functional"],
                "Return the number of ways to write n >= 0 as a sum of positive integers that are each at most "
                "@k, where the order of the parts does not matter (1 way for n = 0).",
                "long long partitions_max_@k(int n)",
                f"partitions_max_{k}",
                ["int"],
                "ll",
                [((n,), ref(n)) for n in (5, 0, 1, 12, 30)],
                """
                function<long long(int, int)> count = [&](int rest, int largest) -> long long {
                    if (rest == 0) return 1;
                    long long total = 0;
                    for (int p = 1; p <= largest && p <= rest; p++) total += count(rest - p, p);
                    return total;
                };
                return count(n, @k);
                """,
                """
                function<long long(int, int)> count = [&](int rest, int largest) -> long long {
                    if (rest == 0) return 1;
                    long long total = 0;
                    for (int p = 1; p < largest && p <= rest; p++) total += count(rest - p, p);
                    return total;
                };
                return count(n, @k);
                """,
                k=k,
            )
        )
    return out


FAMILIES: tuple[Callable[[], list[Spec]], ...] = (
    fam_long_words,
    fam_pairs_with_difference,
    fam_extremes,
    fam_partitions,
)
