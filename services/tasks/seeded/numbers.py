"""Integer families: series, predicates, sign, divisors."""

from __future__ import annotations

from collections.abc import Callable

from .common import (
    ACC_NAMES,
    CNT_NAMES,
    IDX_NAMES,
    INDENT,
    INT_NAMES,
    OPS,
    Fn,
    Gen,
    cpp_call,
    distinct,
    eq,
    truth,
)


def _series(g: Gen) -> Fn:
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
            return Fn(
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
            return Fn(name, "int", [f"int {n}"], comment, body, _series_tests(g, name, ref, 0, 15))
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
        return Fn(name, "int", [f"int {n}"], comment, body, _series_tests(g, name, ref, 0, hi))
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
        return Fn(name, "int", [f"int {n}"], comment, body, _series_tests(g, name, ref, 0, hi))
    if g.rng.random() < 0.7:
        loop = [f"for (int {i} = 1; {i} <= {n}; {i}++) {{", INDENT + loop_step, "}"]
    else:
        loop = [f"int {i} = 1;", f"while ({i} <= {n}) {{", INDENT + loop_step, f"{INDENT}{i}++;", "}"]
    body = [f"int {r} = {init};", *loop, f"return {r};"]
    return Fn(name, "int", [f"int {n}"], comment, body, _series_tests(g, name, ref, 0, hi))


def _series_tests(g: Gen, name: str, ref: Callable[[int], int], lo: int, hi: int) -> list[str]:
    values = distinct(g, lambda: g.rng.randint(lo, hi), 4)
    return [eq(cpp_call(name, str(v)), str(ref(v))) for v in values]


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


# kind -> (name words, C++ test of {x}, Python reference, phrase about {x}): the one-line predicates.
_SIMPLE_PREDICATES: dict[str, tuple[list[str], str, Callable[[int], bool], str]] = {
    "even": (["is_even", "even", "isEven", "check_even"], "{x} % 2 == 0", lambda v: v % 2 == 0, "{x} is even"),
    "odd": (["is_odd", "odd", "check_odd"], "{x} % 2 != 0", lambda v: v % 2 != 0, "{x} is odd"),
    "positive": (["is_positive", "positive", "greater_than_zero"], "{x} > 0", lambda v: v > 0, "{x} is positive"),
    "negative": (["is_negative", "negative", "below_zero"], "{x} < 0", lambda v: v < 0, "{x} is negative"),
}


def _predicate(g: Gen) -> Fn:
    x = g.pick(INT_NAMES)
    kind = g.rng.choice(
        ["even", "odd", "divisible", "positive", "negative", "in_range", "prime", "square", "leap", "same_sign"]
    )
    params = [f"int {x}"]
    arity = 1
    hi_cut = 100
    if kind in _SIMPLE_PREDICATES:
        words, test_on_x, ref, phrase_on_x = _SIMPLE_PREDICATES[kind]
        name, expr, phrase = g.fname(words), test_on_x.format(x=x), phrase_on_x.format(x=x)
    elif kind == "divisible":
        k = g.rng.randint(2, 9)
        name = g.fname(["is_divisible_by", "divisible_by", "is_multiple_of"], [str(k), f"{k}"])
        expr, phrase = f"{x} % {k} == 0", f"{x} is divisible by {k}"
        ref = lambda v: v % k == 0  # noqa: E731
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
            tests.append(truth(g, cpp_call(name, str(a), str(b)), ref2(a, b)))
        body = _bool_body(g, expr)
        return Fn(name, "bool", params, f"Return true if {phrase}.", body, tests)
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
                truth(g, cpp_call(name, str(v)), _is_prime(v)) for v in distinct(g, lambda: g.rng.randint(0, 60), 5)
            ]
            return Fn(name, "bool", params, f"Return true if {x} is a prime number.", body, tests)
        if kind == "square":
            name = g.fname(["is_square", "is_perfect_square", "perfect_square"])
            body = [
                f"for (int {loop_var} = 0; {loop_var} * {loop_var} <= {x}; {loop_var}++) {{",
                *(INDENT + s for s in g.if_stmt(f"{loop_var} * {loop_var} == {x}", "return true;")),
                "}",
                "return false;",
            ]
            vals = distinct(g, lambda: g.rng.choice([g.rng.randint(0, 12) ** 2, g.rng.randint(0, 150)]), 5)
            tests = [truth(g, cpp_call(name, str(v)), int(v**0.5) ** 2 == v) for v in vals]
            return Fn(name, "bool", params, f"Return true if {x} is a perfect square ({x} >= 0).", body, tests)
        name = g.fname(["is_leap_year", "leap_year", "is_leap"])
        expr = f"({x} % 4 == 0 && {x} % 100 != 0) || {x} % 400 == 0"
        ref = lambda v: (v % 4 == 0 and v % 100 != 0) or v % 400 == 0  # noqa: E731
        years = [g.rng.choice([1900, 2000, 2004, 2023, 2024, 1996, 2100, 2400, 1999, 1600])] + [
            g.rng.randint(1800, 2100) for _ in range(3)
        ]
        tests = [truth(g, cpp_call(name, str(v)), ref(v)) for v in years]
        return Fn(name, "bool", params, f"Return true if the year {x} is a leap year.", _bool_body(g, expr), tests)
    assert arity == 1
    values = [g.rng.randint(-hi_cut // 5, hi_cut // 2) for _ in range(5)]
    tests = [truth(g, cpp_call(name, str(v)), ref(v)) for v in values]
    return Fn(name, "bool", params, f"Return true if {phrase}.", _bool_body(g, expr), tests)


def _bool_body(g: Gen, expr: str) -> list[str]:
    style = g.rng.random()
    if style < 0.6:
        return [f"return {expr};"]
    if style < 0.8:
        return [*g.if_stmt(expr, "return true;"), "return false;"]
    flag = g.pick(["ok", "result", "flag", "ans"])
    return [f"bool {flag} = {expr};", f"return {flag};"]


def _sign(g: Gen) -> Fn:
    x = g.pick(INT_NAMES)
    name = g.fname(["sign", "signum", "sign_of", "sgn"])
    if g.rng.random() < 0.5:
        body = [*g.if_stmt(f"{x} > 0", "return 1;"), *g.if_stmt(f"{x} < 0", "return -1;"), "return 0;"]
    else:
        body = [f"return ({x} > 0) - ({x} < 0);"]
    tests = [eq(cpp_call(name, str(v)), str((v > 0) - (v < 0))) for v in (g.rng.randint(-9, 9) for _ in range(4))]
    return Fn(
        name, "int", [f"int {x}"], f"{g.comment_verb()} 1 if {x} is positive, -1 if negative, 0 if zero.", body, tests
    )


def _divisors(g: Gen) -> Fn:
    n = g.pick(["n", "x", "num", "value"])
    d = g.pick(["d", "i", "k", "div"])
    r = g.pick(ACC_NAMES + CNT_NAMES)
    kind = g.rng.choice(["count", "sum", "proper"])
    ref: Callable[[int], int]
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
    tests = [eq(cpp_call(name, str(v)), str(ref(v))) for v in distinct(g, lambda: g.rng.randint(1, 60), 4)]
    return Fn(name, "int", [f"int {n}"], f"{g.comment_verb()} {phrase} of {n} ({n} >= 1).", body, tests)


FAMILIES: dict[str, Callable[[Gen], Fn]] = {
    "series": _series,
    "predicate": _predicate,
    "sign": _sign,
    "divisors": _divisors,
}
