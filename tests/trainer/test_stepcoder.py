"""services/trainer/stepcoder.py: the CCCS schedule and prefixes on the seeded tasks; FGO on real g++ and
clang++ output (plain compiles and the verifier's compile_output), the cut and the token mask."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from services.tasks import generate_tasks
from services.trainer.stepcoder import (
    CCCSCurriculum,
    CCCSState,
    _parse_error_line,
    completion_cut,
    fgo_token_mask,
    solution_prefix,
)

CLANG = "/usr/bin/clang++"
needs_clang = pytest.mark.skipif(
    not Path(CLANG).exists(), reason=f"{CLANG} is missing (the `clang` package): clang++ output cannot be checked"
)

# --------------------------------------------------------------------------- CCCS schedule


def test_cccs_shrinks_only_above_threshold_down_to_the_floor() -> None:
    c = CCCSCurriculum()  # 0.7, step 0.1, threshold 0.6, floor 0.0
    assert c.prefix_frac == 0.7
    assert c.update(0.6) is False and c.prefix_frac == 0.7  # equal is not above
    assert c.update(0.2) is False and c.prefix_frac == 0.7
    assert c.update(0.61) is True and c.prefix_frac == pytest.approx(0.6)
    fracs = [(c.update(1.0), c.prefix_frac) for _ in range(8)]
    assert [shrank for shrank, _ in fracs] == [True] * 6 + [False] * 2
    assert c.prefix_frac == 0.0 and c.state.shrinks == 7  # exactly 0, not a rounding crumb


def test_cccs_floor_above_zero_and_uneven_step() -> None:
    c = CCCSCurriculum(initial_frac=0.7, decay_step=0.25, threshold=0.5, min_frac=0.3)
    assert c.update(0.9) and c.prefix_frac == pytest.approx(0.45)
    assert c.update(0.9) and c.prefix_frac == 0.3  # 0.2 would be below the floor
    assert not c.update(0.9) and c.prefix_frac == 0.3 and c.state.shrinks == 2
    with pytest.raises(ValueError):
        CCCSCurriculum(initial_frac=0.2, min_frac=0.5)
    with pytest.raises(ValueError):
        CCCSCurriculum(threshold=1.5)


def test_cccs_state_round_trip() -> None:
    c = CCCSCurriculum()
    c.update(0.9)
    c.update(0.9)
    saved = json.loads(json.dumps(c.state_dict()))  # what a checkpoint file holds
    assert saved == {"prefix_frac": pytest.approx(0.5), "shrinks": 2}
    resumed = CCCSCurriculum()
    resumed.load_state_dict(saved)
    assert (resumed.prefix_frac, resumed.state.shrinks) == (c.prefix_frac, 2)
    assert resumed.update(0.9) and resumed.prefix_frac == pytest.approx(0.4)
    assert CCCSState.from_dict(CCCSState(0.25, 3).to_dict()) == CCCSState(0.25, 3)
    for bad in ({"prefix_frac": 1.5}, {"prefix_frac": "0.5"}, {"shrinks": 1}, {"prefix_frac": 0.5, "shrinks": -1}):
        with pytest.raises(ValueError):
            CCCSState.from_dict(bad)


# --------------------------------------------------------------------------- CCCS prefixes

SOLUTION = "\n    int s = 0;\n\n    for (int i = 0; i < n; i++) {\n        s += i;\n    }\n    return s;\n}\n"


@pytest.mark.parametrize(
    ("frac", "lines"),
    [(0.0, 0), (0.1, 1), (0.3, 2), (0.5, 3), (0.7, 4), (0.9, 5), (1.0, 5)],  # 5 body lines; 2.5 -> 3 (half up)
)
def test_solution_prefix_hand_computed(frac: float, lines: int) -> None:
    body = ["    int s = 0;", "    for (int i = 0; i < n; i++) {", "        s += i;", "    }", "    return s;"]
    want = "\n" + "\n".join(body[:lines]) if lines else ""
    want = want.replace("int s = 0;\n", "int s = 0;\n\n")  # the blank line stays where it is
    assert solution_prefix(SOLUTION, frac) == want


def test_solution_prefix_edges() -> None:
    assert solution_prefix("\r\n    int a = 1;\r\n    return a;\r\n}\r\n", 0.5) == "\r\n    int a = 1;"
    assert solution_prefix("\n}\n", 1.0) == ""  # nothing but the closing line
    assert solution_prefix("", 0.7) == ""
    with pytest.raises(ValueError):
        solution_prefix(SOLUTION, 1.2)


@pytest.mark.parametrize("frac", [0.0, 0.1, 0.3, 0.5, 0.6, 0.7, 0.9, 1.0])
def test_cccs_prefixes_on_seeded_tasks(frac: float) -> None:
    c = CCCSCurriculum(initial_frac=frac)
    for task in generate_tasks(50, 1):
        prompt, prefix = c.prompt_for(task.prompt, task.canonical_solution)
        assert prompt == task.prompt + prefix
        assert task.canonical_solution.startswith(prefix)
        rest = task.canonical_solution[len(prefix) :]
        assert prompt + rest == task.prompt + task.canonical_solution
        body = [line for line in task.canonical_solution.split("\n") if line.strip()][:-1]  # all but `}`
        assert sum(1 for line in prefix.split("\n") if line.strip()) == math.floor(frac * len(body) + 0.5)
        if prefix:  # ends where a line ends, without its newline: the model writes the newline
            assert not prefix.endswith("\n") and rest.startswith("\n")
        assert rest.strip().endswith("}") and rest.strip()  # the closing line is always left to write
        if frac == 1.0:
            assert rest.strip() == "}"


# --------------------------------------------------------------------------- FGO on real compiler output

TEST_PART = "int main() {\n    return 0;\n}\n"
# Each candidate marks its error line: `// ERR` for both compilers, `// ERR-gcc` / `// ERR-clang` where they differ.
PROGRAMS = {
    "undeclared": (
        "#include <vector>\n"
        "int sum_all(const std::vector<int>& v) {\n"
        "    int s = 0;\n"
        "    for (int x : v) {\n"
        "        total += x;  // ERR\n"
        "    }\n"
        "    return s;\n"
        "}\n"
    ),
    "missing_semicolon": (
        "int twice(int a) {\n"
        "    int b = a * 2  // ERR-clang (clang: at the end of this line)\n"
        "    return b;  // ERR-gcc (gcc: at the token it did not expect)\n"
        "}\n"
    ),
    "type_error": (
        "#include <string>\nint size_of(int n) {\n    std::string s = n;  // ERR\n    return (int)s.size();\n}\n"
    ),
    "user_template": (
        "struct Box { int v; };\n"
        "template <class T> T twice(T x) {\n"
        "    return x + x;  // ERR (inside the template the candidate wrote)\n"
        "}\n"
        "int use() {\n"
        "    return twice(Box{1}).v;\n"
        "}\n"
    ),
    "std_template": (
        "#include <algorithm>\n"
        "#include <vector>\n"
        "struct P { int v; };\n"
        "int smallest(std::vector<P> ps) {\n"
        "    std::sort(ps.begin(), ps.end());  // ERR (the error is in <bits/predefined_ops.h>)\n"
        "    return ps[0].v;\n"
        "}\n"
    ),
    "missing_header": ('#include <vector>\n#include "no_such_header.h"  // ERR\nint f() { return 1; }\n'),
    "error_only_in_test": "int g(int a) {\n    return a + 1;\n}\n",
}
BROKEN_TEST = "int main() {\n    return h(2) == 3 ? 0 : 1;\n}\n"  # h: declared nowhere


def expected_line(code: str, compiler: str) -> int | None:
    for number, line in enumerate(code.split("\n"), start=1):
        if "// ERR" in line and ("// ERR-" not in line or f"// ERR-{compiler}" in line):
            return number
    return None


def compile_errors(compiler: str, source: str, tmp_path: Path, *flags: str) -> str:
    path = tmp_path / "prog.cpp"
    path.write_text(source)
    done = subprocess.run(
        [compiler, "-std=c++17", "-fsyntax-only", *flags, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0, "the program was meant not to compile"
    return done.stderr


def _case(name: str) -> tuple[str, str]:
    code = PROGRAMS[name]
    return code, code + (BROKEN_TEST if name == "error_only_in_test" else TEST_PART)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_parse_error_line_gcc(name: str, tmp_path: Path) -> None:
    code, source = _case(name)
    stderr = compile_errors("g++", source, tmp_path)
    assert _parse_error_line(stderr, code) == expected_line(code, "gcc"), stderr[:2000]


@needs_clang
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_parse_error_line_clang(name: str, tmp_path: Path) -> None:
    code, source = _case(name)
    stderr = compile_errors(CLANG, source, tmp_path)
    assert _parse_error_line(stderr, code) == expected_line(code, "clang"), stderr[:2000]


@pytest.mark.parametrize("compiler", ["g++", CLANG])
def test_parse_error_line_through_ansi_colours(compiler: str, tmp_path: Path) -> None:
    if compiler == CLANG and not Path(CLANG).exists():
        pytest.skip(f"{CLANG} is missing (the `clang` package)")
    code, source = _case("std_template")
    colour = "-fdiagnostics-color=always" if compiler == "g++" else "-fcolor-diagnostics"
    stderr = compile_errors(compiler, source, tmp_path, colour)
    assert "\x1b[" in stderr
    assert _parse_error_line(stderr, code) == expected_line(code, "gcc")


def test_later_source_line_reported_first(tmp_path: Path) -> None:
    """gcc reports template-instantiation errors at the end of the file, after a later line's error."""
    code = (
        "#include <algorithm>\n#include <vector>\nstruct P { int v; };\n"
        "int smallest(std::vector<P> ps) {\n"
        "    std::sort(ps.begin(), ps.end());\n"  # line 5: reported last
        "    return missing_name;\n"  # line 6: reported first
        "}\n"
    )
    stderr = compile_errors("g++", code + TEST_PART, tmp_path)
    assert stderr.index(":6:") < stderr.index("required from here")
    assert _parse_error_line(stderr, code) == 5


