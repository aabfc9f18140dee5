"""`cppforge eval --check-canonical` with the real verifier: the project's set passes (a sample here, all 151
in the slow test), a broken canonical solution is reported with its error, a MultiPL-E file is told it has
none; and `cppforge eval`'s bad input is one line on stderr with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.cli import main
from services.tasks import write_jsonl
from tests.tasks.test_problems import ME_ROW

GOOD = {"task_id": "X/0", "prompt": "#include<vector>\nusing namespace std;\nint total(vector<int> v){\n",
        "canonical_solution": "    int s = 0;\n    for (int x : v) s += x;\n    return s;\n}\n",
        "test": "#undef NDEBUG\n#include<assert.h>\nint main(){\n    assert (total({1, 2}) == 3);\n}\n"}  # fmt: skip
UNDECLARED = {**GOOD, "task_id": "X/1", "canonical_solution": "    return totl;\n}\n"}
WRONG = {**GOOD, "task_id": "X/2", "canonical_solution": "    return 4;\n}\n"}


def test_a_sample_of_the_projects_set_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--check-canonical", "--limit", "8", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "8/8 canonical solutions pass" in out and "FAIL" not in out


@pytest.mark.slow
def test_every_canonical_solution_of_the_projects_set_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--check-canonical", "--json", "--no-progress"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["checked"] == doc["passed"] == 151 and doc["failures"] == []


def test_broken_canonical_solutions_are_reported_with_their_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.jsonl.gz"
    write_jsonl(path, [GOOD, UNDECLARED, WRONG])
    assert main(["eval", "--check-canonical", "--tasks", str(path), "--no-progress"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("FAIL X/1 [undeclared]: compile: ") and "'totl' was not declared" in lines[0]
    assert lines[1].startswith("FAIL X/2 [runtime_crash]: run: signal 6, 0/1 tests")
    assert "Assertion `total({1, 2}) == 3' failed" in lines[1]
    assert lines[2].startswith(f"1/3 canonical solutions pass ({path}")


def test_multipl_e_has_no_canonical_solutions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "me.jsonl"
    write_jsonl(path, [ME_ROW])
    assert main(["eval", "--check-canonical", "--tasks", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["cppforge: error: 1 of 1 tasks have no canonical solution (a MultiPL-E file carries none): "
                   "--check-canonical needs a HumanEval-X file"]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "0"], "--n must be at least 1, got 0"),
        (["--n", "4", "--k", "1,5"], "k=5 is more than n=4 samples per task"),
        (["--k", "0"], "k must be a positive integer, got 0"),
        (["--k", "1,,2"], "k values are positive integers separated by commas, not ''"),
        (["--model", "/tmp", "--inference-url", "http://127.0.0.1:9"], "not both"),
        (["--model-name", "a"], "--model-name picks a served model and needs --inference-url"),
        (["--tasks", "/nonexistent/tasks.jsonl"], "/nonexistent/tasks.jsonl: no such problem file"),
        (["--temperature", "nan"], "temperature must be a finite number"),
        (["--model", "/nonexistent/model"], "model path is not a directory: /nonexistent/model"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cppforge: error: ") and message in err[0]
    assert not (tmp_path / "o").exists()  # refused before anything ran


def test_a_bad_row_names_its_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps({"task_id": "X/9"}) + "\n")
    assert main(["eval", "--tasks", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"cppforge: error: {path}:2: neither a HumanEval-X row")


@pytest.mark.parametrize("flag", ["--inference-url", "--verifier-url"])
def test_a_service_down_is_exit_1(flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers.servers import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert main(["eval", flag, url, "--limit", "1", "--n", "1", "--k", "1", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"cppforge: error: {flag.removeprefix('--')[:-4]} service at {url}")
