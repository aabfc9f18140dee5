"""Completions that try to cheat the eval harness, judged by the real verifier on the program the harness
builds (`Problem.program`: the test goes in as trusted `test_code`, never concatenated into the code)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.tasks.problems import Problem, load_problems
from services.trainer.evalharness.config import DEFAULT_TASKS
from services.trainer.evalharness.judges import LocalJudge, VerifyOptions

# Each closes the function early (the sampler's "\n}" stop is appended after it, closing `cppforge_y`).
CHEATS = {
    "its own main": '    return 0;\n}\nint main(){ puts("PASSED"); return 0; }\nint cppforge_y(){\n    return 0;',
    "exit 0 early": "    return 0;\n}\nstatic int cppforge_x = (exit(0), 0);\nint cppforge_y(){\n    return 0;",
    "assert defined away": "    return 0;\n}\n#define assert(x) ((void)0)\nint cppforge_y(){\n    return 0;",
    "main renamed": "    return 0;\n}\n#define main cppforge_main\nint cppforge_y(){\n    return 0;",
    "the test commented out": "    return 0;\n}\n/*",
    "the test under #if 0": "    return 0;\n}\n#if 0",
    "reads its own input": '    return 0;\n}\n#include "/proc/self/fd/0"\nint cppforge_y(){\n    return 0;',
}
# Known gap (verifier, overload_check): an overload of the entry point that the test's call prefers (a braced
# list binds to std::initializer_list before std::vector) returning a type whose `==` is always true.
OVERLOAD = (
    "    return 0;\n}\nstruct Any { template <class T> bool operator==(T) const { return true; } };\n"
    "Any count_divisible_by_2(std::initializer_list<int>) { return {}; }\nint cppforge_y(){\n    return 0;"
)


@pytest.fixture(scope="module")
def problem() -> Problem:
    first = load_problems(DEFAULT_TASKS)[0]
    assert first.prompt.endswith("int count_divisible_by_2(vector<int> v){\n")
    return first


@pytest.fixture(scope="module")
def judge() -> Iterator[LocalJudge]:
    j = LocalJudge(VerifyOptions(), workers=2)
    yield j
    j.close()


def test_cheating_completions_do_not_pass(problem: Problem, judge: LocalJudge) -> None:
    assert problem.canonical_solution is not None
    texts = [problem.canonical_solution.removesuffix("\n}\n"), *CHEATS.values()]
    codes = [problem.program(problem.completion(t, "\n}"))[0] for t in texts]
    test = problem.program("")[1]
    assert test == problem.test and all(test not in code for code in codes)  # trusted, apart
    canonical, *verdicts = judge.judge(codes, test)
    assert canonical.passed  # the same program shape passes with an honest body
    assert [name for name, v in zip(CHEATS, verdicts, strict=True) if v.passed or v.infra] == []


def test_an_overload_of_the_entry_point_does_not_pass(problem: Problem, judge: LocalJudge) -> None:
    (verdict,) = judge.judge([problem.program(problem.completion(OVERLOAD, "\n}"))[0]], problem.test)
    assert not verdict.infra and not verdict.passed
