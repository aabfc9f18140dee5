"""Bench families: digit sums, recurrences, rotation, character classes, Caesar, run length."""

from __future__ import annotations

from collections.abc import Callable

from .common import Spec, family_rng, fill, make_spec


def fam_count_divisible() -> list[Spec]:
    out = []
    for k in (2, 3, 4, 5, 7, 10):
        rng = family_rng(f"div{k}")
        vecs = [
            [0, k, -k, 1, 2 * k + 1, 5 * k],
            [rng.randint(-40, 40) for _ in range(9)],
            [],
            [k + 1, 3 * k, 1],
        ]
        cases = [((v,), sum(1 for x in v if x % k == 0)) for v in vecs]
        out.append(
            make_spec(
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


def fam_digit_sum_base() -> list[Spec]:
    out = []
    for b in (2, 3, 5, 7, 8, 16):
        rng = family_rng(f"dsb{b}")
        ns = [b - 1, 0, b * b + 1, 1000, rng.randint(10_000, 1_000_000)]

        def ref(n: int, b: int = b) -> int:
            s = 0
            while n:
                s += n % b
                n //= b
            return s

        out.append(
            make_spec(
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


def fam_linear_recurrence() -> list[Spec]:
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
            make_spec(
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


def fam_rotate() -> list[Spec]:
    out = []
    for direction, k in (("left", 1), ("left", 2), ("left", 3), ("right", 1), ("right", 2), ("right", 4)):
        rng = family_rng(f"rot{direction}{k}")
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
            make_spec(
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


def fam_char_classes() -> list[Spec]:
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
            make_spec(
                f"char_classes/{kind}",
                ["string", "cctype"],
                "Count the @what in the string s.",
                "int count_@kind(string s)",
                f"count_{kind}",
                ["str"],
                "int",
                cases,
                fill(src, line=good),
                fill(src, line=bad),
                what=what,
                kind=kind,
            )
        )
    return out


def fam_caesar() -> list[Spec]:
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
            make_spec(
                f"caesar/{direction}{k}",
                ["string"],
                "Shift every lowercase letter of s @direction by @k places in the alphabet, wrapping "
                "around between 'z' and 'a'; every other character stays as it is. Return the new string.",
                "string shift_@direction_@k(string s)",
                f"shift_{direction}_{k}",
                ["str"],
                "str",
                [((s,), ref(s)) for s in words],
                fill(src, line=good),
                fill(src, line=bad),
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


def fam_run_length() -> list[Spec]:
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
    formats: list[tuple[str, str, Callable[..., object], str, str]] = [
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
            make_spec(
                f"run_length/{kind}",
                ["string"],
                "Run-length encode the string s: write each maximal run of equal characters as @what.",
                "string rle_@kind(string s)",
                f"rle_{kind}",
                ["str"],
                "str",
                [((s,), ref(s)) for s in inputs],
                fill(loop, emit=emit),
                fill(buggy, emitcur=emitcur),
                what=what,
                kind=kind,
            )
        )
    out.append(
        make_spec(
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
        make_spec(
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


FAMILIES: tuple[Callable[[], list[Spec]], ...] = (
    fam_count_divisible,
    fam_digit_sum_base,
    fam_linear_recurrence,
    fam_rotate,
    fam_char_classes,
    fam_caesar,
    fam_run_length,
)
