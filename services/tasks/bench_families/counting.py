"""Bench families: letters, frequencies, Fibonacci mod m, brackets, k largest, substrings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from .common import Spec, make_spec


def fam_letters_of_word() -> list[Spec]:
    out = []
    for word in ("apple", "hello", "banana", "moon", "coffee"):
        need = Counter(word)
        distinct = "".join(sorted(set(word)))
        texts = [
            word[::-1] + "xyz",
            distinct,
            "",
            "the quick brown fox jumps over the lazy dog",
            word.upper() + " " + word[1:] + word[0],
        ]

        def ref(s: str, need: Counter[str] = need) -> bool:
            have = Counter(s)
            return all(have[c] >= n for c, n in need.items())

        use_map = word in ("banana", "coffee")
        if use_map:
            req = ["string", "map"]
            correct = """
                map<char, int> have;
                for (char c : s) have[c]++;
                string w = "@word";
                map<char, int> need;
                for (char c : w) need[c]++;
                for (auto& p : need)
                    if (have[p.first] < p.second) return false;
                return true;
                """
            wrong = """
                map<char, int> have;
                for (char c : s) have[c]++;
                string w = "@word";
                for (char c : w)
                    if (have[c] == 0) return false;
                return true;
                """
        else:
            req = ["string"]
            correct = """
                int cnt[26] = {0};
                for (char c : s)
                    if (c >= 'a' && c <= 'z') cnt[c - 'a']++;
                string w = "@word";
                for (char c : w)
                    if (--cnt[c - 'a'] < 0) return false;
                return true;
                """
            wrong = """
                int cnt[26] = {0};
                for (char c : s)
                    if (c >= 'a' && c <= 'z') cnt[c - 'a']++;
                string w = "@word";
                for (char c : w)
                    if (cnt[c - 'a'] == 0) return false;
                return true;
                """
        out.append(
            make_spec(
                f"letters_of_word/{word}",
                req,
                'Return true if the word "@word" can be spelled with the characters of s, using every '
                "character of s at most once (lowercase letters only count as themselves).",
                "bool can_spell_@word(string s)",
                f"can_spell_{word}",
                ["str"],
                "bool",
                [((s,), ref(s)) for s in texts],
                correct,
                wrong,
                word=word,
            )
        )
    return out


def fam_frequency() -> list[Spec]:
    vecs = [[3, 1, 3, 2, 1, 3], [7], [5, 4, 5, 4], [2, 9, 2, 9, 1, 9, 2, 1], [8, -1, 8, -1, 6]]

    def most_common(v: Sequence[Any]) -> Any:
        c = Counter(v)
        best = max(c.values())
        return min(x for x in c if c[x] == best)

    return [
        make_spec(
            "frequency/max_count",
            ["vector", "map"],
            "Return how many times the most frequent value occurs in the non-empty vector v.",
            "int max_frequency(vector<int> v)",
            "max_frequency",
            ["vi"],
            "int",
            [((v,), max(Counter(v).values())) for v in vecs],
            """
            map<int, int> cnt;
            int best = 0;
            for (int x : v) {
                cnt[x]++;
                if (cnt[x] > best) best = cnt[x];
            }
            return best;
            """,
            """
            int best = 1, run = 1;
            for (int i = 1; i < (int)v.size(); i++) {
                run = v[i] == v[i - 1] ? run + 1 : 1;
                if (run > best) best = run;
            }
            return best;
            """,
        ),
        make_spec(
            "frequency/most_common",
            ["vector", "map"],
            "Return the most frequent value of the non-empty vector v; when several values are equally "
            "frequent, return the smallest of them.",
            "int most_common(vector<int> v)",
            "most_common",
            ["vi"],
            "int",
            [((v,), most_common(v)) for v in vecs],
            """
            map<int, int> cnt;
            for (int x : v) cnt[x]++;
            int best = 0, val = 0;
            for (auto& p : cnt)
                if (p.second > best) {
                    best = p.second;
                    val = p.first;
                }
            return val;
            """,
            """
            map<int, int> cnt;
            for (int x : v) cnt[x]++;
            int best = 0, val = 0;
            for (auto& p : cnt)
                if (p.second >= best) {
                    best = p.second;
                    val = p.first;
                }
            return val;
            """,
        ),
        make_spec(
            "frequency/most_common_char",
            ["string", "map"],
            "Return the most frequent character of the non-empty string s; when several characters are equally "
            "frequent, return the one that comes first in ASCII order.",
            "char most_common_char(string s)",
            "most_common_char",
            ["str"],
            "char",
            [((s,), most_common(s)) for s in ["banana", "abcabc", "z", "mississippi", "Hello!!"]],
            """
            map<char, int> cnt;
            for (char c : s) cnt[c]++;
            int best = 0;
            char val = 0;
            for (auto& p : cnt)
                if (p.second > best) {
                    best = p.second;
                    val = p.first;
                }
            return val;
            """,
            """
            map<char, int> cnt;
            int best = 0;
            char val = 0;
            for (char c : s) {
                cnt[c]++;
                if (cnt[c] >= best) {
                    best = cnt[c];
                    val = c;
                }
            }
            return val;
            """,
        ),
        make_spec(
            "frequency/distinct",
            ["vector", "map"],
            "Return the number of distinct values in the vector v.",
            "int count_distinct(vector<int> v)",
            "count_distinct",
            ["vi"],
            "int",
            [((v,), len(set(v))) for v in [*vecs[:4], []]],
            """
            map<int, int> cnt;
            for (int x : v) cnt[x]++;
            return cnt.size();
            """,
            """
            map<int, int> cnt;
            for (int x : v) cnt[x]++;
            int c = 0;
            for (auto& p : cnt)
                if (p.second == 1) c++;
            return c;
            """,
        ),
        make_spec(
            "frequency/min_count",
            ["vector", "map"],
            "Return how many times the least frequent value occurs in the non-empty vector v (only values that "
            "occur in v count).",
            "int min_frequency(vector<int> v)",
            "min_frequency",
            ["vi"],
            "int",
            [((v,), min(Counter(v).values())) for v in vecs],
            """
            map<int, int> cnt;
            for (int x : v) cnt[x]++;
            int best = v.size();
            for (auto& p : cnt)
                if (p.second < best) best = p.second;
            return best;
            """,
            """
            map<int, int> cnt;
            for (int x : v) cnt[x]++;
            int best = 0;
            for (auto& p : cnt)
                if (best == 0 || p.second > best) best = p.second;
            return best;
            """,
        ),
    ]


def fam_fib_mod() -> list[Spec]:
    out = []
    for m in (10, 7, 1000, 13, 1000000007):

        def ref(n: int, m: int = m) -> int:
            a, b = 0, 1
            for _ in range(n):
                a, b = b, (a + b) % m
            return a % m

        out.append(
            make_spec(
                f"fib_mod/m{m}",
                [],
                "F(0) = 0, F(1) = 1 and F(n) = F(n-1) + F(n-2). Return F(n) modulo @m for 0 <= n <= 100000.",
                "int fib_mod_@m(int n)",
                f"fib_mod_{m}",
                ["int"],
                "int",
                [((n,), ref(n)) for n in (10, 0, 3, 90, 100000)],
                """
                long long a = 0, b = 1;
                for (int i = 0; i < n; i++) {
                    long long c = (a + b) % @m;
                    a = b;
                    b = c;
                }
                return a % @m;
                """,
                """
                long long a = 0, b = 1;
                for (int i = 1; i < n; i++) {
                    long long c = (a + b) % @m;
                    a = b;
                    b = c;
                }
                return a % @m;
                """,
                m=m,
            )
        )
    return out


def _balanced(s: str, pairs: str) -> bool:
    close_to_open = {pairs[i + 1]: pairs[i] for i in range(0, len(pairs), 2)}
    stack: list[str] = []
    for c in s:
        if c in close_to_open:
            if not stack or stack[-1] != close_to_open[c]:
                return False
            stack.pop()
        else:
            stack.append(c)
    return not stack


def fam_brackets() -> list[Spec]:
    out = []
    for i, pairs in enumerate(("()", "[]", "<>", "()[]", "()[]{}", "{}<>")):
        opens = pairs[0::2]
        closes = pairs[1::2]
        a_open, a_close = opens[0], closes[0]
        b_open, b_close = opens[-1], closes[-1]
        texts = [
            a_open + b_open + b_close + a_close,
            a_close + a_open,
            "",
            a_open + a_open + a_close,
            a_open + b_open + a_close + b_close if len(opens) > 1 else a_open * 2 + a_close * 2 + a_close,
        ]
        pair_words = ", ".join(f'"{pairs[j : j + 2]}"' for j in range(0, len(pairs), 2))
        if len(opens) == 1:
            wrong = """
                int depth = 0;
                for (char c : s) {
                    if (c == '@o') depth++;
                    else depth--;
                }
                return depth == 0;
                """
        else:
            wrong = """
                string opens = "@opens", closes = "@closes";
                int depth[3] = {0, 0, 0};
                for (char c : s) {
                    size_t k = opens.find(c);
                    if (k != string::npos) depth[k]++;
                    else if (--depth[closes.find(c)] < 0) return false;
                }
                return depth[0] == 0 && depth[1] == 0 && depth[2] == 0;
                """
        out.append(
            make_spec(
                f"brackets/{i}",
                ["string"],
                "s consists only of the bracket characters of the pairs @pairwords. Return true if every "
                "bracket is closed by the matching bracket in the right order.",
                "bool balanced_@i(string s)",
                f"balanced_{i}",
                ["str"],
                "bool",
                [((t,), _balanced(t, pairs)) for t in texts],
                """
                string opens = "@opens", closes = "@closes";
                string stack = "";
                for (char c : s) {
                    size_t k = closes.find(c);
                    if (k == string::npos) {
                        stack += c;
                    } else {
                        if (stack.empty() || stack.back() != opens[k]) return false;
                        stack.pop_back();
                    }
                }
                return stack.empty();
                """,
                wrong,
                pairwords=pair_words,
                opens=opens,
                closes=closes,
                o=a_open,
                i=i,
            )
        )
    return out


def fam_k_largest_sum() -> list[Spec]:
    out = []
    for k in (2, 3, 4, 5):
        vecs = [[5, 1, 9, 9, 3, 7], [2] * (k + 2), [-1, -5, -3, -2, -8], [10, 20, 30, 40, 50, 10, 20]]
        out.append(
            make_spec(
                f"k_largest_sum/k{k}",
                ["vector", "queue"],
                "v has at least @k elements. Return the sum of its @k largest elements (repeated values count "
                "as separate elements).",
                "int sum_largest_@k(vector<int> v)",
                f"sum_largest_{k}",
                ["vi"],
                "int",
                [((v,), sum(sorted(v, reverse=True)[:k])) for v in vecs],
                """
                priority_queue<int> pq(v.begin(), v.end());
                int s = 0;
                for (int i = 0; i < @k; i++) {
                    s += pq.top();
                    pq.pop();
                }
                return s;
                """,
                """
                priority_queue<int> pq(v.begin(), v.end());
                int s = 0, last = 0;
                for (int i = 0; i < @k && !pq.empty(); pq.pop()) {
                    if (i > 0 && pq.top() == last) continue;
                    last = pq.top();
                    s += last;
                    i++;
                }
                return s;
                """,
                k=k,
            )
        )
    return out


def fam_distinct_substrings() -> list[Spec]:
    out = []
    for k in (1, 2, 3, 4):
        texts = ["abcabc", "aaaa", "ab", "mississippi", "abcdefg"]
        out.append(
            make_spec(
                f"distinct_substrings/k{k}",
                ["string", "set"],
                "Return the number of distinct substrings of length @k of s (0 when s is shorter than @k).",
                "int distinct_substrings_@k(string s)",
                f"distinct_substrings_{k}",
                ["str"],
                "int",
                [((s,), len({s[i : i + k] for i in range(len(s) - k + 1)})) for s in texts],
                """
                set<string> seen;
                for (int i = 0; i + @k <= (int)s.size(); i++) seen.insert(s.substr(i, @k));
                return seen.size();
                """,
                """
                set<string> seen;
                for (int i = 0; i + @k < (int)s.size(); i++) seen.insert(s.substr(i, @k));
                return seen.size();
                """,
                k=k,
            )
        )
    return out


FAMILIES: tuple[Callable[[], list[Spec]], ...] = (
    fam_letters_of_word,
    fam_frequency,
    fam_fib_mod,
    fam_brackets,
    fam_k_largest_sum,
    fam_distinct_substrings,
)
