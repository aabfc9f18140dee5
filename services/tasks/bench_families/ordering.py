"""Bench families: bits, sorting by key, two-sum, intervals, matrices."""

from __future__ import annotations

from collections.abc import Callable

from .common import Spec, family_rng, fill, make_spec


def fam_bits() -> list[Spec]:
    def pc(n: int) -> int:
        return bin(n).count("1")

    return [
        make_spec(
            "bits/popcount",
            [],
            "Return the number of 1 bits in the binary representation of the non-negative integer n.",
            "int popcount(int n)",
            "popcount",
            ["int"],
            "int",
            [((n,), pc(n)) for n in (7, 0, 1, 1024, 123456789)],
            """
            int c = 0;
            while (n > 0) {
                c += n & 1;
                n >>= 1;
            }
            return c;
            """,
            """
            int c = 0;
            while (n > 1) {
                c += n & 1;
                n >>= 1;
            }
            return c;
            """,
        ),
        make_spec(
            "bits/odd_popcount_upto",
            [],
            "Return how many integers x with 0 <= x <= n have an odd number of 1 bits in binary.",
            "int count_odd_popcount(int n)",
            "count_odd_popcount",
            ["int"],
            "int",
            [((n,), sum(1 for x in range(n + 1) if pc(x) % 2)) for n in (4, 0, 7, 100, 1000)],
            """
            int c = 0;
            for (int x = 0; x <= n; x++) {
                int b = 0;
                for (int y = x; y > 0; y >>= 1) b += y & 1;
                if (b % 2 == 1) c++;
            }
            return c;
            """,
            """
            int c = 0;
            for (int x = 0; x < n; x++) {
                int b = 0;
                for (int y = x; y > 0; y >>= 1) b += y & 1;
                if (b % 2 == 1) c++;
            }
            return c;
            """,
        ),
        make_spec(
            "bits/parity",
            [],
            "Return true if the binary representation of the non-negative integer n has an odd number of 1 bits.",
            "bool odd_parity(int n)",
            "odd_parity",
            ["int"],
            "bool",
            [((n,), pc(n) % 2 == 1) for n in (7, 0, 3, 8, 1023)],
            """
            bool odd = false;
            while (n > 0) {
                if (n & 1) odd = !odd;
                n >>= 1;
            }
            return odd;
            """,
            """
            return (n & 1) == 1;
            """,
        ),
        make_spec(
            "bits/highest_bit",
            [],
            "Return the position (counting from 0 at the least significant bit) of the highest 1 bit of the "
            "positive integer n.",
            "int highest_bit(int n)",
            "highest_bit",
            ["int"],
            "int",
            [((n,), n.bit_length() - 1) for n in (1, 8, 255, 256, 1000000)],
            """
            int p = -1;
            while (n > 0) {
                p++;
                n >>= 1;
            }
            return p;
            """,
            """
            int p = 0;
            while (n > 0) {
                p++;
                n >>= 1;
            }
            return p;
            """,
        ),
        make_spec(
            "bits/zero_bits",
            [],
            "Return the number of 0 bits in the binary representation of the positive integer n, written "
            "without leading zeros.",
            "int zero_bits(int n)",
            "zero_bits",
            ["int"],
            "int",
            [((n,), bin(n)[2:].count("0")) for n in (8, 1, 10, 255, 1000)],
            """
            int c = 0;
            while (n > 0) {
                if ((n & 1) == 0) c++;
                n >>= 1;
            }
            return c;
            """,
            """
            int ones = 0;
            while (n > 0) {
                ones += n & 1;
                n >>= 1;
            }
            return 32 - ones;
            """,
        ),
        make_spec(
            "bits/to_binary",
            ["string", "algorithm"],
            'Return the binary representation of the non-negative integer n as a string ("0" for 0).',
            "string to_binary(int n)",
            "to_binary",
            ["int"],
            "str",
            [((n,), bin(n)[2:]) for n in (6, 0, 1, 37, 1024)],
            """
            if (n == 0) return "0";
            string s = "";
            while (n > 0) {
                s += (char)('0' + n % 2);
                n /= 2;
            }
            reverse(s.begin(), s.end());
            return s;
            """,
            """
            if (n == 0) return "0";
            string s = "";
            while (n > 0) {
                s += (char)('0' + n % 2);
                n /= 2;
            }
            return s;
            """,
        ),
    ]


