"""Shared pieces of the bench families: header blocks, C++ literals, specs and how a spec becomes a `Task`.

Every problem comes from a small parameterised family (a Python function that varies one
parameter: a divisor, a base, a window width, ...). Each family has a Python reference, and the
expected values in the asserts are computed with it, so the tests are right by construction.
The layout follows HumanEval-X C++: `prompt` is a block of includes, `using namespace std;`, a
`//` comment and the signature ending with `{\\n`; a solution is the body ending with `}\\n`;
`test` is a `main` of plain asserts. Nothing here is copied from a data set.
"""

from __future__ import annotations

import random
import re
import textwrap
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..task import Task


def header_block(*headers: str) -> str:
    return "".join(f"#include<{h}>\n" for h in headers)


BITS_BLOCK = header_block("bits/stdc++.h")

# The header blocks most prompts use; a problem takes one that holds every header its solution needs.
COMMON_HEADER_BLOCKS: tuple[str, ...] = (
    header_block("stdio.h", "vector", "string", "algorithm"),
    header_block("stdio.h", "math.h", "vector"),
    header_block("string", "map", "vector"),
    header_block("vector", "numeric"),
    header_block("string", "cctype"),
    header_block("stdio.h", "vector", "algorithm", "math.h"),
    header_block("stdio.h", "string", "vector"),
    header_block("vector", "string", "cctype", "algorithm"),
)

# Order used when a problem needs headers that no common block holds (set, sstream, queue, ...).
HEADER_ORDER = (
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


def headers_of(block: str) -> set[str]:
    return set(re.findall(r"#include<([^>]+)>", block))


# ---------------------------------------------------------------------------------------------
# C++ literals


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(v: Any, t: str) -> str:
    """`v` as a C++ call argument of kind `t`."""
    if t in ("int", "ll"):
        return str(int(v))
    if t == "bool":
        return "true" if v else "false"
    if t == "str":
        return quote(v)
    if t == "char":
        return "'" + ("\\'" if v == "'" else "\\\\" if v == "\\" else v) + "'"
    if t == "vi":
        return "{" + ", ".join(str(int(x)) for x in v) + "}"
    if t == "vs":
        return "{" + ", ".join(quote(x) for x in v) + "}"
    if t == "vvi":
        return "{" + ", ".join(literal(r, "vi") for r in v) + "}"
    raise ValueError(f"unknown literal kind {t!r}")


_VECTOR_TYPES = {"vi": "vector<int>", "vs": "vector<string>", "vvi": "vector<vector<int>>"}


def expect_literal(v: Any, t: str) -> str:
    """`v` as the right-hand side of `==` inside assert (top-level commas wrapped in parentheses)."""
    if t in _VECTOR_TYPES:
        return f"{_VECTOR_TYPES[t]}{{}}" if not v else f"{_VECTOR_TYPES[t]}({literal(v, t)})"
    return literal(v, t)


def fill(src: str, **kw: Any) -> str:
    """Replace each `@name` with `kw[name]`; the lines after the first of a multi-line value take the
    indentation of the line that holds the placeholder."""

    def sub_line(line: str) -> str:
        indent = line[: len(line) - len(line.lstrip())]
        return re.sub(r"@([A-Za-z0-9]+)", lambda m: str(kw[m.group(1)]).replace("\n", "\n" + indent), line)

    return "\n".join(sub_line(ln) for ln in src.split("\n"))


def render_body(src: str, **kw: Any) -> str:
    """A function body: dedented source, indented by four spaces, closed with `}`."""
    lines = textwrap.dedent(src).split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    text = "\n".join(("    " + ln) if ln.strip() else "" for ln in lines)
    return fill(text, **kw) + "\n}\n"


# ---------------------------------------------------------------------------------------------
# Specs (a problem before its header block is chosen)


@dataclass(frozen=True)
class Spec:
    task_id: str
    req: frozenset[str]
    comment: str
    signature: str
    canonical: str
    wrong: str
    test: str
    example_test: str  # a main with the prompt's example as its one assert (HumanEval-X `example_test`)


Case = tuple[Sequence[Any], Any]
TEST_HEAD = "#undef NDEBUG\n#include<assert.h>\nint main(){\n"


def make_spec(
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
) -> Spec:
    if not 3 <= len(cases) <= 5:
        raise ValueError(f"{task_id}: {len(cases)} test cases, want 3-5")
    calls = []
    for args, expected in cases:
        if len(args) != len(arg_types):
            raise ValueError(f"{task_id}: arity mismatch")
        call = f"{name}(" + ", ".join(literal(a, t) for a, t in zip(args, arg_types, strict=True)) + ")"
        calls.append((call, expect_literal(expected, ret_type)))
    ex_call, _ = calls[0]
    ex_value = literal(cases[0][1], ret_type)
    comment_lines = [*textwrap.wrap(fill(doc, **kw), 90), f"For example: {ex_call} == {ex_value}"]
    comment = "".join(f"// {ln}\n" for ln in comment_lines)
    asserts = [f"    assert ({call} == {exp});\n" for call, exp in calls]
    test = TEST_HEAD + "".join(asserts) + "}\n"
    return Spec(
        task_id=task_id,
        req=frozenset(req),
        comment=comment,
        signature=fill(signature, **kw) + "{\n",
        canonical=render_body(correct, **kw),
        wrong=render_body(wrong, **kw),
        test=test,
        example_test=TEST_HEAD + asserts[0] + "}\n",  # the first case is the one the comment shows
    )


def choose_block(index: int, spec: Spec) -> str:
    if index % BITS_EVERY == BITS_OFFSET:
        return BITS_BLOCK
    fits = [b for b in COMMON_HEADER_BLOCKS if spec.req <= headers_of(b)]
    if fits:
        return fits[zlib.crc32(spec.task_id.encode()) % len(fits)]
    unknown = spec.req - set(HEADER_ORDER)
    if unknown:
        raise ValueError(f"{spec.task_id}: no header order for {sorted(unknown)}")
    return header_block(*(h for h in HEADER_ORDER if h in spec.req))


def finish(index: int, spec: Spec) -> Task:
    """The bench problem (with its wrong solution, for data/bench_cpp.jsonl)."""
    prompt = choose_block(index, spec) + "using namespace std;\n" + spec.comment + spec.signature
    return Task(
        task_id=spec.task_id,
        prompt=prompt,
        canonical_solution=spec.canonical,
        test=spec.test,
        wrong_solution=spec.wrong,
    )


HUMANEVAL_ID_PREFIX = "CppForge/"


def finish_humaneval(index: int, spec: Spec) -> Task:
    """The same problem in HumanEval-X's fields (for data/humaneval_cpp.jsonl): id `CppForge/<index>`,
    `declaration` = the prompt's includes and signature without the comment, `example_test` = the
    prompt's example as a test; no wrong solution."""
    block = choose_block(index, spec) + "using namespace std;\n"
    return Task(
        task_id=f"{HUMANEVAL_ID_PREFIX}{index}",
        prompt=block + spec.comment + spec.signature,
        canonical_solution=spec.canonical,
        test=spec.test,
        declaration=block + spec.signature,
        example_test=spec.example_test,
    )


def family_rng(tag: str) -> random.Random:
    return random.Random(f"cppforge-humaneval-{tag}")


# ---------------------------------------------------------------------------------------------
# Families
