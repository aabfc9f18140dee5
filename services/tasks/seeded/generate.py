"""Draw seeded tasks: one family per task, rendered HumanEval-X style, and the held-out split.

Only `random.Random(seed)` draws anything: the same (n, seed) gives the same tasks everywhere.
"""

from __future__ import annotations

import functools
import random

from ..task import Task
from .common import HEADER_ORDER, INDENT, TEST_HEADER, Fn, Gen
from .registry import FAMILIES


def training_text(task: Task) -> str:
    """What the language model is trained on: the prompt followed by its completion."""
    return task.prompt + task.canonical_solution


def _render(g: Gen, fn: Fn, task_id: str) -> Task:
    headers = tuple(h for h in HEADER_ORDER if h in g.headers | fn.headers)
    lines = [f"#include <{h}>" for h in headers]
    if g.using_std and headers:
        lines.append("using namespace std;")
    head = "\n".join(lines) + "\n\n" if lines else ""
    if fn.preamble:
        head += fn.preamble + "\n\n"
    prompt = f"{head}// {fn.comment}\n{fn.ret} {fn.name}({', '.join(fn.params)}) {{"
    completion = "\n" + "".join(f"{INDENT}{line}\n" for line in fn.body) + "}\n"
    asserts = "".join(f"{INDENT}assert({'(' + t + ')' if ',' in t else t});\n" for t in fn.tests)
    test_code = f"{TEST_HEADER}int main() {{\n{asserts}}}\n"
    return Task(task_id=task_id, prompt=prompt, canonical_solution=completion, test=test_code)


def generate_task(rng: random.Random, task_id: str, family: str | None = None) -> Task:
    """One task drawn from `rng` (from `family` when named)."""
    g = Gen(rng)
    builder = FAMILIES[family] if family is not None else FAMILIES[rng.choice(sorted(FAMILIES))]
    return _render(g, builder(g), task_id)


def generate_tasks(n: int, seed: int) -> list[Task]:
    """`n` distinct tasks (distinct training texts), the same for the same (n, seed)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = random.Random(seed)
    tasks: list[Task] = []
    seen: set[str] = set()
    attempts = 0
    while len(tasks) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise RuntimeError(f"could not draw {n} distinct tasks (got {len(tasks)})")
        task = generate_task(rng, f"cppforge-gen/{seed}/{len(tasks)}")
        text = training_text(task)
        if text in seen:
            continue
        seen.add(text)
        tasks.append(task)
    return tasks


@functools.lru_cache(maxsize=4)
def _training_prompts(train_seed: int, train_n: int) -> frozenset[str]:
    return frozenset(t.prompt for t in generate_tasks(train_n, train_seed))


def held_out_tasks(n: int, seed: int, train_seed: int = 0, train_n: int = 20000) -> list[Task]:
    """`n` tasks from `seed` whose prompts the bootstrap model never saw in training.

    Another seed alone is not enough: with names and constants drawn from finite pools, about a
    quarter of another seed's prompts also occur among the 20,000 training tasks.
    """
    seen = _training_prompts(train_seed, train_n)
    out: list[Task] = []
    batch = max(2 * n, 64)
    while len(out) < n:
        out = [t for t in generate_tasks(batch, seed) if t.prompt not in seen][:n]
        batch *= 2
    return out
