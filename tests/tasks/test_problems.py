"""Benchmark problem files: HumanEval-X rows get HumanEval-X's helper headers, MultiPL-E rows get their test's
closing `}` and stop tokens, `.gz` reads the same, bad rows name file and line; and the programs built
from them are judged by the real verifier (g++ in the sandbox) as the original harnesses would judge them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.tasks import TaskFileError, write_jsonl
from services.tasks.problems import HUMANEVAL_X_HEADERS, humaneval_x_helper, load_problems
from services.verifier.core.verify import verify_cpp

# The shape of a published HumanEval-X C++ row: the comment first, then the prompt's own includes, and a
# canonical solution that leans on a helper header the prompt does not include (<algorithm> for sort).
HX_ROW = {
    "task_id": "CPP/7",
    "prompt": "/*\nReturn the vector sorted, then doubled.\n>>> sort_double({3, 1})\n{2, 6}\n*/\n"
    "#include<stdio.h>\n#include<vector>\nusing namespace std;\nvector<int> sort_double(vector<int> v){\n",
    "canonical_solution": "    sort(v.begin(), v.end());\n    for (auto &x : v) x *= 2;\n    return v;\n}\n",
    "test": "#undef NDEBUG\n#include<assert.h>\nint main(){\n"
    "    assert (sort_double({3, 1}) == vector<int>({2, 6}));\n}\n",
    "declaration": "#include<stdio.h>\n#include<vector>\nusing namespace std;\n"
    "vector<int> sort_double(vector<int> v){\n",
    "example_test": "",
}
# The shape of a MultiPL-E humaneval-cpp row (translator humaneval_to_cpp.py): a prompt ending in the
# function's opening line, `tests` that close the function and bring a main, "\n}" as the stop token.
ME_ROW = {
    "name": "HumanEval_53_add",
    "language": "cpp",
    "prompt": "#include<assert.h>\n#include<bits/stdc++.h>\n// Add two numbers x and y\n// >>> add((2), (3))\n"
    "// (5)\nlong add(long x, long y) {\n",
    "doctests": "transform",
    "original": "HumanEval_53_add.py",
    "prompt_terminology": "reworded",
    "tests": "}\nint main() {\n    auto candidate = add;\n    assert(candidate((0), (1)) == (1));\n"
    "    assert(candidate((5), (7)) == (12));\n}\n",
    "stop_tokens": ["\n}"],
}


def write(tmp_path: Path, name: str, rows: list[Any]) -> Path:
    path = tmp_path / name
    write_jsonl(path, rows)
    return path


@pytest.mark.parametrize("name", ["hx.jsonl", "hx.jsonl.gz"])
def test_humaneval_x_rows_get_the_helper_headers(tmp_path: Path, name: str) -> None:
    [problem] = load_problems(write(tmp_path, name, [HX_ROW]))
    assert problem.format == "humaneval-x" and problem.task_id == "CPP/7"
    assert problem.stop == ("\n}",) and problem.canonical_solution == HX_ROW["canonical_solution"]
    # Every helper line the prompt lacks, in the harness's order (stdio.h and vector are in the prompt).
    expected = [h for h in HUMANEVAL_X_HEADERS if h not in ("#include<stdio.h>", "#include<vector>")]
    assert problem.helper == "".join(h + "\n" for h in expected)
    assert len(HUMANEVAL_X_HEADERS) == 9 and "#include<algorithm>" in problem.helper
    code, test = problem.program(HX_ROW["canonical_solution"])
    # CodeGeeX: helpers + "\n" + prompt + completion + "\n" + test; the verifier adds the last "\n".
    assert code + "\n" + test == problem.helper + "\n" + HX_ROW["prompt"] + HX_ROW["canonical_solution"] + "\n" + test
    # A sampled completion is cut before "\n}" and keeps it: that stop closes the function.
    assert problem.completion("    return v;", "\n}") == "    return v;\n}"


def test_helper_is_empty_when_the_prompt_has_every_header() -> None:
    assert humaneval_x_helper("".join(h + "\n" for h in HUMANEVAL_X_HEADERS)) == ""


def test_multipl_e_rows_close_the_function_in_the_test(tmp_path: Path) -> None:
    [problem] = load_problems(write(tmp_path, "me.jsonl", [ME_ROW]))
    assert problem.format == "multipl-e" and problem.task_id == "HumanEval_53_add"
    assert problem.stop == ("\n}",) and problem.canonical_solution is None and problem.helper == ""
    completion = problem.completion("    return x + y;", "\n}")
    assert completion == "    return x + y;"  # the stop is dropped: the test's own "}" closes the function
    code, test = problem.program(completion)
    # MultiPL-E's program is prompt + completion + "\n" + tests, byte for byte...
    assert code + "\n" + test == ME_ROW["prompt"] + completion + "\n" + ME_ROW["tests"]
    # ...split so that the verifier's seam (its guard declarations) lies outside the function.
    assert code.endswith("return x + y;\n}") and test.startswith("int main() {")


@pytest.mark.parametrize(
    ("first", "row", "match"),
    [
        (HX_ROW, {"task_id": "x", "prompt": "p"}, "neither a HumanEval-X row.*its keys: prompt, task_id"),
        (ME_ROW, {**ME_ROW, "stop_tokens": "\n}"}, "stop_tokens must be a list"),
        (ME_ROW, {**ME_ROW, "stop_tokens": [""]}, "stop_tokens must be a list of non-empty strings"),
        (ME_ROW, {**ME_ROW, "tests": 3}, "not a string: tests"),
        (HX_ROW, {**HX_ROW, "test": None}, "not a string: test"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, first: dict[str, Any], row: dict[str, Any], match: str) -> None:
    path = tmp_path / "bad.jsonl.gz"
    write_jsonl(path, [first, row])
    with pytest.raises(TaskFileError, match=match) as info:
        load_problems(path)
    assert str(info.value).startswith(f"{path}:2: ")


def test_a_file_holds_one_format_and_unique_ids(tmp_path: Path) -> None:
    mixed = write(tmp_path, "mixed.jsonl", [HX_ROW, ME_ROW])
    with pytest.raises(TaskFileError, match=r"mixed.jsonl:2: a multipl-e row in a humaneval-x file"):
        load_problems(mixed)
    path = tmp_path / "dup.jsonl"
    path.write_text(json.dumps(HX_ROW) + "\n\n" + json.dumps(HX_ROW) + "\n")  # a blank line between: line 3
    with pytest.raises(TaskFileError, match=r"dup.jsonl:3: task id 'CPP/7' again \(first on line 1\)"):
        load_problems(path)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(TaskFileError, match="no problems"):
        load_problems(tmp_path / "empty.jsonl")
    with pytest.raises(FileNotFoundError, match="no such problem file"):
        load_problems(tmp_path / "missing.jsonl")


def _passes(code: str, test: str) -> bool:
    r = verify_cpp(code, test, return_structured=True, strip_think=False)
    return r.compile_ok and r.run_ok and r.tests_total > 0 and r.tests_passed == r.tests_total


def test_programs_are_judged_as_the_original_harnesses_judge_them(tmp_path: Path) -> None:
    [hx] = load_problems(write(tmp_path, "hx.jsonl", [HX_ROW]))
    assert _passes(*hx.program(HX_ROW["canonical_solution"]))
    # Without HumanEval-X's helper headers this canonical solution does not even compile (no <algorithm>).
    bare = verify_cpp(HX_ROW["prompt"] + HX_ROW["canonical_solution"], HX_ROW["test"], return_structured=True)
    assert not bare.compile_ok and "sort" in bare.compile_output
    [me] = load_problems(write(tmp_path, "me.jsonl", [ME_ROW]))
    assert _passes(*me.program(me.completion("    return x + y;", "\n}")))
    assert not _passes(*me.program(me.completion("    return x - y;", "\n}")))


def test_a_prompt_that_includes_openssl_links_it_as_humaneval_x_does() -> None:
    from services.tasks import Task
    from services.tasks.problems import problem_from_task

    md5 = Task("CPP/162", "#include<openssl/md5.h>\nstring string_to_md5(string text){\n", "}\n", "int main(){}\n")
    plain = Task("CPP/0", "#include<vector>\nint f(vector<int> v){\n", "return 0;\n}\n", "int main(){}\n")
    assert problem_from_task(md5).libraries == ("-lcrypto", "-lssl")
    assert problem_from_task(plain).libraries == ()
