"""The bench problem set's generator: 30 parameterised families, 151 HumanEval-X-style C++ problems,
each with a canonical and a wrong solution.

Only `scripts/build_data.py` runs this (to write `data/bench_cpp.jsonl`); everything else reads the
JSONL through `services.tasks.load_bench_tasks()`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from ..task import Task
from . import basics, counting, extremes, ordering, sums, words
from .common import BITS_BLOCK, COMMON_HEADER_BLOCKS, Spec, finish

FAMILIES: tuple[Callable[[], list[Spec]], ...] = (
    *basics.FAMILIES,
    *words.FAMILIES,
    *sums.FAMILIES,
    *ordering.FAMILIES,
    *counting.FAMILIES,
    *extremes.FAMILIES,
)


def build_bench_tasks() -> list[Task]:
    """Every problem of every family, in a fixed order; the same list on every call."""
    specs = [spec for family in FAMILIES for spec in family()]
    ids = [s.task_id for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate task ids")
    return [finish(i, spec) for i, spec in enumerate(specs)]


def header_distribution(tasks: Sequence[Task]) -> Counter[str]:
    """How many prompts open with each header block."""
    return Counter(t.prompt.split("using namespace std;\n", 1)[0] for t in tasks)


__all__ = ["BITS_BLOCK", "COMMON_HEADER_BLOCKS", "FAMILIES", "build_bench_tasks", "header_distribution"]
