"""A self-written, HumanEval-X-style C++ corpus: prompt + canonical/wrong completion + assert test.

Every problem comes from a small parameterised family (a Python function that varies one
parameter: a divisor, a base, a window width, ...). Each family has a Python reference, and the
expected values in the asserts are computed with it, so the tests are right by construction.
The layout follows HumanEval-X C++: `prompt` is a block of includes, `using namespace std;`, a
`//` comment and the signature ending with `{\\n`; a completion is the body ending with `}\\n`;
`test` is a `main` of plain asserts. Nothing here is copied from a data set.

Usage: `from bench.humaneval_corpus import build_corpus`; `python bench/humaneval_corpus.py`
prints a summary.
"""

from __future__ import annotations

import random
import re
import textwrap
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    canonical_solution: str
    wrong_solution: str
    test: str


def _block(*headers: str) -> str:
    return "".join(f"#include<{h}>\n" for h in headers)


BITS_BLOCK = _block("bits/stdc++.h")

# The header blocks most prompts use; a problem takes one that holds every header its solution needs.
COMMON_HEADER_BLOCKS: tuple[str, ...] = (
    _block("stdio.h", "vector", "string", "algorithm"),
    _block("stdio.h", "math.h", "vector"),
    _block("string", "map", "vector"),
    _block("vector", "numeric"),
    _block("string", "cctype"),
    _block("stdio.h", "vector", "algorithm", "math.h"),
    _block("stdio.h", "string", "vector"),
    _block("vector", "string", "cctype", "algorithm"),
)

# Order used when a problem needs headers that no common block holds (set, sstream, queue, ...).
_HEADER_ORDER = (
    "stdio.h",
    "math.h",
    "climits",
    "vector",
    "string",
    "map",
    "set",
    "unordered_map",
    "queue",
    "deque",
    "sstream",
    "functional",
    "numeric",
    "algorithm",
    "cctype",
)

BITS_EVERY = 7  # about one problem in seven uses <bits/stdc++.h>
BITS_OFFSET = 3


def _headers_of(block: str) -> set[str]:
    return set(re.findall(r"#include<([^>]+)>", block))


# ---------------------------------------------------------------------------------------------
# C++ literals


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _arg(v: Any, t: str) -> str:
    """`v` as a C++ call argument of kind `t`."""
    if t in ("int", "ll"):
        return str(int(v))
    if t == "bool":
        return "true" if v else "false"
    if t == "str":
        return _q(v)
    if t == "char":
        return "'" + ("\\'" if v == "'" else "\\\\" if v == "\\" else v) + "'"
    if t == "vi":
        return "{" + ", ".join(str(int(x)) for x in v) + "}"
    if t == "vs":
        return "{" + ", ".join(_q(x) for x in v) + "}"
    if t == "vvi":
        return "{" + ", ".join(_arg(r, "vi") for r in v) + "}"
    raise ValueError(f"unknown literal kind {t!r}")


_VECTOR_TYPES = {"vi": "vector<int>", "vs": "vector<string>", "vvi": "vector<vector<int>>"}


def _expect(v: Any, t: str) -> str:
    """`v` as the right-hand side of `==` inside assert (top-level commas wrapped in parentheses)."""
    if t in _VECTOR_TYPES:
        return f"{_VECTOR_TYPES[t]}{{}}" if not v else f"{_VECTOR_TYPES[t]}({_arg(v, t)})"
    return _arg(v, t)


def _fill(src: str, **kw: Any) -> str:
    """Replace each `@name` with `kw[name]`; the lines after the first of a multi-line value take the
    indentation of the line that holds the placeholder."""

    def sub_line(line: str) -> str:
        indent = line[: len(line) - len(line.lstrip())]
        return re.sub(r"@([A-Za-z0-9]+)", lambda m: str(kw[m.group(1)]).replace("\n", "\n" + indent), line)

    return "\n".join(sub_line(ln) for ln in src.split("\n"))


def _body(src: str, **kw: Any) -> str:
    """A function body: dedented source, indented by four spaces, closed with `}`."""
    lines = textwrap.dedent(src).strip("\n").split("\n")
    text = "\n".join(("    " + ln) if ln.strip() else "" for ln in lines)
    return _fill(text, **kw) + "\n}\n"


# ---------------------------------------------------------------------------------------------
# Specs (a problem before its header block is chosen)


