"""Bench families: words, palindromes, longest runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .common import Spec, make_spec

_SENTENCES = ["the quick brown fox", "hello", "", "a bb ccc dd e", "Keep it simple and clear"]

_SPLIT = """
vector<string> words;
string cur = "";
for (int i = 0; i < (int)s.size(); i++) {
    if (s[i] == ' ') {
        words.push_back(cur);
        cur = "";
    } else {
        cur += s[i];
    }
}
if (!s.empty()) words.push_back(cur);
"""

_SPLIT_LOSING_LAST = """
vector<string> words;
string cur = "";
for (int i = 0; i < (int)s.size(); i++) {
    if (s[i] == ' ') {
        words.push_back(cur);
        cur = "";
    } else {
        cur += s[i];
    }
}
"""


def fam_words() -> list[Spec]:
    def words(s: str) -> list[str]:
        return s.split(" ") if s else []

    def longest(s: str) -> str:
        best = ""
        for w in words(s):
            if len(w) > len(best):
                best = w
        return best

    out = [
        make_spec(
            "words/reverse_order",
            ["vector", "string"],
            "s is a sentence of words separated by single spaces. Return the sentence with the words in "
            "reverse order, still separated by single spaces.",
            "string reverse_words(string s)",
            "reverse_words",
            ["str"],
            "str",
            [((s,), " ".join(reversed(words(s)))) for s in _SENTENCES],
            """
            @split
            string out = "";
            for (int i = (int)words.size() - 1; i >= 0; i--) {
                if (i != (int)words.size() - 1) out += " ";
                out += words[i];
            }
            return out;
            """,
            """
            @split
            string out = "";
            for (int i = (int)words.size() - 1; i >= 0; i--) {
                if (i != (int)words.size() - 1) out += " ";
                out += words[i];
            }
            return out;
            """.replace("@split", "@lossy"),
            split=_SPLIT,
            lossy=_SPLIT_LOSING_LAST,
        ),
        make_spec(
            "words/reverse_letters",
            ["string", "algorithm"],
            "s is a sentence of words separated by single spaces. Reverse the letters of every word but keep "
            "the words in their places, and return the result.",
            "string reverse_each_word(string s)",
            "reverse_each_word",
            ["str"],
            "str",
            [((s,), " ".join(w[::-1] for w in words(s))) for s in _SENTENCES],
            """
            int start = 0;
            for (int i = 0; i <= (int)s.size(); i++) {
                if (i == (int)s.size() || s[i] == ' ') {
                    reverse(s.begin() + start, s.begin() + i);
                    start = i + 1;
                }
            }
            return s;
            """,
            """
            reverse(s.begin(), s.end());
            return s;
            """,
        ),
        make_spec(
            "words/capitalize",
            ["string", "cctype"],
            "s is a sentence of words separated by single spaces. Return it with the first letter of every "
            "word in upper case; all other characters stay as they are.",
            "string capitalize_words(string s)",
            "capitalize_words",
            ["str"],
            "str",
            [((s,), " ".join(w[:1].upper() + w[1:] for w in words(s))) for s in _SENTENCES],
            """
            for (int i = 0; i < (int)s.size(); i++)
                if (i == 0 || s[i - 1] == ' ') s[i] = toupper(s[i]);
            return s;
            """,
            """
            if (!s.empty()) s[0] = toupper(s[0]);
            return s;
            """,
        ),
        make_spec(
            "words/count",
            ["string"],
            "s is a sentence of words separated by single spaces (it may be empty). Return the number of words.",
            "int count_words(string s)",
            "count_words",
            ["str"],
            "int",
            [((s,), len(words(s))) for s in _SENTENCES],
            """
            if (s.empty()) return 0;
            int c = 1;
            for (int i = 0; i < (int)s.size(); i++)
                if (s[i] == ' ') c++;
            return c;
            """,
            """
            int c = 0;
            for (int i = 0; i < (int)s.size(); i++)
                if (s[i] == ' ') c++;
            return c;
            """,
        ),
        make_spec(
            "words/longest",
            ["vector", "string"],
            "s is a sentence of words separated by single spaces. Return its longest word; when several words "
            'share the longest length return the first of them, and return "" for an empty sentence.',
            "string longest_word(string s)",
            "longest_word",
            ["str"],
            "str",
            [((s,), longest(s)) for s in _SENTENCES],
            """
            @split
            string best = "";
            for (int i = 0; i < (int)words.size(); i++)
                if (words[i].size() > best.size()) best = words[i];
            return best;
            """,
            """
            @split
            string best = "";
            for (int i = 0; i < (int)words.size(); i++)
                if (words[i].size() >= best.size()) best = words[i];
            return best;
            """,
            split=_SPLIT,
        ),
    ]
    return out


def fam_palindromes() -> list[Spec]:
    out = [
        make_spec(
            "palindrome/ignore_case",
            ["string", "cctype"],
            "Return true if the string s (letters only) reads the same forwards and backwards when upper and "
            "lower case are treated as equal.",
            "bool is_palindrome_nocase(string s)",
            "is_palindrome_nocase",
            ["str"],
            "bool",
            [((s,), s.lower() == s.lower()[::-1]) for s in ["Level", "abcba", "", "RaceCars", "NooN"]],
            """
            int i = 0, j = (int)s.size() - 1;
            while (i < j) {
                if (tolower(s[i]) != tolower(s[j])) return false;
                i++;
                j--;
            }
            return true;
            """,
            """
            int i = 0, j = (int)s.size() - 1;
            while (i < j) {
                if (s[i] != s[j]) return false;
                i++;
                j--;
            }
            return true;
            """,
        ),
        make_spec(
            "palindrome/alnum",
            ["string", "cctype"],
            "Return true if s is a palindrome when only its letters and digits are considered and case is ignored.",
            "bool is_palindrome_alnum(string s)",
            "is_palindrome_alnum",
            ["str"],
            "bool",
            [
                ((s,), (lambda t: t == t[::-1])("".join(c.lower() for c in s if c.isalnum())))
                for s in ["A man, a plan, a canal: Panama", "race a car", "", "No 'x' in Nixon", "12,21"]
            ],
            """
            int i = 0, j = (int)s.size() - 1;
            while (i < j) {
                if (!isalnum(s[i])) { i++; continue; }
                if (!isalnum(s[j])) { j--; continue; }
                if (tolower(s[i]) != tolower(s[j])) return false;
                i++;
                j--;
            }
            return true;
            """,
            """
            int i = 0, j = (int)s.size() - 1;
            while (i < j) {
                if (tolower(s[i]) != tolower(s[j])) return false;
                i++;
                j--;
            }
            return true;
            """,
        ),
        make_spec(
            "palindrome/spaces",
            ["string"],
            "Return true if s reads the same forwards and backwards once all its spaces are removed (case matters).",
            "bool is_palindrome_nospace(string s)",
            "is_palindrome_nospace",
            ["str"],
            "bool",
            [
                ((s,), s.replace(" ", "") == s.replace(" ", "")[::-1])
                for s in ["nurses run", "ab a", "step on no pets", "Ab ba", "x"]
            ],
            """
            string t = "";
            for (int i = 0; i < (int)s.size(); i++)
                if (s[i] != ' ') t += s[i];
            for (int i = 0, j = (int)t.size() - 1; i < j; i++, j--)
                if (t[i] != t[j]) return false;
            return true;
            """,
            """
            for (int i = 0, j = (int)s.size() - 1; i < j; i++, j--)
                if (s[i] != s[j]) return false;
            return true;
            """,
        ),
        make_spec(
            "palindrome/decimal",
            [],
            "Return true if the decimal digits of the non-negative integer n read the same in both directions.",
            "bool is_palindrome_number(int n)",
            "is_palindrome_number",
            ["int"],
            "bool",
            [((n,), str(n) == str(n)[::-1]) for n in [121, 7, 10, 12321, 123421]],
            """
            long long r = 0;
            int m = n;
            while (m > 0) {
                r = r * 10 + m % 10;
                m /= 10;
            }
            return r == n;
            """,
            """
            long long r = 0;
            int m = n;
            while (m >= 10) {
                r = r * 10 + m % 10;
                m /= 10;
            }
            return r == n;
            """,
        ),
        make_spec(
            "palindrome/binary",
            ["vector"],
            "Return true if the binary representation of the positive integer n (without leading zeros) is a "
            "palindrome.",
            "bool is_binary_palindrome(int n)",
            "is_binary_palindrome",
            ["int"],
            "bool",
            [((n,), bin(n)[2:] == bin(n)[2:][::-1]) for n in [5, 9, 6, 1, 27]],
            """
            vector<int> bits;
            while (n > 0) {
                bits.push_back(n % 2);
                n /= 2;
            }
            for (int i = 0, j = (int)bits.size() - 1; i < j; i++, j--)
                if (bits[i] != bits[j]) return false;
            return true;
            """,
            """
            vector<int> bits;
            while (n > 1) {
                bits.push_back(n % 2);
                n /= 2;
            }
            for (int i = 0, j = (int)bits.size() - 1; i < j; i++, j--)
                if (bits[i] != bits[j]) return false;
            return true;
            """,
        ),
    ]
    return out


def _longest_run(xs: Sequence[Any], ok: Callable[[Any, Any], bool], start: Callable[[Any], bool]) -> int:
    best = cur = 0
    prev = None
    for i, x in enumerate(xs):
        if not start(x):
            cur = 0
        elif i > 0 and cur > 0 and ok(prev, x):
            cur += 1
        else:
            cur = 1
        best = max(best, cur)
        prev = x
    return best


def fam_longest_run() -> list[Spec]:
    always = lambda x: True  # noqa: E731
    variants: list[tuple[Any, ...]] = [
        (
            "equal_chars",
            "Return the length of the longest block of consecutive equal characters in s (0 for an empty string).",
            "string s",
            "str",
            ["abbcccd", "", "aabbbbcc", "xyz", "qqwwweeeee"],
            lambda s: _longest_run(s, lambda a, b: a == b, always),
            "s.size()",
            "s[i] == s[i - 1]",
            "true",
        ),
        (
            "equal_values",
            "Return the length of the longest block of consecutive equal values in v (0 for an empty vector).",
            "vector<int> v",
            "vi",
            [[1, 1, 2, 2, 2, 3], [], [5], [4, 4, 1, 7, 7, 7, 7], [-1, 2, -1, 2]],
            lambda v: _longest_run(v, lambda a, b: a == b, always),
            "v.size()",
            "v[i] == v[i - 1]",
            "true",
        ),
        (
            "increasing",
            "Return the length of the longest contiguous strictly increasing block of v (0 for an empty vector).",
            "vector<int> v",
            "vi",
            [[1, 2, 3, 1, 2], [], [5, 4, 3], [3, 1, 2, 4, 8, 9], [1, 1, 2, 2]],
            lambda v: _longest_run(v, lambda a, b: a < b, always),
            "v.size()",
            "v[i] > v[i - 1]",
            "true",
        ),
        (
            "non_decreasing",
            "Return the length of the longest contiguous non-decreasing block of v (0 for an empty vector).",
            "vector<int> v",
            "vi",
            [[1, 2, 2, 1, 5], [], [9, 8, 7], [4, 1, 1, 2, 3, 3], [2, 2]],
            lambda v: _longest_run(v, lambda a, b: a <= b, always),
            "v.size()",
            "v[i] >= v[i - 1]",
            "true",
        ),
        (
            "vowels",
            "Return the length of the longest block of consecutive lowercase vowels (a, e, i, o, u) in s.",
            "string s",
            "str",
            ["beautiful", "rhythm", "", "cooperative queue", "aeixaeiou"],
            lambda s: _longest_run(s, lambda a, b: True, lambda c: c in "aeiou"),
            "s.size()",
            "true",
            'string("aeiou").find(s[i]) != string::npos',
        ),
    ]
    out = []
    for kind, doc, params, typ, inputs, ref, size, cont, member in variants:
        req = ["vector"] if typ == "vi" else ["string"]
        correct = """
            int best = 0, cur = 0;
            for (int i = 0; i < (int)@size; i++) {
                if (!(@member)) cur = 0;
                else if (i > 0 && cur > 0 && @cont) cur++;
                else cur = 1;
                if (cur > best) best = cur;
            }
            return best;
            """
        wrong = """
            int best = 0, cur = 0;
            for (int i = 0; i < (int)@size; i++) {
                if (!(@member)) cur = 0;
                else if (i > 0 && cur > 0 && @cont) cur++;
                else {
                    if (cur > best) best = cur;
                    cur = 1;
                }
            }
            return best;
            """
        out.append(
            make_spec(
                f"longest_run/{kind}",
                req,
                doc,
                f"int longest_run_{kind}({params})",
                f"longest_run_{kind}",
                [typ],
                "int",
                [((x,), ref(x)) for x in inputs],
                correct,
                wrong,
                size=size,
                cont=cont,
                member=member,
            )
        )
    return out


FAMILIES: tuple[Callable[[], list[Spec]], ...] = (
    fam_words,
    fam_palindromes,
    fam_longest_run,
)
