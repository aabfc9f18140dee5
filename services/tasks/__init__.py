"""Tasks: one `Task` type, JSONL problem sets and their loaders, the seeded generator and its held-out split.

Data only: nothing here imports a model, HTTP, or another `services` package.
"""

from .seeded import FAMILIES, generate_task, generate_tasks, held_out_tasks, training_text
from .task import Task

__all__ = ["FAMILIES", "Task", "generate_task", "generate_tasks", "held_out_tasks", "training_text"]
