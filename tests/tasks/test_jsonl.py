"""JSONL problem sets: round trips (plain and gzip), HumanEval-X rows, and errors that name the file and line."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import pytest

from services.tasks import Task, TaskFileError, load_humaneval_x, load_tasks, read_jsonl, write_jsonl, write_tasks

TASKS = [
    Task(task_id="t/0", prompt="int f() {\n", canonical_solution="    return 1;\n}\n", test="int main(){}\n"),
    Task(
        task_id="t/1",
        prompt="// é\nint g(int x) {\n",
        canonical_solution="    return x;\n}\n",
        test="#include<cassert>\nint main(){ assert(g(2) == 2); }\n",
        wrong_solution="    return 0;\n}\n",
    ),
]


def test_task_fields_are_humaneval_x_names() -> None:
    names = [f.name for f in dataclasses.fields(Task)]
    assert names[:4] == ["task_id", "prompt", "canonical_solution", "test"]
    assert {"declaration", "example_test", "wrong_solution"} <= set(names)
    assert TASKS[0].code == "int f() {\n    return 1;\n}\n"


@pytest.mark.parametrize("name", ["set.jsonl", "set.jsonl.gz"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    write_tasks(path, TASKS)
    assert load_tasks(path) == TASKS
    raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    rows = [json.loads(line) for line in raw.decode().splitlines()]
    assert "wrong_solution" not in rows[0] and rows[1]["wrong_solution"] == "    return 0;\n}\n"
    assert "declaration" not in rows[1]  # empty optional fields are left out


def test_gzip_bytes_are_reproducible(tmp_path: Path) -> None:
    write_tasks(tmp_path / "a.jsonl.gz", TASKS)
    write_tasks(tmp_path / "b.jsonl.gz", TASKS)
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()


def test_humaneval_x_file(tmp_path: Path) -> None:
    row = {
        "task_id": "CPP/0",
        "prompt": "/*\nCheck...\n*/\n#include<stdio.h>\nbool has(float x){\n",
        "declaration": "#include<stdio.h>\nbool has(float x){\n",
        "canonical_solution": "    return x > 0;\n}\n",
        "test": "#undef NDEBUG\n#include<assert.h>\nint main(){ assert(has(1)); }\n",
        "example_test": "int main(){}\n",
        "text": "an extra key published files carry",
    }
    path = tmp_path / "humaneval_cpp.jsonl.gz"
    path.write_bytes(gzip.compress(json.dumps(row).encode() + b"\n\n"))
    (task,) = load_humaneval_x(path)
    assert task.task_id == "CPP/0" and task.declaration == row["declaration"] and task.example_test == "int main(){}\n"
    assert task.code == row["prompt"] + row["canonical_solution"]
    with pytest.raises(TaskFileError, match=r"humaneval_cpp\.jsonl\.gz:1: unknown field\(s\) text"):
        load_tasks(path)  # our own format refuses keys it does not know


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"task_id": "x", "prompt": "p", "test": "t"}', "missing canonical_solution"),
        ('{"task_id": 3, "prompt": "p", "canonical_solution": "c", "test": "t"}', "not a string: task_id"),
    ],
)
def test_bad_row_names_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"task_id": "ok", "prompt": "p", "canonical_solution": "c", "test": "t"})
    path.write_text(f"{good}\n\n{line}\n")
    with pytest.raises(TaskFileError) as info:
        load_humaneval_x(path)
    assert str(info.value).startswith(f"{path}:3: ") and reason in str(info.value)
    assert info.value.line == 3


def test_write_and_read_plain_rows(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    write_jsonl(path, [{"a": 1}, {"b": "é"}])
    assert path.read_bytes() == b'{"a": 1}\n{"b": "\xc3\xa9"}\n'
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (2, {"b": "é"})]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("fake.jsonl.gz", b'{"a": 1}\n', "1: not a readable gzip file"),
        ("cut.jsonl.gz", gzip.compress(b'{"a": 1}\n{"b": 2}\n' * 50)[:-12], "not a readable gzip file"),
        ("latin.jsonl", b'{"a": 1}\n{"b": "\xe9"}\n', "2: not UTF-8 text"),
    ],
)
def test_unreadable_file_is_a_task_file_error(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    """Not gzip behind a .gz name, a truncated gzip, bytes that are not UTF-8: file:line, no traceback."""
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(TaskFileError) as info:
        list(read_jsonl(path))
    assert str(info.value).startswith(f"{path}:") and reason in str(info.value)
