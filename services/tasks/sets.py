"""The problem sets that live under the repository's top-level `data/`.

They are found next to the source tree (`services/tasks/sets.py` -> `../../data`), which holds for a
checkout and for an editable install (`pip install -e .` runs the package from the checkout). A
wheel carries only the `services*` packages, so a wheel-installed cppforge has no `data/`: pass the
file's path to the loader (shipping it would mean moving it under `services/tasks/` and listing it in
pyproject's package-data).
"""

from __future__ import annotations

from pathlib import Path

from .jsonl import load_tasks
from .task import Task

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
BENCH_FILE = DATA_DIR / "bench_cpp.jsonl"
# The same 151 problems in HumanEval-X's fields (task ids `CppForge/<n>`): the eval harness's default set.
HUMANEVAL_CPP_FILE = DATA_DIR / "humaneval_cpp.jsonl"


def load_bench_tasks(path: str | Path | None = None) -> list[Task]:
    """The 151 bench problems with their wrong solutions, from `data/bench_cpp.jsonl` by default."""
    file = Path(path) if path is not None else BENCH_FILE
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no bench problem set here (regenerate: python scripts/build_data.py)")
    return load_tasks(file)
