"""String families."""

from __future__ import annotations

from collections.abc import Callable

from .common import (
    ACC_NAMES,
    CHAR_NAMES,
    CNT_NAMES,
    IDX_NAMES,
    INDENT,
    STR_NAMES,
    Fn,
    Gen,
    char_lit,
    cpp_call,
    eq,
    rand_word,
    str_lit,
    truth,
)

# -- string families --------------------------------------------------------------------------


def _scount_char(g: Gen) -> Fn:
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
        target = char_lit(literal)
        comment = f"Count the {'spaces' if literal == ' ' else repr(literal) + ' characters'} in {s}."
    body = [
        f"int {cnt} = 0;",
        *g.for_each(s, lambda e: g.if_stmt(f"{e} == {target}", f"{cnt}++;"), "char"),
        f"return {cnt};",
    ]
    tests = []
    for _ in range(3):
        w = rand_word(g)
        if literal is None:
            ch = g.rng.choice(w) if w and g.rng.random() < 0.7 else g.rng.choice("abcz")
            tests.append(eq(cpp_call(name, str_lit(w), char_lit(ch)), str(w.count(ch))))
        else:
            tests.append(eq(cpp_call(name, str_lit(w)), str(w.count(literal))))
    return Fn(name, "int", params, comment, body, tests)


def _sreverse(g: Gen) -> Fn:
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
    tests = [eq(cpp_call(name, str_lit(w)), str_lit(w[::-1])) for w in (rand_word(g) for _ in range(3))]
    return Fn(name, st, [param], f"{g.comment_verb()} {s} reversed.", body, tests)


def _scase(g: Gen) -> Fn:
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
        w = rand_word(g, alphabet=alphabet)
        tests.append(eq(cpp_call(name, str_lit(w)), str_lit(w.upper() if upper else w.lower())))
    return Fn(
        name,
        st,
        [param],
        f"{g.comment_verb()} {s} with every letter converted to {'upper' if upper else 'lower'} case.",
        body,
        tests,
    )


def _spalindrome(g: Gen) -> Fn:
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
        w = rand_word(g, 0, 4, "abcx")
        if g.rng.random() < 0.5:
            w = w + w[::-1][g.rng.randint(0, 1) :]
        tests.append(truth(g, cpp_call(name, str_lit(w)), w == w[::-1]))
    return Fn(name, "bool", [param], f"Return true if {s} reads the same forwards and backwards.", body, tests)


def _svowels(g: Gen) -> Fn:
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
        eq(cpp_call(name, str_lit(w)), str(sum(ch in "aeiou" for ch in w))) for w in (rand_word(g) for _ in range(3))
    ]
    return Fn(name, "int", [param], f"Count the lowercase vowels (a, e, i, o, u) in {s}.", body, tests)


def _sreplace(g: Gen) -> Fn:
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
        ca, cb = char_lit(x), char_lit(y)
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
        w = rand_word(g, alphabet="aeiost _-xyz")
        if fixed is None:
            x, y = g.rng.choice("aest"), g.rng.choice("xyz_")
            tests.append(eq(cpp_call(name, str_lit(w), char_lit(x), char_lit(y)), str_lit(w.replace(x, y))))
        else:
            tests.append(eq(cpp_call(name, str_lit(w)), str_lit(w.replace(*fixed))))
    return Fn(name, st, [param, *params_extra], f"{g.comment_verb()} a copy of {s} with {comment_tail}.", body, tests)


def _sclass(g: Gen) -> Fn:
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
        w = rand_word(g, alphabet="abXY 12z9Q")
        tests.append(eq(cpp_call(name, str_lit(w)), str(sum(1 for ch in w if ref(ch)))))
    return Fn(name, "int", [param], f"Count the {phrase} in {s}.", body, tests)


def _sremove(g: Gen) -> Fn:
    s = g.pick(STR_NAMES)
    st = g.string
    c = g.pick(["c", "ch", "target", "drop"])
    name = g.fname(["remove_char", "strip_char", "without", "erase_char", "delete_char"])
    param = g.str_param(s)
    o = g.pick(ACC_NAMES)
    body = [f"{st} {o};", *g.for_each(s, lambda e: g.if_stmt(f"{e} != {c}", f"{o} += {e};"), "char"), f"return {o};"]
    tests = []
    for _ in range(3):
        w = rand_word(g)
        ch = g.rng.choice(w) if w and g.rng.random() < 0.7 else "q"
        tests.append(eq(cpp_call(name, str_lit(w), char_lit(ch)), str_lit(w.replace(ch, ""))))
    return Fn(
        name, st, [param, f"char {c}"], f"{g.comment_verb()} {s} with every occurrence of {c} removed.", body, tests
    )


def _srepeat(g: Gen) -> Fn:
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
        w, k = rand_word(g, 0, 4), g.rng.randint(0, 4)
        tests.append(eq(cpp_call(name, str_lit(w), str(k)), str_lit(w * k)))
    return Fn(name, st, [param, f"int {n}"], f"{g.comment_verb()} {s} repeated {n} times.", body, tests)


def _sends(g: Gen) -> Fn:
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
        w = rand_word(g, 0, 5, "abc")
        ch = g.rng.choice("abc")
        tests.append(
            truth(g, cpp_call(name, str_lit(w), char_lit(ch)), (w.startswith(ch) if starts else w.endswith(ch)))
        )
    where = "first" if starts else "last"
    return Fn(name, "bool", [param, f"char {c}"], f"Return true if the {where} character of {s} is {c}.", body, tests)


FAMILIES: dict[str, Callable[[Gen], Fn]] = {
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
}
