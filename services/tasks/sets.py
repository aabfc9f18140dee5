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
# The trainer's default held-out split (100 generated tasks, seed 4242) in HumanEval-X's fields: prompts of the
# bootstrap model's own kind, where it scores above zero (on the 151 HumanEval-style prompts it compiles nothing),
# so evals and registry promotions of adapters trained from it compare real numbers.
HELDOUT_CPP_FILE = DATA_DIR / "heldout_cpp.jsonl"
HELDOUT_COUNT, HELDOUT_SEED = 100, 4242


def load_bench_tasks(path: str | Path | None = None) -> list[Task]:
    """The 151 bench problems with their wrong solutions, from `data/bench_cpp.jsonl` by default."""
    file = Path(path) if path is not None else BENCH_FILE
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no bench problem set here (regenerate: python scripts/build_data.py)")
    return load_tasks(file)