@dataclass(frozen=True)
class _Spec:
    task_id: str
    req: frozenset[str]
    comment: str
    signature: str
    canonical: str
    wrong: str
    test: str


Case = tuple[Sequence[Any], Any]


def _spec(
    task_id: str,
    req: Sequence[str],
    doc: str,
    signature: str,
    name: str,
    arg_types: Sequence[str],
    ret_type: str,
    cases: Sequence[Case],
    correct: str,
    wrong: str,
    **kw: Any,
) -> _Spec:
    if not 3 <= len(cases) <= 5:
        raise ValueError(f"{task_id}: {len(cases)} test cases, want 3-5")
    calls = []
    for args, expected in cases:
        if len(args) != len(arg_types):
            raise ValueError(f"{task_id}: arity mismatch")
        call = f"{name}(" + ", ".join(_arg(a, t) for a, t in zip(args, arg_types)) + ")"
        calls.append((call, _expect(expected, ret_type)))
    ex_call, _ = calls[0]
    ex_value = _arg(cases[0][1], ret_type)
    comment_lines = [*textwrap.wrap(_fill(doc, **kw), 90), f"For example: {ex_call} == {ex_value}"]
    comment = "".join(f"// {ln}\n" for ln in comment_lines)
    test = "#undef NDEBUG\n#include<assert.h>\nint main(){\n"
    test += "".join(f"    assert ({call} == {exp});\n" for call, exp in calls)
    test += "}\n"
    return _Spec(
        task_id=task_id,
        req=frozenset(req),
        comment=comment,
        signature=_fill(signature, **kw) + "{\n",
        canonical=_body(correct, **kw),
        wrong=_body(wrong, **kw),
        test=test,
    )


def _choose_block(index: int, spec: _Spec) -> str:
    if index % BITS_EVERY == BITS_OFFSET:
        return BITS_BLOCK
    fits = [b for b in COMMON_HEADER_BLOCKS if spec.req <= _headers_of(b)]
    if fits:
        return fits[zlib.crc32(spec.task_id.encode()) % len(fits)]
    unknown = spec.req - set(_HEADER_ORDER)
    if unknown:
        raise ValueError(f"{spec.task_id}: no header order for {sorted(unknown)}")
    return _block(*(h for h in _HEADER_ORDER if h in spec.req))


def _finish(index: int, spec: _Spec) -> Problem:
    prompt = _choose_block(index, spec) + "using namespace std;\n" + spec.comment + spec.signature
    return Problem(spec.task_id, prompt, spec.canonical, spec.wrong, spec.test)


def _rng(tag: str) -> random.Random:
    return random.Random(f"cppforge-humaneval-{tag}")


# ---------------------------------------------------------------------------------------------
# Families


def fam_count_divisible() -> list[_Spec]:
    out = []
    for k in (2, 3, 4, 5, 7, 10):
        rng = _rng(f"div{k}")
        vecs = [
            [0, k, -k, 1, 2 * k + 1, 5 * k],
            [rng.randint(-40, 40) for _ in range(9)],
            [],
            [k + 1, 3 * k, 1],
        ]
        cases = [((v,), sum(1 for x in v if x % k == 0)) for v in vecs]
        out.append(
            _spec(
                f"count_divisible/k{k}",
                ["vector"],
                "Given a vector of integers, return how many of its elements are divisible by @k "
                "(zero and negative multiples count too).",
                "int count_divisible_by_@k(vector<int> v)",
                f"count_divisible_by_{k}",
                ["vi"],
                "int",
                cases,
                """
                int c = 0;
                for (int i = 0; i < (int)v.size(); i++)
                    if (v[i] % @k == 0) c++;
                return c;
                """,
                """
                int c = 0;
                for (int i = 0; i < (int)v.size(); i++)
                    if (v[i] > 0 && v[i] % @k == 0) c++;
                return c;
                """,
                k=k,
            )
        )
    return out


