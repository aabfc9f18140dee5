"""Training and held-out tasks for a run, from the shared tasks package.

Without a dataset: generated training tasks (seed `task_seed`) minus any prompt of the held-out set
(held_out_tasks already excludes the bootstrap model's own corpus). With a dataset (HumanEval-X
fields): `heldout_tasks` of it, chosen by the seed, are held out and the rest is trained on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from ..tasks import Task, generate_tasks, held_out_tasks, load_tasks
from .config import TrainConfig


@dataclass
class TaskSplit:
    train: list[Task]
    heldout: list[Task]


def load_split(cfg: TrainConfig) -> TaskSplit:
    if cfg.dataset:
        tasks = load_tasks(Path(cfg.dataset))
        if len(tasks) <= cfg.heldout_tasks:
            raise ValueError(f"dataset {cfg.dataset} has {len(tasks)} tasks: too few to hold out {cfg.heldout_tasks}")
        order = list(range(len(tasks)))
        random.Random(cfg.heldout_seed).shuffle(order)
        held = set(order[: cfg.heldout_tasks])
        return TaskSplit([t for i, t in enumerate(tasks) if i not in held], [tasks[i] for i in sorted(held)])
    heldout = held_out_tasks(cfg.heldout_tasks, cfg.heldout_seed) if cfg.heldout_tasks else []
    seen = {t.prompt for t in heldout}
    train = [t for t in generate_tasks(cfg.num_tasks, cfg.task_seed) if t.prompt not in seen]
    if not train:
        raise ValueError("no training tasks left after removing the held-out prompts")
    return TaskSplit(train, heldout)


class TaskCursor:
    """A seeded, endless walk over the training tasks; rank r of w takes every w-th task."""

    def __init__(self, tasks: list[Task], seed: int, rank: int = 0, world: int = 1, position: int = 0) -> None:
        self.tasks = tasks
        self.order = list(range(len(tasks)))
        random.Random(seed).shuffle(self.order)
        self.rank, self.world = rank, world
        self.position = position  # groups drawn so far by each rank

    def next(self) -> Task:
        index = (self.position * self.world + self.rank) % len(self.order)
        self.position += 1
        return self.tasks[self.order[index]]
