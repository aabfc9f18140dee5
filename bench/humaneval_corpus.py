"""A self-written, HumanEval-X-style C++ corpus: prompt + canonical/wrong completion + assert test.

Every problem comes from a small parameterised family (a Python function that varies one
parameter: a divisor, a base, a window width, ...). Each family has a Python reference, and the
expected values in the asserts are computed with it, so the tests are right by construction.
The layout follows HumanEval-X C++: `prompt` is a block of includes, `using namespace std;`, a
`//` comment and the signature ending with `{\\n`; a completion is the body ending with `}\\n`;
`test` is a `main` of plain asserts. Nothing here is copied from a data set.

Usage: `from bench.humaneval_corpus import build_corpus`; `python bench/humaneval_corpus.py`
prints a summary.
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
    return re.sub(r"@([A-Za-z0-9]+)", lambda m: str(kw[m.group(1)]), src)


def _body(src: str, **kw: Any) -> str:
    """A function body: dedented source, indented by four spaces, closed with `}`."""
    lines = textwrap.dedent(src).strip("\n").split("\n")
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
        call = f"{name}(" + ", ".join(_arg(a, t) for a, t in zip(args, arg_types)) + ")"
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


FAMILIES: tuple[Callable[[], list[_Spec]], ...] = (
    fam_count_divisible,
    fam_digit_sum_base,
    fam_linear_recurrence,
    fam_rotate,
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