def fam_digit_sum_base() -> list[_Spec]:
    out = []
    for b in (2, 3, 5, 7, 8, 16):
        rng = _rng(f"dsb{b}")
        ns = [b - 1, 0, b * b + 1, 1000, rng.randint(10_000, 1_000_000)]

        def ref(n: int, b: int = b) -> int:
            s = 0
            while n:
                s += n % b
                n //= b
            return s

        out.append(
            _spec(
                f"digit_sum_base/b{b}",
                [],
                "Return the sum of the digits of the non-negative integer n written in base @b.",
                "int digit_sum_base@b(int n)",
                f"digit_sum_base{b}",
                ["int"],
                "int",
                [((n,), ref(n)) for n in ns],
                """
                int s = 0;
                while (n > 0) {
                    s += n % @b;
                    n /= @b;
                }
                return s;
                """,
                """
                int s = 0;
                while (n >= @b) {
                    s += n % @b;
                    n /= @b;
                }
                return s;
                """,
                b=b,
            )
        )
    return out


def fam_linear_recurrence() -> list[_Spec]:
    out = []
    params = [(1, 1, 0, 1), (2, 1, 0, 1), (1, 2, 0, 1), (3, -2, 0, 1), (1, 1, 2, 1), (2, -1, 1, 3)]
    for i, (p, q, x0, x1) in enumerate(params):

        def ref(n: int, p: int = p, q: int = q, x0: int = x0, x1: int = x1) -> int:
            a, b = x0, x1
            if n == 0:
                return a
            for _ in range(2, n + 1):
                a, b = b, p * b + q * a
            return b

        ns = [4, 0, 1, 10, 30]
        out.append(
            _spec(
                f"linear_recurrence/{i}",
                [],
                "The sequence a is defined by a(0) = @x0, a(1) = @x1 and a(n) = @p * a(n-1) + (@q) * a(n-2) "
                "for n >= 2. Return a(n).",
                "long long seq_@i(int n)",
                f"seq_{i}",
                ["int"],
                "ll",
                [((n,), ref(n)) for n in ns],
                """
                if (n == 0) return @x0;
                long long a = @x0, b = @x1;
                for (int i = 2; i <= n; i++) {
                    long long c = @p * b + (@q) * a;
                    a = b;
                    b = c;
                }
                return b;
                """,
                """
                if (n == 0) return @x0;
                long long a = @x0, b = @x1;
                for (int i = 2; i < n; i++) {
                    long long c = @p * b + (@q) * a;
                    a = b;
                    b = c;
                }
                return b;
                """,
                p=p,
                q=q,
                x0=x0,
                x1=x1,
                i=i,
            )
        )
    return out


def fam_rotate() -> list[_Spec]:
    out = []
    for direction, k in (("left", 1), ("left", 2), ("left", 3), ("right", 1), ("right", 2), ("right", 4)):
        rng = _rng(f"rot{direction}{k}")
        vecs = [[1, 2, 3, 4, 5, 6, 7], [rng.randint(-9, 9) for _ in range(5)], [42], []]

        def ref(v: list[int], direction: str = direction, k: int = k) -> list[int]:
            if not v:
                return []
            s = k % len(v)
            return v[s:] + v[:s] if direction == "left" else v[len(v) - s :] + v[: len(v) - s]

        left = """
            int n = v.size();
            vector<int> out(n);
            for (int i = 0; i < n; i++) out[i] = v[(i + @k) % n];
            return out;
            """
        right = """
            int n = v.size();
            vector<int> out(n);
            for (int i = 0; i < n; i++) out[(i + @k) % n] = v[i];
            return out;
            """
        correct, wrong = (left, right) if direction == "left" else (right, left)
        out.append(
            _spec(
                f"rotate/{direction}{k}",
                ["vector"],
                "Rotate the vector v to the @direction by @k positions and return the result "
                "(an empty vector stays empty).",
                "vector<int> rotate_@direction_@k(vector<int> v)",
                f"rotate_{direction}_{k}",
                ["vi"],
                "vi",
                [((v,), ref(v)) for v in vecs],
                correct,
                wrong,
                direction=direction,
                k=k,
            )
        )
    return out



_CLASS_STRINGS = ["Hello World", "AEIOU xyz 2024", "", "Zebra-Quiz 09!", "rhythm & Blues, 7 Days"]


def _is_vowel(c: str) -> bool:
    return c in "aeiouAEIOU"