def test_parse_error_line_through_verify_cpp() -> None:
    from services.verifier.core.verify import verify_cpp

    test = "#undef NDEBUG\n#include <cassert>\nint main() {\n    assert(smallest({{3}, {1}}) == 1);\n}\n"
    undeclared = "int smallest(const int* p) {\n    return *q;  // ERR\n}\n"
    result = verify_cpp(PROGRAMS["std_template"], test + "int broken() { return nope; }\n")
    assert "solution.cpp" in result.compile_output and "test.cpp" in result.compile_output
    # the test's own error comes first in the output; the candidate's instantiation error, later, decides
    assert result.compile_output.index("test.cpp") < result.compile_output.index("required from here")
    assert _parse_error_line(result.compile_output, PROGRAMS["std_template"]) == 5
    result = verify_cpp(undeclared, test)
    assert not result.compile_ok and _parse_error_line(result.compile_output, undeclared) == 2
    fine = "#include <vector>\nstruct P { int v; };\nint smallest(std::vector<P> ps) {\n    return ps[0].v;\n}\n"
    result = verify_cpp(fine, test + "int broken() { return nope; }\n")
    assert not result.compile_ok and "test.cpp" in result.compile_output
    assert _parse_error_line(result.compile_output, fine) is None  # only the test is broken


