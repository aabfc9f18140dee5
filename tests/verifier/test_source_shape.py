"""source_shape.py: byte-level facts about untrusted code, conservative in the safe direction."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.verifier.core.source_shape import (
    leading_block,
    may_hold_directives,
    may_hold_linemarker,
    may_name_file,
    tampers_then_includes,
)


def test_leading_block_reads_includes_comments_and_blank_lines() -> None:
    code = "/*\n doc {1, 2}\n*/\n// hi\n#include<stdio.h>\n\n#include <vector>\nusing namespace std;\n#include <set>\n"
    block = leading_block(code)
    assert block.headers == ("stdio.h", "vector")
    assert block.lines == (5, 7)
    assert code[block.end :] == "using namespace std;\n#include <set>\n"


@pytest.mark.parametrize(
    "code",
    [
        "// comment ending in a splice \\\n#include <vector>\n",  # the include is part of the comment
        "/* a *\\\n/ still a comment\n#include <vector>\n*/\n",  # `*\` splice `/` closes it elsewhere
        "#include <vector>\r\n",  # CR: not the canonical form
        "// trigraph ??/\n#include <vector>\n",
        "#include <vector>",  # no newline after the last include
        '#include "vector"\n',
        "#include <../../etc/passwd>\n",
    ],
)
def test_leading_block_refuses_anything_not_canonical(code: str) -> None:
    assert leading_block(code).headers == ()


@pytest.mark.parametrize(
    "text",
    [
        "#define X 1",
        "%:define X 1",
        "??=define X 1",
        '_Pragma("GCC poison x")',
        '_Pra\\\ngma("x")',
        "%\\\f\n:define X",
        "%??/\n:define X",
        "int x; /* # */",  # in a comment: still a `#` byte, so the answer is a safe True
    ],
)
def test_may_hold_directives_sees_every_spelling(text: str) -> None:
    assert may_hold_directives(text)


def test_plain_code_holds_no_directive() -> None:
    assert not may_hold_directives("int add(int a, int b) { return a % b ? a : b; }\n")


def _gcc_finds_directive(text: str) -> bool:
    """GCC's own answer: does preprocessing `text` define, undefine or pragma anything?"""
    source = "int cppforge_probe_start;\n" + text + "\n"
    out = subprocess.run(
        ["g++", "-std=c++11", "-E", "-dD", "-P", "-x", "c++", "-"],
        input=source.encode(),
        capture_output=True,
        check=False,
    ).stdout.decode(errors="replace")
    tail = out.split("cppforge_probe_start;", 1)[-1]
    return any(line.startswith(("#define", "#undef", "#pragma")) for line in tail.splitlines())


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.text(alphabet="#%:?=_Pragmdefinx \\\n\r\f\v\t()\"'/*", max_size=40))
def test_no_directive_gcc_sees_is_ever_missed(text: str) -> None:
    if _gcc_finds_directive(text):
        assert may_hold_directives(text), repr(text)


@pytest.mark.parametrize(
    "text",
    ['# 1 "x" 3', '#/* c */5 "x"', '%: 5 "x"', '??=5 "x"', '# \\\n 5 "x"', "#.5", '#\t\v 7 "y" 3', '#/* a\n b */9 "z"'],
)
def test_may_hold_linemarker_sees_every_spelling(text: str) -> None:
    assert may_hold_linemarker(text)


@pytest.mark.parametrize("text", ["#include <vector>\nint x = 5;\n", "#define X 5\n", "#\n5;\n", "#\r5"])
def test_directives_that_are_not_linemarkers(text: str) -> None:
    assert not may_hold_linemarker(text)


def _gcc_warns_linemarker(text: str) -> bool:
    out = subprocess.run(
        ["g++", "-std=c++11", "-Wpedantic", "-E", "-x", "c++", "-", "-o", "/dev/null"],
        input=text.encode(),
        capture_output=True,
        check=False,
    )
    return b"style of line directive" in out.stderr


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.text(alphabet='#%:?=/*. 0159"x\\\n\r\t', max_size=30))
def test_no_linemarker_gcc_reads_is_ever_missed(text: str) -> None:
    if _gcc_warns_linemarker(text):
        assert may_hold_linemarker(text), repr(text)


def test_safe_optimisation_pragmas_belong_to_the_leading_block() -> None:
    code = '#pragma GCC optimize("O3,unroll-loops")\n#pragma GCC target("avx2")\n#include <vector>\nint x;\n'
    block = leading_block(code)
    assert block.headers == ("vector",)
    assert block.items == ('#pragma GCC optimize("O3,unroll-loops")', '#pragma GCC target("avx2")', "#include <vector>")
    assert code[block.end :] == "int x;\n"


@pytest.mark.parametrize(
    "pragma",
    [
        '#pragma GCC optimize("Ofast")',
        '#pragma GCC optimize("fast-math")',
        '#pragma GCC target("fpmath=387")',
        '#pragma GCC optimize("O3") x',
        "#pragma GCC optimize(O3)",
    ],
)
def test_pragmas_that_change_results_end_the_block(pragma: str) -> None:
    assert leading_block(pragma + "\n#include <vector>\n").headers == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#define X 1\n#include <vector>\n", True),
        ("#include <vector>\n#undef Y\n", False),  # no header is read after the macro
        ("#include <vector>\n#undef Y\n#include <set>\n", True),
        ('#include <vector>\nconst char* s = "#define X";\n#include <set>\n', True),  # doubt answers True
        ("#define X /*\n#include <set>\n*/\n", True),
        ('_Pragma("x")\n%:/* c */ import <v>\n', True),
        ("#define ll long long\nint main() {}\n", False),
        ("// define the answer; include the ends\n", False),
        ("#include <set>\nint x;\n", False),
        # HumanEval-X's idiom: assert.h back to the verifier's default, nothing else touched.
        ("int f();\n#undef NDEBUG\n#include<assert.h>\n", False),
        ("#undef NDEBUG\n#define NDEBUG\n#include <assert.h>\n", True),
        ("#undef NDEBUG_X\n#include <assert.h>\n", True),
        ("#undef NDEBUG\\\n_X\n#include <assert.h>\n", True),  # the splice makes it another name
        ("#undef NDEBUG /* c */ \n#include <assert.h>\n", True),  # only the exact line is spared
        ("%:undef NDEBUG\n#include <assert.h>\n", True),
    ],
)
def test_tampers_then_includes(text: str, expected: bool) -> None:
    assert tampers_then_includes(text) is expected


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("#line 100\n", False),
        ("  #  line 7  \nint x;\n", False),
        ("int x;\n", False),
        ('#line 1 "x.h"\n', True),
        ("#line 1 FILE\n", True),
        ("#line LINE\n", True),
        ('# /* c */ line 1 "x.h"\n', True),
        ('%:line 1 "x.h"\n', True),
        ('??=line 1 "x.h"\n', True),
        ('#li\\\nne 1 "x.h"\n', True),
        ('#\x00line 1 "x.h"\n', True),
        ('#line 1 \\\n"x.h"\n', True),
        ('#line 5\n#line 6 "y"\n', True),
    ],
)
def test_may_name_file(text: str, names: bool) -> None:
    assert may_name_file(text) is names