def fam_char_classes() -> list[_Spec]:
    variants = [
        (
            "vowels",
            "vowels (a, e, i, o, u in either case)",
            _is_vowel,
            "if (v.find((char)tolower(s[i])) != string::npos) c++;",
            "if (v.find(s[i]) != string::npos) c++;",
        ),
        (
            "consonants",
            "consonants (letters that are not a, e, i, o, u in either case)",
            lambda c: c.isalpha() and not _is_vowel(c),
            "if (isalpha(s[i]) && v.find((char)tolower(s[i])) == string::npos) c++;",
            "if (v.find((char)tolower(s[i])) == string::npos) c++;",
        ),
        (
            "digits",
            "decimal digit characters",
            str.isdigit,
            "if (isdigit(s[i])) c++;",
            "if (s[i] > '0' && s[i] <= '9') c++;",
        ),
        (
            "uppercase",
            "uppercase letters",
            str.isupper,
            "if (isupper(s[i])) c++;",
            "if (s[i] >= 'A' && s[i] < 'Z') c++;",
        ),
        (
            "symbols",
            "characters that are neither letters nor digits (spaces and punctuation included)",
            lambda c: not c.isalnum(),
            "if (!isalnum(s[i])) c++;",
            "if (!isalpha(s[i])) c++;",
        ),
    ]
    out = []
    for kind, what, pred, good, bad in variants:
        cases = [((s,), sum(1 for c in s if pred(c))) for s in _CLASS_STRINGS]
        src = """
            string v = "aeiou";
            int c = 0;
            for (int i = 0; i < (int)s.size(); i++)
                @line
            return c;
            """
        out.append(
            _spec(
                f"char_classes/{kind}",
                ["string", "cctype"],
                "Count the @what in the string s.",
                "int count_@kind(string s)",
                f"count_{kind}",
                ["str"],
                "int",
                cases,
                _fill(src, line=good),
                _fill(src, line=bad),
                what=what,
                kind=kind,
            )
        )
    return out


def fam_caesar() -> list[_Spec]:
    out = []
    for direction, k in (("forward", 1), ("forward", 3), ("forward", 13), ("back", 2), ("back", 5)):
        words = ["abc", "xyz", "hello, world!", "", "Zz aZ quiz"]
        sign = 1 if direction == "forward" else -1

        def ref(s: str, sign: int = sign, k: int = k) -> str:
            return "".join(chr((ord(c) - 97 + sign * k) % 26 + 97) if "a" <= c <= "z" else c for c in s)

        if direction == "forward":
            good = "out += (char)('a' + (s[i] - 'a' + @k) % 26);"
            bad = "int d = s[i] + @k;\nif (d > 'z') d -= 25;\nout += (char)d;"
        else:
            good = "out += (char)('a' + (s[i] - 'a' + 26 - @k) % 26);"
            bad = "int d = s[i] - @k;\nif (d < 'a') d += 25;\nout += (char)d;"
        src = """
            string out = "";
            for (int i = 0; i < (int)s.size(); i++) {
                if (s[i] >= 'a' && s[i] <= 'z') {
                    @line
                } else {
                    out += s[i];
                }
            }
            return out;
            """
        out.append(
            _spec(
                f"caesar/{direction}{k}",
                ["string"],
                "Shift every lowercase letter of s @direction by @k places in the alphabet, wrapping "
                "around between 'z' and 'a'; every other character stays as it is. Return the new string.",
                "string shift_@direction_@k(string s)",
                f"shift_{direction}_{k}",
                ["str"],
                "str",
                [((s,), ref(s)) for s in words],
                _fill(src, line=good),
                _fill(src, line=bad),
                direction=direction,
                k=k,
            )
        )
    return out


