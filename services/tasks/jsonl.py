"""JSONL problem sets: read and write rows (plain or gzip), and turn rows into `Task`s.

A bad row fails with the file and line it came from, so a broken data set points at itself.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .task import OPTIONAL_FIELDS, REQUIRED_FIELDS, Task


class TaskFileError(ValueError):
    """A row that is not valid JSON or not a task; the message names the file and line."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line


def _is_gzip(path: Path) -> bool:
    return path.suffix == ".gz"


def dumps_jsonl(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The bytes of a JSONL file: one compact object per line, keys in the given order, UTF-8."""
    return b"".join(json.dumps(row, ensure_ascii=False).encode() + b"\n" for row in rows)


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write `rows` to `path`; `.gz` files are gzip with a zero mtime, so the bytes are reproducible."""
    path = Path(path)
    data = dumps_jsonl(rows)
    if _is_gzip(path):
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
            gz.write(data)
        data = buf.getvalue()
    path.write_bytes(data)


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of `path` (plain or `.gz`)."""
    path = Path(path)
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rb") as fh:
        for number, raw in _lines(fh, path):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise TaskFileError(path, number, f"not UTF-8 text ({exc.reason} at column {exc.start + 1})") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskFileError(path, number, f"not JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(row, dict):
                raise TaskFileError(path, number, f"expected a JSON object, got {type(row).__name__}")
            yield number, row


def _lines(fh: Iterable[bytes], path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of an open file; a `.gz` that is not gzip (or is cut short) is a
    TaskFileError at the line where reading failed, not a traceback."""
    number = 0
    lines = iter(fh)
    while True:
        number += 1
        try:
            line = next(lines)
        except StopIteration:
            return
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            what = "not a readable gzip file" if _is_gzip(path) else "unreadable"
            raise TaskFileError(path, number, f"{what} ({exc or type(exc).__name__})") from None
        yield number, line


def task_to_row(task: Task) -> dict[str, str]:
    """A task as a JSON object: the required fields, then the optional ones that are set."""
    row = {name: getattr(task, name) for name in REQUIRED_FIELDS}
    row.update({name: getattr(task, name) for name in OPTIONAL_FIELDS if getattr(task, name)})
    return row


def task_from_row(row: Mapping[str, Any], *, path: Path, line: int, strict: bool = True) -> Task:
    """The task in `row`. `strict` refuses keys that are not `Task` fields (our own files: a typo
    is an error); HumanEval-X and other published files carry extra keys, which are then ignored."""
    missing = [name for name in REQUIRED_FIELDS if name not in row]
    if missing:
        raise TaskFileError(path, line, f"missing {', '.join(missing)}")
    known = {f.name for f in dataclasses.fields(Task)}
    unknown = sorted(set(row) - known)
    if strict and unknown:
        raise TaskFileError(path, line, f"unknown field(s) {', '.join(unknown)}")
    values = {name: row[name] for name in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS) if name in row}
    wrong_type = [name for name, value in values.items() if not isinstance(value, str)]
    if wrong_type:
        raise TaskFileError(path, line, f"not a string: {', '.join(wrong_type)}")
    return Task(**values)


def load_tasks(path: str | Path) -> list[Task]:
    """A problem set in our own JSONL format (`Task` fields only)."""
    path = Path(path)
    return [task_from_row(row, path=path, line=n) for n, row in read_jsonl(path)]


def load_humaneval_x(path: str | Path) -> list[Task]:
    """A HumanEval-X style file (task_id, prompt, canonical_solution, test, declaration, example_test;
    other keys are ignored), plain or `.gz` as published."""
    path = Path(path)
    return [task_from_row(row, path=path, line=n, strict=False) for n, row in read_jsonl(path)]


def write_tasks(path: str | Path, tasks: Iterable[Task]) -> None:
    write_jsonl(path, (task_to_row(t) for t in tasks))
