"""The bench problem set's generator: 30 parameterised families, 151 HumanEval-X-style C++ problems,
each with a canonical and a wrong solution.

Only `scripts/build_data.py` runs this (to write `data/bench_cpp.jsonl` and, from the same specs, the
HumanEval-X file `data/humaneval_cpp.jsonl`); everything else reads the JSONL files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from ..task import Task
from . import basics, counting, extremes, ordering, sums, words
from .common import BITS_BLOCK, COMMON_HEADER_BLOCKS, Spec, finish, finish_humaneval

FAMILIES: tuple[Callable[[], list[Spec]], ...] = (
    *basics.FAMILIES,
    *words.FAMILIES,
    *sums.FAMILIES,
    *ordering.FAMILIES,
    *counting.FAMILIES,
    *extremes.FAMILIES,
)


def _specs() -> list[Spec]:
    specs = [spec for family in FAMILIES for spec in family()]
    ids = [s.task_id for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate task ids")
    return specs


def build_bench_tasks() -> list[Task]:
    """Every problem of every family, in a fixed order; the same list on every call."""
    return [finish(i, spec) for i, spec in enumerate(_specs())]


def build_humaneval_tasks() -> list[Task]:
    """The same problems, in the same order, in HumanEval-X's fields (`CppForge/0`, ...)."""
    return [finish_humaneval(i, spec) for i, spec in enumerate(_specs())]


def header_distribution(tasks: Sequence[Task]) -> Counter[str]:
    """How many prompts open with each header block."""
    return Counter(t.prompt.split("using namespace std;\n", 1)[0] for t in tasks)


__all__ = [
    "BITS_BLOCK",
    "COMMON_HEADER_BLOCKS",
    "FAMILIES",
    "build_bench_tasks",
    "build_humaneval_tasks",
    "header_distribution",
]