def _runs(s: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for c in s:
        if out and out[-1][0] == c:
            out[-1] = (c, out[-1][1] + 1)
        else:
            out.append((c, 1))
    return out


def fam_run_length() -> list[_Spec]:
    inputs = ["aaabcc", "", "abcd", "zzzzzzzzzzzzaab", "xxyyyx"]
    loop = """
        string out = "";
        int n = s.size();
        int i = 0;
        while (i < n) {
            int j = i;
            while (j < n && s[j] == s[i]) j++;
            @emit
            i = j;
        }
        return out;
        """
    buggy = """
        string out = "";
        int n = s.size();
        if (n == 0) return out;
        char cur = s[0];
        int cnt = 1;
        for (int i = 1; i < n; i++) {
            if (s[i] == cur) {
                cnt++;
            } else {
                @emitcur
                cur = s[i];
                cnt = 1;
            }
        }
        return out;
        """
    formats = [
        (
            "char_count",
            'the character followed by the length of the run (for example "aaab" -> "a3b1")',
            lambda s: "".join(f"{c}{n}" for c, n in _runs(s)),
            "out += s[i];\nout += to_string(j - i);",
            "out += cur;\nout += to_string(cnt);",
        ),
        (
            "count_char",
            'the length of the run followed by the character (for example "aaab" -> "3a1b")',
            lambda s: "".join(f"{n}{c}" for c, n in _runs(s)),
            "out += to_string(j - i);\nout += s[i];",
            "out += to_string(cnt);\nout += cur;",
        ),
        (
            "compact",
            'the character, followed by the length of the run only when it is longer than 1 (for example '
            '"aaab" -> "a3b")',
            lambda s: "".join(c + (str(n) if n > 1 else "") for c, n in _runs(s)),
            "out += s[i];\nif (j - i > 1) out += to_string(j - i);",
            "out += cur;\nif (cnt > 1) out += to_string(cnt);",
        ),
    ]
    out = []
    for kind, what, ref, emit, emitcur in formats:
        out.append(
            _spec(
                f"run_length/{kind}",
                ["string"],
                "Run-length encode the string s: write each maximal run of equal characters as @what.",
                "string rle_@kind(string s)",
                f"rle_{kind}",
                ["str"],
                "str",
                [((s,), ref(s)) for s in inputs],
                _fill(loop, emit=emit),
                _fill(buggy, emitcur=emitcur),
                what=what,
                kind=kind,
            )
        )
    out.append(
        _spec(
            "run_length/count_runs",
            ["string"],
            "Return the number of maximal runs of equal characters in s (0 for the empty string).",
            "int count_runs(string s)",
            "count_runs",
            ["str"],
            "int",
            [((s,), len(_runs(s))) for s in inputs],
            """
            int runs = 0;
            for (int i = 0; i < (int)s.size(); i++)
                if (i == 0 || s[i] != s[i - 1]) runs++;
            return runs;
            """,
            """
            int runs = 0;
            for (int i = 1; i < (int)s.size(); i++)
                if (s[i] != s[i - 1]) runs++;
            return runs;
            """,
        )
    )
    encoded = ["a3b1c2", "", "x9", "q1w2e3", "z2z2"]
    out.append(
        _spec(
            "run_length/decode",
            ["string"],
            "s is a run-length encoding made of pairs: a character followed by one digit, the length of its "
            "run. Decode it and return the original string.",
            "string rle_decode(string s)",
            "rle_decode",
            ["str"],
            "str",
            [((s,), "".join(s[i] * int(s[i + 1]) for i in range(0, len(s), 2))) for s in encoded],
            """
            string out = "";
            for (int i = 0; i + 1 < (int)s.size(); i += 2)
                for (int j = 0; j < s[i + 1] - '0'; j++) out += s[i];
            return out;
            """,
            """
            string out = "";
            for (int i = 0; i + 1 < (int)s.size(); i += 2)
                for (int j = 1; j < s[i + 1] - '0'; j++) out += s[i];
            return out;
            """,
        )
    )
    return out


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


def fam_words() -> list[_Spec]:
    def words(s: str) -> list[str]:
        return s.split(" ") if s else []

    def longest(s: str) -> str:
        best = ""
        for w in words(s):
            if len(w) > len(best):
                best = w
        return best

    out = [
        _spec(
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
        _spec(
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
        _spec(
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
        _spec(
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
        _spec(
            "words/longest",
            ["vector", "string"],
            "s is a sentence of words separated by single spaces. Return its longest word; when several words "
            "share the longest length return the first of them, and return \"\" for an empty sentence.",
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


def fam_palindromes() -> list[_Spec]:
    out = [
        _spec(
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
        _spec(
            "palindrome/alnum",
            ["string", "cctype"],
            "Return true if s is a palindrome when only its letters and digits are considered and case is "
            "ignored.",
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
        _spec(
            "palindrome/spaces",
            ["string"],
            "Return true if s reads the same forwards and backwards once all its spaces are removed (case "
            "matters).",
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
        _spec(
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
        _spec(
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


def fam_longest_run() -> list[_Spec]:
    always = lambda x: True  # noqa: E731
    variants = [
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
            _spec(
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


def fam_subarray_sum() -> list[_Spec]:
    out = []
    for k in (0, 1, 3, 5, -2):
        rng = _rng(f"subsum{k}")
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
            _spec(
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


def fam_sliding_window() -> list[_Spec]:
    out = []
    for kind, k in (("max", 2), ("max", 3), ("max", 4), ("min", 2), ("min", 3)):
        rng = _rng(f"win{kind}{k}")
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
            _spec(
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


def fam_climb_stairs() -> list[_Spec]:
    out = []
    for k in (2, 3, 4, 5, 6):

        def ref(n: int, k: int = k) -> int:
            ways = [1] + [0] * n
            for i in range(1, n + 1):
                ways[i] = sum(ways[i - j] for j in range(1, k + 1) if i - j >= 0)
            return ways[n]

        out.append(
            _spec(
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


def fam_gcd_lcm() -> list[_Spec]:
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
        _spec(
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
        _spec(
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
        _spec(
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
        _spec(
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
        _spec(
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


def fam_primes() -> list[_Spec]:
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

    specs = [
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
            _spec(
                f"primes/{kind}",
                [],
                doc,
                sig,
                name,
                ["int"],
                ret,
                [((n,), ref(n)) for n, _ in ns],
                textwrap.dedent(_fill(lam, op="<=")) + loop,
                textwrap.dedent(_fill(lam, op="<")) + loop,
            )
        )
    out.append(
        _spec(
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

FAMILIES: tuple[Callable[[], list[_Spec]], ...] = (
    fam_count_divisible,
    fam_digit_sum_base,
    fam_linear_recurrence,
    fam_rotate,
    fam_char_classes,
    fam_caesar,
    fam_run_length,
    fam_words,
    fam_palindromes,
    fam_longest_run,
    fam_subarray_sum,
    fam_sliding_window,
    fam_climb_stairs,
    fam_gcd_lcm,
    fam_primes,
)


def build_corpus() -> list[Problem]:
    """Every problem of every family, in a fixed order; the same list on every call."""
    specs = [spec for family in FAMILIES for spec in family()]
    ids = [s.task_id for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate task ids")
    return [_finish(i, spec) for i, spec in enumerate(specs)]


def check_problem(problem: Problem) -> list[str]:
    """Verify one problem for real: the canonical body must pass the test, the wrong one must fail it."""
    from services.verifier.verify import verify_cpp

    errors = []
    good = verify_cpp(problem.prompt + problem.canonical_solution, problem.test)
    if not (good.compile_ok and good.tests_total == 1 and good.tests_passed == 1):
        detail = (good.compile_output or good.stderr).strip()[-600:]
        errors.append(f"{problem.task_id}: canonical failed ({good.tests_passed}/{good.tests_total}): {detail}")
    bad = verify_cpp(problem.prompt + problem.wrong_solution, problem.test)
    if not bad.compile_ok:
        errors.append(f"{problem.task_id}: wrong solution does not compile: {bad.compile_output.strip()[-600:]}")
    elif bad.tests_passed != 0:
        errors.append(f"{problem.task_id}: wrong solution passes ({bad.tests_passed}/{bad.tests_total})")
    return errors


def check_corpus(problems: Sequence[Problem], workers: int = 2) -> list[str]:
    """`check_problem` over all `problems` on a small thread pool; the errors, in corpus order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        return [e for errs in pool.map(check_problem, problems) for e in errs]


def header_distribution(problems: Sequence[Problem]) -> Counter[str]:
    """How many prompts open with each header block."""
    return Counter(p.prompt.split("using namespace std;\n", 1)[0] for p in problems)


if __name__ == "__main__":
    import sys
    import time
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    corpus = build_corpus()
    print(f"{len(corpus)} problems")
    for block, n in header_distribution(corpus).most_common():
        print(f"{n:4d}  {block.replace(chr(10), ' ').strip()}")
    if "--check" in sys.argv:
        only = [a for a in sys.argv[1:] if not a.startswith("--")]
        chosen = [p for p in corpus if not only or any(p.task_id.startswith(o) for o in only)]
        t0 = time.monotonic()
        problems = check_corpus(chosen)
        print(f"checked {len(chosen)} problems in {time.monotonic() - t0:.1f}s: {len(problems)} errors")
        for line in problems:
            print(line)
        sys.exit(1 if problems else 0)
