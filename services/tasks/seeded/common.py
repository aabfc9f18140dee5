"""Shared pieces of the seeded generator: name pools, the per-task drawing state, literals, C++ semantics.

A task is HumanEval-X shaped: `prompt` (includes, optional `using namespace std;`, an optional
struct, a `// comment` and the signature ending in ` {`, no trailing newline: see the tokenisation
pitfall in DESIGN.md), `canonical_solution` (the body from its leading newline to the closing `}`
at column 0 and a final newline) and `test` (a `main` of asserts). Names, constants, comparison
operators, loop styles and phrasing are drawn at random, so a few dozen families give thousands of
distinct samples. Expected values come from Python references with C++ semantics; inputs stay
small enough that nothing overflows an `int`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

INDENT = "    "
TEST_HEADER = "#undef NDEBUG\n#include <cassert>\n"
HEADER_ORDER = ("algorithm", "cctype", "cstdlib", "numeric", "string", "vector")

# Names the standard library (under `using namespace std;`) or the C library already takes.
RESERVED = {
    "abs", "accumulate", "all_of", "any_of", "clamp", "copy", "count", "count_if", "data", "distance", "empty",
    "equal", "exp", "fill", "find", "gcd", "isdigit", "islower", "isupper", "lcm", "log", "max", "max_element",
    "merge", "min", "min_element", "next", "pow", "prev", "remove", "replace", "reverse", "rotate", "search",
    "size", "sort", "sqrt", "swap", "tolower", "toupper", "transform", "unique", "begin", "end", "div", "sum",
    "power", "sign", "filter", "product", "contains", "index", "left", "right", "string", "vector", "int",
    "bool", "char", "auto", "return", "for", "while", "if", "else", "do", "main", "assert",
    # <functional> class templates: naming a function after them makes every call ambiguous
    "plus", "minus", "multiplies", "divides", "modulus", "negate", "equal_to", "not_equal_to", "greater",
    "less", "greater_equal", "less_equal", "logical_and", "logical_or", "logical_not", "bit_and", "bit_or",
    "bit_xor", "hash", "function", "array", "list", "map", "set", "pair", "tuple", "byte", "span", "includes",
    "mismatch", "partition", "sample", "shuffle", "iota", "move", "forward", "ssize", "bind",
}  # fmt: skip

INT_NAMES = ["a", "b", "c", "x", "y", "z", "n", "m", "p", "q", "u", "w", "k", "num", "val", "value", "lhs", "rhs"]
VEC_NAMES = ["v", "nums", "arr", "values", "xs", "items", "numbers", "vec", "elems", "input", "seq", "a"]
STR_NAMES = ["s", "str", "text", "word", "line", "input", "name", "t", "msg", "src"]
ACC_NAMES = ["total", "acc", "result", "res", "out", "ans", "sum_", "running"]
CNT_NAMES = ["count", "cnt", "c", "hits", "matches", "found", "n_found", "num"]
IDX_NAMES = ["i", "j", "k", "idx", "pos"]
ELEM_NAMES = ["x", "e", "val", "item", "elem", "el", "num", "cur", "v_i"]
CHAR_NAMES = ["ch", "c", "letter", "cur", "chr"]

OPS: dict[str, tuple[str, list[str], Callable[[int, int], bool]]] = {
    ">": ("greater than", ["greater", "above", "gt", "over", "bigger"], lambda a, b: a > b),
    "<": ("less than", ["less", "below", "lt", "under", "smaller"], lambda a, b: a < b),
    ">=": ("at least", ["at_least", "ge", "not_below"], lambda a, b: a >= b),
    "<=": ("at most", ["at_most", "le", "not_above"], lambda a, b: a <= b),
    "==": ("equal to", ["equal", "eq", "matching"], lambda a, b: a == b),
    "!=": ("not equal to", ["not_equal", "ne", "different"], lambda a, b: a != b),
}


@dataclass
class Fn:
    """One drawn function before rendering."""

    name: str
    ret: str
    params: list[str]
    comment: str
    body: list[str]  # lines relative to the function body (depth 0 = one indent)
    tests: list[str]  # C++ boolean expressions for assert(...)
    headers: set[str] = field(default_factory=set)
    preamble: str = ""  # e.g. a struct definition, placed before the comment


class Gen:
    """Per-task drawing state: the RNG, the `using namespace std;` choice and names taken."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.using_std = rng.random() < 0.8
        self.used: set[str] = set()
        self.headers: set[str] = set()

    # -- names -------------------------------------------------------------------------------
    def std(self, name: str) -> str:
        return name if self.using_std else "std::" + name

    @property
    def vec(self) -> str:
        self.headers.add("vector")
        return self.std("vector") + "<int>"

    @property
    def string(self) -> str:
        self.headers.add("string")
        return self.std("string")

    def pick(self, pool: Sequence[str]) -> str:
        choices = [p for p in pool if p not in self.used]
        name = self.rng.choice(choices) if choices else f"tmp{len(self.used)}"
        self.used.add(name)
        return name

    def fname(self, *parts: str | Sequence[str]) -> str:
        words: list[str] = []
        for part in parts:
            word = part if isinstance(part, str) else self.rng.choice(list(part))
            if word:
                words.extend(word.split("_"))
        words = [w for w in words if w]
        if self.rng.random() < 0.7:
            name = "_".join(words)
        else:
            name = words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])
        if name in RESERVED or name in self.used:
            prefix = self.rng.choice(["my", "get", "calc", "compute"])
            name = prefix + ("_" + name if "_" in name or name.islower() else name[:1].upper() + name[1:])
        self.used.add(name)
        return name

    def comment_verb(self) -> str:
        return self.rng.choice(["Return", "Returns", "Compute", "Computes"])

    # -- snippets ----------------------------------------------------------------------------
    def vec_param(self, name: str) -> str:
        vec = self.vec
        return self.rng.choice([f"const {vec}& {name}", f"const {vec}& {name}", f"{vec} {name}"])

    def str_param(self, name: str) -> str:
        s = self.string
        return self.rng.choice([f"const {s}& {name}", f"{s} {name}"])

    def if_stmt(self, cond: str, stmt: str) -> list[str]:
        if self.rng.random() < 0.5:
            return [f"if ({cond}) {stmt}"]
        return [f"if ({cond}) {{", INDENT + stmt, "}"]

    def for_each(self, seq: str, inner: Callable[[str], list[str]], elem_type: str = "int") -> list[str]:
        """A loop over the elements of `seq` (vector or string) in one of several styles."""
        style = self.rng.choice(["index", "size_t", "range", "range_ref", "auto", "while"])
        if style in ("range", "range_ref", "auto"):
            e = self.pick(CHAR_NAMES if elem_type == "char" else ELEM_NAMES)
            head = {
                "range": f"for ({elem_type} {e} : {seq})",
                "range_ref": f"for (const {elem_type}& {e} : {seq})",
                "auto": f"for (auto {e} : {seq})",
            }[style]
            body = inner(e)
            if len(body) == 1 and self.rng.random() < 0.3:
                return [f"{head} {body[0]}"] if not body[0].startswith("if ") else [head + " {", INDENT + body[0], "}"]
            return [head + " {", *(INDENT + line for line in body), "}"]
        i = self.pick(IDX_NAMES)
        body = inner(f"{seq}[{i}]")
        if style == "while":
            return [
                f"int {i} = 0;",
                f"while ({i} < (int){seq}.size()) {{",
                *(INDENT + x for x in body),
                f"{INDENT}{i}++;",
                "}",
            ]
        if style == "index":
            head = f"for (int {i} = 0; {i} < (int){seq}.size(); {i}++)"
        else:
            head = f"for ({self.std('size_t')} {i} = 0; {i} < {seq}.size(); ++{i})"
        return [head + " {", *(INDENT + line for line in body), "}"]


