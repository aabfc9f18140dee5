"""Tasks: one `Task` type, JSONL problem sets and their loaders, the seeded generator and its held-out split.

Data only: nothing here imports a model, HTTP, or another `services` package.
"""

from .jsonl import TaskFileError, load_humaneval_x, load_tasks, read_jsonl, write_jsonl, write_tasks
from .problems import Problem, load_problems
from .seeded import FAMILIES, generate_task, generate_tasks, held_out_tasks, training_text
from .sets import load_bench_tasks
from .task import Task

__all__ = [
    "FAMILIES",
    "Problem",
    "Task",
    "TaskFileError",
    "generate_task",
    "generate_tasks",
    "held_out_tasks",
    "load_bench_tasks",
    "load_humaneval_x",
    "load_problems",
    "load_tasks",
    "read_jsonl",
    "training_text",
    "write_jsonl",
    "write_tasks",
]