def _then_value(key: Callable[[int], int]) -> Callable[[int], tuple[int, int]]:
    """A sort key: `key`, ties broken by the value (what the C++ comparator does)."""
    return lambda x: (key(x), x)


def fam_sort_by_key() -> list[Spec]:
    def digit_sum(x: int) -> int:
        return sum(int(c) for c in str(abs(x)))

    variants: list[tuple[str, str, Callable[[int], int], str, list[list[int]]]] = [
        (
            "abs",
            "absolute value",
            lambda x: abs(x),
            "auto key = [](int x) { return x < 0 ? -x : x; };",
            [[3, -1, -3, 2, 1], [], [-5, 5, 0], [10, -20, 15, -10]],
        ),
        (
            "digit_sum",
            "sum of decimal digits (of the absolute value)",
            digit_sum,
            "auto key = [](int x) {\n    if (x < 0) x = -x;\n    int s = 0;\n    for (; x > 0; x /= 10) "
            "s += x % 10;\n    return s;\n};",
            [[19, 28, 5, 40, 111], [], [-12, 3, 21, 30], [100, 1, 10, 7]],
        ),
        (
            "popcount",
            "number of 1 bits in binary",
            lambda x: bin(x).count("1"),
            "auto key = [](int x) {\n    int c = 0;\n    for (; x > 0; x >>= 1) c += x & 1;\n    return c;\n};",
            [[7, 8, 3, 1, 6], [], [0, 15, 16, 5], [1024, 3, 9, 2]],
        ),
        (
            "last_digit",
            "last decimal digit (of the absolute value)",
            lambda x: abs(x) % 10,
            "auto key = [](int x) { return (x < 0 ? -x : x) % 10; };",
            [[21, 13, 11, 30, 42], [], [-9, 19, 9], [100, 5, 15, 25]],
        ),
    ]
    out = []
    for kind, what, key, lam, vecs in variants:
        cases = [((v,), sorted(v, key=_then_value(key))) for v in vecs]
        body = """
            @lam
            sort(v.begin(), v.end(), [&](int a, int b) {
                if (key(a) != key(b)) return key(a) < key(b);
                return a @cmp b;
            });
            return v;
            """
        out.append(
            make_spec(
                f"sort_by_key/{kind}",
                ["vector", "algorithm"],
                "Sort the vector v in ascending order of the @what of its elements; elements with equal keys go "
                "in ascending order of value. Return the sorted vector.",
                "vector<int> sort_by_@kind(vector<int> v)",
                f"sort_by_{kind}",
                ["vi"],
                "vi",
                cases,
                fill(body, lam=lam, cmp="<"),
                fill(body, lam=lam, cmp=">"),
                what=what,
                kind=kind,
            )
        )
    strs = [["ccc", "a", "bb", "aa", "b"], [], ["hello", "hi", "hey"], ["xy", "ab", "abc", "z"]]
    out.append(
        make_spec(
            "sort_by_key/length",
            ["vector", "string", "algorithm"],
            "Sort the strings in ascending order of length; strings of equal length go in alphabetical order. "
            "Return the sorted vector.",
            "vector<string> sort_by_length(vector<string> v)",
            "sort_by_length",
            ["vs"],
            "vs",
            [((v,), sorted(v, key=lambda s: (len(s), s))) for v in strs],
            """
            sort(v.begin(), v.end(), [](const string& a, const string& b) {
                if (a.size() != b.size()) return a.size() < b.size();
                return a < b;
            });
            return v;
            """,
            """
            stable_sort(v.begin(), v.end(), [](const string& a, const string& b) {
                return a.size() < b.size();
            });
            return v;
            """,
        )
    )
    return out


