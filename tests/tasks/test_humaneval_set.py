"""The project's own HumanEval-X file, data/humaneval_cpp.jsonl: written by scripts/build_data.py from the
bench generator (same problems, same order as data/bench_cpp.jsonl), byte-identical on regeneration,
in HumanEval-X's six fields, and read by the eval harness's loader."""

from __future__ import annotations

import json

from scripts.build_data import HUMANEVAL_X_FIELDS, humaneval_bytes
from services.tasks import load_bench_tasks
from services.tasks.problems import load_problems
from services.tasks.sets import HUMANEVAL_CPP_FILE

ROWS = [json.loads(line) for line in HUMANEVAL_CPP_FILE.read_text(encoding="utf-8").splitlines()]


def test_regenerating_gives_the_committed_bytes() -> None:
    assert humaneval_bytes() == HUMANEVAL_CPP_FILE.read_bytes(), "run: python scripts/build_data.py"


def test_rows_are_the_bench_problems_in_humaneval_x_fields() -> None:
    bench = load_bench_tasks()
    assert len(ROWS) == len(bench) == 151
    for i, (row, task) in enumerate(zip(ROWS, bench, strict=True)):
        assert tuple(row) == HUMANEVAL_X_FIELDS  # the published files' key order, nothing else
        assert row["task_id"] == f"CppForge/{i}"
        assert (row["prompt"], row["canonical_solution"], row["test"]) == (task.prompt, task.canonical_solution,
                                                                           task.test)  # fmt: skip


def test_declaration_is_includes_and_signature_without_the_comment() -> None:
    for row in ROWS:
        includes, rest = row["prompt"].split("using namespace std;\n", 1)
        signature = rest.splitlines(keepends=True)[-1]
        assert all(line.startswith("// ") for line in rest.splitlines()[:-1])
        assert row["declaration"] == includes + "using namespace std;\n" + signature
        assert "//" not in row["declaration"] and signature.endswith("{\n")


def test_example_test_asserts_the_prompts_example() -> None:
    for row in ROWS:
        example = next(line for line in row["prompt"].splitlines() if line.startswith("// For example: "))
        call = example.removeprefix("// For example: ").rsplit(" == ", 1)[0]
        lines = row["example_test"].splitlines()
        assert lines[:3] == ["#undef NDEBUG", "#include<assert.h>", "int main(){"] and lines[-1] == "}"
        [check] = lines[3:-1]
        assert check.startswith(f"    assert ({call} == ") and check in row["test"].splitlines()


def test_the_harness_reads_it_as_humaneval_x() -> None:
    problems = load_problems(HUMANEVAL_CPP_FILE)
    assert [p.task_id for p in problems] == [r["task_id"] for r in ROWS]
    assert all(p.format == "humaneval-x" and p.canonical_solution for p in problems)
