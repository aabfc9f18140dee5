"""Struct families."""

from __future__ import annotations

from collections.abc import Callable

from .common import (
    ACC_NAMES,
    IDX_NAMES,
    INDENT,
    Fn,
    Gen,
    cpp_call,
    eq,
    rand_word,
    truth,
)

# -- struct families --------------------------------------------------------------------------


def _struct_point(g: Gen) -> Fn:
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
        tests = [eq(cpp_call(name, lit(a), lit(b)), str(abs(a[0] - b[0]) + abs(a[1] - b[1]))) for a, b in pts]
        return Fn(
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
        tests = [eq(cpp_call(name, lit(a), lit(b)), str(a[0] * b[0] + a[1] * b[1])) for a, b in pts]
        return Fn(name, "int", params, f"{g.comment_verb()} the dot product of {p} and {q}.", body, tests, preamble=pre)
    if kind == "equal":
        name = g.fname(["same_point", "equal", "points_equal", "is_same"])
        body = [f"return {p}.{fx} == {q}.{fx} && {p}.{fy} == {q}.{fy};"]
        pts[0] = (pts[0][0], pts[0][0])
        tests = [truth(g, cpp_call(name, lit(a), lit(b)), a == b) for a, b in pts]
        return Fn(
            name, "bool", params, f"Return true if {p} and {q} have the same coordinates.", body, tests, preamble=pre
        )
    if kind == "sum":
        name = g.fname(["coord_sum", "sum_coords", "total_of"])
        body = [f"return {p}.{fx} + {p}.{fy} + {q}.{fx} + {q}.{fy};"]
        tests = [eq(cpp_call(name, lit(a), lit(b)), str(a[0] + a[1] + b[0] + b[1])) for a, b in pts]
        return Fn(
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
        expr = cpp_call(name, lit(a), lit(b))
        tests.append(f"{expr}.{fx} == {a[0] + b[0]} && {expr}.{fy} == {a[1] + b[1]}")
    return Fn(
        name, sname, params, f"{g.comment_verb()} the component-wise sum of {p} and {q}.", body, tests, preamble=pre
    )


def _struct_rect(g: Gen) -> Fn:
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
        tests = [eq(cpp_call(name, lit(d)), str(d[0] * d[1])) for d in dims]
        return Fn(
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
        tests = [eq(cpp_call(name, lit(d)), str(2 * (d[0] + d[1]))) for d in dims]
        return Fn(
            name, "int", [param], f"{g.comment_verb()} the perimeter of {r}.", [f"return {expr};"], tests, preamble=pre
        )
    if kind == "square":
        name = g.fname(["is_square", "square", "is_square_shape"])
        dims[0] = (dims[0][0], dims[0][0])
        tests = [truth(g, cpp_call(name, lit(d)), d[0] == d[1]) for d in dims]
        return Fn(
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
        tests.append(truth(g, cpp_call(name, lit(d), lit(e)), e[0] <= d[0] and e[1] <= d[1]))
    other = param.replace(f" {r}", f" {o}") if param.endswith(f" {r}") else f"{sname} {o}"
    return Fn(
        name, "bool", [param, other], f"Return true if {o} fits inside {r} without rotating.", body, tests, preamble=pre
    )


def _struct_items(g: Gen) -> Fn:
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
            (f'{{"{rand_word(g, 1, 4, "abcxyz")}", {p}, {q}}}' if with_name else f"{{{p}, {q}}}") for p, q in rows
        )
        arg = f"std::vector<{sname}>{{{lits}}}"
        expected = sum(p * q for p, q in rows) if kind == "total" else sum(1 for p, _ in rows if p > k)
        tests.append(eq(cpp_call(name, arg), str(expected)))
    return Fn(name, "int", [param], comment, body, tests, preamble=pre)


FAMILIES: dict[str, Callable[[Gen], Fn]] = {
    "point": _struct_point,
    "rect": _struct_rect,
    "items": _struct_items,
}