def fam_two_sum() -> list[Spec]:
    out = []
    for t in (0, 10, 8, -4, 12):
        rng = family_rng(f"twosum{t}")
        vecs = [
            [t // 2, 1, 2, 3 + abs(t)],
            [t // 2, t // 2, 100],
            [],
            [rng.randint(-10, 10) for _ in range(6)],
            [t - 3, 50, 3],
        ]

        def ref(v: list[int], t: int = t) -> bool:
            return any(v[i] + v[j] == t for i in range(len(v)) for j in range(i + 1, len(v)))

        tag = str(t).replace("-", "m")
        out.append(
            make_spec(
                f"two_sum/t{tag}",
                ["vector"],
                "Return true if two elements at different positions of v add up to @t.",
                "bool has_pair_sum_@tag(vector<int> v)",
                f"has_pair_sum_{tag}",
                ["vi"],
                "bool",
                [((v,), ref(v)) for v in vecs],
                """
                for (int i = 0; i < (int)v.size(); i++)
                    for (int j = i + 1; j < (int)v.size(); j++)
                        if (v[i] + v[j] == @t) return true;
                return false;
                """,
                """
                for (int i = 0; i < (int)v.size(); i++)
                    for (int j = i; j < (int)v.size(); j++)
                        if (v[i] + v[j] == @t) return true;
                return false;
                """,
                t=t,
                tag=tag,
            )
        )
    return out


def _merge(iv: list[list[int]], touching: bool = True) -> list[list[int]]:
    out: list[list[int]] = []
    for s, e in sorted(iv):
        if out and (s <= out[-1][1] if touching else s < out[-1][1]):
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def fam_intervals() -> list[Spec]:
    inputs = [
        [[5, 7], [1, 3], [2, 4], [6, 8]],
        [[1, 2], [2, 3], [10, 12]],
        [[4, 9]],
        [[8, 10], [1, 5], [3, 4], [0, 1], [11, 15], [6, 7]],
        [[1, 10], [2, 3], [12, 13], [11, 12]],
    ]
    sort_line = "sort(v.begin(), v.end());"
    merge_loop = """
        @sortline
        vector<vector<int>> m;
        for (int i = 0; i < (int)v.size(); i++) {
            if (!m.empty() && v[i][0] @op m.back()[1]) {
                if (v[i][1] > m.back()[1]) m.back()[1] = v[i][1];
            } else {
                m.push_back(v[i]);
            }
        }
        """
    variants: list[tuple[str, str, str, str, Callable[..., object], str, str]] = [
        (
            "count",
            "Return how many intervals remain after merging all intervals that overlap or touch.",
            "int merged_count",
            "int",
            lambda iv: len(_merge(iv)),
            "<=",
            "return m.size();",
        ),
        (
            "count_strict",
            "Return how many intervals remain after merging the intervals that overlap; intervals that only "
            "touch at an end point (like [1, 2] and [2, 3]) are not merged.",
            "int merged_count_strict",
            "int",
            lambda iv: len(_merge(iv, touching=False)),
            "<",
            "return m.size();",
        ),
        (
            "covered",
            "Return the total length covered by the union of the intervals (an interval [a, b] has length b - a).",
            "int covered_length",
            "int",
            lambda iv: sum(e - s for s, e in _merge(iv)),
            "<=",
            "int total = 0;\nfor (int i = 0; i < (int)m.size(); i++) total += m[i][1] - m[i][0];\nreturn total;",
        ),
        (
            "longest",
            "Merge all intervals that overlap or touch and return the length b - a of the longest merged "
            "interval [a, b].",
            "int longest_merged",
            "int",
            lambda iv: max(e - s for s, e in _merge(iv)),
            "<=",
            "int best = 0;\nfor (int i = 0; i < (int)m.size(); i++)\n    if (m[i][1] - m[i][0] > best) best = "
            "m[i][1] - m[i][0];\nreturn best;",
        ),
    ]
    out = []
    for kind, doc, head, ret, ref, op, tail in variants:
        full = "You are given a non-empty list of closed intervals [a, b] with a <= b, in no particular order. " + doc
        out.append(
            make_spec(
                f"intervals/{kind}",
                ["vector", "algorithm"],
                full,
                head + "(vector<vector<int>> v)",
                head.split()[-1],
                ["vvi"],
                ret,
                [((iv,), ref(iv)) for iv in inputs],
                fill(merge_loop + "@tail\n", sortline=sort_line, op=op, tail=tail),
                fill(merge_loop + "@tail\n", sortline="", op=op, tail=tail),
            )
        )
    out.append(
        make_spec(
            "intervals/any_overlap",
            ["vector", "algorithm"],
            "You are given a list of closed intervals [a, b] with a <= b, in no particular order. Return true "
            "if some two of them share at least one point.",
            "bool any_overlap(vector<vector<int>> v)",
            "any_overlap",
            ["vvi"],
            "bool",
            [
                ((iv,), len(_merge(iv)) < len(iv))
                for iv in [[[1, 2], [5, 6], [2, 3]], [[7, 9], [1, 2], [4, 5]], [], [[6, 9], [1, 3], [4, 7]]]
            ],
            """
            sort(v.begin(), v.end());
            for (int i = 1; i < (int)v.size(); i++)
                if (v[i][0] <= v[i - 1][1]) return true;
            return false;
            """,
            """
            for (int i = 1; i < (int)v.size(); i++)
                if (v[i][0] <= v[i - 1][1]) return true;
            return false;
            """,
        )
    )
    return out


def fam_matrix() -> list[Spec]:
    mats = [
        [[1, 2, 3], [4, 5, 6], [7, 8, 9]],
        [[5]],
        [[-1, -2], [-3, -4]],
        [[2, 7, 1, 0], [7, 3, 5, 2], [1, 4, -6, 8], [0, 2, 8, 9]],
    ]

    def border(m: list[list[int]]) -> int:
        n = len(m)
        return sum(m[i][j] for i in range(n) for j in range(n) if i in (0, n - 1) or j in (0, n - 1))

    variants: list[tuple[str, str, Callable[..., object], str, str]] = [
        (
            "trace",
            "Return the trace of the square matrix m (the sum of m[i][i]).",
            lambda m: sum(m[i][i] for i in range(len(m))),
            "int s = 0;\nfor (int i = 0; i < n; i++) s += m[i][i];\nreturn s;",
            "int s = 0;\nfor (int i = 0; i < n; i++) s += m[i][n - 1 - i];\nreturn s;",
        ),
        (
            "anti_diagonal",
            "Return the sum of the anti-diagonal of the square matrix m (the elements m[i][n-1-i]).",
            lambda m: sum(m[i][len(m) - 1 - i] for i in range(len(m))),
            "int s = 0;\nfor (int i = 0; i < n; i++) s += m[i][n - 1 - i];\nreturn s;",
            "int s = 0;\nfor (int i = 0; i < n; i++) s += m[i][i];\nreturn s;",
        ),
        (
            "row_max_sum",
            "Return the sum over the rows of the square matrix m of the largest element of each row.",
            lambda m: sum(max(r) for r in m),
            "int s = 0;\nfor (int i = 0; i < n; i++) {\n    int b = m[i][0];\n    for (int j = 1; j < n; j++)\n"
            "        if (m[i][j] > b) b = m[i][j];\n    s += b;\n}\nreturn s;",
            "int s = 0;\nfor (int i = 0; i < n; i++) {\n    int b = 0;\n    for (int j = 0; j < n; j++)\n"
            "        if (m[i][j] > b) b = m[i][j];\n    s += b;\n}\nreturn s;",
        ),
        (
            "border_sum",
            "Return the sum of the elements on the border (first and last row, first and last column) of the "
            "square matrix m; each element counts once.",
            border,
            "int s = 0;\nfor (int i = 0; i < n; i++)\n    for (int j = 0; j < n; j++)\n"
            "        if (i == 0 || j == 0 || i == n - 1 || j == n - 1) s += m[i][j];\nreturn s;",
            "int s = 0;\nfor (int i = 0; i < n; i++) s += m[0][i] + m[n - 1][i];\n"
            "for (int i = 0; i < n; i++) s += m[i][0] + m[i][n - 1];\nreturn s;",
        ),
        (
            "symmetric_pairs",
            "Return the number of pairs of positions (i, j) with i < j such that m[i][j] == m[j][i] in the "
            "square matrix m (the matrix equals its transpose there).",
            lambda m: sum(1 for i in range(len(m)) for j in range(i + 1, len(m)) if m[i][j] == m[j][i]),
            "int c = 0;\nfor (int i = 0; i < n; i++)\n    for (int j = i + 1; j < n; j++)\n"
            "        if (m[i][j] == m[j][i]) c++;\nreturn c;",
            "int c = 0;\nfor (int i = 0; i < n; i++)\n    for (int j = i; j < n; j++)\n"
            "        if (m[i][j] == m[j][i]) c++;\nreturn c;",
        ),
    ]
    out = []
    for kind, doc, ref, good, bad in variants:
        out.append(
            make_spec(
                f"matrix/{kind}",
                ["vector"],
                doc,
                f"int matrix_{kind}(vector<vector<int>> m)",
                f"matrix_{kind}",
                ["vvi"],
                "int",
                [((m,), ref(m)) for m in mats],
                "int n = m.size();\n" + good,
                "int n = m.size();\n" + bad,
            )
        )
    return out


FAMILIES: tuple[Callable[[], list[Spec]], ...] = (
    fam_bits,
    fam_sort_by_key,
    fam_two_sum,
    fam_intervals,
    fam_matrix,
)