def test_parse_error_line_without_errors() -> None:
    assert _parse_error_line("", "int f();\n") is None
    warnings_only = "prog.cpp: In function 'int f()':\nprog.cpp:2:9: warning: unused variable 'x' [-Wunused-variable]\n"
    assert _parse_error_line(warnings_only, "int f() {\n    int x;\n}\n") is None
    assert _parse_error_line("cc1plus: fatal error: prog.cpp: No such file or directory\n", "int f();\n") is None
    beyond = "prog.cpp:9:1: error: expected declaration\n"
    assert _parse_error_line(beyond, "int f();\n") is None  # line 9 is past the code: the test's
    assert _parse_error_line("test.cpp:1:1: error: 'x' was not declared\n", "int x\n") is None  # the verifier's test
    assert _parse_error_line("main.cc:1:5: error: boom\n", "int x\n", source_file="main.cc") == 1


# --------------------------------------------------------------------------- the cut and the mask


def test_completion_cut() -> None:
    prompt = "// doc\nint f(int a) {"
    completion = "\n    int b = a\n    return b;\n}\n"
    code = prompt + completion
    start = len(prompt)
    assert completion_cut(code, start, 3) == completion.index("\n    return")  # end of `int b = a`
    assert completion_cut(code, start, 4) == completion.index("\n}")
    assert completion_cut(code, start, 2) == 0  # the prompt's last line ends where the completion starts
    assert completion_cut(code, start, 1) is None  # ends before the completion
    assert completion_cut(code, start, 5) == len(completion) - 1
    assert completion_cut(code, start, 6) == len(completion)  # the empty last line
    assert completion_cut(code, start, 7) is None  # no such line
    assert completion_cut("ab\r\ncd", 0, 1) == 2  # a CR before the newline is not part of the line
    with pytest.raises(ValueError):
        completion_cut(code, len(code) + 1, 1)


def test_fgo_token_mask() -> None:
    assert fgo_token_mask([0, 3, 5, 9], 5) == [True, True, False, False]
    assert fgo_token_mask([0, 3, 5, 9], 0) == [False] * 4
    assert fgo_token_mask([0, 3, 5, 9], None) == [True] * 4
    assert fgo_token_mask([], 3) == []


def test_fgo_end_to_end_with_gcc(tmp_path: Path) -> None:
    """prompt + completion -> g++ -> error line -> cut -> the completion's tokens after the error line leave."""
    prompt = "int count_even(int n) {"
    completion = (
        "\n    int c = 0;\n    for (int i = 0; i < n; i++) {\n        c += i % 2 == 0 ? 1 : zero;\n    }\n"
        "    return c;\n}\n"
    )
    code = prompt + completion
    line = _parse_error_line(compile_errors("g++", code + TEST_PART, tmp_path), code)
    assert line == 4
    cut = completion_cut(code, len(prompt), line)
    assert cut is not None and completion[:cut].endswith("zero;")
    pieces = completion.split(" ")  # stand-in tokens: their start offsets in the completion
    starts = [sum(len(p) + 1 for p in pieces[:i]) for i in range(len(pieces))]
    keep = fgo_token_mask(starts, cut)
    kept = "".join(p + " " for p, k in zip(pieces, keep, strict=True) if k)
    assert "zero;" in kept and "return" not in kept and not all(keep)
