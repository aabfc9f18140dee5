"""Vector families."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from .common import (
    ACC_NAMES,
    CNT_NAMES,
    ELEM_NAMES,
    IDX_NAMES,
    INDENT,
    VEC_NAMES,
    Fn,
    Gen,
    cdiv,
    cmod,
    cond,
    cpp_call,
    eq,
    rand_vec,
    truth,
    vec_lit,
)

# -- vector families --------------------------------------------------------------------------


def _vsum(g: Gen) -> Fn:
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
    tests = [eq(cpp_call(name, vec_lit(xs)), str(sum(xs))) for xs in (rand_vec(g) for _ in range(g.rng.randint(3, 4)))]
    return Fn(name, "int", [param], f"{g.comment_verb()} the sum of the elements of {v}.", body, tests)


def _vcount_if(g: Gen) -> Fn:
    v = g.pick(VEC_NAMES)
    tmpl, phrase, words, ref = cond(g)
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
        xs = rand_vec(g)
        tests.append(eq(cpp_call(name, vec_lit(xs)), str(sum(1 for x in xs if ref(x)))))
    comment = f"Count how many elements of {v} are {phrase}."
    return Fn(name, "int", [param], comment, body, tests)


def _vextreme(g: Gen) -> Fn:
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
        xs = rand_vec(g, min_len=1)
        tests.append(eq(cpp_call(name, vec_lit(xs)), str(max(xs) if is_max else min(xs))))
    comment = f"{g.comment_verb()} the {'largest' if is_max else 'smallest'} element of {v} ({v} is not empty)."
    return Fn(name, "int", [param], comment, body, tests)


def _vreverse(g: Gen) -> Fn:
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
    tests = [eq(cpp_call(name, vec_lit(xs)), vec_lit(xs[::-1])) for xs in (rand_vec(g) for _ in range(3))]
    return Fn(name, vec, [param], f"{g.comment_verb()} the elements of {v} in reverse order.", body, tests)


def _vprefix(g: Gen) -> Fn:
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
        xs = rand_vec(g)
        pre, acc = [], 0
        for x in xs:
            acc += x
            pre.append(acc)
        tests.append(eq(cpp_call(name, vec_lit(xs)), vec_lit(pre)))
    comment = f"{g.comment_verb()} the running sums of {v}: element i is {v}[0] + ... + {v}[i]."
    return Fn(name, vec, [param], comment, body, tests)


def _vfilter(g: Gen) -> Fn:
    v = g.pick(VEC_NAMES)
    tmpl, phrase, words, ref = cond(g)
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
        xs = rand_vec(g)
        tests.append(eq(cpp_call(name, vec_lit(xs)), vec_lit([x for x in xs if ref(x)])))
    comment = f"{g.comment_verb()} the elements of {v} that are {phrase}, in their original order."
    return Fn(name, vec, [param], comment, body, tests)


def _vfind(g: Gen) -> Fn:
    v = g.pick(VEC_NAMES)
    t = g.pick(["target", "t", "key", "x", "needle", "value"])
    param = g.vec_param(v)
    if g.rng.random() < 0.5:
        name = g.fname(["contains", "has", "includes", "has_value", "contains_value"])
        body = [*g.for_each(v, lambda e: g.if_stmt(f"{e} == {t}", "return true;")), "return false;"]
        tests = []
        for _ in range(4):
            xs = rand_vec(g, 0, 9)
            key = g.rng.choice(xs) if xs and g.rng.random() < 0.5 else g.rng.randint(0, 12)
            tests.append(truth(g, cpp_call(name, vec_lit(xs), str(key)), key in xs))
        return Fn(name, "bool", [param, f"int {t}"], f"Return true if {v} contains {t}.", body, tests)
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
        xs = rand_vec(g, 0, 9)
        key = g.rng.choice(xs) if xs and g.rng.random() < 0.6 else g.rng.randint(0, 12)
        tests.append(eq(cpp_call(name, vec_lit(xs), str(key)), str(xs.index(key) if key in xs else -1)))
    comment = f"{g.comment_verb()} the index of the first occurrence of {t} in {v}, or -1 if absent."
    return Fn(name, "int", [param, f"int {t}"], comment, body, tests)


def _vmap(g: Gen) -> Fn:
    v = g.pick(VEC_NAMES)
    k = g.rng.randint(2, 9)
    kinds: list[tuple[str, str, list[str], Callable[[int], int]]] = [
        ("{x} * " + str(k), f"multiplied by {k}", ["scale", "multiply_all", "times", "scaled"], lambda x: x * k),
        ("{x} + " + str(k), f"plus {k}", ["add_to_all", "shift", "offset", "increment_all"], lambda x: x + k),
        ("{x} * {x}", "squared", ["square_all", "squares", "squared"], lambda x: x * x),
        ("-{x}", "negated", ["negate", "negated", "flip_signs"], lambda x: -x),
        ("{x} % " + str(k), f"modulo {k}", ["mod_all", "remainders"], lambda x: cmod(x, k)),
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
        xs = rand_vec(g)
        tests.append(eq(cpp_call(name, vec_lit(xs)), vec_lit([ref(x) for x in xs])))
    comment = f"{g.comment_verb()} a copy of {v} with every element {phrase}."
    return Fn(name, vec, [param], comment, body, tests)


def _vproduct(g: Gen) -> Fn:
    v = g.pick(VEC_NAMES)
    name = g.fname(["product", "multiply_all", "product_of", "prod"], ["", "elements", "values"])
    param = g.vec_param(v)
    r = g.pick(ACC_NAMES)
    body = [f"int {r} = 1;", *g.for_each(v, lambda e: [f"{r} *= {e};"]), f"return {r};"]
    tests = []
    for _ in range(3):
        xs = rand_vec(g, -4, 5, 0, 5)
        p = 1
        for x in xs:
            p *= x
        tests.append(eq(cpp_call(name, vec_lit(xs)), str(p)))
    return Fn(name, "int", [param], f"{g.comment_verb()} the product of the elements of {v} (1 if empty).", body, tests)


def _vsorted(g: Gen) -> Fn:
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
        xs = rand_vec(g, 0, 9, 0, 5)
        if g.rng.random() < 0.5:
            xs = sorted(xs)
        ok = all((b > a) if strict else (b >= a) for a, b in itertools.pairwise(xs))
        tests.append(truth(g, cpp_call(name, vec_lit(xs)), ok))
    phrase = "strictly increasing" if strict else "sorted in non-decreasing order"
    return Fn(name, "bool", [param], f"Return true if {v} is {phrase}.", body, tests)


def _vsum_if(g: Gen) -> Fn:
    v = g.pick(VEC_NAMES)
    tmpl, phrase, words, ref = cond(g)
    name = g.fname(["sum", "total", "add"], words)
    param = g.vec_param(v)
    r = g.pick(ACC_NAMES)
    body = [f"int {r} = 0;", *g.for_each(v, lambda e: g.if_stmt(tmpl.format(x=e), f"{r} += {e};")), f"return {r};"]
    tests = []
    for _ in range(3):
        xs = rand_vec(g)
        tests.append(eq(cpp_call(name, vec_lit(xs)), str(sum(x for x in xs if ref(x)))))
    return Fn(
        name, "int", [param], f"{g.comment_verb()} the sum of the elements of {v} that are {phrase}.", body, tests
    )


def _vcount_eq(g: Gen) -> Fn:
    v = g.pick(VEC_NAMES)
    t = g.pick(["target", "t", "key", "x", "value"])
    name = g.fname(["count_occurrences", "occurrences", "count_value", "frequency", "count_equal"])
    param = g.vec_param(v)
    c = g.pick(CNT_NAMES)
    body = [f"int {c} = 0;", *g.for_each(v, lambda e: g.if_stmt(f"{e} == {t}", f"{c}++;")), f"return {c};"]
    tests = []
    for _ in range(3):
        xs = rand_vec(g, 0, 4)
        key = g.rng.randint(0, 5)
        tests.append(eq(cpp_call(name, vec_lit(xs), str(key)), str(xs.count(key))))
    return Fn(name, "int", [param, f"int {t}"], f"Count how many times {t} occurs in {v}.", body, tests)


def _vdot(g: Gen) -> Fn:
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
        tests.append(eq(cpp_call(name, vec_lit(xs), vec_lit(ys)), str(sum(x * y for x, y in zip(xs, ys, strict=True)))))
    comment = f"{g.comment_verb()} the dot product of {a} and {b} (same length)."
    return Fn(name, "int", params, comment, body, tests)


def _vrange(g: Gen) -> Fn:
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
        xs = rand_vec(g, min_len=1)
        tests.append(eq(cpp_call(name, vec_lit(xs)), str(max(xs) - min(xs))))
    comment = f"{g.comment_verb()} the largest element of {v} minus the smallest ({v} is not empty)."
    return Fn(name, "int", [param], comment, body, tests)


def _vaverage(g: Gen) -> Fn:
    v = g.pick(VEC_NAMES)
    name = g.fname(["average", "mean", "avg"], ["", "value", "of"])
    param = g.vec_param(v)
    r = g.pick(ACC_NAMES)
    body = [f"int {r} = 0;", *g.for_each(v, lambda e: [f"{r} += {e};"]), f"return {r} / (int){v}.size();"]
    tests = []
    for _ in range(3):
        xs = rand_vec(g, 0, 30, 1, 6)
        tests.append(eq(cpp_call(name, vec_lit(xs)), str(cdiv(sum(xs), len(xs)))))
    comment = f"{g.comment_verb()} the integer average of {v}, rounded down ({v} is not empty, values >= 0)."
    return Fn(name, "int", [param], comment, body, tests)


FAMILIES: dict[str, Callable[[Gen], Fn]] = {
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
}
