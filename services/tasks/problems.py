"""Benchmark problem sets in the two formats the field publishes for C++, read into one `Problem` type.

- HumanEval-X (THUDM/CodeGeeX): rows `task_id, prompt, declaration, canonical_solution, test,
  example_test`. Its harness puts a fixed list of standard `#include` lines in front of every C++
  program (each line that the prompt does not already contain), then a newline, then
  prompt + completion, a newline and the test: `helpers + "\\n" + prompt + completion + "\\n" + test`.
  A completion ends where the function does: the stop `"\\n}"` that cut it is part of the program.
- MultiPL-E humaneval-cpp (nuprl/MultiPL-E): rows `name, prompt, tests, stop_tokens` (other keys
  ignored). The completion is cut at a stop token, which is NOT kept: `tests` starts with the `}`
  that closes the function, then its own `main`; the program is `prompt + completion + "\\n" + tests`.

The verifier appends the (trusted) test to the (untrusted) code with a newline between them and puts
its own guard declarations there, so that seam must lie outside any function: for MultiPL-E the test's
leading `}` line is moved to the end of the code, which leaves the program's bytes unchanged.

The format is detected per file from the first row's keys; every row must be of that format, and a row
that is not names its file and line. Data only: no model, no HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .jsonl import TaskFileError, read_jsonl, task_from_row
from .task import Task

ProblemFormat = Literal["humaneval-x", "multipl-e"]

# The C++ helper headers of HumanEval-X's harness (CodeGeeX `codegeex/benchmark/utils.py`,
# IMPORT_HELPER["cpp"]), in its order; a line is added unless the prompt already contains it.
HUMANEVAL_X_HEADERS: tuple[str, ...] = (
    "#include<stdlib.h>",
    "#include<algorithm>",
    "#include<math.h>",
    "#include<stdio.h>",
    "#include<vector>",
    "#include<string>",
    "#include<climits>",
    "#include<cstring>",
    "#include<iostream>",
)
FUNCTION_STOP = "\n}"  # a generated C++ function ends with a `}` in column 0
HUMANEVAL_X_KEYS = ("task_id", "prompt", "canonical_solution", "test")
MULTIPL_E_KEYS = ("name", "prompt", "tests", "stop_tokens")


@dataclass(frozen=True)
class Problem:
    """One benchmark problem as the eval harness uses it, whatever file it came from."""

    task_id: str
    prompt: str
    test: str  # trusted code appended to the candidate (HumanEval-X `test`, MultiPL-E `tests`)
    stop: tuple[str, ...]  # where a sampled completion is cut
    format: ProblemFormat
    helper: str = ""  # header text the harness puts before the prompt (HumanEval-X only)
    canonical_solution: str | None = None  # None: the format carries none (MultiPL-E)
    libraries: tuple[str, ...] = ()  # link flags the (trusted) prompt needs, as its original harness links them

    @property
    def keeps_stop(self) -> bool:
        """Whether the stop sequence that ended a sample belongs to the completion: HumanEval-X's `"\\n}"`
        closes the function; MultiPL-E's test closes it itself."""
        return self.format == "humaneval-x"

    def completion(self, text: str, stopped_by: str) -> str:
        """A sampled text (cut before `stopped_by`) as the completion that follows the prompt."""
        return text + stopped_by if self.keeps_stop else text

    def program(self, completion: str) -> tuple[str, str]:
        """(code, test) for the verifier, whose `code + "\\n" + test` is the original harness's program
        for prompt + `completion` (a canonical solution, or what `completion()` made of a sample)."""
        if self.format == "humaneval-x":
            return self.helper + "\n" + self.prompt + completion, self.test
        head, newline, rest = self.test.partition("\n")
        if newline and head.strip() == "}":
            return self.prompt + completion + "\n" + head, rest
        return self.prompt + completion, self.test


def humaneval_x_helper(prompt: str) -> str:
    """The helper lines HumanEval-X's harness prepends for `prompt` (those it does not contain already)."""
    return "".join(line + "\n" for line in HUMANEVAL_X_HEADERS if line not in prompt)


# HumanEval-X's CPP/162 includes <openssl/md5.h>; CodeGeeX's harness links OpenSSL for it.
_OPENSSL_LIBRARIES = ("-lcrypto", "-lssl")


def prompt_libraries(prompt: str) -> tuple[str, ...]:
    """The libraries a prompt's own includes need (the prompt is dataset text: trusted)."""
    return _OPENSSL_LIBRARIES if "<openssl/" in prompt else ()


def problem_from_task(task: Task) -> Problem:
    """A HumanEval-X task as a `Problem` (helper headers computed from its prompt)."""
    return Problem(
        task_id=task.task_id,
        prompt=task.prompt,
        test=task.test,
        stop=(FUNCTION_STOP,),
        format="humaneval-x",
        helper=humaneval_x_helper(task.prompt),
        canonical_solution=task.canonical_solution,
        libraries=prompt_libraries(task.prompt),
    )


def detect_format(row: Mapping[str, Any]) -> ProblemFormat | None:
    """The format whose keys `row` has (HumanEval-X first), None for neither."""
    if all(key in row for key in HUMANEVAL_X_KEYS):
        return "humaneval-x"
    if all(key in row for key in MULTIPL_E_KEYS):
        return "multipl-e"
    return None


def _neither(row: Mapping[str, Any]) -> str:
    keys = ", ".join(sorted(row)) or "none"
    return (
        f"neither a HumanEval-X row ({', '.join(HUMANEVAL_X_KEYS)}) nor a MultiPL-E row "
        f"({', '.join(MULTIPL_E_KEYS)}); its keys: {keys}"
    )


def _multipl_e_problem(row: Mapping[str, Any], *, path: Path, line: int) -> Problem:
    wrong = [key for key in ("name", "prompt", "tests") if not isinstance(row[key], str)]
    if wrong:
        raise TaskFileError(path, line, f"not a string: {', '.join(wrong)}")
    stops = row["stop_tokens"]
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise TaskFileError(path, line, "stop_tokens must be a list of non-empty strings")
    return Problem(
        task_id=row["name"],
        prompt=row["prompt"],
        test=row["tests"],
        stop=tuple(stops),
        format="multipl-e",
    )


def problems_from_rows(rows: Sequence[tuple[int, dict[str, Any]]], path: Path) -> list[Problem]:
    """Rows (line number, object) of one file as problems; the first row fixes the file's format."""
    problems: list[Problem] = []
    file_format: ProblemFormat | None = None
    seen: dict[str, int] = {}
    for line, row in rows:
        found = detect_format(row)
        if found is None:
            raise TaskFileError(path, line, _neither(row))
        if file_format is None:
            file_format = found
        elif found != file_format:
            raise TaskFileError(path, line, f"a {found} row in a {file_format} file (format set by its first row)")
        if found == "humaneval-x":
            problems.append(problem_from_task(task_from_row(row, path=path, line=line, strict=False)))
        else:
            problems.append(_multipl_e_problem(row, path=path, line=line))
        task_id = problems[-1].task_id
        if task_id in seen:
            raise TaskFileError(path, line, f"task id {task_id!r} again (first on line {seen[task_id]})")
        seen[task_id] = line
    return problems


def load_problems(path: str | Path) -> list[Problem]:
    """Every problem of a HumanEval-X or MultiPL-E file (`.jsonl` or `.jsonl.gz`), in file order.

    Raises FileNotFoundError for a missing file and TaskFileError (file:line) for a bad row or an empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such problem file")
    problems = problems_from_rows(list(read_jsonl(path)), path)
    if not problems:
        raise TaskFileError(path, 1, "no problems in this file")
    return problems
