"""Integer families: arithmetic, min/max, abs, clamp, gcd, power, digits."""

from __future__ import annotations

from collections.abc import Callable

from .common import (
    ACC_NAMES,
    IDX_NAMES,
    INDENT,
    INT_NAMES,
    Fn,
    Gen,
    cpp_call,
    eq,
)

# -- integer families -------------------------------------------------------------------------


def _arith(g: Gen) -> Fn:
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
        tests.append(eq(cpp_call(name, str(x), str(y)), str(ref(x, y))))
    return Fn(name, "int", [f"int {a}", f"int {b}"], f"{g.comment_verb()} {phrase}.", body, tests)


def _minmax(g: Gen) -> Fn:
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
        tests.append(eq(cpp_call(name, *map(str, args)), str(pyfn(args))))
    return Fn(name, "int", [f"int {n}" for n in names], f"{g.comment_verb()} {phrase}.", body, tests)


def _absval(g: Gen) -> Fn:
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
            tests.append(eq(cpp_call(name, str(xv), str(yv)), str(abs(xv - yv))))
        comment = f"{g.comment_verb()} the absolute difference between {a} and {b}."
        return Fn(name, "int", [f"int {a}", f"int {b}"], comment, body, tests)
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
    tests = [eq(cpp_call(name, str(v)), str(abs(v))) for v in (g.rng.randint(-50, 50) for _ in range(4))]
    return Fn(name, "int", [f"int {x}"], f"{g.comment_verb()} the absolute value of {x}.", body, tests)


def _clamp(g: Gen) -> Fn:
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
        tests.append(eq(cpp_call(name, str(v), str(a), str(b)), str(max(a, min(v, b)))))
    comment = f"Clamp {x} into the range [{lo}, {hi}] (assumes {lo} <= {hi})."
    return Fn(name, "int", [f"int {x}", f"int {lo}", f"int {hi}"], comment, body, tests)


def _gcd_ref(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _gcd(g: Gen) -> Fn:
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
            tests.append(eq(cpp_call(name, str(x), str(y)), str(x * y // _gcd_ref(x, y))))
        comment = f"{g.comment_verb()} the least common multiple of {a} and {b} (both positive)."
        return Fn(name, "int", [f"int {a}", f"int {b}"], comment, body, tests)
    name = g.fname(["gcd", "greatest_common_divisor", "gcd_of", "common_divisor"])
    if g.rng.random() < 0.5:
        body = [*loop, f"return {a};"]
    else:
        body = [*g.if_stmt(f"{b} == 0", f"return {a};"), f"return {name}({b}, {a} % {b});"]
    tests = []
    for _ in range(g.rng.randint(3, 5)):
        x, y = g.rng.randint(0, 60), g.rng.randint(1, 60)
        tests.append(eq(cpp_call(name, str(x), str(y)), str(_gcd_ref(x, y))))
    comment = f"{g.comment_verb()} the greatest common divisor of {a} and {b} (non-negative)."
    return Fn(name, "int", [f"int {a}", f"int {b}"], comment, body, tests)


def _power(g: Gen) -> Fn:
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
        tests.append(eq(cpp_call(name, str(x), str(e)), str(x**e)))
    comment = f"{g.comment_verb()} {base} raised to the power {exp} ({exp} >= 0)."
    return Fn(name, "int", [f"int {base}", f"int {exp}"], comment, body, tests)


def _digits(g: Gen) -> Fn:
    n = g.pick(["n", "x", "num", "value", "number"])
    kind = g.rng.choice(["sum", "count", "reverse", "product", "max", "count_even"])
    r = g.pick(ACC_NAMES)
    d = g.pick(["d", "digit", "last"])
    cond = g.rng.choice([f"{n} > 0", f"{n} != 0"])
    ref: Callable[[int], int]
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
    tests = [eq(cpp_call(name, str(v)), str(ref(v))) for v in values]
    return Fn(name, "int", [f"int {n}"], comment, body, tests)


def _digit_product(v: int) -> int:
    out = 1
    for ch in str(v):
        out *= int(ch)
    return out


FAMILIES: dict[str, Callable[[Gen], Fn]] = {
    "arith": _arith,
    "minmax": _minmax,
    "abs": _absval,
    "clamp": _clamp,
    "gcd": _gcd,
    "power": _power,
    "digits": _digits,
}
