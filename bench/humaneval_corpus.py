"""A self-written, HumanEval-X-style C++ corpus: prompt + canonical/wrong completion + assert test.

Every problem comes from a small parameterised family (a Python function that varies one
parameter: a divisor, a base, a window width, ...). Each family has a Python reference, and the
expected values in the asserts are computed with it, so the tests are right by construction.
The layout follows HumanEval-X C++: `prompt` is a block of includes, `using namespace std;`, a
`//` comment and the signature ending with `{\\n`; a completion is the body ending with `}\\n`;
`test` is a `main` of plain asserts. Nothing here is copied from a data set.

Usage: `from bench.humaneval_corpus import build_corpus`. `python bench/humaneval_corpus.py` prints
the count and the header-block mix; add `--check [TASK_ID_PREFIX ...]` to verify the problems for
real with `verify_cpp` (canonical must pass, wrong must fail).
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
    lines = textwrap.dedent(src).split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
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
        call = f"{name}(" + ", ".join(_arg(a, t) for a, t in zip(args, arg_types, strict=True)) + ")"
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
            "the character, followed by the length of the run only when it is longer than 1 (for example "
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
        _spec(
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


def fam_bits() -> list[_Spec]:
    def pc(n: int) -> int:
        return bin(n).count("1")

    return [
        _spec(
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
        _spec(
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
        _spec(
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
        _spec(
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
        _spec(
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
        _spec(
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


def fam_sort_by_key() -> list[_Spec]:
    def digit_sum(x: int) -> int:
        return sum(int(c) for c in str(abs(x)))

    variants = [
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
        cases = [((v,), sorted(v, key=lambda x, key=key: (key(x), x))) for v in vecs]
        body = """
            @lam
            sort(v.begin(), v.end(), [&](int a, int b) {
                if (key(a) != key(b)) return key(a) < key(b);
                return a @cmp b;
            });
            return v;
            """
        out.append(
            _spec(
                f"sort_by_key/{kind}",
                ["vector", "algorithm"],
                "Sort the vector v in ascending order of the @what of its elements; elements with equal keys go "
                "in ascending order of value. Return the sorted vector.",
                "vector<int> sort_by_@kind(vector<int> v)",
                f"sort_by_{kind}",
                ["vi"],
                "vi",
                cases,
                _fill(body, lam=lam, cmp="<"),
                _fill(body, lam=lam, cmp=">"),
                what=what,
                kind=kind,
            )
        )
    strs = [["ccc", "a", "bb", "aa", "b"], [], ["hello", "hi", "hey"], ["xy", "ab", "abc", "z"]]
    out.append(
        _spec(
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


def fam_two_sum() -> list[_Spec]:
    out = []
    for t in (0, 10, 8, -4, 12):
        rng = _rng(f"twosum{t}")
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
            _spec(
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


def fam_intervals() -> list[_Spec]:
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
    variants = [
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
            _spec(
                f"intervals/{kind}",
                ["vector", "algorithm"],
                full,
                head + "(vector<vector<int>> v)",
                head.split()[-1],
                ["vvi"],
                ret,
                [((iv,), ref(iv)) for iv in inputs],
                _fill(merge_loop + "@tail\n", sortline=sort_line, op=op, tail=tail),
                _fill(merge_loop + "@tail\n", sortline="", op=op, tail=tail),
            )
        )
    out.append(
        _spec(
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


def fam_matrix() -> list[_Spec]:
    mats = [
        [[1, 2, 3], [4, 5, 6], [7, 8, 9]],
        [[5]],
        [[-1, -2], [-3, -4]],
        [[2, 7, 1, 0], [7, 3, 5, 2], [1, 4, -6, 8], [0, 2, 8, 9]],
    ]

    def border(m: list[list[int]]) -> int:
        n = len(m)
        return sum(m[i][j] for i in range(n) for j in range(n) if i in (0, n - 1) or j in (0, n - 1))

    variants = [
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
            _spec(
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


def fam_letters_of_word() -> list[_Spec]:
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
            _spec(
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


def fam_frequency() -> list[_Spec]:
    vecs = [[3, 1, 3, 2, 1, 3], [7], [5, 4, 5, 4], [2, 9, 2, 9, 1, 9, 2, 1], [8, -1, 8, -1, 6]]

    def most_common(v: Sequence[Any]) -> Any:
        c = Counter(v)
        best = max(c.values())
        return min(x for x in c if c[x] == best)

    return [
        _spec(
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
        _spec(
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
        _spec(
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
        _spec(
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
        _spec(
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


def fam_fib_mod() -> list[_Spec]:
    out = []
    for m in (10, 7, 1000, 13, 1000000007):

        def ref(n: int, m: int = m) -> int:
            a, b = 0, 1
            for _ in range(n):
                a, b = b, (a + b) % m
            return a % m

        out.append(
            _spec(
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


def fam_brackets() -> list[_Spec]:
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
            _spec(
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


def fam_k_largest_sum() -> list[_Spec]:
    out = []
    for k in (2, 3, 4, 5):
        vecs = [[5, 1, 9, 9, 3, 7], [2] * (k + 2), [-1, -5, -3, -2, -8], [10, 20, 30, 40, 50, 10, 20]]
        out.append(
            _spec(
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


def fam_distinct_substrings() -> list[_Spec]:
    out = []
    for k in (1, 2, 3, 4):
        texts = ["abcabc", "aaaa", "ab", "mississippi", "abcdefg"]
        out.append(
            _spec(
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


def fam_long_words() -> list[_Spec]:
    out = []
    texts = ["the cat sat on a mat", "", "  extraordinary   words here  ", "ab abc abcd abcde abcdef", "x"]
    for k in (2, 3, 4, 5):
        out.append(
            _spec(
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


def fam_pairs_with_difference() -> list[_Spec]:
    out = []
    for k in (0, 1, 2, 3, 5):
        rng = _rng(f"pairdiff{k}")
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
            _spec(
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


def fam_extremes() -> list[_Spec]:
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
        _spec(
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
        _spec(
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
        _spec(
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
        _spec(
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


def fam_partitions() -> list[_Spec]:
    out = []
    for k in (2, 3, 4, 5):

        def ref(n: int, k: int = k) -> int:
            ways = [1] + [0] * n
            for part in range(1, k + 1):
                for i in range(part, n + 1):
                    ways[i] += ways[i - part]
            return ways[n]

        out.append(
            _spec(
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
    fam_bits,
    fam_sort_by_key,
    fam_two_sum,
    fam_intervals,
    fam_matrix,
    fam_letters_of_word,
    fam_frequency,
    fam_fib_mod,
    fam_brackets,
    fam_k_largest_sum,
    fam_distinct_substrings,
    fam_long_words,
    fam_pairs_with_difference,
    fam_extremes,
    fam_partitions,
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
