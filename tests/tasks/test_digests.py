"""Pin the seeded generator's output byte for byte.

The bootstrap model is trained on `generate_tasks(n, 0)` and judged on `held_out_tasks(.., 1)`:
any drift in a draw changes the model and every figure. The digests were computed on the
generator before it moved out of services/inference/corpus.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from services.tasks import Task, generate_tasks, held_out_tasks, training_text

GEN_2000_SEED_0 = "0d33ef737ba1aa4ed2b189d32e2cfda4b3a0e3f5f7d1cecba9699bf429421a03"
HELD_OUT_50_SEED_1 = "0edadff794dda90ce70f0c6758c95575eb189103617980de47fffb75bde17f80"
GEN_20000_SEED_0 = "31ec06b485b7ba9b7c98ccd6f83827845288a9200f136d0f00ad4f13eeec0997"  # the bootstrap default
# Over task_id, prompt, canonical_solution and test separately (where the prompt/solution split lies).
GEN_2000_SEED_0_FIELDS = "ade5895b10ea9968da07346aff99df3b9a38d082e6d954dd10b2bf3e106cfe4a"
HELD_OUT_50_SEED_1_FIELDS = "1d143d7f9eabba774ced11e5f3be6cbe221533f201a71ebfa640a514715eab8c"


def text_digest(tasks: Sequence[Task]) -> str:
    h = hashlib.sha256()
    for t in tasks:
        h.update((training_text(t) + t.test).encode())
    return h.hexdigest()


def fields_digest(tasks: Sequence[Task]) -> str:
    h = hashlib.sha256()
    for t in tasks:
        h.update("\0".join((t.task_id, t.prompt, t.canonical_solution, t.test)).encode() + b"\n")
    return h.hexdigest()


def test_training_tasks_are_unchanged() -> None:
    tasks = generate_tasks(2000, 0)
    assert text_digest(tasks) == GEN_2000_SEED_0
    assert fields_digest(tasks) == GEN_2000_SEED_0_FIELDS


def test_held_out_tasks_are_unchanged() -> None:
    tasks = held_out_tasks(50, 1)
    assert text_digest(tasks) == HELD_OUT_50_SEED_1
    assert fields_digest(tasks) == HELD_OUT_50_SEED_1_FIELDS


def test_bootstrap_corpus_is_unchanged() -> None:
    assert text_digest(generate_tasks(20000, 0)) == GEN_20000_SEED_0
