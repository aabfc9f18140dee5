"""A seeded generator of small, compilable, tested C++ functions: the bootstrap model's corpus.

Each `CodeTask` is HumanEval-X shaped: `prompt` (includes, optional `using namespace std;`, an
optional struct, a `// comment` and the signature ending in ` {`, no trailing newline: see the
tokenisation pitfall in DESIGN.md), `completion` (the body from its leading newline to the
closing `}` at column 0 and a final newline) and `test_code` (a `main` of asserts, appended to
prompt + completion in one translation unit). Names, constants, comparison operators, loop
styles and phrasing are drawn at random, so a few dozen families give thousands of distinct
samples. Expected values come from Python references with C++ semantics; inputs stay small
enough that nothing overflows an `int`.

Only `random.Random(seed)` draws anything: the same (n, seed) gives the same tasks everywhere.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

INDENT = "    "
TEST_HEADER = "#undef NDEBUG\n#include <cassert>\n"
HEADER_ORDER = ("algorithm", "cctype", "cstdlib", "numeric", "string", "vector")

# Names the standard library (under `using namespace std;`) or the C library already takes.
_RESERVED = {
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


@dataclass(frozen=True)
class CodeTask:
    task_id: str
    prompt: str
    completion: str
    test_code: str
    headers: tuple[str, ...]

    @property
    def code(self) -> str:
        """prompt + completion: the function as a whole translation unit (no `main`)."""
        return self.prompt + self.completion


def training_text(task: CodeTask) -> str:
    """What the language model is trained on: the prompt followed by its completion."""
    return task.prompt + task.completion


@dataclass
class _Fn:
    """One drawn function before rendering."""

    name: str
    ret: str
    params: list[str]
    comment: str
    body: list[str]  # lines relative to the function body (depth 0 = one indent)
    tests: list[str]  # C++ boolean expressions for assert(...)
    headers: set[str] = field(default_factory=set)
    preamble: str = ""  # e.g. a struct definition, placed before the comment


class _Gen:
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
        if name in _RESERVED or name in self.used:
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


def _vec_lit(xs: Sequence[int]) -> str:
    return "std::vector<int>{" + ", ".join(str(x) for x in xs) + "}"


def _str_lit(s: str) -> str:
    return f'std::string("{s}")'


def _char_lit(c: str) -> str:
    return f"'{c}'"


def _call(name: str, *args: str) -> str:
    return f"{name}({', '.join(args)})"


def _eq(expr: str, expected: str) -> str:
    return f"{expr} == {expected}"


def _truth(g: _Gen, expr: str, value: bool) -> str:
    style = g.rng.random()
    if style < 0.5:
        return expr if value else f"!{expr}"
    return f"{expr} == {'true' if value else 'false'}"


def _cmod(a: int, b: int) -> int:
    """C++ `a % b` (the sign follows the dividend)."""
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


def _cdiv(a: int, b: int) -> int:
    """C++ `a / b` (truncation toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _rand_vec(g: _Gen, lo: int = -9, hi: int = 20, min_len: int = 0, max_len: int = 7) -> list[int]:
    return [g.rng.randint(lo, hi) for _ in range(g.rng.randint(min_len, max_len))]


def _rand_word(g: _Gen, min_len: int = 0, max_len: int = 8, alphabet: str = "abcdeiou xyzlmnrst") -> str:
    return "".join(g.rng.choice(alphabet) for _ in range(g.rng.randint(min_len, max_len)))


def _distinct(g: _Gen, draw: Callable[[], int], k: int) -> list[int]:
    """`k` distinct values from `draw` (fewer only if it cannot give them), sorted."""
    seen: set[int] = set()
    for _ in range(20 * k):
        seen.add(draw())
        if len(seen) == k:
            break
    return sorted(seen)


def _cond(g: _Gen) -> tuple[str, str, list[str], Callable[[int], bool]]:
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


# -- integer families -------------------------------------------------------------------------


def _arith(g: _Gen) -> _Fn:
    a, b = g.pick(INT_NAMES), g.pick(INT_NAMES)
    k = g.rng.randint(2, 9)
    templates: list[tuple[str, str, list[str], Callable[[int, int], int]]] = [
        (f"{a} + {b}", f"the sum of {a} and {b}", ["add", "plus", "sum_two", "add_ints"], lambda x, y: x + y),
        (f"{a} - {b}", f"{a} minus {b}", ["subtract", "diff", "minus", "difference"], lambda x, y: x - y),
        (f"{a} * {b}", f"the product of {a} and {b}", ["multiply", "mul", "times", "product_of"], lambda x, y: x * y),
        (f"{a} * {k} + {b}", f"{a} times {k} plus {b}", ["combine", "linear", "mix", "affine"], lambda x, y: x * k + y),
        (
            f"({a} + {b}) * {k}",
            f"{k} times the sum of {a} and {b}",
            ["scaled_sum", "sum_times"],
            lambda x, y: (x + y) * k,
        ),
        (
            f"{a} * {a} + {b} * {b}",
            f"the sum of the squares of {a} and {b}",
            ["sum_squares", "square_sum", "norm2"],
            lambda x, y: x * x + y * y,
        ),
        (f"{a} - {b} * {k}", f"{a} minus {k} times {b}", ["sub_scaled", "minus_times"], lambda x, y: x - y * k),
        (
            f"({a} - {b}) * ({a} + {b})",
            f"the difference of the squares of {a} and {b}",
            ["diff_squares", "square_diff"],
            lambda x, y: (x - y) * (x + y),
        ),
        (
            f"{a} * {b} + {k}",
            f"the product of {a} and {b} plus {k}",
            ["mul_add", "product_plus"],
            lambda x, y: x * y + k,
        ),
    ]
    expr, phrase, words, ref = g.rng.choice(templates)
    name = g.fname(words)
    if g.rng.random() < 0.6:
        body = [f"return {expr};"]
    else:
        r = g.pick(ACC_NAMES)
        body = [f"int {r} = {expr};", f"return {r};"]
    tests = []
    for _ in range(g.rng.randint(3, 5)):
        x, y = g.rng.randint(-20, 20), g.rng.randint(-20, 20)
        tests.append(_eq(_call(name, str(x), str(y)), str(ref(x, y))))
    return _Fn(name, "int", [f"int {a}", f"int {b}"], f"{g.comment_verb()} {phrase}.", body, tests)


def _minmax(g: _Gen) -> _Fn:
    is_max = g.rng.random() < 0.5
    three = g.rng.random() < 0.35
    op = ">" if is_max else "<"
    fn_std = g.std("max" if is_max else "min")
    names = [g.pick(INT_NAMES) for _ in range(3 if three else 2)]
    word = g.rng.choice(
        ["max", "larger", "bigger", "maximum", "greatest"]
        if is_max
        else ["min", "smaller", "minimum", "least", "lower"]
    )
    name = g.fname(word, ["", "of", "of_three" if three else "of_two", "3" if three else "2"])
    if three:
        a, b, c = names
        style = g.rng.randint(0, 2)
        if style == 0:
            g.headers.add("algorithm")
            body = [f"return {fn_std}({a}, {fn_std}({b}, {c}));"]
        else:
            m = g.pick([*ACC_NAMES, "best", "m"])
            body = [
                f"int {m} = {a};",
                *g.if_stmt(f"{b} {op} {m}", f"{m} = {b};"),
                *g.if_stmt(f"{c} {op} {m}", f"{m} = {c};"),
                f"return {m};",
            ]
        phrase = f"the {'largest' if is_max else 'smallest'} of {a}, {b} and {c}"
    else:
        a, b = names
        style = g.rng.randint(0, 3)
        if style == 0:
            body = [f"return {a} {op} {b} ? {a} : {b};"]
        elif style == 1:
            body = [*g.if_stmt(f"{a} {op} {b}", f"return {a};"), f"return {b};"]
        elif style == 2:
            g.headers.add("algorithm")
            body = [f"return {fn_std}({a}, {b});"]
        else:
            body = [f"if ({a} {op} {b}) {{", f"{INDENT}return {a};", "} else {", f"{INDENT}return {b};", "}"]
        phrase = f"the {'larger' if is_max else 'smaller'} of {a} and {b}"
    pyfn = max if is_max else min
    tests = []
    for _ in range(g.rng.randint(3, 5)):
        args = [g.rng.randint(-30, 30) for _ in names]
        tests.append(_eq(_call(name, *map(str, args)), str(pyfn(args))))
    return _Fn(name, "int", [f"int {n}" for n in names], f"{g.comment_verb()} {phrase}.", body, tests)


def _absval(g: _Gen) -> _Fn:
    diff = g.rng.random() < 0.4
    if diff:
        a, b = g.pick(INT_NAMES), g.pick(INT_NAMES)
        name = g.fname(["abs_diff", "distance_between", "dist", "gap", "absolute_difference"])
        d = g.pick(["d", "delta", "diff", "r"])
        style = g.rng.randint(0, 2)
        if style == 0:
            body = [f"int {d} = {a} - {b};", f"return {d} < 0 ? -{d} : {d};"]
        elif style == 1:
            body = [*g.if_stmt(f"{a} > {b}", f"return {a} - {b};"), f"return {b} - {a};"]
        else:
            g.headers.add("cstdlib")
            body = [f"return {g.std('abs')}({a} - {b});"]
        tests = []
        for _ in range(g.rng.randint(3, 5)):
            xv, yv = g.rng.randint(-30, 30), g.rng.randint(-30, 30)
            tests.append(_eq(_call(name, str(xv), str(yv)), str(abs(xv - yv))))
        comment = f"{g.comment_verb()} the absolute difference between {a} and {b}."
        return _Fn(name, "int", [f"int {a}", f"int {b}"], comment, body, tests)
    x = g.pick(INT_NAMES)
    name = g.fname(["abs_value", "absolute", "magnitude", "abs_of", "to_positive"])
    style = g.rng.randint(0, 2)
    if style == 0:
        body = [*g.if_stmt(f"{x} < 0", f"return -{x};"), f"return {x};"]
    elif style == 1:
        body = [f"return {x} < 0 ? -{x} : {x};"]
    else:
        g.headers.add("cstdlib")
        body = [f"return {g.std('abs')}({x});"]
    tests = [_eq(_call(name, str(v)), str(abs(v))) for v in (g.rng.randint(-50, 50) for _ in range(4))]
    return _Fn(name, "int", [f"int {x}"], f"{g.comment_verb()} the absolute value of {x}.", body, tests)


def _clamp(g: _Gen) -> _Fn:
    x, lo, hi = (
        g.pick(INT_NAMES),
        g.pick(["lo", "low", "min_v", "lower", "a"]),
        g.pick(["hi", "high", "max_v", "upper", "b"]),
    )
    name = g.fname(["clamp", "clip", "bound", "limit"], ["", "value", "to_range", "int"])
    if g.rng.random() < 0.6:
        body = [*g.if_stmt(f"{x} < {lo}", f"return {lo};"), *g.if_stmt(f"{x} > {hi}", f"return {hi};"), f"return {x};"]
    else:
        g.headers.add("algorithm")
        body = [f"return {g.std('max')}({lo}, {g.std('min')}({x}, {hi}));"]
    tests = []
    for _ in range(g.rng.randint(3, 5)):
        a, b = sorted((g.rng.randint(-20, 20), g.rng.randint(-20, 20)))
        v = g.rng.randint(-30, 30)
        tests.append(_eq(_call(name, str(v), str(a), str(b)), str(max(a, min(v, b)))))
    comment = f"Clamp {x} into the range [{lo}, {hi}] (assumes {lo} <= {hi})."
    return _Fn(name, "int", [f"int {x}", f"int {lo}", f"int {hi}"], comment, body, tests)


def _gcd_ref(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _gcd(g: _Gen) -> _Fn:
    a, b = g.pick(INT_NAMES), g.pick(INT_NAMES)
    lcm = g.rng.random() < 0.3
    t = g.pick(["t", "tmp", "r", "rem"])
    loop = [f"while ({b} != 0) {{", f"{INDENT}int {t} = {a} % {b};", f"{INDENT}{a} = {b};", f"{INDENT}{b} = {t};", "}"]
    if lcm:
        name = g.fname(["lcm", "least_common_multiple", "lcm_of"])
        x0, y0 = g.pick(["a0", "orig_a", "x0", "first"]), g.pick(["b0", "orig_b", "y0", "second"])
        body = [f"int {x0} = {a};", f"int {y0} = {b};", *loop, f"return {x0} / {a} * {y0};"]
        tests = []
        for _ in range(g.rng.randint(3, 4)):
            x, y = g.rng.randint(1, 30), g.rng.randint(1, 30)
            tests.append(_eq(_call(name, str(x), str(y)), str(x * y // _gcd_ref(x, y))))
        comment = f"{g.comment_verb()} the least common multiple of {a} and {b} (both positive)."
        return _Fn(name, "int", [f"int {a}", f"int {b}"], comment, body, tests)
    name = g.fname(["gcd", "greatest_common_divisor", "gcd_of", "common_divisor"])
    if g.rng.random() < 0.5:
        body = [*loop, f"return {a};"]
    else:
        body = [*g.if_stmt(f"{b} == 0", f"return {a};"), f"return {name}({b}, {a} % {b});"]
    tests = []
    for _ in range(g.rng.randint(3, 5)):
        x, y = g.rng.randint(0, 60), g.rng.randint(1, 60)
        tests.append(_eq(_call(name, str(x), str(y)), str(_gcd_ref(x, y))))
    comment = f"{g.comment_verb()} the greatest common divisor of {a} and {b} (non-negative)."
    return _Fn(name, "int", [f"int {a}", f"int {b}"], comment, body, tests)


def _power(g: _Gen) -> _Fn:
    base, exp = g.pick(["base", "b", "x", "a", "n"]), g.pick(["exp", "e", "k", "p", "times"])
    name = g.fname(["power", "int_pow", "pow_int", "raise", "ipow"], ["", "to", "of"])
    style = g.rng.randint(0, 2)
    if style == 2:
        body = [*g.if_stmt(f"{exp} == 0", "return 1;"), f"return {base} * {name}({base}, {exp} - 1);"]
    else:
        r = g.pick(ACC_NAMES)
        if style == 0:
            i = g.pick(IDX_NAMES)
            body = [
                f"int {r} = 1;",
                f"for (int {i} = 0; {i} < {exp}; {i}++) {{",
                f"{INDENT}{r} *= {base};",
                "}",
                f"return {r};",
            ]
        else:
            body = [
                f"int {r} = 1;",
                f"while ({exp} > 0) {{",
                f"{INDENT}{r} *= {base};",
                f"{INDENT}{exp}--;",
                "}",
                f"return {r};",
            ]
    tests = []
    for _ in range(g.rng.randint(3, 5)):
        x, e = g.rng.randint(-5, 6), g.rng.randint(0, 6)
        tests.append(_eq(_call(name, str(x), str(e)), str(x**e)))
    comment = f"{g.comment_verb()} {base} raised to the power {exp} ({exp} >= 0)."
    return _Fn(name, "int", [f"int {base}", f"int {exp}"], comment, body, tests)


def _digits(g: _Gen) -> _Fn:
    n = g.pick(["n", "x", "num", "value", "number"])
    kind = g.rng.choice(["sum", "count", "reverse", "product", "max", "count_even"])
    r = g.pick(ACC_NAMES)
    d = g.pick(["d", "digit", "last"])
    cond = g.rng.choice([f"{n} > 0", f"{n} != 0"])
    if kind == "sum":
        name = g.fname(["digit_sum", "sum_digits", "sum_of_digits", "add_digits"])
        init, step, ref, phrase = (
            "0",
            [f"{r} += {n} % 10;"],
            (lambda v: sum(map(int, str(v)))),
            "the sum of the decimal digits",
        )
    elif kind == "count":
        name = g.fname(["count_digits", "num_digits", "digit_count", "length_of"])
        init, step, ref, phrase = "0", [f"{r}++;"], (lambda v: len(str(v))), "the number of decimal digits"
    elif kind == "reverse":
        name = g.fname(["reverse_digits", "reverse_number", "flip_digits", "reversed_int"])
        init, step, phrase = "0", [f"{r} = {r} * 10 + {n} % 10;"], "the number with the decimal digits"
        ref = lambda v: int(str(v)[::-1])  # noqa: E731
        phrase = "the number whose decimal digits are those of"
    elif kind == "product":
        name = g.fname(["digit_product", "product_of_digits", "multiply_digits"])
        init, step, ref = "1", [f"{r} *= {n} % 10;"], _digit_product
        phrase = "the product of the decimal digits"
    elif kind == "max":
        name = g.fname(["max_digit", "largest_digit", "biggest_digit"])
        init, ref, phrase = "0", (lambda v: max(map(int, str(v)))), "the largest decimal digit"
        step = [f"int {d} = {n} % 10;", *g.if_stmt(f"{d} > {r}", f"{r} = {d};")]
    else:
        name = g.fname(["count_even_digits", "even_digit_count", "num_even_digits"])
        init, ref, phrase = (
            "0",
            (lambda v: sum(1 for ch in str(v) if int(ch) % 2 == 0)),
            "how many decimal digits are even in",
        )
        step = g.if_stmt(f"{n} % 10 % 2 == 0", f"{r}++;")
    if g.rng.random() < 0.25 and kind != "max":
        loop = [f"for (; {cond}; {n} /= 10) {{", *(INDENT + s for s in step), "}"]
    else:
        loop = [f"while ({cond}) {{", *(INDENT + s for s in step), f"{INDENT}{n} /= 10;", "}"]
    body = [f"int {r} = {init};", *loop, f"return {r};"]
    if kind == "reverse":
        comment = f"{g.comment_verb()} {phrase} {n} in reverse order ({n} > 0)."
        values = [g.rng.randint(0, 999) * 10 + g.rng.randint(1, 9) for _ in range(4)]  # no trailing zero
    else:
        comment = (
            f"{g.comment_verb()} {phrase} of {n} ({n} > 0)."
            if kind != "count_even"
            else f"Count {phrase} {n} ({n} > 0)."
        )
        values = [g.rng.randint(1, 99999) for _ in range(4)]
    tests = [_eq(_call(name, str(v)), str(ref(v))) for v in values]
    return _Fn(name, "int", [f"int {n}"], comment, body, tests)


def _digit_product(v: int) -> int:
    out = 1
    for ch in str(v):
        out *= int(ch)
    return out


def _series(g: _Gen) -> _Fn:
    n = g.pick(["n", "k", "count", "limit", "m"])
    kind = g.rng.choice(["sum_to", "factorial", "fib", "squares", "odd_sum", "multiples"])
    recursive = g.rng.random() < 0.3 and kind in ("sum_to", "factorial", "fib")
    r = g.pick(ACC_NAMES)
    i = g.pick([x for x in IDX_NAMES if x != n])
    k = g.rng.randint(2, 7)
    if kind == "sum_to":
        name = g.fname(["sum_to", "sum_up_to", "triangular", "sum_first", "sum_1_to_n"])
        comment, hi, ref = f"{g.comment_verb()} 1 + 2 + ... + {n} ({n} >= 0).", 40, (lambda v: v * (v + 1) // 2)
        base_case, rec, loop_step, init = f"{n} <= 0", f"return {n} + {name}({n} - 1);", f"{r} += {i};", "0"
        if not recursive and g.rng.random() < 0.25:
            return _Fn(
                name, "int", [f"int {n}"], comment, [f"return {n} * ({n} + 1) / 2;"], _series_tests(g, name, ref, 0, hi)
            )
    elif kind == "factorial":
        name = g.fname(["factorial", "fact", "factorial_of"])
        comment, hi, ref = f"{g.comment_verb()} {n}! ({n} >= 0).", 10, _factorial
        base_case, rec, loop_step, init = f"{n} <= 1", f"return {n} * {name}({n} - 1);", f"{r} *= {i};", "1"
    elif kind == "fib":
        name = g.fname(["fib", "fibonacci", "nth_fib", "fibo"])
        comment, hi, ref = f"{g.comment_verb()} the {n}-th Fibonacci number (fib(0) = 0, fib(1) = 1).", 20, _fib
        if recursive:
            body = [*g.if_stmt(f"{n} < 2", f"return {n};"), f"return {name}({n} - 1) + {name}({n} - 2);"]
            return _Fn(name, "int", [f"int {n}"], comment, body, _series_tests(g, name, ref, 0, 15))
        a, b, t = (
            g.pick(["a", "prev", "f0", "x"]),
            g.pick(["b", "cur", "f1", "y"]),
            g.pick(["t", "next_", "tmp", "sum_"]),
        )
        body = [
            f"int {a} = 0, {b} = 1;",
            f"for (int {i} = 0; {i} < {n}; {i}++) {{",
            f"{INDENT}int {t} = {a} + {b};",
            f"{INDENT}{a} = {b};",
            f"{INDENT}{b} = {t};",
            "}",
            f"return {a};",
        ]
        return _Fn(name, "int", [f"int {n}"], comment, body, _series_tests(g, name, ref, 0, hi))
    elif kind == "squares":
        name = g.fname(["sum_squares_to", "square_sum_to", "sum_of_squares"])
        comment, hi, ref = (
            f"{g.comment_verb()} 1*1 + 2*2 + ... + {n}*{n} ({n} >= 0).",
            30,
            (lambda v: sum(j * j for j in range(1, v + 1))),
        )
        loop_step, init = f"{r} += {i} * {i};", "0"
    elif kind == "odd_sum":
        name = g.fname(["sum_odds_to", "odd_sum", "sum_odd_up_to"])
        comment, hi, ref = (
            f"{g.comment_verb()} the sum of the odd numbers from 1 to {n}.",
            50,
            (lambda v: sum(j for j in range(1, v + 1) if j % 2)),
        )
        loop_step, init = f"if ({i} % 2 == 1) {r} += {i};", "0"
    else:
        name = g.fname(["count_multiples", "multiples_up_to", "num_multiples"], ["", f"of_{k}"])
        comment, hi, ref = f"Count the numbers from 1 to {n} that are divisible by {k}.", 60, (lambda v: v // k)
        loop_step, init = f"if ({i} % {k} == 0) {r}++;", "0"
    if recursive:
        body = [*g.if_stmt(base_case, "return " + ("0" if kind == "sum_to" else "1") + ";"), rec]
        return _Fn(name, "int", [f"int {n}"], comment, body, _series_tests(g, name, ref, 0, hi))
    if g.rng.random() < 0.7:
        loop = [f"for (int {i} = 1; {i} <= {n}; {i}++) {{", INDENT + loop_step, "}"]
    else:
        loop = [f"int {i} = 1;", f"while ({i} <= {n}) {{", INDENT + loop_step, f"{INDENT}{i}++;", "}"]
    body = [f"int {r} = {init};", *loop, f"return {r};"]
    return _Fn(name, "int", [f"int {n}"], comment, body, _series_tests(g, name, ref, 0, hi))


def _series_tests(g: _Gen, name: str, ref: Callable[[int], int], lo: int, hi: int) -> list[str]:
    values = _distinct(g, lambda: g.rng.randint(lo, hi), 4)
    return [_eq(_call(name, str(v)), str(ref(v))) for v in values]


def _factorial(v: int) -> int:
    out = 1
    for j in range(2, v + 1):
        out *= j
    return out


def _fib(v: int) -> int:
    a, b = 0, 1
    for _ in range(v):
        a, b = b, a + b
    return a


def _is_prime(v: int) -> bool:
    return v >= 2 and all(v % d for d in range(2, int(v**0.5) + 1))


def _predicate(g: _Gen) -> _Fn:
    x = g.pick(INT_NAMES)
    kind = g.rng.choice(
        ["even", "odd", "divisible", "positive", "negative", "in_range", "prime", "square", "leap", "same_sign"]
    )
    params = [f"int {x}"]
    arity = 1
    hi_cut = 100
    if kind == "even":
        name, expr, ref, phrase = (
            g.fname(["is_even", "even", "isEven", "check_even"]),
            f"{x} % 2 == 0",
            (lambda v: v % 2 == 0),
            f"{x} is even",
        )
    elif kind == "odd":
        name, expr, ref, phrase = (
            g.fname(["is_odd", "odd", "check_odd"]),
            f"{x} % 2 != 0",
            (lambda v: v % 2 != 0),
            f"{x} is odd",
        )
    elif kind == "divisible":
        k = g.rng.randint(2, 9)
        name = g.fname(["is_divisible_by", "divisible_by", "is_multiple_of"], [str(k), f"{k}"])
        expr, phrase = f"{x} % {k} == 0", f"{x} is divisible by {k}"
        ref = lambda v: v % k == 0  # noqa: E731
    elif kind == "positive":
        name, expr, ref, phrase = (
            g.fname(["is_positive", "positive", "greater_than_zero"]),
            f"{x} > 0",
            (lambda v: v > 0),
            f"{x} is positive",
        )
    elif kind == "negative":
        name, expr, ref, phrase = (
            g.fname(["is_negative", "negative", "below_zero"]),
            f"{x} < 0",
            (lambda v: v < 0),
            f"{x} is negative",
        )
    elif kind == "in_range":
        lo, hi = sorted((g.rng.randint(-10, 10), g.rng.randint(11, 40)))
        op_lo, op_hi = g.rng.choice([(">=", "<="), (">", "<"), (">=", "<")])
        name = g.fname(["in_range", "is_between", "within", "between"])
        expr = f"{x} {op_lo} {lo} && {x} {op_hi} {hi}"
        ref = lambda v: OPS[op_lo][2](v, lo) and OPS[op_hi][2](v, hi)  # noqa: E731
        phrase = f"{x} {op_lo} {lo} and {x} {op_hi} {hi}"
    elif kind == "same_sign":
        y = g.pick(INT_NAMES)
        params, arity = [f"int {x}", f"int {y}"], 2
        name = g.fname(["same_sign", "have_same_sign", "signs_match"])
        expr = f"({x} > 0 && {y} > 0) || ({x} < 0 && {y} < 0)"
        ref2: Callable[[int, int], bool] = lambda a, b: (a > 0 and b > 0) or (a < 0 and b < 0)  # noqa: E731
        phrase = f"{x} and {y} are both positive or both negative"
        tests = []
        for _ in range(4):
            a, b = g.rng.randint(-9, 9), g.rng.randint(-9, 9)
            tests.append(_truth(g, _call(name, str(a), str(b)), ref2(a, b)))
        body = _bool_body(g, expr)
        return _Fn(name, "bool", params, f"Return true if {phrase}.", body, tests)
    else:
        loop_var = g.pick(["d", "i", "f", "div"])
        if kind == "prime":
            name = g.fname(["is_prime", "prime", "check_prime", "isPrime"])
            body = [
                *g.if_stmt(f"{x} < 2", "return false;"),
                f"for (int {loop_var} = 2; {loop_var} * {loop_var} <= {x}; {loop_var}++) {{",
                *(INDENT + s for s in g.if_stmt(f"{x} % {loop_var} == 0", "return false;")),
                "}",
                "return true;",
            ]
            tests = [
                _truth(g, _call(name, str(v)), _is_prime(v)) for v in _distinct(g, lambda: g.rng.randint(0, 60), 5)
            ]
            return _Fn(name, "bool", params, f"Return true if {x} is a prime number.", body, tests)
        if kind == "square":
            name = g.fname(["is_square", "is_perfect_square", "perfect_square"])
            body = [
                f"for (int {loop_var} = 0; {loop_var} * {loop_var} <= {x}; {loop_var}++) {{",
                *(INDENT + s for s in g.if_stmt(f"{loop_var} * {loop_var} == {x}", "return true;")),
                "}",
                "return false;",
            ]
            vals = _distinct(g, lambda: g.rng.choice([g.rng.randint(0, 12) ** 2, g.rng.randint(0, 150)]), 5)
            tests = [_truth(g, _call(name, str(v)), int(v**0.5) ** 2 == v) for v in vals]
            return _Fn(name, "bool", params, f"Return true if {x} is a perfect square ({x} >= 0).", body, tests)
        name = g.fname(["is_leap_year", "leap_year", "is_leap"])
        expr = f"({x} % 4 == 0 && {x} % 100 != 0) || {x} % 400 == 0"
        ref = lambda v: (v % 4 == 0 and v % 100 != 0) or v % 400 == 0  # noqa: E731
        years = [g.rng.choice([1900, 2000, 2004, 2023, 2024, 1996, 2100, 2400, 1999, 1600])] + [
            g.rng.randint(1800, 2100) for _ in range(3)
        ]
        tests = [_truth(g, _call(name, str(v)), ref(v)) for v in years]
        return _Fn(name, "bool", params, f"Return true if the year {x} is a leap year.", _bool_body(g, expr), tests)
    assert arity == 1
    values = [g.rng.randint(-hi_cut // 5, hi_cut // 2) for _ in range(5)]
    tests = [_truth(g, _call(name, str(v)), ref(v)) for v in values]
    return _Fn(name, "bool", params, f"Return true if {phrase}.", _bool_body(g, expr), tests)


def _bool_body(g: _Gen, expr: str) -> list[str]:
    style = g.rng.random()
    if style < 0.6:
        return [f"return {expr};"]
    if style < 0.8:
        return [*g.if_stmt(expr, "return true;"), "return false;"]
    flag = g.pick(["ok", "result", "flag", "ans"])
    return [f"bool {flag} = {expr};", f"return {flag};"]


def _sign(g: _Gen) -> _Fn:
    x = g.pick(INT_NAMES)
    name = g.fname(["sign", "signum", "sign_of", "sgn"])
    if g.rng.random() < 0.5:
        body = [*g.if_stmt(f"{x} > 0", "return 1;"), *g.if_stmt(f"{x} < 0", "return -1;"), "return 0;"]
    else:
        body = [f"return ({x} > 0) - ({x} < 0);"]
    tests = [_eq(_call(name, str(v)), str((v > 0) - (v < 0))) for v in (g.rng.randint(-9, 9) for _ in range(4))]
    return _Fn(
        name, "int", [f"int {x}"], f"{g.comment_verb()} 1 if {x} is positive, -1 if negative, 0 if zero.", body, tests
    )


def _divisors(g: _Gen) -> _Fn:
    n = g.pick(["n", "x", "num", "value"])
    d = g.pick(["d", "i", "k", "div"])
    r = g.pick(ACC_NAMES + CNT_NAMES)
    kind = g.rng.choice(["count", "sum", "proper"])
    if kind == "count":
        name = g.fname(["count_divisors", "num_divisors", "divisor_count"])
        stmt, ref, phrase, hi = (
            f"{r}++;",
            (lambda v: sum(1 for j in range(1, v + 1) if v % j == 0)),
            "the number of divisors",
            n,
        )
    elif kind == "sum":
        name = g.fname(["sum_divisors", "divisor_sum", "sigma"])
        stmt, ref, phrase, hi = (
            f"{r} += {d};",
            (lambda v: sum(j for j in range(1, v + 1) if v % j == 0)),
            "the sum of the divisors",
            n,
        )
    else:
        name = g.fname(["sum_proper_divisors", "aliquot_sum", "proper_divisor_sum"])
        stmt, phrase, hi = f"{r} += {d};", "the sum of the proper divisors (excluding itself)", f"{n} - 1"
        ref = lambda v: sum(j for j in range(1, v) if v % j == 0)  # noqa: E731
    body = [
        f"int {r} = 0;",
        f"for (int {d} = 1; {d} <= {hi}; {d}++) {{",
        *(INDENT + s for s in g.if_stmt(f"{n} % {d} == 0", stmt)),
        "}",
        f"return {r};",
    ]
    tests = [_eq(_call(name, str(v)), str(ref(v))) for v in _distinct(g, lambda: g.rng.randint(1, 60), 4)]
    return _Fn(name, "int", [f"int {n}"], f"{g.comment_verb()} {phrase} of {n} ({n} >= 1).", body, tests)


# -- vector families --------------------------------------------------------------------------


def _vsum(g: _Gen) -> _Fn:
    v = g.pick(VEC_NAMES)
    name = g.fname(
        ["sum", "total", "add_all", "sum_all", "vector_sum", "sum_elements", "sum_of"], ["", "values", "list"]
    )
    param = g.vec_param(v)
    if g.rng.random() < 0.2:
        g.headers.add("numeric")
        body = [f"return {g.std('accumulate')}({v}.begin(), {v}.end(), 0);"]
    else:
        r = g.pick(ACC_NAMES)
        body = [f"int {r} = 0;", *g.for_each(v, lambda e: [f"{r} += {e};"]), f"return {r};"]
    tests = [_eq(_call(name, _vec_lit(xs)), str(sum(xs))) for xs in (_rand_vec(g) for _ in range(g.rng.randint(3, 4)))]
    return _Fn(name, "int", [param], f"{g.comment_verb()} the sum of the elements of {v}.", body, tests)


def _vcount_if(g: _Gen) -> _Fn:
    v = g.pick(VEC_NAMES)
    tmpl, phrase, words, ref = _cond(g)
    name = g.fname(["count", "num", "how_many", "count_of"], words)
    param = g.vec_param(v)
    c = g.pick(CNT_NAMES)
    style = g.rng.random()
    body = [
        f"int {c} = 0;",
        *g.for_each(
            v, lambda e: g.if_stmt(tmpl.format(x=e), f"{c}++;") if style < 0.8 else [f"{c} += ({tmpl.format(x=e)});"]
        ),
        f"return {c};",
    ]
    tests = []
    for _ in range(g.rng.randint(3, 4)):
        xs = _rand_vec(g)
        tests.append(_eq(_call(name, _vec_lit(xs)), str(sum(1 for x in xs if ref(x)))))
    comment = f"Count how many elements of {v} are {phrase}."
    return _Fn(name, "int", [param], comment, body, tests)


def _vextreme(g: _Gen) -> _Fn:
    v = g.pick(VEC_NAMES)
    is_max = g.rng.random() < 0.5
    name = g.fname(
        ["max", "largest", "biggest", "maximum"] if is_max else ["min", "smallest", "minimum", "lowest"],
        ["element", "value", "of", ""],
    )
    param = g.vec_param(v)
    op = ">" if is_max else "<"
    if g.rng.random() < 0.25:
        g.headers.add("algorithm")
        fn = g.std("max_element" if is_max else "min_element")
        body = [f"return *{fn}({v}.begin(), {v}.end());"]
    else:
        b = g.pick(["best", "m", "result", "cur_max" if is_max else "cur_min", "ext"])
        body = [
            f"int {b} = {v}[0];",
            *g.for_each(v, lambda e: g.if_stmt(f"{e} {op} {b}", f"{b} = {e};")),
            f"return {b};",
        ]
    tests = []
    for _ in range(g.rng.randint(3, 4)):
        xs = _rand_vec(g, min_len=1)
        tests.append(_eq(_call(name, _vec_lit(xs)), str(max(xs) if is_max else min(xs))))
    comment = f"{g.comment_verb()} the {'largest' if is_max else 'smallest'} element of {v} ({v} is not empty)."
    return _Fn(name, "int", [param], comment, body, tests)


def _vreverse(g: _Gen) -> _Fn:
    v = g.pick(VEC_NAMES)
    name = g.fname(["reverse", "reversed", "reverse_vector", "flip", "backwards"], ["", "list", "values"])
    vec = g.vec
    style = g.rng.randint(0, 2)
    if style == 0:
        param = f"{vec} {v}"
        g.headers.add("algorithm")
        body = [f"{g.std('reverse')}({v}.begin(), {v}.end());", f"return {v};"]
    elif style == 1:
        param = g.vec_param(v)
        o = g.pick(ACC_NAMES)
        body = [f"{vec} {o}({v}.rbegin(), {v}.rend());", f"return {o};"]
    else:
        param = g.vec_param(v)
        o, i = g.pick(ACC_NAMES), g.pick(IDX_NAMES)
        body = [
            f"{vec} {o};",
            f"for (int {i} = (int){v}.size() - 1; {i} >= 0; {i}--) {{",
            f"{INDENT}{o}.push_back({v}[{i}]);",
            "}",
            f"return {o};",
        ]
    tests = [_eq(_call(name, _vec_lit(xs)), _vec_lit(xs[::-1])) for xs in (_rand_vec(g) for _ in range(3))]
    return _Fn(name, vec, [param], f"{g.comment_verb()} the elements of {v} in reverse order.", body, tests)


def _vprefix(g: _Gen) -> _Fn:
    v = g.pick(VEC_NAMES)
    name = g.fname(["prefix_sums", "running_sum", "cumulative_sum", "partial_sums", "cumsum"])
    vec = g.vec
    param = g.vec_param(v)
    o = g.pick(ACC_NAMES)
    if g.rng.random() < 0.6:
        run = g.pick(["run", "sum_", "acc", "so_far", "cur"])
        body = [
            f"{vec} {o};",
            f"int {run} = 0;",
            *g.for_each(v, lambda e: [f"{run} += {e};", f"{o}.push_back({run});"]),
            f"return {o};",
        ]
    else:
        i = g.pick(IDX_NAMES)
        body = [
            f"{vec} {o}({v}.size());",
            f"for (int {i} = 0; {i} < (int){v}.size(); {i}++) {{",
            f"{INDENT}{o}[{i}] = {v}[{i}] + ({i} > 0 ? {o}[{i} - 1] : 0);",
            "}",
            f"return {o};",
        ]
    tests = []
    for _ in range(3):
        xs = _rand_vec(g)
        pre, acc = [], 0
        for x in xs:
            acc += x
            pre.append(acc)
        tests.append(_eq(_call(name, _vec_lit(xs)), _vec_lit(pre)))
    comment = f"{g.comment_verb()} the running sums of {v}: element i is {v}[0] + ... + {v}[i]."
    return _Fn(name, vec, [param], comment, body, tests)


def _vfilter(g: _Gen) -> _Fn:
    v = g.pick(VEC_NAMES)
    tmpl, phrase, words, ref = _cond(g)
    name = g.fname(["filter", "keep", "select", "only"], words)
    vec = g.vec
    param = g.vec_param(v)
    o = g.pick(ACC_NAMES)
    body = [
        f"{vec} {o};",
        *g.for_each(v, lambda e: g.if_stmt(tmpl.format(x=e), f"{o}.push_back({e});")),
        f"return {o};",
    ]
    tests = []
    for _ in range(3):
        xs = _rand_vec(g)
        tests.append(_eq(_call(name, _vec_lit(xs)), _vec_lit([x for x in xs if ref(x)])))
    comment = f"{g.comment_verb()} the elements of {v} that are {phrase}, in their original order."
    return _Fn(name, vec, [param], comment, body, tests)


def _vfind(g: _Gen) -> _Fn:
    v = g.pick(VEC_NAMES)
    t = g.pick(["target", "t", "key", "x", "needle", "value"])
    param = g.vec_param(v)
    if g.rng.random() < 0.5:
        name = g.fname(["contains", "has", "includes", "has_value", "contains_value"])
        body = [*g.for_each(v, lambda e: g.if_stmt(f"{e} == {t}", "return true;")), "return false;"]
        tests = []
        for _ in range(4):
            xs = _rand_vec(g, 0, 9)
            key = g.rng.choice(xs) if xs and g.rng.random() < 0.5 else g.rng.randint(0, 12)
            tests.append(_truth(g, _call(name, _vec_lit(xs), str(key)), key in xs))
        return _Fn(name, "bool", [param, f"int {t}"], f"Return true if {v} contains {t}.", body, tests)
    name = g.fname(["index_of", "find_index", "position_of", "find_first", "locate"])
    i = g.pick(IDX_NAMES)
    body = [
        f"for (int {i} = 0; {i} < (int){v}.size(); {i}++) {{",
        *(INDENT + s for s in g.if_stmt(f"{v}[{i}] == {t}", f"return {i};")),
        "}",
        "return -1;",
    ]
    tests = []
    for _ in range(4):
        xs = _rand_vec(g, 0, 9)
        key = g.rng.choice(xs) if xs and g.rng.random() < 0.6 else g.rng.randint(0, 12)
        tests.append(_eq(_call(name, _vec_lit(xs), str(key)), str(xs.index(key) if key in xs else -1)))
    comment = f"{g.comment_verb()} the index of the first occurrence of {t} in {v}, or -1 if absent."
    return _Fn(name, "int", [param, f"int {t}"], comment, body, tests)


def _vmap(g: _Gen) -> _Fn:
    v = g.pick(VEC_NAMES)
    k = g.rng.randint(2, 9)
    kinds: list[tuple[str, str, list[str], Callable[[int], int]]] = [
        ("{x} * " + str(k), f"multiplied by {k}", ["scale", "multiply_all", "times", "scaled"], lambda x: x * k),
        ("{x} + " + str(k), f"plus {k}", ["add_to_all", "shift", "offset", "increment_all"], lambda x: x + k),
        ("{x} * {x}", "squared", ["square_all", "squares", "squared"], lambda x: x * x),
        ("-{x}", "negated", ["negate", "negated", "flip_signs"], lambda x: -x),
        ("{x} % " + str(k), f"modulo {k}", ["mod_all", "remainders"], lambda x: _cmod(x, k)),
    ]
    tmpl, phrase, words, ref = g.rng.choice(kinds)
    name = g.fname(words, ["", "values", "each", "elements"])
    vec = g.vec
    if g.rng.random() < 0.4:
        param = f"{vec} {v}"
        e = g.pick(ELEM_NAMES)
        body = [f"for (int& {e} : {v}) {{", f"{INDENT}{e} = {tmpl.format(x=e)};", "}", f"return {v};"]
    else:
        param = g.vec_param(v)
        o = g.pick(ACC_NAMES)
        body = [f"{vec} {o};", *g.for_each(v, lambda e: [f"{o}.push_back({tmpl.format(x=e)});"]), f"return {o};"]
    tests = []
    for _ in range(3):
        xs = _rand_vec(g)
        tests.append(_eq(_call(name, _vec_lit(xs)), _vec_lit([ref(x) for x in xs])))
    comment = f"{g.comment_verb()} a copy of {v} with every element {phrase}."
    return _Fn(name, vec, [param], comment, body, tests)


def _vproduct(g: _Gen) -> _Fn:
    v = g.pick(VEC_NAMES)
    name = g.fname(["product", "multiply_all", "product_of", "prod"], ["", "elements", "values"])
    param = g.vec_param(v)
    r = g.pick(ACC_NAMES)
    body = [f"int {r} = 1;", *g.for_each(v, lambda e: [f"{r} *= {e};"]), f"return {r};"]
    tests = []
    for _ in range(3):
        xs = _rand_vec(g, -4, 5, 0, 5)
        p = 1
        for x in xs:
            p *= x
        tests.append(_eq(_call(name, _vec_lit(xs)), str(p)))
    return _Fn(
        name, "int", [param], f"{g.comment_verb()} the product of the elements of {v} (1 if empty).", body, tests
    )


def _vsorted(g: _Gen) -> _Fn:
    v = g.pick(VEC_NAMES)
    strict = g.rng.random() < 0.3
    name = g.fname(
        ["is_sorted", "sorted", "is_ascending", "in_order", "non_decreasing"]
        if not strict
        else ["strictly_increasing", "is_increasing"]
    )
    param = g.vec_param(v)
    i = g.pick(IDX_NAMES)
    op = "<=" if strict else "<"
    body = [
        f"for (int {i} = 1; {i} < (int){v}.size(); {i}++) {{",
        *(INDENT + s for s in g.if_stmt(f"{v}[{i}] {op} {v}[{i} - 1]", "return false;")),
        "}",
        "return true;",
    ]
    tests = []
    for _ in range(4):
        xs = _rand_vec(g, 0, 9, 0, 5)
        if g.rng.random() < 0.5:
            xs = sorted(xs)
        ok = all((b > a) if strict else (b >= a) for a, b in itertools.pairwise(xs))
        tests.append(_truth(g, _call(name, _vec_lit(xs)), ok))
    phrase = "strictly increasing" if strict else "sorted in non-decreasing order"
    return _Fn(name, "bool", [param], f"Return true if {v} is {phrase}.", body, tests)


def _vsum_if(g: _Gen) -> _Fn:
    v = g.pick(VEC_NAMES)
    tmpl, phrase, words, ref = _cond(g)
    name = g.fname(["sum", "total", "add"], words)
    param = g.vec_param(v)
    r = g.pick(ACC_NAMES)
    body = [f"int {r} = 0;", *g.for_each(v, lambda e: g.if_stmt(tmpl.format(x=e), f"{r} += {e};")), f"return {r};"]
    tests = []
    for _ in range(3):
        xs = _rand_vec(g)
        tests.append(_eq(_call(name, _vec_lit(xs)), str(sum(x for x in xs if ref(x)))))
    return _Fn(
        name, "int", [param], f"{g.comment_verb()} the sum of the elements of {v} that are {phrase}.", body, tests
    )


def _vcount_eq(g: _Gen) -> _Fn:
    v = g.pick(VEC_NAMES)
    t = g.pick(["target", "t", "key", "x", "value"])
    name = g.fname(["count_occurrences", "occurrences", "count_value", "frequency", "count_equal"])
    param = g.vec_param(v)
    c = g.pick(CNT_NAMES)
    body = [f"int {c} = 0;", *g.for_each(v, lambda e: g.if_stmt(f"{e} == {t}", f"{c}++;")), f"return {c};"]
    tests = []
    for _ in range(3):
        xs = _rand_vec(g, 0, 4)
        key = g.rng.randint(0, 5)
        tests.append(_eq(_call(name, _vec_lit(xs), str(key)), str(xs.count(key))))
    return _Fn(name, "int", [param, f"int {t}"], f"Count how many times {t} occurs in {v}.", body, tests)


def _vdot(g: _Gen) -> _Fn:
    a, b = g.pick(VEC_NAMES), g.pick(VEC_NAMES)
    name = g.fname(["dot", "dot_product", "inner_product", "dotProduct"])
    params = [g.vec_param(a), g.vec_param(b)]
    r, i = g.pick(ACC_NAMES), g.pick(IDX_NAMES)
    body = [
        f"int {r} = 0;",
        f"for (int {i} = 0; {i} < (int){a}.size(); {i}++) {{",
        f"{INDENT}{r} += {a}[{i}] * {b}[{i}];",
        "}",
        f"return {r};",
    ]
    tests = []
    for _ in range(3):
        n = g.rng.randint(0, 5)
        xs, ys = [g.rng.randint(-5, 9) for _ in range(n)], [g.rng.randint(-5, 9) for _ in range(n)]
        tests.append(_eq(_call(name, _vec_lit(xs), _vec_lit(ys)), str(sum(x * y for x, y in zip(xs, ys, strict=True)))))
    comment = f"{g.comment_verb()} the dot product of {a} and {b} (same length)."
    return _Fn(name, "int", params, comment, body, tests)


def _vrange(g: _Gen) -> _Fn:
    v = g.pick(VEC_NAMES)
    name = g.fname(["range", "spread", "max_minus_min", "span"], ["", "of", "values"])
    param = g.vec_param(v)
    lo, hi = g.pick(["lo", "mn", "smallest", "low"]), g.pick(["hi", "mx", "largest", "high"])
    body = [
        f"int {lo} = {v}[0];",
        f"int {hi} = {v}[0];",
        *g.for_each(
            v, lambda e: [*g.if_stmt(f"{e} < {lo}", f"{lo} = {e};"), *g.if_stmt(f"{e} > {hi}", f"{hi} = {e};")]
        ),
        f"return {hi} - {lo};",
    ]
    tests = []
    for _ in range(3):
        xs = _rand_vec(g, min_len=1)
        tests.append(_eq(_call(name, _vec_lit(xs)), str(max(xs) - min(xs))))
    comment = f"{g.comment_verb()} the largest element of {v} minus the smallest ({v} is not empty)."
    return _Fn(name, "int", [param], comment, body, tests)


def _vaverage(g: _Gen) -> _Fn:
    v = g.pick(VEC_NAMES)
    name = g.fname(["average", "mean", "avg"], ["", "value", "of"])
    param = g.vec_param(v)
    r = g.pick(ACC_NAMES)
    body = [f"int {r} = 0;", *g.for_each(v, lambda e: [f"{r} += {e};"]), f"return {r} / (int){v}.size();"]
    tests = []
    for _ in range(3):
        xs = _rand_vec(g, 0, 30, 1, 6)
        tests.append(_eq(_call(name, _vec_lit(xs)), str(_cdiv(sum(xs), len(xs)))))
    comment = f"{g.comment_verb()} the integer average of {v}, rounded down ({v} is not empty, values >= 0)."
    return _Fn(name, "int", [param], comment, body, tests)


# -- string families --------------------------------------------------------------------------


def _scount_char(g: _Gen) -> _Fn:
    s = g.pick(STR_NAMES)
    param = g.str_param(s)
    cnt = g.pick(CNT_NAMES)
    if g.rng.random() < 0.5:
        c = g.pick(["c", "ch", "target", "letter"])
        name = g.fname(["count_char", "count_letter", "char_count", "occurrences_of", "count"], ["", "in"])
        params = [param, f"char {c}"]
        target = c
        comment = f"Count how many times the character {c} occurs in {s}."
        literal = None
    else:
        literal = g.rng.choice("aeioustxz ")
        word = {" ": "spaces"}.get(literal, f"{literal}s")
        name = g.fname(["count", "num", "how_many"], [word, f"{literal}_chars" if literal != " " else "blanks"])
        params = [param]
        target = _char_lit(literal)
        comment = f"Count the {'spaces' if literal == ' ' else repr(literal) + ' characters'} in {s}."
    body = [
        f"int {cnt} = 0;",
        *g.for_each(s, lambda e: g.if_stmt(f"{e} == {target}", f"{cnt}++;"), "char"),
        f"return {cnt};",
    ]
    tests = []
    for _ in range(3):
        w = _rand_word(g)
        if literal is None:
            ch = g.rng.choice(w) if w and g.rng.random() < 0.7 else g.rng.choice("abcz")
            tests.append(_eq(_call(name, _str_lit(w), _char_lit(ch)), str(w.count(ch))))
        else:
            tests.append(_eq(_call(name, _str_lit(w)), str(w.count(literal))))
    return _Fn(name, "int", params, comment, body, tests)


def _sreverse(g: _Gen) -> _Fn:
    s = g.pick(STR_NAMES)
    name = g.fname(["reverse_string", "reversed", "reverse_str", "backwards", "reverse_text", "mirror"])
    st = g.string
    style = g.rng.randint(0, 2)
    if style == 0:
        g.headers.add("algorithm")
        param = f"{st} {s}"
        body = [f"{g.std('reverse')}({s}.begin(), {s}.end());", f"return {s};"]
    elif style == 1:
        param = g.str_param(s)
        body = [f"return {st}({s}.rbegin(), {s}.rend());"]
    else:
        param = g.str_param(s)
        o, i = g.pick(ACC_NAMES), g.pick(IDX_NAMES)
        body = [
            f"{st} {o};",
            f"for (int {i} = (int){s}.size() - 1; {i} >= 0; {i}--) {{",
            f"{INDENT}{o} += {s}[{i}];",
            "}",
            f"return {o};",
        ]
    tests = [_eq(_call(name, _str_lit(w)), _str_lit(w[::-1])) for w in (_rand_word(g) for _ in range(3))]
    return _Fn(name, st, [param], f"{g.comment_verb()} {s} reversed.", body, tests)


def _scase(g: _Gen) -> _Fn:
    s = g.pick(STR_NAMES)
    upper = g.rng.random() < 0.6
    name = g.fname(
        ["to_upper", "uppercase", "upper", "shout", "capitalize_all"]
        if upper
        else ["to_lower", "lowercase", "lower", "downcase"]
    )
    st = g.string
    g.headers.add("cctype")
    fn = g.std("toupper" if upper else "tolower")
    if g.rng.random() < 0.5:
        param = f"{st} {s}"
        ch = g.pick(CHAR_NAMES)
        body = [f"for (char& {ch} : {s}) {{", f"{INDENT}{ch} = (char){fn}({ch});", "}", f"return {s};"]
    else:
        param = g.str_param(s)
        o = g.pick(ACC_NAMES)
        body = [f"{st} {o};", *g.for_each(s, lambda e: [f"{o} += (char){fn}({e});"], "char"), f"return {o};"]
    alphabet = "abcdxyz HELLO" if upper else "ABCDXYZ hello"
    tests = []
    for _ in range(3):
        w = _rand_word(g, alphabet=alphabet)
        tests.append(_eq(_call(name, _str_lit(w)), _str_lit(w.upper() if upper else w.lower())))
    return _Fn(
        name,
        st,
        [param],
        f"{g.comment_verb()} {s} with every letter converted to {'upper' if upper else 'lower'} case.",
        body,
        tests,
    )


def _spalindrome(g: _Gen) -> _Fn:
    s = g.pick(STR_NAMES)
    name = g.fname(["is_palindrome", "palindrome", "isPalindrome", "reads_same_backwards"])
    param = g.str_param(s)
    if g.rng.random() < 0.6:
        i, j = g.pick(["i", "l", "lo", "left_i"]), g.pick(["j", "r", "hi", "right_i"])
        body = [
            f"int {i} = 0;",
            f"int {j} = (int){s}.size() - 1;",
            f"while ({i} < {j}) {{",
            *(INDENT + x for x in g.if_stmt(f"{s}[{i}] != {s}[{j}]", "return false;")),
            f"{INDENT}{i}++;",
            f"{INDENT}{j}--;",
            "}",
            "return true;",
        ]
    else:
        r = g.pick(["r", "rev", "backwards", "reversed_s"])
        body = [f"{g.string} {r}({s}.rbegin(), {s}.rend());", f"return {r} == {s};"]
    tests = []
    for _ in range(4):
        w = _rand_word(g, 0, 4, "abcx")
        if g.rng.random() < 0.5:
            w = w + w[::-1][g.rng.randint(0, 1) :]
        tests.append(_truth(g, _call(name, _str_lit(w)), w == w[::-1]))
    return _Fn(name, "bool", [param], f"Return true if {s} reads the same forwards and backwards.", body, tests)


def _svowels(g: _Gen) -> _Fn:
    s = g.pick(STR_NAMES)
    name = g.fname(["count_vowels", "vowel_count", "num_vowels", "vowels"])
    param = g.str_param(s)
    c = g.pick(CNT_NAMES)
    style = g.rng.randint(0, 1)

    def inner(e: str) -> list[str]:
        if style == 0:
            cond = " || ".join(f"{e} == '{v}'" for v in "aeiou")
        else:
            cond = f'{g.string}("aeiou").find({e}) != {g.string}::npos'
        return g.if_stmt(cond, f"{c}++;")

    body = [f"int {c} = 0;", *g.for_each(s, inner, "char"), f"return {c};"]
    tests = [
        _eq(_call(name, _str_lit(w)), str(sum(ch in "aeiou" for ch in w))) for w in (_rand_word(g) for _ in range(3))
    ]
    return _Fn(name, "int", [param], f"Count the lowercase vowels (a, e, i, o, u) in {s}.", body, tests)


def _sreplace(g: _Gen) -> _Fn:
    s = g.pick(STR_NAMES)
    st = g.string
    if g.rng.random() < 0.5:
        a, b = g.pick(["from", "old_c", "a", "c1"]), g.pick(["to", "new_c", "b", "c2"])
        params_extra = [f"char {a}", f"char {b}"]
        ca, cb = a, b
        fixed = None
        comment_tail = f"every {a} replaced by {b}"
    else:
        x, y = g.rng.sample("aeiost _-", 2)
        fixed = (x, y)
        params_extra = []
        ca, cb = _char_lit(x), _char_lit(y)
        comment_tail = f"every '{x}' replaced by '{y}'"
    name = g.fname(["replace_char", "replace_all", "substitute", "swap_chars", "replace"], ["", "in"])
    if g.rng.random() < 0.5:
        param = f"{st} {s}"
        ch = g.pick(CHAR_NAMES)
        body = [
            f"for (char& {ch} : {s}) {{",
            *(INDENT + t for t in g.if_stmt(f"{ch} == {ca}", f"{ch} = {cb};")),
            "}",
            f"return {s};",
        ]
    else:
        param = g.str_param(s)
        o = g.pick(ACC_NAMES)
        body = [f"{st} {o};", *g.for_each(s, lambda e: [f"{o} += ({e} == {ca}) ? {cb} : {e};"], "char"), f"return {o};"]
    tests = []
    for _ in range(3):
        w = _rand_word(g, alphabet="aeiost _-xyz")
        if fixed is None:
            x, y = g.rng.choice("aest"), g.rng.choice("xyz_")
            tests.append(_eq(_call(name, _str_lit(w), _char_lit(x), _char_lit(y)), _str_lit(w.replace(x, y))))
        else:
            tests.append(_eq(_call(name, _str_lit(w)), _str_lit(w.replace(*fixed))))
    return _Fn(name, st, [param, *params_extra], f"{g.comment_verb()} a copy of {s} with {comment_tail}.", body, tests)


def _sclass(g: _Gen) -> _Fn:
    s = g.pick(STR_NAMES)
    kind = g.rng.choice(["digit", "upper", "alpha", "space", "lower"])
    fn_name = {"digit": "isdigit", "upper": "isupper", "alpha": "isalpha", "space": "isspace", "lower": "islower"}[kind]
    phrase = {
        "digit": "digits",
        "upper": "uppercase letters",
        "alpha": "letters",
        "space": "whitespace characters",
        "lower": "lowercase letters",
    }[kind]
    ref: Callable[[str], bool] = {
        "digit": str.isdigit,
        "upper": str.isupper,
        "alpha": str.isalpha,
        "space": str.isspace,
        "lower": str.islower,
    }[kind]
    name = g.fname(["count", "num", "how_many"], [phrase.replace(" ", "_"), kind + "s", kind + "_chars"])
    param = g.str_param(s)
    g.headers.add("cctype")
    fn = g.std(fn_name)
    c = g.pick(CNT_NAMES)
    body = [
        f"int {c} = 0;",
        *g.for_each(s, lambda e: g.if_stmt(f"{fn}((unsigned char){e})", f"{c}++;"), "char"),
        f"return {c};",
    ]
    tests = []
    for _ in range(3):
        w = _rand_word(g, alphabet="abXY 12z9Q")
        tests.append(_eq(_call(name, _str_lit(w)), str(sum(1 for ch in w if ref(ch)))))
    return _Fn(name, "int", [param], f"Count the {phrase} in {s}.", body, tests)


def _sremove(g: _Gen) -> _Fn:
    s = g.pick(STR_NAMES)
    st = g.string
    c = g.pick(["c", "ch", "target", "drop"])
    name = g.fname(["remove_char", "strip_char", "without", "erase_char", "delete_char"])
    param = g.str_param(s)
    o = g.pick(ACC_NAMES)
    body = [f"{st} {o};", *g.for_each(s, lambda e: g.if_stmt(f"{e} != {c}", f"{o} += {e};"), "char"), f"return {o};"]
    tests = []
    for _ in range(3):
        w = _rand_word(g)
        ch = g.rng.choice(w) if w and g.rng.random() < 0.7 else "q"
        tests.append(_eq(_call(name, _str_lit(w), _char_lit(ch)), _str_lit(w.replace(ch, ""))))
    return _Fn(
        name, st, [param, f"char {c}"], f"{g.comment_verb()} {s} with every occurrence of {c} removed.", body, tests
    )


def _srepeat(g: _Gen) -> _Fn:
    s = g.pick(STR_NAMES)
    n = g.pick(["n", "times", "k", "count"])
    st = g.string
    name = g.fname(["repeat", "repeat_string", "repeated", "duplicate"], ["", "n", "times"])
    param = g.str_param(s)
    o, i = g.pick(ACC_NAMES), g.pick(IDX_NAMES)
    if g.rng.random() < 0.6:
        loop = [f"for (int {i} = 0; {i} < {n}; {i}++) {{", f"{INDENT}{o} += {s};", "}"]
    else:
        loop = [f"while ({n} > 0) {{", f"{INDENT}{o} += {s};", f"{INDENT}{n}--;", "}"]
    body = [f"{st} {o};", *loop, f"return {o};"]
    tests = []
    for _ in range(3):
        w, k = _rand_word(g, 0, 4), g.rng.randint(0, 4)
        tests.append(_eq(_call(name, _str_lit(w), str(k)), _str_lit(w * k)))
    return _Fn(name, st, [param, f"int {n}"], f"{g.comment_verb()} {s} repeated {n} times.", body, tests)


def _sends(g: _Gen) -> _Fn:
    s = g.pick(STR_NAMES)
    c = g.pick(["c", "ch", "letter", "first"])
    starts = g.rng.random() < 0.5
    name = g.fname(["starts_with", "begins_with", "first_is"] if starts else ["ends_with", "last_is", "finishes_with"])
    param = g.str_param(s)
    at = "0" if starts else f"{s}.size() - 1"
    if g.rng.random() < 0.5:
        body = [f"return !{s}.empty() && {s}[{at}] == {c};"]
    else:
        body = [*g.if_stmt(f"{s}.empty()", "return false;"), f"return {s}[{at}] == {c};"]
    tests = []
    for _ in range(4):
        w = _rand_word(g, 0, 5, "abc")
        ch = g.rng.choice("abc")
        tests.append(
            _truth(g, _call(name, _str_lit(w), _char_lit(ch)), (w.startswith(ch) if starts else w.endswith(ch)))
        )
    where = "first" if starts else "last"
    return _Fn(name, "bool", [param, f"char {c}"], f"Return true if the {where} character of {s} is {c}.", body, tests)


# -- struct families --------------------------------------------------------------------------


def _struct_point(g: _Gen) -> _Fn:
    sname = g.rng.choice(["Point", "Vec2", "Pos", "Coord", "P2", "Cell"])
    fx, fy = g.rng.choice([("x", "y"), ("row", "col"), ("a", "b"), ("first", "second"), ("dx", "dy")])
    g.used.update({sname, fx, fy})
    pre = f"struct {sname} {{\n{INDENT}int {fx};\n{INDENT}int {fy};\n}};"
    if g.rng.random() < 0.3:
        pre = f"struct {sname} {{\n{INDENT}int {fx}, {fy};\n}};"
    p, q = g.pick(["p", "a", "u", "lhs", "first_p"]), g.pick(["q", "b", "w", "rhs", "second_p"])
    kind = g.rng.choice(["manhattan", "dot", "add", "sum", "equal"])
    params = (
        [f"{sname} {p}", f"{sname} {q}"] if g.rng.random() < 0.6 else [f"const {sname}& {p}", f"const {sname}& {q}"]
    )
    pts = [
        ((g.rng.randint(-9, 9), g.rng.randint(-9, 9)), (g.rng.randint(-9, 9), g.rng.randint(-9, 9))) for _ in range(3)
    ]

    def lit(pt: tuple[int, int]) -> str:
        return f"{sname}{{{pt[0]}, {pt[1]}}}"

    if kind == "manhattan":
        name = g.fname(["manhattan", "manhattan_distance", "taxicab", "grid_distance"])
        dx, dy = g.pick(["dx", "d1", "ddx"]), g.pick(["dy", "d2", "ddy"])
        body = [
            f"int {dx} = {p}.{fx} - {q}.{fx};",
            f"int {dy} = {p}.{fy} - {q}.{fy};",
            *g.if_stmt(f"{dx} < 0", f"{dx} = -{dx};"),
            *g.if_stmt(f"{dy} < 0", f"{dy} = -{dy};"),
            f"return {dx} + {dy};",
        ]
        tests = [_eq(_call(name, lit(a), lit(b)), str(abs(a[0] - b[0]) + abs(a[1] - b[1]))) for a, b in pts]
        return _Fn(
            name,
            "int",
            params,
            f"{g.comment_verb()} the Manhattan distance between {p} and {q}.",
            body,
            tests,
            preamble=pre,
        )
    if kind == "dot":
        name = g.fname(["dot", "dot_product", "cross_sum"])
        body = [f"return {p}.{fx} * {q}.{fx} + {p}.{fy} * {q}.{fy};"]
        tests = [_eq(_call(name, lit(a), lit(b)), str(a[0] * b[0] + a[1] * b[1])) for a, b in pts]
        return _Fn(
            name, "int", params, f"{g.comment_verb()} the dot product of {p} and {q}.", body, tests, preamble=pre
        )
    if kind == "equal":
        name = g.fname(["same_point", "equal", "points_equal", "is_same"])
        body = [f"return {p}.{fx} == {q}.{fx} && {p}.{fy} == {q}.{fy};"]
        pts[0] = (pts[0][0], pts[0][0])
        tests = [_truth(g, _call(name, lit(a), lit(b)), a == b) for a, b in pts]
        return _Fn(
            name, "bool", params, f"Return true if {p} and {q} have the same coordinates.", body, tests, preamble=pre
        )
    if kind == "sum":
        name = g.fname(["coord_sum", "sum_coords", "total_of"])
        body = [f"return {p}.{fx} + {p}.{fy} + {q}.{fx} + {q}.{fy};"]
        tests = [_eq(_call(name, lit(a), lit(b)), str(a[0] + a[1] + b[0] + b[1])) for a, b in pts]
        return _Fn(
            name,
            "int",
            params,
            f"{g.comment_verb()} the sum of all four coordinates of {p} and {q}.",
            body,
            tests,
            preamble=pre,
        )
    name = g.fname(["add_points", "add", "plus", "translate", "combine_points"])
    r = g.pick(ACC_NAMES)
    if g.rng.random() < 0.5:
        body = [f"{sname} {r};", f"{r}.{fx} = {p}.{fx} + {q}.{fx};", f"{r}.{fy} = {p}.{fy} + {q}.{fy};", f"return {r};"]
    else:
        body = [f"return {sname}{{{p}.{fx} + {q}.{fx}, {p}.{fy} + {q}.{fy}}};"]
    tests = []
    for a, b in pts:
        call = _call(name, lit(a), lit(b))
        tests.append(f"{call}.{fx} == {a[0] + b[0]} && {call}.{fy} == {a[1] + b[1]}")
    return _Fn(
        name, sname, params, f"{g.comment_verb()} the component-wise sum of {p} and {q}.", body, tests, preamble=pre
    )


def _struct_rect(g: _Gen) -> _Fn:
    sname = g.rng.choice(["Rect", "Rectangle", "Box", "Size", "Dims"])
    fw, fh = g.rng.choice([("w", "h"), ("width", "height"), ("cols", "rows"), ("len", "wid")])
    g.used.update({sname, fw, fh})
    pre = f"struct {sname} {{\n{INDENT}int {fw};\n{INDENT}int {fh};\n}};"
    r = g.pick(["r", "rect", "box", "b", "s"])
    param = g.rng.choice([f"{sname} {r}", f"const {sname}& {r}"])
    kind = g.rng.choice(["area", "perimeter", "square", "fits"])
    dims = [(g.rng.randint(0, 12), g.rng.randint(0, 12)) for _ in range(3)]

    def lit(d: tuple[int, int]) -> str:
        return f"{sname}{{{d[0]}, {d[1]}}}"

    if kind == "area":
        name = g.fname(["area", "rect_area", "area_of", "surface"])
        tests = [_eq(_call(name, lit(d)), str(d[0] * d[1])) for d in dims]
        return _Fn(
            name,
            "int",
            [param],
            f"{g.comment_verb()} the area of {r}.",
            [f"return {r}.{fw} * {r}.{fh};"],
            tests,
            preamble=pre,
        )
    if kind == "perimeter":
        name = g.fname(["perimeter", "rect_perimeter", "perimeter_of", "border_length"])
        expr = g.rng.choice([f"2 * ({r}.{fw} + {r}.{fh})", f"{r}.{fw} * 2 + {r}.{fh} * 2"])
        tests = [_eq(_call(name, lit(d)), str(2 * (d[0] + d[1]))) for d in dims]
        return _Fn(
            name, "int", [param], f"{g.comment_verb()} the perimeter of {r}.", [f"return {expr};"], tests, preamble=pre
        )
    if kind == "square":
        name = g.fname(["is_square", "square", "is_square_shape"])
        dims[0] = (dims[0][0], dims[0][0])
        tests = [_truth(g, _call(name, lit(d)), d[0] == d[1]) for d in dims]
        return _Fn(
            name,
            "bool",
            [param],
            f"Return true if {r} is a square.",
            [f"return {r}.{fw} == {r}.{fh};"],
            tests,
            preamble=pre,
        )
    o = g.pick(["other", "inner", "small", "o"])
    name = g.fname(["fits_inside", "fits_in", "can_contain", "fits"])
    body = [f"return {o}.{fw} <= {r}.{fw} && {o}.{fh} <= {r}.{fh};"]
    tests = []
    for d in dims:
        e = (g.rng.randint(0, 12), g.rng.randint(0, 12))
        tests.append(_truth(g, _call(name, lit(d), lit(e)), e[0] <= d[0] and e[1] <= d[1]))
    other = param.replace(f" {r}", f" {o}") if param.endswith(f" {r}") else f"{sname} {o}"
    return _Fn(
        name, "bool", [param, other], f"Return true if {o} fits inside {r} without rotating.", body, tests, preamble=pre
    )


def _struct_items(g: _Gen) -> _Fn:
    sname = g.rng.choice(["Item", "Product", "Order", "Entry", "Line"])
    fp, fq = g.rng.choice([("price", "qty"), ("cost", "count"), ("unit_price", "quantity"), ("value", "amount")])
    with_name = g.rng.random() < 0.5
    st = g.string if with_name else ""
    g.used.update({sname, fp, fq})
    fields = ([f"{INDENT}{st} name;"] if with_name else []) + [f"{INDENT}int {fp};", f"{INDENT}int {fq};"]
    pre = f"struct {sname} {{\n" + "\n".join(fields) + "\n};"
    v = g.pick(["items", "orders", "cart", "entries", "lines", "products"])
    vec = g.std("vector") + f"<{sname}>"
    g.headers.add("vector")
    param = g.rng.choice([f"const {vec}& {v}", f"{vec} {v}"])
    r = g.pick(ACC_NAMES)
    it = g.pick(["it", "item", "e", "x", "entry"])
    kind = g.rng.choice(["total", "count"])
    if kind == "total":
        name = g.fname(["total_cost", "total_price", "order_total", "sum_cost", "bill"])
        if g.rng.random() < 0.6:
            loop = [f"for (const {sname}& {it} : {v}) {{", f"{INDENT}{r} += {it}.{fp} * {it}.{fq};", "}"]
        else:
            i = g.pick(IDX_NAMES)
            loop = [
                f"for (int {i} = 0; {i} < (int){v}.size(); {i}++) {{",
                f"{INDENT}{r} += {v}[{i}].{fp} * {v}[{i}].{fq};",
                "}",
            ]
        comment = f"{g.comment_verb()} the sum of {fp} * {fq} over all of {v}."
    else:
        k = g.rng.randint(2, 9)
        name = g.fname(["count_expensive", "num_above", "count_pricey"], ["", str(k)])
        loop = [
            f"for (const {sname}& {it} : {v}) {{",
            *(INDENT + x for x in g.if_stmt(f"{it}.{fp} > {k}", f"{r}++;")),
            "}",
        ]
        comment = f"Count the entries of {v} whose {fp} is greater than {k}."
    body = [f"int {r} = 0;", *loop, f"return {r};"]
    tests = []
    for _ in range(3):
        rows = [(g.rng.randint(0, 12), g.rng.randint(0, 5)) for _ in range(g.rng.randint(0, 4))]
        lits = ", ".join(
            (f'{{"{_rand_word(g, 1, 4, "abcxyz")}", {p}, {q}}}' if with_name else f"{{{p}, {q}}}") for p, q in rows
        )
        arg = f"std::vector<{sname}>{{{lits}}}"
        expected = sum(p * q for p, q in rows) if kind == "total" else sum(1 for p, _ in rows if p > k)
        tests.append(_eq(_call(name, arg), str(expected)))
    return _Fn(name, "int", [param], comment, body, tests, preamble=pre)


FAMILIES: dict[str, Callable[[_Gen], _Fn]] = {
    "arith": _arith,
    "minmax": _minmax,
    "abs": _absval,
    "clamp": _clamp,
    "gcd": _gcd,
    "power": _power,
    "digits": _digits,
    "series": _series,
    "predicate": _predicate,
    "sign": _sign,
    "divisors": _divisors,
    "vsum": _vsum,
    "vcount_if": _vcount_if,
    "vextreme": _vextreme,
    "vreverse": _vreverse,
    "vprefix": _vprefix,
    "vfilter": _vfilter,
    "vfind": _vfind,
    "vmap": _vmap,
    "vproduct": _vproduct,
    "vsorted": _vsorted,
    "vsum_if": _vsum_if,
    "vcount_eq": _vcount_eq,
    "vdot": _vdot,
    "vrange": _vrange,
    "vaverage": _vaverage,
    "scount_char": _scount_char,
    "sreverse": _sreverse,
    "scase": _scase,
    "spalindrome": _spalindrome,
    "svowels": _svowels,
    "sreplace": _sreplace,
    "sclass": _sclass,
    "sremove": _sremove,
    "srepeat": _srepeat,
    "sends": _sends,
    "point": _struct_point,
    "rect": _struct_rect,
    "items": _struct_items,
}


def _render(g: _Gen, fn: _Fn, task_id: str) -> CodeTask:
    headers = tuple(h for h in HEADER_ORDER if h in g.headers | fn.headers)
    lines = [f"#include <{h}>" for h in headers]
    if g.using_std and headers:
        lines.append("using namespace std;")
    head = "\n".join(lines) + "\n\n" if lines else ""
    if fn.preamble:
        head += fn.preamble + "\n\n"
    prompt = f"{head}// {fn.comment}\n{fn.ret} {fn.name}({', '.join(fn.params)}) {{"
    completion = "\n" + "".join(f"{INDENT}{line}\n" for line in fn.body) + "}\n"
    asserts = "".join(f"{INDENT}assert({'(' + t + ')' if ',' in t else t});\n" for t in fn.tests)
    test_code = f"{TEST_HEADER}int main() {{\n{asserts}}}\n"
    return CodeTask(task_id, prompt, completion, test_code, headers)


def generate_task(rng: random.Random, task_id: str, family: str | None = None) -> CodeTask:
    """One task drawn from `rng` (from `family` when named)."""
    g = _Gen(rng)
    builder = FAMILIES[family] if family is not None else FAMILIES[rng.choice(sorted(FAMILIES))]
    return _render(g, builder(g), task_id)


def generate_tasks(n: int, seed: int) -> list[CodeTask]:
    """`n` distinct tasks (distinct training texts), the same for the same (n, seed)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = random.Random(seed)
    tasks: list[CodeTask] = []
    seen: set[str] = set()
    attempts = 0
    while len(tasks) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise RuntimeError(f"could not draw {n} distinct tasks (got {len(tasks)})")
        task = generate_task(rng, f"cppforge-gen/{seed}/{len(tasks)}")
        text = training_text(task)
        if text in seen:
            continue
        seen.add(text)
        tasks.append(task)
    return tasks


@functools.lru_cache(maxsize=4)
def _training_prompts(train_seed: int, train_n: int) -> frozenset[str]:
    return frozenset(t.prompt for t in generate_tasks(train_n, train_seed))


def held_out_tasks(n: int, seed: int, train_seed: int = 0, train_n: int = 20000) -> list[CodeTask]:
    """`n` tasks from `seed` whose prompts the bootstrap model never saw in training.

    Another seed alone is not enough: with names and constants drawn from finite pools, about a
    quarter of another seed's prompts also occur among the 20,000 training tasks.
    """
    seen = _training_prompts(train_seed, train_n)
    out: list[CodeTask] = []
    batch = max(2 * n, 64)
    while len(out) < n:
        out = [t for t in generate_tasks(batch, seed) if t.prompt not in seen][:n]
        batch *= 2
    return out