# -- literals and reference semantics -------------------------------------------------------


def vec_lit(xs: Sequence[int]) -> str:
    return "std::vector<int>{" + ", ".join(str(x) for x in xs) + "}"


def str_lit(s: str) -> str:
    return f'std::string("{s}")'


def char_lit(c: str) -> str:
    return f"'{c}'"


def cpp_call(name: str, *args: str) -> str:
    return f"{name}({', '.join(args)})"


def eq(expr: str, expected: str) -> str:
    return f"{expr} == {expected}"


def truth(g: Gen, expr: str, value: bool) -> str:
    style = g.rng.random()
    if style < 0.5:
        return expr if value else f"!{expr}"
    return f"{expr} == {'true' if value else 'false'}"


def cmod(a: int, b: int) -> int:
    """C++ `a % b` (the sign follows the dividend)."""
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


def cdiv(a: int, b: int) -> int:
    """C++ `a / b` (truncation toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def rand_vec(g: Gen, lo: int = -9, hi: int = 20, min_len: int = 0, max_len: int = 7) -> list[int]:
    return [g.rng.randint(lo, hi) for _ in range(g.rng.randint(min_len, max_len))]


def rand_word(g: Gen, min_len: int = 0, max_len: int = 8, alphabet: str = "abcdeiou xyzlmnrst") -> str:
    return "".join(g.rng.choice(alphabet) for _ in range(g.rng.randint(min_len, max_len)))


def distinct(g: Gen, draw: Callable[[], int], k: int) -> list[int]:
    """`k` distinct values from `draw` (fewer only if it cannot give them), sorted."""
    seen: set[int] = set()
    for _ in range(20 * k):
        seen.add(draw())
        if len(seen) == k:
            break
    return sorted(seen)


def cond(g: Gen) -> tuple[str, str, list[str], Callable[[int], bool]]:
    """A predicate on one int: (C++ template with {x}, phrase, name words, Python reference)."""
    kind = g.rng.random()
    if kind < 0.55:
        op = g.rng.choice(list(OPS))
        k = g.rng.randint(-3, 12)
        phrase, words, fn = OPS[op]
        word = g.rng.choice(words)
        name_words = [word, f"{word}_{k}"] if k >= 0 else [word]
        return "{x} " + f"{op} {k}", f"{phrase} {k}", name_words, lambda x: fn(x, k)
    if kind < 0.7:
        return "{x} % 2 == 0", "even", ["even", "evens"], lambda x: x % 2 == 0
    if kind < 0.82:
        return "{x} % 2 != 0", "odd", ["odd", "odds"], lambda x: x % 2 != 0
    if kind < 0.91:
        return "{x} > 0", "positive", ["positive", "pos"], lambda x: x > 0
    k = g.rng.randint(3, 7)
    return "{x} % " + f"{k} == 0", f"divisible by {k}", [f"div_by_{k}", f"multiple_of_{k}"], lambda x: x % k == 0
